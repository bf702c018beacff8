// The marking page: show the rubric total as levels are chosen. The server
// computes the total it records; this is only a preview (the page works
// without script).
(function () {
  "use strict";
  var out = document.querySelector("[data-rubric-total]");
  if (!out) return;
  var form = out.closest("form");
  var worth = parseFloat(out.getAttribute("data-worth"));
  var top = parseFloat(out.getAttribute("data-top"));
  function update() {
    var sum = 0;
    var chosen = form.querySelectorAll("input[type=radio]:checked");
    for (var i = 0; i < chosen.length; i++) {
      sum += parseFloat(chosen[i].getAttribute("data-points")) || 0;
    }
    var total = top > 0 && top !== worth ? (sum * worth) / top : sum;
    out.textContent = (Math.round(Math.min(total, worth) * 100) / 100).toLocaleString(
      document.documentElement.lang || undefined
    );
  }
  form.addEventListener("change", update);
  update();
})();
