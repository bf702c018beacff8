// LTI Dynamic Registration is done: tell the learning platform, which
// closes the frame or window it opened Invigil's registration URL in.
(function () {
  "use strict";
  var message = { subject: "org.imsglobal.lti.close" };
  function close() {
    var to = window.opener || (window.parent !== window ? window.parent : null);
    if (to) to.postMessage(message, "*");
  }
  var button = document.getElementById("lti-close");
  if (button) button.addEventListener("click", close);
  close();
})();
