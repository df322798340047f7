// Every admin page: a form with data-confirm asks before it does something that cannot be undone;
// on a phone the navigation folds behind the Menu button; times are shown in the viewer's time zone.
// Loaded in <head>: page scripts use liveRegion and localTimes.
document.addEventListener("submit", function (event) {
  var question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// a button with data-copy puts its text on the clipboard (overlay links) and says so
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(function () { button.textContent = "Copied"; });
});

document.addEventListener("DOMContentLoaded", function () {
  var header = document.querySelector("header.top");
  var toggle = header && header.querySelector(".menu-toggle");
  if (!toggle) return;
  header.classList.add("collapsible");
  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    var open = header.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
});

window.localTimes = function (root) {
  var format = new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "short"});
  (root || document).querySelectorAll("time[datetime]").forEach(function (element) {
    var when = new Date(element.getAttribute("datetime"));
    if (isNaN(when)) return;
    element.title = element.getAttribute("datetime").replace("T", " ").slice(0, 19) + " UTC";
    element.textContent = format.format(when);
  });
};
document.addEventListener("DOMContentLoaded", function () { window.localTimes(); });

// A region of the page (found by `selector`) refreshed in place from the same URL's HTML; rows
// (data-id) that were not there before get the "fresh" class for a moment.
window.liveRegion = function (selector) {
  var busy = false;
  return function refresh() {
    if (busy) return;
    busy = true;
    fetch(window.location.href, {headers: {Accept: "text/html"}, credentials: "same-origin", cache: "no-store"})
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (text) {
        var region = document.querySelector(selector);
        var update = new DOMParser().parseFromString(text, "text/html").querySelector(selector);
        if (!region || !update) return;
        var seen = {};
        region.querySelectorAll("[data-id]").forEach(function (row) { seen[row.dataset.id] = true; });
        region.replaceChildren.apply(region, Array.from(update.childNodes));
        region.querySelectorAll("[data-id]").forEach(function (row) {
          if (!seen[row.dataset.id]) row.classList.add("fresh");
        });
        window.localTimes(region);
        region.dispatchEvent(new CustomEvent("refreshed"));
      })
      .catch(function () {})
      .then(function () { busy = false; });
  };
};
