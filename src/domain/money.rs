//! Money is a whole number of đồng: VND has no minor unit in practice.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct Vnd(i64);

impl std::ops::Add for Vnd {
    type Output = Vnd;
    fn add(self, other: Vnd) -> Vnd {
        Vnd(self.0 + other.0)
    }
}

impl std::ops::AddAssign for Vnd {
    fn add_assign(&mut self, other: Vnd) {
        self.0 += other.0;
    }
}

impl std::ops::Sub for Vnd {
    type Output = Vnd;
    fn sub(self, other: Vnd) -> Vnd {
        Vnd(self.0 - other.0)
    }
}

impl std::ops::Neg for Vnd {
    type Output = Vnd;
    fn neg(self) -> Vnd {
        Vnd(-self.0)
    }
}

impl std::iter::Sum for Vnd {
    fn sum<I: Iterator<Item = Vnd>>(iter: I) -> Vnd {
        Vnd(iter.map(|v| v.0).sum())
    }
}

impl Vnd {
    pub const MAX_PRICE: i64 = 1_000_000_000;

    /// A price a product may carry: 1 đồng up to 1 billion.
    pub fn price(amount: i64) -> Option<Vnd> {
        (1..=Self::MAX_PRICE)
            .contains(&amount)
            .then_some(Vnd(amount))
    }
    pub fn amount(self) -> i64 {
        self.0
    }

    pub const ZERO: Vnd = Vnd(0);

    /// An amount of đồng as stored (a sum, a fee, a payment): any whole number.
    pub const fn new(amount: i64) -> Vnd {
        Vnd(amount)
    }

    /// This price times a quantity.
    /// What is left of `self` after `other`, never below zero (what a shopper still owes).
    pub fn saturating_sub(self, other: Vnd) -> Vnd {
        Vnd((self.0 - other.0).max(0))
    }

    /// `bp` basis points (hundredths of a percent) of this amount, rounded half up to the đồng:
    /// how commission, fees and withheld tax are taken.
    pub fn basis_points(self, bp: i32) -> Vnd {
        let scaled = i128::from(self.0) * i128::from(bp);
        let rounded = if scaled >= 0 {
            (scaled + 5_000) / 10_000
        } else {
            (scaled - 5_000) / 10_000
        };
        Vnd(rounded as i64)
    }

    pub fn times(self, quantity: u32) -> Vnd {
        Vnd(self.0 * i64::from(quantity))
    }

    /// In hundredths of a đồng, the unit VNPAY's `vnp_Amount` counts in.
    pub fn to_minor(self) -> i64 {
        self.0 * 100
    }

    /// From hundredths of a đồng: `None` unless it is a whole number of đồng (a remainder is
    /// never dropped silently).
    pub fn from_minor(minor: i64) -> Option<Vnd> {
        (minor % 100 == 0).then_some(Vnd(minor / 100))
    }

    /// Reads what people write: "125000", "125.000", "125 000", "125,000 đ". Grouping marks must
    /// group by three so "12.5" is refused rather than read as 125.
    pub fn parse_amount(input: &str) -> Option<i64> {
        let s = input.trim();
        let s = s.trim_end_matches(['đ', '₫', 'd', 'Đ']).trim_end();
        let s = s
            .strip_suffix("VND")
            .or_else(|| s.strip_suffix("vnd"))
            .unwrap_or(s)
            .trim_end();
        if s.is_empty() {
            return None;
        }
        if s.chars().all(|c| c.is_ascii_digit()) {
            return s.parse().ok();
        }
        let sep = s.chars().find(|c| !c.is_ascii_digit())?;
        if !matches!(sep, '.' | ',' | ' ' | '\u{a0}') {
            return None;
        }
        let groups: Vec<&str> = s.split(sep).collect();
        let ok = !groups[0].is_empty()
            && groups[0].len() <= 3
            && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()))
            && groups[1..].iter().all(|g| g.len() == 3);
        if !ok {
            return None;
        }
        groups.concat().parse().ok()
    }
}

/// Vietnamese style: dots group thousands, the symbol follows: "125.000 ₫".
impl fmt::Display for Vnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_vnd(self.0))
    }
}

impl Vnd {
    pub fn format(amount: i64) -> String {
        format_vnd(amount)
    }

    /// The amount read out, as an invoice writes it: "Một trăm ba mươi tư nghìn đồng".
    pub fn in_words(self) -> String {
        const DIGITS: [&str; 10] = [
            "không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín",
        ];
        const GROUPS: [&str; 6] = ["", "nghìn", "triệu", "tỷ", "nghìn tỷ", "triệu tỷ"];
        let n = self.0.unsigned_abs();
        if n == 0 {
            return "Không đồng".into();
        }
        // three digits at a time, lowest first
        let mut groups = vec![];
        let mut rest = n;
        while rest > 0 {
            groups.push((rest % 1000) as usize);
            rest /= 1000;
        }
        let mut words: Vec<&str> = vec![];
        let top = groups.len() - 1;
        for (i, &g) in groups.iter().enumerate().rev() {
            if g == 0 {
                continue;
            }
            let (h, t, u) = (g / 100, g / 10 % 10, g % 10);
            // an inner group is read in full: "một triệu không trăm linh năm nghìn"
            if i != top || h > 0 {
                words.extend([DIGITS[h], "trăm"]);
            }
            match t {
                0 if u > 0 && (i != top || h > 0) => words.push("linh"),
                0 => {}
                1 => words.push("mười"),
                _ => words.extend([DIGITS[t], "mươi"]),
            }
            match u {
                0 => {}
                1 if t >= 2 => words.push("mốt"),
                4 if t >= 2 => words.push("tư"),
                5 if t >= 1 => words.push("lăm"),
                _ => words.push(DIGITS[u]),
            }
            if !GROUPS[i].is_empty() {
                words.push(GROUPS[i]);
            }
        }
        let text = words.join(" ");
        let mut chars = text.chars();
        let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
        format!(
            "{}{}{} đồng",
            if self.0 < 0 { "Âm " } else { "" },
            first.unwrap_or_default(),
            chars.as_str()
        )
    }
}

fn format_vnd(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + 6);
    if amount < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('.');
        }
        out.push(c);
    }
    // a no-break space: "35.000 ₫" never breaks between the number and its unit
    out.push_str("\u{a0}₫");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amount_is_read_out_as_an_invoice_writes_it() {
        assert_eq!(Vnd(134_000).in_words(), "Một trăm ba mươi tư nghìn đồng");
        assert_eq!(Vnd(0).in_words(), "Không đồng");
        assert_eq!(Vnd(15_000).in_words(), "Mười lăm nghìn đồng");
        assert_eq!(Vnd(21_000).in_words(), "Hai mươi mốt nghìn đồng");
        assert_eq!(
            Vnd(1_005_000).in_words(),
            "Một triệu không trăm linh năm nghìn đồng"
        );
        assert_eq!(
            Vnd(2_310_500).in_words(),
            "Hai triệu ba trăm mười nghìn năm trăm đồng"
        );
        assert_eq!(Vnd(1_000_000_000).in_words(), "Một tỷ đồng");
    }

    #[test]
    fn vnd_is_written_the_vietnamese_way() {
        assert_eq!(Vnd(125_000).to_string(), "125.000\u{a0}₫");
        assert_eq!(Vnd(0).to_string(), "0\u{a0}₫");
        assert_eq!(Vnd(999).to_string(), "999\u{a0}₫");
        assert_eq!(Vnd(1_000).to_string(), "1.000\u{a0}₫");
        assert_eq!(Vnd(1_250_000).to_string(), "1.250.000\u{a0}₫");
        assert_eq!(format_vnd(-45_000), "-45.000\u{a0}₫");
    }

    #[test]
    fn vnpay_hundredths_convert_both_ways_and_refuse_a_remainder() {
        assert_eq!(Vnd::new(125_000).to_minor(), 12_500_000);
        assert_eq!(Vnd::from_minor(12_500_000), Some(Vnd::new(125_000)));
        assert_eq!(Vnd::from_minor(12_500_050), None);
        assert_eq!(Vnd::new(45_000).times(3), Vnd::new(135_000));
        assert_eq!(
            [Vnd::new(1), Vnd::new(2)].into_iter().sum::<Vnd>() + Vnd::new(3),
            Vnd::new(6)
        );
    }

    #[test]
    fn shares_in_basis_points_round_half_up_to_the_dong() {
        assert_eq!(Vnd::new(125_000).basis_points(500), Vnd::new(6_250));
        // 0.5% of 99.999 ₫ is 499.995 ₫
        assert_eq!(Vnd::new(99_999).basis_points(50), Vnd::new(500));
        assert_eq!(Vnd::new(99_899).basis_points(50), Vnd::new(499));
        assert_eq!(Vnd::new(1).basis_points(0), Vnd::ZERO);
        assert_eq!(-Vnd::new(5), Vnd::new(-5));
    }

    #[test]
    fn prices_must_be_positive_and_sane() {
        assert!(Vnd::price(0).is_none());
        assert!(Vnd::price(-1).is_none());
        assert!(Vnd::price(1_000_000_001).is_none());
        assert_eq!(Vnd::price(45_000).map(Vnd::amount), Some(45_000));
    }

    #[test]
    fn amounts_parse_as_people_write_them() {
        assert_eq!(Vnd::parse_amount("125000"), Some(125_000));
        assert_eq!(Vnd::parse_amount("125.000"), Some(125_000));
        assert_eq!(Vnd::parse_amount("1.250.000 ₫"), Some(1_250_000));
        assert_eq!(Vnd::parse_amount("125,000 đ"), Some(125_000));
        assert_eq!(Vnd::parse_amount("125 000"), Some(125_000));
        assert_eq!(Vnd::parse_amount("12.5"), None);
        assert_eq!(Vnd::parse_amount("abc"), None);
        assert_eq!(Vnd::parse_amount("-5"), None);
        assert_eq!(Vnd::parse_amount(""), None);
    }
}
