# Mails to the shopper, in the language they ordered in.
mail-part = {$producer} (part #{$part}):
mail-line-discount = {$amount} off
mail-part-totals = Goods {$goods}, delivery {$shipping}
mail-total = Total: {$amount}
mail-discounted = ({$amount} off thanks to promotions)
mail-voucher = TICKET {$code}: {$product}, {$starts}, { $count ->
    [one] {$count} guest
   *[other] {$count} guests
}. Meeting point: {$meeting}. Show this code (or the QR code on the order page) to the host when you arrive.
mail-change-subject = Order {$code}: {$status}
mail-change-body = The part of order {$code} from {$producer} is now: {$status}.
mail-see-order = See the order: {$link}
mail-receipt = Receipt (print or save as PDF): {$link}
mail-placed-subject = We received order {$code}
mail-placed-body = Thank you for ordering on the OCOP Market. Your order code: {$code}.
mail-paid-subject = Order {$code}: paid
mail-paid-body = The OCOP Market has received the payment for order {$code}. The seller will confirm and send the goods.
status-pending_payment = Awaiting payment
status-placed = Placed
status-paid = Paid
status-confirmed = Confirmed
status-shipped = Shipped
status-delivered = Delivered
status-returning = Being returned
status-returned = Returned
status-cancelled = Cancelled
status-refunded = Refunded
actor-shopper = Buyer
actor-producer = Producer
actor-expiry = System (payment deadline passed)
actor-payment = Payment gateway
actor-staff = Staff
actor-carrier = Carrier
