// While an order waits for its payment, ask the server every 3 seconds and reload once paid.
(function () {
  var box = document.querySelector('[data-status]');
  if (!box || !window.fetch) return;
  var url = box.getAttribute('data-status');
  setInterval(function () {
    fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s && !s.waiting_for_payment) window.location.reload(); })
      .catch(function () {});
  }, 3000);
})();

// Copy buttons for what a transfer needs typed: shown only where the browser can copy.
(function () {
  if (!navigator.clipboard) return;
  document.querySelectorAll('button.copy[data-copy]').forEach(function (b) {
    b.hidden = false;
    b.addEventListener('click', function () {
      navigator.clipboard.writeText(b.getAttribute('data-copy')).then(function () {
        var label = b.textContent;
        b.textContent = b.getAttribute('data-copied') || '✓';
        setTimeout(function () { b.textContent = label; }, 2000);
      });
    });
  });
})();
