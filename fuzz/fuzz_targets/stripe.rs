//! Stripe webhooks: arbitrary bodies with a valid Stripe-Signature (so event reading is reached),
//! and arbitrary signature headers.
#![no_main]
use axum::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use ocop_market::payments::gateways::{Gateway, Stripe, stripe};
use ocop_market::payments::{Providers, SANDBOX_STRIPE_WEBHOOK_SECRET};

const NOW: i64 = 1_790_000_000;

fuzz_target!(|data: &[u8]| {
    let p = Providers::sandbox_defaults();
    let (mode, rest) = data.split_first().unwrap_or((&0, &[]));
    let mut headers = HeaderMap::new();
    if mode % 2 == 0 {
        let sig = format!("t={NOW},v1={}", stripe::stripe_signature(SANDBOX_STRIPE_WEBHOOK_SECRET, NOW, rest));
        headers.insert("stripe-signature", HeaderValue::from_str(&sig).unwrap());
    } else if let Ok(v) = HeaderValue::from_bytes(&rest[..rest.len().min(200)]) {
        headers.insert("stripe-signature", v);
    }
    let _ = Stripe::read(&p, &headers, rest, NOW);
});
