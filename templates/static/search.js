// As-you-type suggestions for the header search box. Without this script the box is a plain
// form that opens /search; with it, matches appear under the box from the second character.
(function () {
  var form = document.querySelector('form.search-box');
  if (!form || !window.fetch) return;
  var input = form.querySelector('input[name=q]');
  var box = form.querySelector('.suggest');
  var timer = null, last = '', seq = 0;
  function hide() { box.hidden = true; }
  input.addEventListener('input', function () {
    clearTimeout(timer);
    var q = input.value.trim();
    if (q.length < 2) { hide(); last = ''; return; }
    timer = setTimeout(function () {
      if (q === last) return;
      last = q;
      var mine = ++seq;
      fetch('/search/suggest?q=' + encodeURIComponent(q), { headers: { 'Accept': 'text/html' } })
        .then(function (r) { return r.ok ? r.text() : ''; })
        .then(function (html) {
          if (mine !== seq) return; // an older answer arriving late
          box.innerHTML = html;
          box.hidden = html.trim() === '';
        })
        .catch(hide);
    }, 120);
  });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') hide();
    if (e.key === 'ArrowDown') { var a = box.querySelector('a'); if (a && !box.hidden) { e.preventDefault(); a.focus(); } }
  });
  box.addEventListener('keydown', function (e) {
    var links = Array.prototype.slice.call(box.querySelectorAll('a'));
    var i = links.indexOf(document.activeElement);
    if (e.key === 'ArrowDown' && i < links.length - 1) { e.preventDefault(); links[i + 1].focus(); }
    if (e.key === 'ArrowUp') { e.preventDefault(); (i > 0 ? links[i - 1] : input).focus(); }
    if (e.key === 'Escape') { hide(); input.focus(); }
  });
  document.addEventListener('click', function (e) { if (!form.contains(e.target)) hide(); });
})();
