// Game page: arrow keys step through the positions by following the stepper's
// links (htmx swaps the viewer and pushes each position's URL; without htmx the
// links simply load the page).
(function () {
  "use strict";
  var KEYS = { ArrowLeft: "prev", ArrowRight: "next", Home: "first", End: "last" };
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var target = event.target;
    if (target && target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var nav = KEYS[event.key];
    if (!nav) return;
    var link = document.querySelector('#game-view [data-nav="' + nav + '"]');
    if (!link) return;
    event.preventDefault();
    link.click();
  });
})();
