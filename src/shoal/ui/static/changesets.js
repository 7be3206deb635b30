// The changesets table: when it is swapped (a filter, a page, or the live stream saying a
// changeset changed), the rows that were ticked stay ticked, and so does "all matching".
(function () {
  "use strict";
  var TARGET = "changesets-results";
  var saved = null;

  function isTable(event) {
    return event.detail && event.detail.target && event.detail.target.id === TARGET;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!isTable(event)) { return; }
    var root = event.detail.target;
    var repos = [];
    root.querySelectorAll('input[type="checkbox"][name="repo"]:checked').forEach(function (box) {
      repos.push(box.value);
    });
    var scope = root.querySelector('input[type="radio"][name="scope"]:checked');
    saved = { repos: repos, scope: scope ? scope.value : null };
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (!isTable(event) || saved === null) { return; }
    var root = event.detail.target;
    var keep = new Set(saved.repos);
    root.querySelectorAll('input[type="checkbox"][name="repo"]').forEach(function (box) {
      if (keep.has(box.value)) { box.checked = true; }
    });
    if (saved.scope) {
      root.querySelectorAll('input[type="radio"][name="scope"]').forEach(function (radio) {
        radio.checked = radio.value === saved.scope;
      });
    }
    saved = null;
  });
})();
