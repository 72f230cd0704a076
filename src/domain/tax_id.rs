//! A seller's identity for the tax office: a tax code (mã số thuế) or a citizen ID (CCCD).

use serde::Serialize;

/// A tax code: 10 digits whose 10th checks the first nine (weights 31, 29, 23, 19, 17, 13, 7, 5,
/// 3; the check digit is 10 minus the sum modulo 11), or 13 for a dependent unit, written
/// `0100109106-001`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TaxCode(String);

impl TaxCode {
    pub fn parse(input: &str) -> Result<TaxCode, &'static str> {
        let cleaned: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        let (main, branch) = match cleaned.split_once('-') {
            Some((m, b)) => (m, Some(b)),
            None if cleaned.len() == 13 => (&cleaned[..10], Some(&cleaned[10..])),
            None => (cleaned.as_str(), None),
        };
        let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
        if !digits(main, 10) || branch.is_some_and(|b| !digits(b, 3)) {
            return Err(
                "Mã số thuế gồm 10 chữ số (đơn vị phụ thuộc: 10 chữ số, dấu gạch và 3 chữ số).",
            );
        }
        if !Self::check_digit_ok(main) {
            return Err("Mã số thuế không đúng: chữ số kiểm tra không khớp. Vui lòng xem lại.");
        }
        Ok(TaxCode(match branch {
            Some(b) => format!("{main}-{b}"),
            None => main.to_string(),
        }))
    }

    fn check_digit_ok(ten: &str) -> bool {
        const WEIGHTS: [u32; 9] = [31, 29, 23, 19, 17, 13, 7, 5, 3];
        let d: Vec<u32> = ten.chars().filter_map(|c| c.to_digit(10)).collect();
        let sum: u32 = d[..9].iter().zip(WEIGHTS).map(|(a, w)| a * w).sum();
        let check = 10 - (sum % 11);
        check < 10 && check == d[9]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A 12-digit citizen ID (căn cước công dân), which since 1 July 2025 is also an individual's tax
/// code. Its first three digits are the province of birth registration (001–096).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CitizenId(String);

impl CitizenId {
    pub fn parse(input: &str) -> Result<CitizenId, &'static str> {
        let cleaned: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if cleaned.len() != 12 || !cleaned.chars().all(|c| c.is_ascii_digit()) {
            return Err("Số căn cước công dân gồm đúng 12 chữ số.");
        }
        let province: u32 = cleaned[..3].parse().unwrap_or(0);
        if !(1..=96).contains(&province) {
            return Err("Số căn cước công dân không đúng: 3 chữ số đầu là mã tỉnh (001–096).");
        }
        Ok(CitizenId(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_tax_codes_pass_and_a_wrong_check_digit_is_refused() {
        // Viettel, VNPT, Vinamilk
        for code in ["0100109106", "0100684378", "0300588569"] {
            assert_eq!(TaxCode::parse(code).unwrap().as_str(), code);
        }
        assert_eq!(
            TaxCode::parse("0100109106-001").unwrap().as_str(),
            "0100109106-001"
        );
        assert_eq!(
            TaxCode::parse("0100109106001").unwrap().as_str(),
            "0100109106-001"
        );
        assert!(TaxCode::parse("0100109107").is_err(), "check digit");
        assert!(TaxCode::parse("010010910").is_err(), "nine digits");
        assert!(TaxCode::parse("0100109106-01").is_err());
        assert!(TaxCode::parse("01001O9106").is_err());
    }

    #[test]
    fn citizen_ids_have_twelve_digits_and_a_province() {
        assert!(CitizenId::parse("001204012345").is_ok());
        assert!(CitizenId::parse("0012 0401 2345").is_ok());
        assert!(CitizenId::parse("00120401234").is_err());
        assert!(CitizenId::parse("000204012345").is_err());
        assert!(CitizenId::parse("099204012345").is_err());
    }
}
