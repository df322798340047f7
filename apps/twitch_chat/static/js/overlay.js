// Stream overlay: the accepted recommendations, refreshed whenever the queue changes.
(function () {
  var list = document.getElementById("accepted");

  function item(recommendation) {
    var li = document.createElement("li");
    if (recommendation.thumbnail_url) {
      var img = document.createElement("img");
      img.src = recommendation.thumbnail_url;
      img.alt = "";
      li.appendChild(img);
    }
    var text = document.createElement("div");
    var title = document.createElement("div");
    title.textContent = recommendation.title || recommendation.url;
    var who = document.createElement("div");
    who.className = "who";
    who.textContent = "recommended by " + recommendation.user;
    text.appendChild(title);
    text.appendChild(who);
    li.appendChild(text);
    return li;
  }

  function refresh() {
    fetch("/twitch_chat/api/recommendations?status=accepted&limit=5", {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : {recommendations: []}; })
      .then(function (data) { list.replaceChildren.apply(list, data.recommendations.map(item)); });
  }

  refresh();
  new EventSource("/twitch_chat/api/recommendations/stream").addEventListener("recommendation", refresh);
})();
