// Every admin page: a form with data-confirm asks before it does something that cannot be undone;
// on a phone the navigation folds behind the Menu button; times are shown in the viewer's time zone.
document.addEventListener("submit", function (event) {
  var question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

(function () {
  var header = document.querySelector("header.top");
  var toggle = header && header.querySelector(".menu-toggle");
  if (!toggle) return;
  header.classList.add("collapsible");
  toggle.hidden = false;
  toggle.addEventListener("click", function () {
    var open = header.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
})();

window.localTimes = function (root) {
  var format = new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "short"});
  (root || document).querySelectorAll("time[datetime]").forEach(function (element) {
    var when = new Date(element.getAttribute("datetime"));
    if (isNaN(when)) return;
    element.title = element.getAttribute("datetime").replace("T", " ").slice(0, 19) + " UTC";
    element.textContent = format.format(when);
  });
};
window.localTimes();
