// The run page's filters: fields left empty stay out of the request, and so out of the
// address bar htmx updates (a shared link names only the filters in use).
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    var data = event.detail.formData;
    if (!elt || !elt.closest || !elt.closest("form.filters") || !data || !data.forEach) return;
    var empty = [];
    data.forEach(function (value, name) { if (value === "") empty.push(name); });
    empty.forEach(function (name) { data.delete(name); });
  });
})();
