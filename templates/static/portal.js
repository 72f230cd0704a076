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
    first.textContent = code ? 'Đang tải…' : 'Chọn tỉnh trước';
    commune.appendChild(first);
    if (!code) return;
    fetch('/api/v1/provinces/' + encodeURIComponent(code) + '/communes')
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) {
        first.textContent = 'Chọn xã, phường';
        data.items.forEach(function (c) {
          var o = document.createElement('option');
          o.value = c.code;
          o.textContent = c.name;
          commune.appendChild(o);
        });
      });
  });
})();
// Saved addresses at checkout: one tap fills the form.
(function () {
  document.querySelectorAll('[data-address]').forEach(function (b) {
    b.addEventListener('click', function () {
      var a = JSON.parse(b.getAttribute('data-address'));
      ['buyer_name', 'phone', 'street'].forEach(function (k) {
        var el = document.querySelector('[name=' + k + ']');
        if (el) el.value = a[k];
      });
      var province = document.querySelector('select[name=province]');
      if (!province) return;
      province.value = a.province;
      province.dispatchEvent(new Event('change'));
      var commune = document.querySelector('select[name=commune]');
      var tries = 0;
      (function pick() {
        if (commune.querySelector('option[value="' + a.commune + '"]')) { commune.value = a.commune; return; }
        if (++tries < 40) setTimeout(pick, 100);
      })();
    });
  });
})();
