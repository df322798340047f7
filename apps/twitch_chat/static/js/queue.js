// The queue page works without JavaScript; with it, the list follows every change in place.
(function () {
  if (!window.EventSource) return;
  var refresh = window.liveRegion("#queue");
  var pending = null;
  var stream = new EventSource("/twitch_chat/api/recommendations/stream");
  stream.addEventListener("recommendation", function () {
    window.clearTimeout(pending);  // a burst of changes: one refresh
    pending = window.setTimeout(refresh, 150);
  });
  stream.addEventListener("open", function () { document.getElementById("live").hidden = false; });
  stream.addEventListener("error", function () { document.getElementById("live").hidden = true; });
})();
