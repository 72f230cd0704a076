//! MoMo IPN bodies: arbitrary bytes (the JSON reading and signature check must hold).
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocop_market::payments::{Providers, verify};

const NOW: i64 = 1_790_000_000;

fuzz_target!(|data: &[u8]| {
    let _ = verify::momo(&Providers::sandbox_defaults(), data, NOW);
});
