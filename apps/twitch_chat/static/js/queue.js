// The queue page works without JavaScript; with it, a banner says when the queue changed.
(function () {
  if (!window.EventSource) return;
  var banner = document.getElementById("live");
  var stream = new EventSource("/twitch_chat/api/recommendations/stream");
  stream.addEventListener("recommendation", function () { banner.hidden = false; });
})();
