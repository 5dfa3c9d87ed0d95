// zapi console: auto-refresh for the runs table and a run's page. Plain JS, no build step.
(function () {
  "use strict";

  function editing() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
  }

  function refreshRuns() {
    var table = document.getElementById("runs");
    var box = document.getElementById("auto-refresh");
    if (!table) return;
    var ms = parseInt(table.dataset.refreshMs, 10) || 3000;
    setInterval(function () {
      if (box && !box.checked) return;
      fetch(table.dataset.refresh, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var body = document.getElementById("runs-body");
          if (body) body.outerHTML = html;
        })
        .catch(function () {});
    }, ms);
  }

  function refreshRun() {
    var run = document.getElementById("run");
    if (!run || run.dataset.final === "yes") return;
    var ms = parseInt(run.dataset.refreshMs, 10) || 3000;
    var url = "/runs/" + run.dataset.run + "/state.json";
    setInterval(function () {
      if (editing()) return;
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) return;
          var changed = s.status !== run.dataset.status ||
            (s.wait_id || "") !== run.dataset.wait ||
            (s.pending ? "yes" : "") !== run.dataset.pending;
          if (changed) {
            // Drop the one-shot flash from the URL, keep the page.
            window.location.replace(window.location.pathname);
          }
        })
        .catch(function () {});
    }, ms);
  }

  document.addEventListener("DOMContentLoaded", function () {
    refreshRuns();
    refreshRun();
  });
})();
