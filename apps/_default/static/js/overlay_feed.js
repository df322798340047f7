// Keeps a stream overlay fed from its JSON feed (no cookie: the secret link is the credential).
// The server may restart or vanish mid-stream: the overlay says "reconnecting" and picks up again
// by itself; a revoked or expired link says so and stops asking.
window.overlayFeed = function (options) {
  var body = document.body;
  var status = document.getElementById("overlay-status");
  var failures = 0;

  function show(state, message) {
    body.dataset.state = state;
    status.textContent = message;
    status.hidden = !message;
  }

  function later(seconds) { window.setTimeout(poll, seconds * 1000); }

  function poll() {
    fetch(options.url(), {cache: "no-store", credentials: "omit", headers: {Accept: "application/json"}})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.ok) {
            failures = 0;
            show("live", "");
            options.update(data);
            later(options.interval);
          } else if (data.state === "revoked" || data.state === "expired" || data.state === "unknown") {
            show(data.state, data.message);
          } else {
            throw new Error("HTTP " + response.status);
          }
        });
      })
      .catch(function () {
        failures += 1;
        show("offline", "WaddleBot is unreachable: reconnecting…");
        later(Math.min(options.interval * failures, 15));
      });
  }

  poll();
};
