// Events and activities: since/until picked in the viewer's time zone (sent as UTC), and the first
// page follows new rows in place (a one-row poll of the JSON API says when something is new).
(function () {
  var POLL_SECONDS = 5;

  function pad(number) { return String(number).padStart(2, "0"); }

  document.querySelectorAll("input[data-local-time]").forEach(function (input) {
    var stored = input.value ? new Date(input.value.endsWith("Z") || input.value.includes("+") ? input.value : input.value + "Z") : null;
    input.type = "datetime-local";
    input.value = stored && !isNaN(stored) ? stored.getFullYear() + "-" + pad(stored.getMonth() + 1) + "-" +
      pad(stored.getDate()) + "T" + pad(stored.getHours()) + ":" + pad(stored.getMinutes()) : "";
  });
  document.getElementById("filters").addEventListener("submit", function () {
    document.querySelectorAll("input[data-local-time]").forEach(function (input) {
      var local = input.value ? new Date(input.value) : null;  // datetime-local is the viewer's time
      input.type = "hidden";
      input.value = local && !isNaN(local) ? local.toISOString().replace(".000Z", "Z") : "";
    });
  });

  var listing = document.getElementById("listing");
  var watch = listing.dataset.watch;
  if (!watch) return;
  var refresh = window.liveRegion("#listing");
  var live = document.getElementById("live");

  function newest() {
    var row = listing.querySelector("tr[data-id]");
    return row ? row.dataset.id : null;
  }

  function poll() {
    if (document.visibilityState === "hidden") return;
    fetch(watch, {headers: {Accept: "application/json"}, credentials: "same-origin", cache: "no-store"})
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (body) {
        live.hidden = false;
        var top = body.data.length ? String(body.data[0].id) : null;
        if (top !== newest()) refresh();
      })
      .catch(function () { live.hidden = true; });
  }

  window.setInterval(poll, POLL_SECONDS * 1000);
  poll();
})();
