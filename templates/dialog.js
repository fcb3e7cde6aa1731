/*
 * alipay-sim's modal dialog, shared by the device page's consent sheet (/assets/dialog.js) and
 * the overlay of /sdk/my.js (bundled into it, so that my.js stays one script).
 *
 *   var dialog = alipaySimDialog.open(backdrop, { initialFocus: allowButton, onClose: fn });
 *   dialog.close("allow");
 *
 * `backdrop` is the shown overlay; the element inside it with role="dialog" (aria-modal,
 * aria-labelledby: the markup's) is the dialog. While it is open: focus is inside it (first on
 * `initialFocus`), Tab and Shift+Tab cycle through its controls, the rest of the page is inert,
 * and Escape or a click on the backdrop closes it with the reason "dismiss". On close, focus
 * returns to the element that had it when the dialog opened (or `options.opener`), and
 * `onClose(reason)` is called once.
 */
var alipaySimDialog = (function () {
  "use strict";
  var FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), " +
    "select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

  function controls(dialog) {
    return Array.prototype.filter.call(dialog.querySelectorAll(FOCUSABLE), function (element) {
      return element.getClientRects().length > 0;
    });
  }

  function open(backdrop, options) {
    options = options || {};
    var dialog = backdrop.querySelector("[role=dialog]") || backdrop;
    var opener = options.opener || document.activeElement;
    var closed = false;

    // Everything but the dialog and its ancestors becomes inert: no click, no focus, no reading.
    var madeInert = [];
    for (var node = backdrop; node && node.parentElement && node !== document.body; node = node.parentElement) {
      Array.prototype.forEach.call(node.parentElement.children, function (sibling) {
        if (sibling === node || sibling.inert || sibling.tagName === "SCRIPT") return;
        sibling.inert = true;
        madeInert.push(sibling);
      });
    }
    backdrop.hidden = false;

    function focusInside() {
      var items = controls(dialog);
      var first = options.initialFocus && dialog.contains(options.initialFocus) ? options.initialFocus : items[0];
      (first || dialog).focus();
    }

    function onKey(event) {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        close("dismiss");
      } else if (event.key === "Tab") {
        // Cycle through the dialog's controls, whatever the browser would do next.
        event.preventDefault();
        var items = controls(dialog);
        if (items.length === 0) return;
        var index = items.indexOf(document.activeElement);
        var next;
        if (event.shiftKey) next = index <= 0 ? items.length - 1 : index - 1;
        else next = index < 0 || index === items.length - 1 ? 0 : index + 1;
        items[next].focus();
      }
    }

    // Focus that lands outside (a script, a click on the page's chrome) is brought back.
    function onFocus(event) {
      if (!dialog.contains(event.target)) focusInside();
    }

    function onClick(event) {
      if (event.target === backdrop) close("dismiss");
    }

    function close(reason) {
      if (closed) return;
      closed = true;
      document.removeEventListener("keydown", onKey, true);
      document.removeEventListener("focusin", onFocus, true);
      backdrop.removeEventListener("click", onClick);
      madeInert.forEach(function (element) { element.inert = false; });
      if (options.remove) backdrop.remove();
      else backdrop.hidden = true;
      if (opener && typeof opener.focus === "function" && document.contains(opener)) opener.focus();
      if (typeof options.onClose === "function") options.onClose(reason);
    }

    if (!dialog.hasAttribute("tabindex")) dialog.setAttribute("tabindex", "-1");
    document.addEventListener("keydown", onKey, true);
    document.addEventListener("focusin", onFocus, true);
    backdrop.addEventListener("click", onClick);
    focusInside();
    return { close: close };
  }

  return { open: open };
})();
