// The console page's enhancements; every form also works without them.
(function () {
  "use strict";

  // A notice is said once: the address loses its ?notice= (a reload does not repeat it).
  if (/[?&]notice=/.test(location.search) && window.history && history.replaceState) {
    var query = location.search.replace(/([?&])notice=[^&]*&?/, "$1").replace(/[?&]$/, "");
    history.replaceState(null, "", location.pathname + query + location.hash);
  }

  // Copy buttons: "Copied", and "Copy" again after 2 s.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var timer;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.dataset.copy);
      field.select();
      (navigator.clipboard ? navigator.clipboard.writeText(field.value) : Promise.reject())
        .catch(function () { document.execCommand("copy"); })
        .finally(function () {
          button.textContent = "Copied";
          clearTimeout(timer);
          timer = setTimeout(function () { button.textContent = "Copy"; }, 2000);
        });
    });
  });

  // Forms that ask first (rotating keys).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // A select's chosen option, whole: in its title, and on the line under it when it may be
  // too long to read in the select (the server's measure: a CJK character is two letters).
  function width(text) {
    var n = 0;
    for (var i = 0; i < text.length; i++) n += text.charCodeAt(i) < 128 ? 1 : 2;
    return n;
  }
  document.querySelectorAll("select[id]").forEach(function (select) {
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      var words = option ? option.textContent : "";
      select.title = words;
      document.querySelectorAll('[data-chosen-for="' + select.id + '"]').forEach(function (line) {
        line.textContent = words;
        line.hidden = width(words) <= 30;
      });
    });
  });

  // A refused form's summary takes the focus, so that it is read first.
  var refused = document.getElementById("error-summary");
  if (refused && !refused.hidden) refused.focus();

  // The preview: the outcome of the unsaved form, its changed fields and its errors, as the
  // server renders them (POST .../console/preview, which saves nothing).
  var form = document.getElementById("console-form");
  if (!form || !window.fetch) return;
  var timer;
  var sequence = 0;

  function fieldOf(name) {
    return form.querySelector('.field[data-field="' + name + '"]');
  }

  function clearErrors() {
    form.querySelectorAll(".field.invalid").forEach(function (field) {
      field.classList.remove("invalid");
      field.querySelectorAll("[aria-invalid]").forEach(function (control) {
        control.removeAttribute("aria-invalid");
        control.removeAttribute("aria-describedby");
      });
      field.querySelectorAll(".field-error").forEach(function (message) { message.remove(); });
    });
  }

  function markError(error) {
    var field = error.field && fieldOf(error.field);
    var control = error.target && document.getElementById(error.target);
    if (!field || !control) return;
    field.classList.add("invalid");
    var message = field.querySelector(".field-error");
    if (!message) {
      message = document.createElement("p");
      message.className = "field-error";
      message.id = error.target + "-error";
      field.appendChild(message);
    }
    message.textContent = error.message;
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", message.id);
  }

  function show(answer) {
    if (answer.outcome !== null) document.getElementById("outcome-body").innerHTML = answer.outcome;
    // The summary is an alert: replaced only when it says something else.
    var summary = document.getElementById("error-summary");
    if (summary.outerHTML.trim() !== answer.summary.trim()) summary.outerHTML = answer.summary;
    clearErrors();
    answer.errors.forEach(markError);
    form.querySelectorAll(".field.changed").forEach(function (field) { field.classList.remove("changed"); });
    answer.changed.forEach(function (name) {
      var field = fieldOf(name);
      if (field) field.classList.add("changed");
    });
    document.getElementById("unsaved").hidden = answer.changed.length === 0;
    document.getElementById("unsaved-fields").textContent = answer.changed_labels.join(", ");
    document.getElementById("preview-note").textContent = answer.note;
  }

  function preview() {
    var mine = ++sequence;
    fetch(form.dataset.preview, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString(),
    })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (answer) { if (mine === sequence) show(answer); })
      .catch(function () { /* the page stays as it is; Save still works */ });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
})();
