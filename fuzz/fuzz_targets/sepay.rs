//! SePay webhooks: arbitrary headers and bodies, and arbitrary bodies with a valid signature (so
//! the JSON reading is reached too). The parser must refuse or read, never panic.
#![no_main]
use axum::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use ocop_market::payments::gateways::{Gateway, Sepay, bank};
use ocop_market::payments::{Providers, SANDBOX_SEPAY_SECRET};

const NOW: i64 = 1_790_000_000;

fuzz_target!(|data: &[u8]| {
    let p = Providers::sandbox_defaults();
    let (mode, rest) = data.split_first().unwrap_or((&0, &[]));
    let mut headers = HeaderMap::new();
    let body = if mode % 2 == 0 {
        let t = NOW.to_string();
        headers.insert("x-sepay-timestamp", HeaderValue::from_str(&t).unwrap());
        headers.insert("x-sepay-signature", HeaderValue::from_str(&bank::sepay_signature(SANDBOX_SEPAY_SECRET, &t, rest)).unwrap());
        rest
    } else {
        let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        if let Ok(v) = HeaderValue::from_bytes(&rest[..split]) {
            headers.insert("x-sepay-signature", v.clone());
            headers.insert("x-sepay-timestamp", v.clone());
            headers.insert("authorization", v);
        }
        &rest[split.min(rest.len())..]
    };
    let _ = Sepay::read(&p, &headers, body, NOW);
});
