// The alerts overlay: each new follow, sub, cheer or raid shown for a few seconds, one at a time.
(function () {
  var SHOW_SECONDS = 6;
  var banner = document.getElementById("alert");
  var queue = [];
  var showing = false;
  var after = null;  // the last event id seen: the first answer says where "now" is

  function next() {
    var alert = queue.shift();
    if (!alert) { showing = false; banner.hidden = true; return; }
    showing = true;
    banner.dataset.kind = alert.kind;
    banner.dataset.id = alert.id;
    banner.querySelector(".who").textContent = alert.who;
    banner.querySelector(".text").textContent = alert.text;
    banner.hidden = false;
    window.setTimeout(next, SHOW_SECONDS * 1000);
  }

  window.overlayFeed({
    url: function () {
      var feed = document.body.dataset.feed;
      return after === null ? feed : feed + "?after=" + after;
    },
    interval: 2,
    update: function (data) {
      after = data.last_id;
      queue.push.apply(queue, data.alerts);
      if (!showing) next();
    }
  });
})();
