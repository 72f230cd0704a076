//! MoMo IPN bodies: arbitrary bytes (the JSON reading and signature check must hold).
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocop_market::payments::Providers;
use ocop_market::payments::gateways::{Gateway, Momo};

const NOW: i64 = 1_790_000_000;

fuzz_target!(|data: &[u8]| {
    let _ = Momo::read(&Providers::sandbox_defaults(), &Default::default(), data, NOW);
});
