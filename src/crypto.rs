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

/// A key that seals secrets kept in the database (producers' e-invoice credentials).
#[derive(Clone)]
pub struct SealKey {
    enc: [u8; 32],
    mac: [u8; 32],
}

impl SealKey {
    /// From 64 hex characters (`INVOICE_KEY`); the two subkeys are derived, one per use.
    pub fn from_hex(hex_key: &str) -> Option<SealKey> {
        let bytes: Vec<u8> = (0..hex_key.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex_key.get(i..i + 2)?, 16).ok())
            .collect::<Option<_>>()?;
        if bytes.len() != 32 {
            return None;
        }
        let derive = |label: &[u8]| {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&bytes).expect("any key");
            mac.update(label);
            let out: [u8; 32] = mac.finalize().into_bytes().into();
            out
        };
        Some(SealKey {
            enc: derive(b"ocop seal: encrypt"),
            mac: derive(b"ocop seal: authenticate"),
        })
    }

    fn tag(&self, nonce_and_ciphertext: &[u8]) -> [u8; 32] {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.mac).expect("any key");
        mac.update(nonce_and_ciphertext);
        mac.finalize().into_bytes().into()
    }

    /// nonce (24) ‖ ciphertext ‖ tag (32): encrypt-then-MAC with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        use chacha20::cipher::{KeyIvInit, StreamCipher};
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system's random source");
        let mut out = nonce.to_vec();
        let mut body = plaintext.to_vec();
        chacha20::XChaCha20::new_from_slices(&self.enc, &nonce)
            .expect("key and nonce sizes")
            .apply_keystream(&mut body);
        out.extend_from_slice(&body);
        let tag = self.tag(&out);
        out.extend_from_slice(&tag);
        out
    }

    /// The plaintext, or None when the box was not sealed with this key or was altered.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        use chacha20::cipher::{KeyIvInit, StreamCipher};
        if sealed.len() < 24 + 32 {
            return None;
        }
        let (body, tag) = sealed.split_at(sealed.len() - 32);
        if !same(&self.tag(body), tag) {
            return None;
        }
        let (nonce, ciphertext) = body.split_at(24);
        let mut plain = ciphertext.to_vec();
        chacha20::XChaCha20::new_from_slices(&self.enc, nonce)
            .ok()?
            .apply_keystream(&mut plain);
        Some(plain)
    }
}

#[cfg(test)]
mod seal_tests {
    use super::SealKey;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_unaltered() {
        let key = SealKey::from_hex(&"ab".repeat(32)).unwrap();
        let other = SealKey::from_hex(&"cd".repeat(32)).unwrap();
        let sealed = key.seal(b"{\"password\":\"mat-khau\"}");
        assert!(!sealed.windows(8).any(|w| w == b"mat-khau"), "not in clear");
        assert_eq!(key.open(&sealed).unwrap(), b"{\"password\":\"mat-khau\"}");
        assert_ne!(key.seal(b"x"), key.seal(b"x"), "a fresh nonce each time");
        assert!(other.open(&sealed).is_none());
        let mut altered = sealed.clone();
        altered[30] ^= 1;
        assert!(key.open(&altered).is_none());
        assert!(SealKey::from_hex("short").is_none());
    }
}
