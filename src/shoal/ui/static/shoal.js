// Shoal's own script: the CSRF header on every htmx request, refusals shown in the alert
// region, keyboard shortcuts, row selection. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function flash(text) {
    var box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text; // text, never HTML
    box.hidden = !text;
  }
  window.shoalFlash = flash;

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    flash(xhr.responseText && xhr.responseText.length < 2000 ? xhr.responseText
          : "the server refused this (" + xhr.status + ")");
  });
  document.addEventListener("htmx:sendError", function () {
    flash("Shoal cannot be reached: check your connection and try again");
  });
  document.addEventListener("htmx:beforeRequest", function () { flash(""); });

  // Buttons and links that ask first: data-confirm="exact words" opens the browser's dialog.
  document.addEventListener("click", function (event) {
    var el = event.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // Select-all boxes: <input type="checkbox" data-select-all="NAME"> toggles every
  // checkbox named NAME; a count element [data-selected-count="NAME"] follows.
  function updateCounts() {
    document.querySelectorAll("[data-selected-count]").forEach(function (out) {
      var name = out.getAttribute("data-selected-count");
      var n = document.querySelectorAll('input[type="checkbox"][name="' + name + '"]:checked').length;
      out.textContent = String(n);
    });
  }
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("[data-select-all]")) {
      var name = box.getAttribute("data-select-all");
      document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (b) {
        b.checked = box.checked;
      });
    }
    updateCounts();
  });
  document.addEventListener("htmx:afterSettle", updateCounts);

  // Keyboard shortcuts (not while typing).
  var pending = "";
  var current = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("table.nav-rows tbody tr")); }
  function focusRow(i) {
    var all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r) { r.classList.remove("current"); });
    var row = all[current];
    row.classList.add("current");
    var target = row.querySelector("a, input, button");
    if (target) target.focus();
  }
  document.addEventListener("keydown", function (event) {
    var t = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (t && (t.isContentEditable || /^(TEXTAREA|SELECT)$/.test(t.tagName) ||
              (t.tagName === "INPUT" && !/^(checkbox|radio|button|submit|reset)$/.test(t.type)))) {
      if (event.key === "Escape") { event.preventDefault(); t.blur(); } // keep a search box's text
      return;
    }
    var key = event.key;
    if (pending === "g") {
      pending = "";
      var base = document.querySelector("a.brand").getAttribute("href").replace(/\/$/, "");
      if (key === "c") { window.location.href = base + "/"; }
      if (key === "a") { window.location.href = base + "/audit"; }
      return;
    }
    if (key === "g") { pending = "g"; return; }
    if (key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); }
    } else if (key === "?") {
      var dialog = document.getElementById("shortcuts");
      if (dialog && dialog.showModal) dialog.showModal();
    } else if (key === "j") {
      focusRow(current + 1);
    } else if (key === "k") {
      focusRow(current - 1);
    } else if (key === "x") {
      var row = rows()[current];
      var box = row && row.querySelector('input[type="checkbox"]');
      if (box) { box.checked = !box.checked; updateCounts(); }
    }
  });
})();
