//! The outside parties that report money, a closed set: every callback, claim and stored event
//! names one. Stored as text (`payment_event.provider`, checked by the table).

use super::method::PaymentMethod;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Provider {
    /// a bank transfer seen by SePay
    Sepay,
    /// a bank transfer seen by Casso
    Casso,
    Vnpay,
    Momo,
    Stripe,
    /// cash collected at delivery
    Cod,
    /// money staff recorded by hand
    Staff,
}

impl Provider {
    pub fn key(self) -> &'static str {
        match self {
            Self::Sepay => "sepay",
            Self::Casso => "casso",
            Self::Vnpay => "vnpay",
            Self::Momo => "momo",
            Self::Stripe => "stripe",
            Self::Cod => "cod",
            Self::Staff => "staff",
        }
    }

    /// How the shopper paid when this party reports the money (staff record bank transfers).
    pub fn method(self) -> PaymentMethod {
        match self {
            Self::Sepay | Self::Casso | Self::Staff => PaymentMethod::Vietqr,
            Self::Vnpay => PaymentMethod::Vnpay,
            Self::Momo => PaymentMethod::Momo,
            Self::Stripe => PaymentMethod::Card,
            Self::Cod => PaymentMethod::Cod,
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}
