// syncjobs dashboard: live progress on the job page, "select all" on the dead letters page.
(function () {
  "use strict";

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }

  function show(state) {
    if (state.percent !== undefined) {
      var bar = document.getElementById("progress-bar");
      var pct = Math.max(0, Math.min(100, Number(state.percent) || 0));
      if (bar) {
        bar.style.width = pct + "%";
        bar.setAttribute("data-percent", String(pct));
        bar.setAttribute("aria-valuenow", String(pct));
      }
      var line = Math.round(pct) + "%";
      if (state.total) { line += " · " + (state.done || 0) + " of " + state.total; }
      text("progress-text", line);
      text("progress-message", state.message || "");
      text("eta", state.eta || "—");
    }
    var status = document.getElementById("job-status");
    if (status && state.status && state.status !== "gone") {
      status.textContent = state.status;
      status.className = "badge st-" + state.status;
    }
  }

  function follow(live) {
    if (!live || live.getAttribute("data-terminal") === "true" || !window.EventSource) { return; }
    var source = new EventSource(live.getAttribute("data-events"));
    source.addEventListener("progress", function (e) { show(JSON.parse(e.data)); });
    source.addEventListener("end", function (e) {
      source.close();
      show(JSON.parse(e.data));
      live.setAttribute("data-terminal", "true");
      var ended = document.getElementById("job-ended");
      if (ended) { ended.hidden = false; }
    });
  }

  function selectAll(box) {
    if (!box) { return; }
    box.addEventListener("change", function () {
      var boxes = document.querySelectorAll("input[type=checkbox][name=job_id]");
      for (var i = 0; i < boxes.length; i++) { boxes[i].checked = box.checked; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    follow(document.getElementById("live"));
    selectAll(document.getElementById("select-all"));
  });
})();
