//! VNPAY IPN query strings: arbitrary, and arbitrary ones re-signed with the test secret.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocop_market::payments::gateways::{Gateway, Vnpay, query_params, vnpay};
use ocop_market::payments::{Providers, SANDBOX_VNPAY_SECRET};

const NOW: i64 = 1_790_000_000;

fuzz_target!(|data: &[u8]| {
    let p = Providers::sandbox_defaults();
    let (mode, rest) = data.split_first().unwrap_or((&0, &[]));
    let query = String::from_utf8_lossy(rest).into_owned();
    let query = if mode % 2 == 0 {
        let params = query_params(&query);
        format!("{}&vnp_SecureHash={}", vnpay::vnpay_hash_data(&params), vnpay::vnpay_sign(&params, SANDBOX_VNPAY_SECRET))
    } else {
        query
    };
    let _ = Vnpay::read(&p, &Default::default(), query.as_bytes(), NOW);
});
