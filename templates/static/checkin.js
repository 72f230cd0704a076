// the phone's camera reads the QR where the browser can (BarcodeDetector); typing always works
(function () {
  if (!('BarcodeDetector' in window) || !navigator.mediaDevices) return;
  var button = document.getElementById('scan'), video = document.getElementById('scan-video');
  button.hidden = false;
  button.addEventListener('click', function () {
    var detector = new BarcodeDetector({ formats: ['qr_code'] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } }).then(function (stream) {
      video.srcObject = stream; video.hidden = false; video.play();
      var tick = function () {
        detector.detect(video).then(function (codes) {
          if (codes.length) {
            stream.getTracks().forEach(function (t) { t.stop(); });
            document.getElementById('f-code').value = codes[0].rawValue;
            document.getElementById('checkin-form').submit();
          } else { requestAnimationFrame(tick); }
        }).catch(function () { requestAnimationFrame(tick); });
      };
      tick();
    });
  });
})();
