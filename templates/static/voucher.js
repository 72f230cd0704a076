// Draws each booking voucher's QR (its short code) on the device: nothing is fetched, so a saved
// or printed page still carries it.
document.querySelectorAll(".voucher-qr[data-code]").forEach(function (el) {
  if (typeof qrcode !== "function") return;
  var q = qrcode(0, "M");
  q.addData(el.dataset.code);
  q.make();
  el.innerHTML = q.createSvgTag({ cellSize: 4, margin: 2, scalable: true, alt: el.getAttribute("data-alt") || "QR" });
});
