// The recommendation overlay: the latest accepted recommendations, refreshed from the link's feed.
(function () {
  var list = document.getElementById("accepted");

  function card(recommendation) {
    var li = document.createElement("li");
    if (recommendation.thumbnail_url) {
      var img = document.createElement("img");
      img.src = recommendation.thumbnail_url;
      img.alt = "";
      li.appendChild(img);
    }
    var text = document.createElement("div");
    var title = document.createElement("div");
    title.className = "title";
    title.textContent = recommendation.title;
    var who = document.createElement("div");
    who.className = "who";
    who.textContent = "recommended by " + recommendation.user;
    text.append(title, who);
    li.appendChild(text);
    return li;
  }

  window.overlayFeed({
    url: function () { return document.body.dataset.feed; },
    interval: 3,
    update: function (data) { list.replaceChildren.apply(list, data.recommendations.map(card)); }
  });
})();
