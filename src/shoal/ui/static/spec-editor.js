// The spec editor: a line-number gutter that marks the lines the server found errors on,
// error links that move the caret to their line, Tab and Shift+Tab that indent, Ctrl/Cmd+Enter
// that validates now, and a plan marked stale once the spec changes after it.
(function () {
  "use strict";
  var INDENT = "  ";
  var area = document.querySelector("textarea[data-spec-editor]");
  if (!area) return;
  var form = area.form;
  var gutter = document.getElementById("spec-gutter");
  var errorLines = {};
  var shown = 0;

  function lineCount() {
    var n = 1, text = area.value, i = -1;
    while ((i = text.indexOf("\n", i + 1)) !== -1) n++;
    return n;
  }

  function renderGutter() {
    var n = lineCount();
    if (n !== shown) {
      var frag = document.createDocumentFragment();
      for (var i = shown + 1; i <= n; i++) {
        var row = document.createElement("div");
        row.textContent = String(i);
        frag.appendChild(row);
      }
      while (gutter.childNodes.length > n) gutter.removeChild(gutter.lastChild);
      gutter.appendChild(frag);
      shown = n;
    }
    var rows = gutter.children;
    for (var j = 0; j < rows.length; j++) {
      var bad = errorLines[j + 1] === true;
      if (rows[j].classList.contains("error") !== bad) rows[j].classList.toggle("error", bad);
    }
    gutter.scrollTop = area.scrollTop;
  }

  // What the last validation found: its lines mark the gutter; the textarea says whether it
  // is invalid and points at the list of errors.
  function readCheck() {
    var check = document.querySelector("#spec-check [data-error-lines]");
    errorLines = {};
    var invalid = false;
    if (check) {
      invalid = check.classList.contains("invalid");
      check.getAttribute("data-error-lines").split(" ").forEach(function (n) {
        if (n) errorLines[parseInt(n, 10)] = true;
      });
    }
    var described = "spec-help" + (invalid ? " spec-errors" : "");
    area.setAttribute("aria-describedby", described);
    if (invalid) area.setAttribute("aria-invalid", "true");
    else area.removeAttribute("aria-invalid");
    renderGutter();
  }

  function goTo(line, column) {
    var lines = area.value.split("\n");
    var offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    var inLine = lines[Math.min(line, lines.length) - 1] || "";
    offset += Math.min(Math.max(column - 1, 0), inLine.length);
    area.focus();
    area.setSelectionRange(offset, offset);
    var height = parseFloat(window.getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (line - 4) * height);
    gutter.scrollTop = area.scrollTop;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-line]");
    if (!link) return;
    event.preventDefault();
    goTo(parseInt(link.getAttribute("data-line"), 10), parseInt(link.getAttribute("data-column"), 10) || 1);
  });

  function edited() {
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  // Tab indents (every selected line when the selection spans lines), Shift+Tab outdents.
  function indent(outdent) {
    var value = area.value, start = area.selectionStart, end = area.selectionEnd;
    if (!outdent && start === end) {
      area.setRangeText(INDENT, start, end, "end");
      edited();
      return;
    }
    var first = value.lastIndexOf("\n", start - 1) + 1;
    var last = end > start && value[end - 1] === "\n" ? end - 1 : end;
    var block = value.slice(first, last);
    var changed = block.split("\n").map(function (line) {
      if (!outdent) return INDENT + line;
      return line.indexOf(INDENT) === 0 ? line.slice(INDENT.length) : line.replace(/^ /, "");
    }).join("\n");
    area.setRangeText(changed, first, last, "select");
    if (start === end) {
      var moved = Math.max(first, start + (changed.length - block.length));
      area.setSelectionRange(moved, moved);
    }
    edited();
  }

  area.addEventListener("keydown", function (event) {
    if (event.key === "Tab" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      indent(event.shiftKey);
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  area.addEventListener("input", function () {
    renderGutter();
    var plan = document.querySelector("#plan .plan");
    if (plan && !plan.classList.contains("stale")) {
      plan.classList.add("stale");
      var note = plan.querySelector(".stale-note");
      if (note) note.hidden = false;
      plan.querySelectorAll("[data-apply]").forEach(function (b) { b.disabled = true; });
    }
  });
  area.addEventListener("scroll", function () { gutter.scrollTop = area.scrollTop; });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "spec-check") readCheck();
  });

  readCheck();
})();
