/* Small progressive enhancements for the webhooks dashboard. Every page works without
   them: select-all boxes stay hidden, the copy button stays hidden, forms submit. */
(function () {
  "use strict";

  // A "Select all" box per event group, kept in step with the group's boxes.
  document.querySelectorAll("[data-select-all]").forEach(function (all) {
    var group = all.closest("[data-group]");
    var boxes = group.querySelectorAll('input[name="events"]');
    function sync() {
      var checked = Array.prototype.filter.call(boxes, function (b) { return b.checked; }).length;
      all.checked = checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      sync();
    });
    boxes.forEach(function (b) { b.addEventListener("change", sync); });
    all.closest("label").hidden = false;
    sync();
  });

  // Copy buttons: data-copy names the element whose text is copied.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) { return; }
    var label = button.textContent;
    function done() {
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = label; }, 2000);
    }
    function fallback() {
      var range = document.createRange();
      range.selectNodeContents(target);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try { if (document.execCommand("copy")) { done(); } } catch (e) { /* text stays selected */ }
    }
    button.addEventListener("click", function () {
      var text = target.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
    button.hidden = false;
  });

  // Forms that ask before they submit.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
