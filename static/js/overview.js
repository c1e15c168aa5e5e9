// Live status badge of /overview: follows the htmx-ext-ws connection.
(function () {
  "use strict";
  function setStatus(state, text) {
    var el = document.getElementById("live-status");
    if (!el) return;
    el.dataset.live = state;
    el.querySelector(".live-text").textContent = text;
  }
  document.addEventListener("htmx:wsConnecting", function () { setStatus("connecting", "Connecting…"); });
  document.addEventListener("htmx:wsOpen", function () { setStatus("on", "Live"); });
  document.addEventListener("htmx:wsClose", function () { setStatus("off", "Reconnecting…"); });
  document.addEventListener("htmx:wsError", function () { setStatus("off", "Live updates unavailable"); });
})();
