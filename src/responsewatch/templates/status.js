// Countdowns from the deadline instants (so they stay right across refreshes and while the
// tab sits open), a reload every 60 s and when the tab comes back into view. The page works
// without it (no <meta refresh>: it would cut screen readers off mid-page).
(function () {
  "use strict";
  var body = document.body;
  var left = body.getAttribute("data-left");
  var late = body.getAttribute("data-late");
  var day = body.getAttribute("data-day");
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function duration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d) { return d + " " + day + (h ? " " + h + " h" : ""); }
    if (h) { return h + " h " + two(m); }
    return m + " min";
  }
  function tick() {
    var now = Date.now();
    var items = document.querySelectorAll("[data-deadline]");
    for (var i = 0; i < items.length; i++) {
      var el = items[i];
      var rest = (Date.parse(el.getAttribute("data-deadline")) - now) / 1000;
      if (isNaN(rest)) { continue; }
      el.textContent = rest >= 0 ? left.replace("{d}", duration(rest)) : late.replace("{d}", duration(-rest));
      el.classList.toggle("late", rest < 0);
    }
  }
  tick();
  setInterval(tick, 10000);
  function reload() { location.replace(body.getAttribute("data-refresh") || "/"); }
  setInterval(function () { if (document.visibilityState === "visible") { reload(); } }, 60000);
  var hiddenAt = 0;
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { hiddenAt = Date.now(); return; }
    if (hiddenAt && Date.now() - hiddenAt > 2000) { reload(); }
  });
})();
