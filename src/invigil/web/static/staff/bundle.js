// The bundle page while its bundle is built: ask the server every two
// seconds how far it got, show it, and reload once it is ready or failed
// (the server renders that page). Without script the page offers a link.
(function () {
  "use strict";
  var box = document.querySelector("[data-bundle-status]");
  if (!box) return;
  var url = box.getAttribute("data-bundle-status");
  var bar = box.querySelector("progress");
  var words = box.querySelector("[data-bundle-words]");
  var template = words.getAttribute("data-bundle-words");
  var badge = box.querySelector("[data-bundle-state]");
  var lang = document.documentElement.lang || undefined;
  function show(done, total) {
    if (!total) return;
    bar.max = total;
    bar.value = done;
    words.textContent = template
      .replace("{done}", done.toLocaleString(lang))
      .replace("{total}", total.toLocaleString(lang));
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) return;
        if (s.state !== "queued" && s.state !== "building") {
          window.location.reload();
          return;
        }
        if (s.state === "building" && badge.textContent !== badge.getAttribute("data-building")) {
          badge.textContent = badge.getAttribute("data-building");
          badge.className = "badge building";
        }
        show(s.done, s.total);
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
