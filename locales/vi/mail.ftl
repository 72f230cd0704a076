# Mails to the shopper, in the language they ordered in.
mail-part = {$producer} (phần #{$part}):
mail-line-discount = giảm {$amount}
mail-part-totals = Tiền hàng {$goods}, giao hàng {$shipping}
mail-total = Tổng cộng: {$amount}
mail-discounted = (đã giảm {$amount} nhờ khuyến mãi)
mail-voucher = VÉ {$code}: {$product}, {$starts}, {$count} khách. Điểm hẹn: {$meeting}. Đưa mã này (hoặc mã QR trên trang đơn hàng) cho cơ sở khi đến.
mail-change-subject = Đơn hàng {$code}: {$status}
mail-change-body = Phần đơn hàng {$code} của {$producer} đã chuyển sang: {$status}.
mail-see-order = Xem đơn hàng: {$link}
mail-receipt = Biên nhận (in hoặc lưu PDF): {$link}
mail-placed-subject = Đã nhận đơn hàng {$code}
mail-placed-body = Cảm ơn bạn đã đặt hàng trên Sàn OCOP. Mã đơn hàng: {$code}.
mail-paid-subject = Đơn hàng {$code}: đã thanh toán
mail-paid-body = Sàn OCOP đã nhận tiền cho đơn hàng {$code}. Người bán sẽ xác nhận và gửi hàng.
