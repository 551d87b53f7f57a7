/*
 * Radios that reveal a box for the choice made: the NHS design system's "conditional reveal".
 *
 * The page is served with every box showing (each labelled for its choice), which is how it
 * works without JavaScript; the server reads only the box of the option chosen. This script,
 * served from this site because the Content-Security-Policy allows no other script, marks the
 * page as able to run nhsuk-frontend's styles for scripted components (so a box the server
 * rendered for an unchosen option is hidden from the first paint), then keeps each box in step
 * with its radio: shown when chosen, hidden otherwise, with aria-controls telling assistive
 * technology which box the radio opens. (Not aria-expanded: ARIA does not allow it on a radio,
 * and axe-core fails a page that sets it.) It mirrors nhsuk-frontend's own radios module,
 * which is not shipped here.
 */
(function () {
  "use strict";

  // The same test nhsuk-frontend uses: browsers too old for its scripts keep every box shown.
  if (!("noModule" in HTMLScriptElement.prototype)) {
    return;
  }
  document.documentElement.classList.add("nhsuk-frontend-supported");

  var HIDDEN = "nhsuk-radios__conditional--hidden";

  function controlled(input) {
    var id = input.getAttribute("aria-controls");
    return id ? document.getElementById(id) : null;
  }

  function sync(input) {
    var box = controlled(input);
    if (!box) {
      return;
    }
    box.classList.toggle(HIDDEN, !input.checked);
  }

  function syncAll() {
    var inputs = document.querySelectorAll('input[type="radio"][aria-controls]');
    Array.prototype.forEach.call(inputs, sync);
  }

  function start() {
    var inputs = document.querySelectorAll('[data-module="nhsuk-radios"] input[data-aria-controls]');
    Array.prototype.forEach.call(inputs, function (input) {
      var id = input.getAttribute("data-aria-controls");
      // Only a box that is on the page is controlled: a radio without one stays plain.
      if (id && document.getElementById(id)) {
        input.setAttribute("aria-controls", id);
        input.removeAttribute("data-aria-controls");
      }
    });
    syncAll();
    // Choosing one radio unchecks the others of its name, which fire no event of their own.
    document.addEventListener("change", function (event) {
      var target = event.target;
      if (target instanceof HTMLInputElement && target.type === "radio") {
        syncAll();
      }
    });
    // A page restored from the back-forward cache keeps the choice made: show its box.
    window.addEventListener("pageshow", syncAll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
