// A launch from a learning platform: opened as the whole window, go on at
// once; inside the platform's frame, the button opens a window of its own
// (the exam and staff pages are never framed).
(function () {
  "use strict";
  if (window.top !== window.self) return;
  var go = document.getElementById("lti-continue");
  if (go && go.tagName === "FORM") {
    go.removeAttribute("target");
    go.submit();
  } else if (go && go.tagName === "A") {
    window.location.replace(go.getAttribute("href"));
  }
})();
