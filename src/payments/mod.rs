//! Payments. Every provider's callback goes the same way: the raw request is committed to the
//! event store (`events`) before anything else, the provider's gateway checks its signature with
//! the provider's own algorithm and reads it into one normalised `Notification`, its transaction
//! id is claimed once, and one state machine (`decision`) decides: pay the order group, record a
//! failed attempt (`attempts`), or send the money to staff review (`review`) with a reason
//! (amount too low or too high, unknown code, already paid, cancelled or expired order, wrong
//! account). Reconciliation asks the gateways about attempts nobody heard back about and sends
//! their answers down the same path.
//!
//! - `gateways/`: one file per provider behind the `Gateway` trait (start, read a callback,
//!   query, answer, sandbox stand-in): bank transfers via SePay or Casso, VNPAY, MoMo, Stripe,
//!   cash on delivery.
//! - `config`: the providers' accounts and secrets; `method` and `provider`: the closed sets.

pub mod attempts;
pub mod config;
pub mod decision;
pub mod events;
pub mod gateways;
pub mod http;
pub mod method;
pub mod provider;
pub mod reconcile;
pub mod review;
pub mod sandbox;

pub use attempts::{Attempt, start_attempt};
pub use config::{BankAccount, Providers, bank_brand};
pub use config::{
    SANDBOX_CASSO_KEY, SANDBOX_MOMO_SECRET, SANDBOX_SEPAY_API_KEY, SANDBOX_SEPAY_SECRET,
    SANDBOX_STRIPE_WEBHOOK_SECRET, SANDBOX_VNPAY_SECRET,
};
pub use decision::{Outcome, apply};
pub use events::purge_refused;
pub use gateways::cash::record_cash;
pub use method::PaymentMethod;
pub use provider::Provider;

/// What a verified callback (or a provider's answer to our question) says, the same for every
/// provider: the one event the decision acts on.
#[derive(Debug, Clone)]
pub struct Notification {
    pub provider: Provider,
    /// the provider's transaction id, claimed once
    pub tx_id: String,
    pub target: Target,
    /// what the provider says arrived, in đồng
    pub amount: crate::domain::Vnd,
    pub success: bool,
    /// the receiving account, for bank transfers
    pub account: Option<String>,
    /// the provider's id for the attempt, kept on the payment
    pub provider_ref: Option<String>,
}

/// What a notification is about.
#[derive(Debug, Clone)]
pub enum Target {
    /// the reference we gave the provider for one attempt
    Attempt(String),
    /// a bank transfer's free text, which should hold the order code
    Memo(String),
}
