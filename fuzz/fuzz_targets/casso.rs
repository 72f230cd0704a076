//! Casso webhook v2: arbitrary bodies signed correctly (the sorted-JSON canonicalisation and the
//! reading are exercised), and arbitrary signature headers.
#![no_main]
use axum::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use ocop_market::payments::gateways::{Casso, Gateway, bank};
use ocop_market::payments::{Providers, SANDBOX_CASSO_KEY};

const NOW: i64 = 1_790_000_000;

fuzz_target!(|data: &[u8]| {
    let p = Providers::sandbox_defaults();
    let (mode, rest) = data.split_first().unwrap_or((&0, &[]));
    let mut headers = HeaderMap::new();
    if mode % 2 == 0 {
        if let Ok(json) = serde_json::from_slice::<serde_json::Value>(rest) {
            let t = (NOW * 1000).to_string();
            let sig = format!("t={t},v1={}", bank::casso_signature(SANDBOX_CASSO_KEY, &t, &json));
            headers.insert("x-casso-signature", HeaderValue::from_str(&sig).unwrap());
        }
    } else if let Ok(v) = HeaderValue::from_bytes(&rest[..rest.len().min(200)]) {
        headers.insert("x-casso-signature", v);
    }
    let _ = Casso::read(&p, &headers, rest, NOW);
});
