// A table too wide for the screen scrolls inside its box (.tablewrap), never
// the page. Keyboard users must reach that box to scroll it: while it
// overflows it is focusable and named after its table (WCAG 2.1.1; axe-core's
// scrollable-region-focusable). Runs on every staff page (base.html).
(function () {
  "use strict";

  function nameOf(box) {
    const table = box.querySelector("table");
    const caption = table && table.querySelector("caption");
    if (caption && caption.textContent.trim()) return caption.textContent.trim();
    const labelled = box.closest("[aria-labelledby]");
    const heading = labelled && document.getElementById(labelled.getAttribute("aria-labelledby"));
    if (heading && heading.textContent.trim()) return heading.textContent.trim();
    return "Table";
  }

  function update(box) {
    if (box.scrollWidth > box.clientWidth + 1) {
      if (!box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", nameOf(box) + " (scrolls sideways)");
      }
    } else if (box.getAttribute("role") === "region" && box.getAttribute("tabindex") === "0") {
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  }

  function start() {
    const boxes = document.querySelectorAll(".tablewrap");
    if (!boxes.length) return;
    const observer = new ResizeObserver((entries) => entries.forEach((e) => update(e.target)));
    boxes.forEach((box) => {
      update(box);
      observer.observe(box);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
