//! VNPAY IPN query strings: arbitrary, and arbitrary ones re-signed with the test secret.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocop_market::payments::{Providers, SANDBOX_VNPAY_SECRET, sign, verify};

const NOW: i64 = 1_790_000_000;

fuzz_target!(|data: &[u8]| {
    let p = Providers::sandbox_defaults();
    let (mode, rest) = data.split_first().unwrap_or((&0, &[]));
    let query = String::from_utf8_lossy(rest).into_owned();
    let query = if mode % 2 == 0 {
        let params = verify::query_params(&query);
        format!("{}&vnp_SecureHash={}", sign::vnpay_hash_data(&params), sign::vnpay_sign(&params, SANDBOX_VNPAY_SECRET))
    } else {
        query
    };
    let _ = verify::vnpay(&p, &query, NOW);
});
