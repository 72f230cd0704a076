// Province → commune picker: with this script, choosing a province loads its communes at once;
// without it, the form has a button that shows them (the server renders the list).
(function () {
  var province = document.querySelector('select[data-communes]');
  if (!province || !window.fetch) return;
  var commune = document.getElementById(province.getAttribute('data-communes'));
  province.addEventListener('change', function () {
    var code = province.value;
    commune.innerHTML = '';
    var first = document.createElement('option');
    first.value = '';
    // the words come from the page, in its language
    first.textContent = code ? province.getAttribute('data-loading') : province.getAttribute('data-choose-first');
    commune.appendChild(first);
    if (!code) return;
    fetch('/api/v1/provinces/' + encodeURIComponent(code) + '/communes')
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) {
        first.textContent = province.getAttribute('data-choose');
        data.items.forEach(function (c) {
          var o = document.createElement('option');
          o.value = c.code;
          o.textContent = c.name;
          commune.appendChild(o);
        });
      });
  });
})();
