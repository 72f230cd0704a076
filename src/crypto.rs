//! The few cryptographic helpers everyone uses: random tokens, constant-time comparison, HMAC
//! (the payment providers' signatures, signed cookies, CSRF tokens), SHA-256.

use hmac::{KeyInit, Mac};

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex(&bytes)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether two secrets are equal, in time that depends only on their lengths.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Compares two hex signatures in constant time, ignoring case.
pub fn same_hex(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| {
            acc | (x.to_ascii_lowercase() ^ y.to_ascii_lowercase())
        }) == 0
}

pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(message);
    hex(&mac.finalize().into_bytes())
}

pub fn hmac_sha512_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(key).expect("any key length");
    mac.update(message);
    hex(&mac.finalize().into_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}
