// The till: a phone at a fair stall. Products are tapped into a sale; "QR" draws the VietQR for
// exactly that amount on the phone itself (so it shows without a connection) and sends the sale;
// the bank's webhook confirms it and the till says "Đã nhận tiền" with a beep and a buzz. A sale
// that cannot be sent waits in this phone's storage and is sent again, exactly once (the phone
// made its key and code), when the connection is back.
(function () {
  "use strict";
  var root = document.getElementById("till");
  if (!root) return;
  var eventId = root.dataset.event;
  var csrf = root.dataset.csrf;
  var account = root.dataset.bin ? { bin: root.dataset.bin, number: root.dataset.account, market: root.dataset.market === "true" } : null;
  var form = document.getElementById("till-form");
  var qty = {};
  var QUEUE = "ocop-till-queue-" + eventId;
  var ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  var polling = null;

  function $(id) { return document.getElementById(id); }
  function vnd(n) { return n.toLocaleString("vi-VN") + " ₫"; }
  function rand(n) { var a = new Uint8Array(n); crypto.getRandomValues(a); return a; }
  function newCode() { return "QB" + Array.prototype.map.call(rand(6), function (b) { return ALPHABET[b % 32]; }).join(""); }
  function newKey() {
    var b = rand(16); b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // NAPAS VietQR (EMVCo), the same as the server's: amount and sale code in the transfer memo
  function tlv(id, v) { return id + ("0" + v.length).slice(-2) + v; }
  function crc16(s) {
    var c = 0xffff;
    for (var i = 0; i < s.length; i++) {
      c ^= s.charCodeAt(i) << 8;
      for (var j = 0; j < 8; j++) { c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1; c &= 0xffff; }
    }
    return ("000" + c.toString(16).toUpperCase()).slice(-4);
  }
  function vietqr(bin, number, amount, purpose) {
    var merchant = tlv("00", "A000000727") + tlv("01", tlv("00", bin) + tlv("01", number)) + tlv("02", "QRIBFTTA");
    var p = tlv("00", "01") + tlv("01", "12") + tlv("38", merchant) + tlv("53", "704") + tlv("54", String(amount)) +
      tlv("58", "VN") + tlv("62", tlv("08", purpose)) + "6304";
    return p + crc16(p);
  }
  window.ocopVietqr = vietqr;

  function drawQr(payload) {
    var q = qrcode(0, "M");
    q.addData(payload);
    q.make();
    return q.createSvgTag({ cellSize: 6, margin: 4, scalable: true, alt: "Mã VietQR" });
  }

  function total() {
    var sum = 0;
    document.querySelectorAll(".till-tile").forEach(function (t) {
      sum += (qty[t.dataset.product] || 0) * Number(t.dataset.price);
    });
    return sum;
  }
  function typed() {
    var v = form.amount.value.replace(/[.,\s₫đ]/g, "");
    return /^\d+$/.test(v) ? Number(v) : 0;
  }
  function refresh() {
    document.querySelectorAll("[data-qty]").forEach(function (el) {
      var n = qty[el.dataset.qty] || 0;
      el.textContent = n ? "× " + n : "";
      el.parentNode.classList.toggle("is-picked", n > 0);
    });
    var sum = total() || typed();
    $("till-total").textContent = vnd(sum);
  }
  function error(msg) { var e = $("till-error"); e.textContent = msg || ""; e.hidden = !msg; }
  function clear() { qty = {}; form.amount.value = ""; form.note.value = ""; error(""); refresh(); }

  root.addEventListener("click", function (ev) {
    var add = ev.target.closest("[data-add]"), minus = ev.target.closest("[data-minus]");
    if (add) {
      var tile = add.parentNode, id = add.dataset.add;
      if ((qty[id] || 0) < Number(tile.dataset.stock)) qty[id] = (qty[id] || 0) + 1;
      else error("Không còn đủ hàng trong kho.");
      refresh();
    } else if (minus) {
      var m = minus.dataset.minus;
      if (qty[m]) qty[m] -= 1;
      refresh();
    }
  });
  form.amount.addEventListener("input", refresh);
  $("till-clear").addEventListener("click", clear);

  function sale(method) {
    var items = [];
    document.querySelectorAll(".till-tile").forEach(function (t) {
      var n = qty[t.dataset.product] || 0;
      if (n) items.push(t.dataset.product + ":" + n + ":" + t.dataset.price);
    });
    var amount = items.length ? total() : typed();
    return {
      key: newKey(), code: newCode(), method: method, items: items.join(";"),
      amount: items.length ? "" : String(amount), total: amount,
      note: form.note.value.trim(), sold_at: String(Date.now())
    };
  }

  function send(s, offline) {
    var body = new URLSearchParams();
    ["key", "code", "method", "items", "amount", "note", "sold_at"].forEach(function (k) { body.set(k, s[k]); });
    body.set("csrf", csrf);
    if (offline) body.set("offline", "1");
    return fetch("/producer/till/" + eventId + "/sales", {
      method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (j) {
        if (r.ok && j && j.ok) return j;
        if (r.status === 422 && j) return { refused: j.error };
        throw new Error("HTTP " + r.status);
      });
    });
  }

  function queue() { try { return JSON.parse(localStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function saveQueue(q) { localStorage.setItem(QUEUE, JSON.stringify(q)); showQueue(); }
  function showQueue() {
    var list = $("till-queue"), q = queue();
    list.textContent = "";
    if (!q.length) {
      var li = document.createElement("li"); li.className = "hint"; li.textContent = "Không có giao dịch nào chờ gửi."; list.appendChild(li);
    }
    q.forEach(function (s) {
      var li = document.createElement("li");
      li.textContent = s.code + " · " + new Date(Number(s.sold_at)).toLocaleTimeString("vi-VN") + " · " + vnd(s.total) +
        " · " + (s.method === "cash" ? "Tiền mặt" : "QR") + (s.error ? " · Không ghi nhận được: " + s.error : " · chờ mạng");
      if (s.error) {
        var drop = document.createElement("button");
        drop.type = "button"; drop.className = "button secondary"; drop.textContent = "Bỏ";
        drop.addEventListener("click", function () { saveQueue(queue().filter(function (x) { return x.key !== s.key; })); });
        li.appendChild(drop);
      }
      list.appendChild(li);
    });
    var waiting = q.filter(function (s) { return !s.error; }).length;
    $("till-net").textContent = navigator.onLine ? (waiting ? "Đang gửi " + waiting + " giao dịch đã lưu trên máy…" : "") :
      "Mất mạng: vẫn bán được, giao dịch lưu trên máy và tự gửi khi có mạng.";
    $("till-net").classList.toggle("is-offline", !navigator.onLine || waiting > 0);
  }
  var flushing = false;
  function flush() {
    if (flushing) return;
    var next = queue().filter(function (s) { return !s.error; })[0];
    if (!next) { showQueue(); return; }
    flushing = true;
    send(next, true).then(function (j) {
      var q = queue();
      if (j.refused) q.forEach(function (s) { if (s.key === next.key) s.error = j.refused; });
      else q = q.filter(function (s) { return s.key !== next.key; });
      saveQueue(q);
      flushing = false;
      flush();
    }, function () { flushing = false; showQueue(); });
  }
  window.addEventListener("online", flush);
  window.addEventListener("offline", showQueue);
  setInterval(flush, 10000);

  function cheer() {
    if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var o = ctx.createOscillator(), g = ctx.createGain();
      o.frequency.value = 880; o.connect(g); g.connect(ctx.destination); g.gain.value = 0.2;
      o.start(); o.stop(ctx.currentTime + 0.35);
    } catch (e) { /* no sound on this phone */ }
  }

  function panel(s) {
    $("till-pay").hidden = false;
    $("pay-amount").textContent = vnd(s.total);
    $("pay-code").textContent = s.code;
    $("pay-qr").innerHTML = s.method === "vietqr" && account ? drawQr(vietqr(account.bin, account.number, s.total, s.code)) : "";
    var base = "/producer/till/" + eventId + "/sales/" + s.code + "/settle";
    ["pay-cash-form", "pay-received-form", "pay-cancel-form"].forEach(function (id) { if ($(id)) $(id).action = base; });
    if ($("pay-sandbox")) $("pay-sandbox").href = "/sandbox/bank/" + s.code;
    $("pay-actions").hidden = s.method !== "vietqr";
    $("pay-done").focus();
  }
  function state(text, paid) {
    var el = $("pay-state");
    el.textContent = text;
    el.classList.toggle("is-paid", !!paid);
  }
  function poll(code) {
    stopPolling();
    polling = setInterval(function () {
      fetch("/producer/till/" + eventId + "/sales/" + code + "?format=json", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) {
          if (!j || !j.sale) return;
          var s = j.sale;
          if (s.state === "paid") {
            stopPolling();
            state("✓ Đã nhận tiền " + vnd(s.received || s.amount) + (s.received > s.amount ? " (thừa " + vnd(s.received - s.amount) + ": trả lại khách)" : ""), true);
            $("pay-actions").hidden = true;
            // paid: no QR left on the screen for a second payment
            $("pay-qr").innerHTML = "";
            cheer();
          } else if (s.state === "cancelled") {
            stopPolling(); state("Đã huỷ.");
          } else if (s.received > 0) {
            state("Mới nhận " + vnd(s.received) + " / " + vnd(s.amount) + ": khách cần chuyển thêm " + vnd(s.amount - s.received) + " (cùng mã).");
          }
        }, function () { /* offline: try again next tick */ });
    }, 2000);
  }
  function stopPolling() { if (polling) { clearInterval(polling); polling = null; } }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var method = ev.submitter ? ev.submitter.value : "cash";
    var s = sale(method);
    if (!(s.total > 0)) { error("Chưa chọn sản phẩm hoặc nhập số tiền."); return; }
    error("");
    panel(s);
    state(method === "cash" ? "Đang ghi tiền mặt…" : "Khách quét mã để chuyển khoản…");
    clear();
    send(s, false).then(function (j) {
      if (j.refused) { state("Không ghi nhận được: " + j.refused); $("pay-actions").hidden = true; $("pay-qr").innerHTML = ""; return; }
      if (j.sale.state === "paid") { state("✓ Đã ghi nhận tiền mặt " + vnd(j.sale.amount), true); cheer(); return; }
      state(account && !account.market ? "Khi thấy tiền vào tài khoản của cơ sở, bấm \"Đã nhận tiền\"." : "Chờ ngân hàng báo tiền về…");
      poll(s.code);
    }, function () {
      var q = queue(); q.push(s); saveQueue(q);
      state(method === "cash" ? "Mất mạng: đã lưu giao dịch tiền mặt trên máy, sẽ gửi khi có mạng." :
        "Mất mạng: khách vẫn quét mã được. Giao dịch đã lưu trên máy và sẽ gửi khi có mạng; tiền đến muộn vẫn khớp theo mã " + s.code + ".");
      $("pay-actions").hidden = true;
    });
  });
  $("pay-done").addEventListener("click", function () {
    stopPolling();
    $("till-pay").hidden = true;
    // the day's list shows the new sale; offline (or with sales waiting) the page stays, since
    // reloading it would need the connection
    if (navigator.onLine && !queue().length) location.reload();
  });

  refresh();
  showQueue();
  flush();
})();
