//! What a person signs in with, and the password rules, parsed at the edge.

use argon2::Argon2;

/// Why a login or a password is refused: a message of locales/, shown in the page's language
/// (Vietnamese in the portals).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal(pub &'static str);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::i18n::tr(self.0))
    }
}

impl From<Refusal> for String {
    fn from(r: Refusal) -> String {
        r.to_string()
    }
}
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// An email address or a Vietnamese mobile number, normalised ("+84 912 345 678" → "0912345678").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Login {
    Email(String),
    Phone(String),
}

impl Login {
    pub fn parse(input: &str) -> Result<Login, Refusal> {
        let s = input.trim();
        if s.is_empty() {
            return Err(Refusal("id-login-empty"));
        }
        if s.contains('@') {
            return parse_email(s).map(Login::Email);
        }
        parse_phone(s).map(Login::Phone)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Login::Email(s) | Login::Phone(s) => s,
        }
    }
}

pub fn parse_email(s: &str) -> Result<String, Refusal> {
    let s = s.to_lowercase();
    let ok = s.len() <= 254
        && s.matches('@').count() == 1
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !s.chars().any(char::is_whitespace);
    if ok {
        Ok(s)
    } else {
        Err(Refusal("id-email-invalid"))
    }
}

/// Vietnamese mobile numbers: ten digits starting 03, 05, 07, 08 or 09 (or +84 without the 0).
pub fn parse_phone(s: &str) -> Result<String, Refusal> {
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
        .collect();
    let national = if let Some(rest) = digits.strip_prefix("+84") {
        format!("0{rest}")
    } else if digits.starts_with("84") && digits.len() == 11 {
        format!("0{}", &digits[2..])
    } else {
        digits
    };
    let ok = national.len() == 10
        && national.chars().all(|c| c.is_ascii_digit())
        && matches!(&national[..2], "03" | "05" | "07" | "08" | "09");
    if ok {
        Ok(national)
    } else {
        Err(Refusal("id-phone-invalid"))
    }
}

pub const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 128;

/// Checks the password rules, each with its own message.
pub fn check_password(password: &str, login: Option<&Login>) -> Result<(), Refusal> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(Refusal("id-password-short"));
    }
    if n > MAX_PASSWORD {
        return Err(Refusal("id-password-long"));
    }
    if password.trim().is_empty() {
        return Err(Refusal("id-password-blank"));
    }
    if login.is_some_and(|l| l.as_str().eq_ignore_ascii_case(password.trim())) {
        return Err(Refusal("id-password-is-login"));
    }
    Ok(())
}

/// A new password typed twice: its rules, then the two typings agreeing. The error names the
/// field it belongs to.
pub fn check_new_password(
    password: &str,
    confirm: &str,
    login: Option<&Login>,
) -> Result<(), (&'static str, Refusal)> {
    check_password(password, login).map_err(|e| ("password", e))?;
    if password != confirm {
        return Err(("password_confirm", Refusal("id-password-mismatch")));
    }
    Ok(())
}

/// argon2id with a random salt, as a PHC string.
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 hashing")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_emails_or_vietnamese_mobile_numbers() {
        assert_eq!(
            Login::parse(" Lan@Example.VN "),
            Ok(Login::Email("lan@example.vn".into()))
        );
        assert_eq!(
            Login::parse("0912 345 678"),
            Ok(Login::Phone("0912345678".into()))
        );
        assert_eq!(
            Login::parse("+84 912.345.678"),
            Ok(Login::Phone("0912345678".into()))
        );
        assert_eq!(
            Login::parse("84912345678"),
            Ok(Login::Phone("0912345678".into()))
        );
        for bad in [
            "",
            "lan@",
            "@x.vn",
            "lan@example",
            "0212345678",
            "091234567",
            "09123456789",
            "abc",
        ] {
            assert!(Login::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_password_rule_has_its_message() {
        assert_eq!(
            check_password("ngan", None),
            Err(Refusal("id-password-short"))
        );
        assert_eq!(
            check_password("        ", None),
            Err(Refusal("id-password-blank"))
        );
        let login = Login::parse("0912345678").unwrap();
        assert_eq!(
            check_password("0912345678", Some(&login)),
            Err(Refusal("id-password-is-login"))
        );
        assert!(check_password("mật khẩu dài", Some(&login)).is_ok());
    }

    #[test]
    fn passwords_are_stored_as_argon2id_and_verify() {
        let hash = hash_password("mật khẩu dài");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("mật khẩu dài", &hash));
        assert!(!verify_password("mật khẩu sai", &hash));
        assert_ne!(
            hash,
            hash_password("mật khẩu dài"),
            "a fresh salt every time"
        );
    }
}
