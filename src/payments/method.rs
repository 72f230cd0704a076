//! The closed set of ways to pay.

use serde::Serialize;

/// How a shopper pays. The online methods are offered when configured (or in sandbox mode); their
/// orders wait for payment and expire without one. Cash is paid when the order is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PaymentMethod {
    Cod,
    Vietqr,
    Vnpay,
    Momo,
    Card,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 5] =
        [Self::Vietqr, Self::Vnpay, Self::Momo, Self::Card, Self::Cod];

    pub fn key(self) -> &'static str {
        match self {
            Self::Cod => "cod",
            Self::Vietqr => "vietqr",
            Self::Vnpay => "vnpay",
            Self::Momo => "momo",
            Self::Card => "card",
        }
    }
    pub fn from_key(k: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.key() == k)
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Cod => "Thanh toán khi nhận hàng (tiền mặt)",
            Self::Vietqr => "Chuyển khoản ngân hàng qua mã VietQR",
            Self::Vnpay => "VNPAY",
            Self::Momo => "Ví MoMo",
            Self::Card => "Thẻ quốc tế (Visa, Mastercard)",
        }
    }
    pub fn online(self) -> bool {
        self != Self::Cod
    }
}
