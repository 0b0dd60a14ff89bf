// Follows a running round: polls its status (JSON) every 2 seconds, updates the text and the
// progress bar, and reloads the page when the round has finished. Without JavaScript the page
// refreshes itself (a meta refresh inside <noscript>).
(function () {
  "use strict";
  var box = document.getElementById("round-status");
  if (!box || box.dataset.finished === "yes") { return; }
  var text = document.getElementById("status-text");
  var bar = document.getElementById("round-progress");
  function show(s) {
    text.textContent = s.status_text + (s.stage && !s.finished ? " \u00b7 " + s.stage : "");
    if (bar && s.total) { bar.max = s.total; bar.value = s.done || 0; }
    if (s.finished) { window.location.reload(); return; }
    window.setTimeout(poll, 2000);
  }
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(show)
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 2000);
}());
