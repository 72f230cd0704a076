// The cart without page reloads. Pages are cached for everyone, so the header badge reads the
// item count from a cookie the cart answers set. Forms marked data-cart post with fetch and update
// in place; without this script they are plain forms that work the same way.
(function () {
  function count() {
    var m = document.cookie.match(/(?:^|; )ocop_cart_n=(\d+)/);
    return m ? parseInt(m[1], 10) : 0;
  }
  function badge() {
    var n = count();
    document.querySelectorAll('[data-cart-count]').forEach(function (b) {
      b.textContent = n;
      b.hidden = n === 0;
    });
  }
  badge();
  // a choice that recomputes the page (no inline handlers: the CSP allows none)
  document.querySelectorAll('select[data-autosubmit]').forEach(function (el) {
    el.addEventListener('change', function () { el.form.submit(); });
  });
  if (!window.fetch || !window.FormData) return;
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form.hasAttribute || !form.hasAttribute('data-cart')) return;
    ev.preventDefault();
    var status = form.querySelector('.cart-status');
    fetch(form.action, {
      method: 'POST',
      headers: { 'Accept': 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(new FormData(form)).toString(),
      credentials: 'same-origin'
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (res) {
      badge();
      if (status) status.textContent = (res.body.message || (res.body.error && res.body.error.message) || '');
      // on the cart page, fetch the updated cart and swap it in
      var cart = document.getElementById('cart');
      if (cart) {
        fetch('/cart', { credentials: 'same-origin' }).then(function (r) { return r.text(); }).then(function (html) {
          var doc = new DOMParser().parseFromString(html, 'text/html');
          var fresh = doc.getElementById('cart');
          if (fresh) cart.replaceWith(fresh);
        });
      }
    }).catch(function () { form.submit(); });
  });
})();
