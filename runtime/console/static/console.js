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
    // The next refresh is timed from the end of the last one, so a slow database is
    // never asked twice at once.
    function tick() {
      if (box && !box.checked) { setTimeout(tick, ms); return; }
      fetch(table.dataset.refresh, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          var body = document.getElementById("runs-body");
          if (html && body) body.outerHTML = html;
        })
        .catch(function () {})
        .then(function () { setTimeout(tick, ms); });
    }
    setTimeout(tick, ms);
  }

  function refreshRun() {
    var run = document.getElementById("run");
    if (!run || run.dataset.final === "yes") return;
    var ms = parseInt(run.dataset.refreshMs, 10) || 3000;
    var url = "/runs/" + run.dataset.run + "/state.json";
    function tick() {
      if (editing()) { setTimeout(tick, ms); return; }
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          var changed = s && (s.status !== run.dataset.status ||
            (s.wait_id || "") !== run.dataset.wait ||
            (s.pending ? "yes" : "") !== run.dataset.pending);
          if (changed) {
            // Drop the one-shot flash from the URL, keep the page.
            window.location.replace(window.location.pathname);
          } else {
            setTimeout(tick, ms);
          }
        })
        .catch(function () { setTimeout(tick, ms); });
    }
    setTimeout(tick, ms);
  }

  function confirmations() {
    document.querySelectorAll("button[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.dataset.confirm)) event.preventDefault();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmations();
    refreshRuns();
    refreshRun();
  });
})();
