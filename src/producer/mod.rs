//! The producer portal (`/producer`): a producer registers, staff of its province approve it, and
//! its members manage products, pictures, stock and OCOP certificates. Every query here is bounded
//! by the member's producer: another producer's rows answer 404.

pub mod http;

use crate::catalog::snapshot::Admin;
use crate::domain::{ProducerType, Sector, Stars, Vnd, default_expiry, vn_today};
use std::collections::BTreeMap;
use time::Date;

/// Field → what is wrong with it, in words a person new to computers understands.
pub type Errors = BTreeMap<&'static str, String>;

fn text_between(
    errors: &mut Errors,
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
    label: &str,
) -> String {
    let value = value.trim().to_string();
    let n = value.chars().count();
    if n < min {
        errors.insert(
            field,
            if min <= 1 {
                format!("Vui lòng nhập {label}.")
            } else {
                format!("{label} cần ít nhất {min} ký tự.")
            },
        );
    } else if n > max {
        errors.insert(field, format!("{label} dài quá {max} ký tự."));
    }
    value
}

/// A producer as registered or corrected by its owner.
#[derive(Debug, Clone)]
pub struct ProducerDraft {
    pub name: String,
    pub producer_type: ProducerType,
    pub province_code: i16,
    pub commune_code: i32,
    pub address: String,
    pub registration_no: String,
    /// who the producer is for the tax office: a checked tax code, or a household owner's CCCD
    pub tax_code: Option<crate::domain::TaxCode>,
    pub citizen_id: Option<crate::domain::CitizenId>,
    pub phone: String,
    pub story: String,
}

impl ProducerDraft {
    pub fn parse(f: &BTreeMap<String, String>, admin: &Admin) -> Result<Self, Errors> {
        let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
        let mut e = Errors::new();
        let name = text_between(&mut e, "name", get("name"), 2, 200, "Tên chủ thể");
        let producer_type = ProducerType::from_key(get("producer_type"));
        if producer_type.is_none() {
            e.insert("producer_type", "Vui lòng chọn loại hình chủ thể.".into());
        }
        let province = get("province")
            .parse::<i16>()
            .ok()
            .filter(|p| admin.province(*p).is_some());
        if province.is_none() {
            e.insert("province", "Vui lòng chọn tỉnh, thành phố.".into());
        }
        let commune = get("commune")
            .parse::<i32>()
            .ok()
            .and_then(|c| admin.commune(c))
            .filter(|c| Some(c.province_code) == province);
        if province.is_some() && commune.is_none() {
            e.insert(
                "commune",
                "Vui lòng chọn xã, phường thuộc tỉnh đã chọn.".into(),
            );
        }
        let address = text_between(&mut e, "address", get("address"), 3, 300, "Địa chỉ");
        let registration_no = get("registration_no").to_uppercase().replace(' ', "");
        if !(6..=20).contains(&registration_no.len())
            || !registration_no
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            e.insert(
                "registration_no",
                "Mã số thuế hoặc số đăng ký hộ kinh doanh gồm 6 đến 20 chữ số, chữ cái hoặc dấu gạch ngang."
                    .into(),
            );
        }
        let tax_code = match get("tax_code") {
            "" => None,
            t => crate::domain::TaxCode::parse(t)
                .map_err(|m| e.insert("tax_code", m.into()))
                .ok(),
        };
        let citizen_id = match get("citizen_id") {
            "" => None,
            c => crate::domain::CitizenId::parse(c)
                .map_err(|m| e.insert("citizen_id", m.into()))
                .ok(),
        };
        let phone = match crate::auth::identity::parse_phone(get("phone")) {
            Ok(p) => p,
            Err(msg) => {
                e.insert("phone", msg.into());
                String::new()
            }
        };
        let story = text_between(&mut e, "story", get("story"), 0, 5000, "Giới thiệu");
        if !e.is_empty() {
            return Err(e);
        }
        Ok(ProducerDraft {
            name,
            producer_type: producer_type.expect("checked"),
            province_code: province.expect("checked"),
            commune_code: commune.expect("checked").code,
            address,
            registration_no,
            tax_code,
            citizen_id,
            phone,
            story,
        })
    }
}

/// A product as its producer describes it. Stock is set at creation; afterwards it changes only
/// through adjustments, which say why.
#[derive(Debug, Clone)]
pub struct ProductDraft {
    pub name: String,
    pub sector: Sector,
    pub story: String,
    pub price: Vnd,
    pub stock: i32,
    pub unit: String,
    pub weight_grams: Option<i32>,
    /// the package's length, width and height in cm, for the carriers' quotes
    pub dims_cm: Option<(i16, i16, i16)>,
    /// the English name and story visitors read (optional: without them, the Vietnamese text
    /// shows, the name without diacritics)
    pub name_en: Option<String>,
    pub story_en: Option<String>,
}

/// "20x15x10", "20 × 15 × 10", "20*15*10" (cm): three whole numbers from 1 to 200.
pub fn parse_dims(s: &str) -> Option<(i16, i16, i16)> {
    let parts: Vec<i16> = s
        .split(|c: char| matches!(c, 'x' | 'X' | '×' | '*') || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.trim_end_matches("cm")
                .parse::<i16>()
                .ok()
                .filter(|n| (1..=200).contains(n))
        })
        .collect::<Option<_>>()?;
    match parts[..] {
        [l, w, h] => Some((l, w, h)),
        _ => None,
    }
}

pub use crate::inventory::MAX_STOCK;
pub const MAX_IMAGES: usize = 6;

impl ProductDraft {
    pub fn parse(f: &BTreeMap<String, String>, with_stock: bool) -> Result<Self, Errors> {
        let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
        let mut e = Errors::new();
        let name = text_between(&mut e, "name", get("name"), 2, 200, "Tên sản phẩm");
        let sector = Sector::from_key(get("sector"));
        if sector.is_none() {
            e.insert("sector", "Vui lòng chọn ngành hàng.".into());
        }
        let story = text_between(
            &mut e,
            "story",
            get("story"),
            0,
            5000,
            "Câu chuyện sản phẩm",
        );
        let price = Vnd::parse_amount(get("price")).and_then(Vnd::price);
        if price.is_none() {
            e.insert(
                "price",
                "Giá bán là số tiền đồng từ 1 đến 1.000.000.000, ví dụ 125000 hoặc 125.000.".into(),
            );
        }
        let stock = if with_stock {
            match get("stock").replace(['.', ' '], "").parse::<i32>() {
                Ok(n) if (0..=MAX_STOCK).contains(&n) => n,
                _ => {
                    e.insert(
                        "stock",
                        "Số lượng tồn kho là số nguyên từ 0 đến 1.000.000.".into(),
                    );
                    0
                }
            }
        } else {
            0
        };
        let unit = text_between(&mut e, "unit", get("unit"), 1, 40, "Đơn vị tính");
        let weight_grams = match get("weight_grams").replace(['.', ' '], "") {
            w if w.is_empty() => None,
            w => match w.parse::<i32>() {
                Ok(g) if (1..=1_000_000).contains(&g) => Some(g),
                _ => {
                    e.insert(
                        "weight_grams",
                        "Khối lượng là số gam từ 1 đến 1.000.000 (để trống nếu không có).".into(),
                    );
                    None
                }
            },
        };
        let dims_cm = match get("size_cm") {
            "" => None,
            d => {
                let dims = parse_dims(d);
                if dims.is_none() {
                    e.insert(
                        "size_cm",
                        "Kích thước gói hàng là dài × rộng × cao, mỗi số từ 1 đến 200 cm, ví dụ 20x15x10 (để trống nếu không có).".into(),
                    );
                }
                dims
            }
        };
        let name_en = Some(text_between(
            &mut e,
            "name_en",
            get("name_en"),
            0,
            200,
            "Tên tiếng Anh",
        ))
        .filter(|n| !n.is_empty());
        if name_en.as_ref().is_some_and(|n| n.chars().count() < 2) {
            e.insert(
                "name_en",
                "Tên tiếng Anh cần ít nhất 2 ký tự (hoặc để trống).".into(),
            );
        }
        let story_en = Some(text_between(
            &mut e,
            "story_en",
            get("story_en"),
            0,
            5000,
            "Câu chuyện bằng tiếng Anh",
        ))
        .filter(|s| !s.is_empty());
        if !e.is_empty() {
            return Err(e);
        }
        Ok(ProductDraft {
            name_en,
            story_en,
            name,
            sector: sector.expect("checked"),
            story,
            price: price.expect("checked"),
            stock,
            unit,
            weight_grams,
            dims_cm,
        })
    }
}

/// An OCOP certificate as the producer copies it from the decision.
#[derive(Debug, Clone)]
pub struct CertificateDraft {
    pub decision_number: String,
    pub stars: Stars,
    pub awarding_body: String,
    pub issued_on: Date,
    pub expires_on: Date,
    pub potential_five_star: bool,
}

/// `2024-03-15` (what a date picker sends) or `15/03/2024` (what people type).
pub fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    let iso = time::macros::format_description!("[year]-[month]-[day]");
    let vn = time::macros::format_description!("[day]/[month]/[year]");
    Date::parse(s, iso).or_else(|_| Date::parse(s, vn)).ok()
}

impl CertificateDraft {
    pub fn parse(f: &BTreeMap<String, String>) -> Result<Self, Errors> {
        let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
        let mut e = Errors::new();
        let decision_number = text_between(
            &mut e,
            "decision_number",
            get("decision_number"),
            1,
            80,
            "Số quyết định",
        );
        let stars = Stars::parse(get("stars"));
        if stars.is_none() {
            e.insert("stars", "Vui lòng chọn hạng sao: 3, 4 hoặc 5 sao.".into());
        }
        match (stars, get("awarding_level")) {
            (Some(s), level) if level != s.awarding_level().key() => {
                e.insert(
                    "awarding_level",
                    if s.get() == 5 {
                        "Sản phẩm 5 sao do Hội đồng cấp trung ương công nhận.".into()
                    } else {
                        "Sản phẩm 3 sao và 4 sao do Hội đồng cấp tỉnh công nhận.".into()
                    },
                );
            }
            _ => {}
        }
        let awarding_body = text_between(
            &mut e,
            "awarding_body",
            get("awarding_body"),
            0,
            200,
            "Cơ quan ban hành",
        );
        let today = vn_today();
        let issued_on = parse_date(get("issued_on"));
        match issued_on {
            None => {
                e.insert(
                    "issued_on",
                    "Ngày ban hành theo dạng ngày/tháng/năm, ví dụ 15/03/2025.".into(),
                );
            }
            Some(d) if d > today => {
                e.insert("issued_on", "Ngày ban hành không thể sau hôm nay.".into());
            }
            _ => {}
        }
        let expires_on = match get("expires_on") {
            "" => issued_on.map(default_expiry),
            s => match parse_date(s) {
                Some(d) if issued_on.is_some_and(|i| d > i) => Some(d),
                _ => {
                    e.insert(
                        "expires_on",
                        "Ngày hết hạn phải sau ngày ban hành (để trống: 36 tháng kể từ ngày ban hành).".into(),
                    );
                    None
                }
            },
        };
        let potential_five_star = get("potential_five_star") == "on";
        if potential_five_star && stars.is_some_and(|s| s.get() != 4) {
            e.insert(
                "potential_five_star",
                "Chỉ sản phẩm 4 sao mới có thể là tiềm năng 5 sao.".into(),
            );
        }
        if !e.is_empty() {
            return Err(e);
        }
        Ok(CertificateDraft {
            decision_number,
            stars: stars.expect("checked"),
            awarding_body,
            issued_on: issued_on.expect("checked"),
            expires_on: expires_on.expect("checked"),
            potential_five_star,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_product_form_names_each_wrong_field() {
        let e = ProductDraft::parse(
            &form(&[
                ("name", "M"),
                ("sector", "weapons"),
                ("price", "12.5"),
                ("stock", "-1"),
                ("unit", "hũ"),
            ]),
            true,
        )
        .unwrap_err();
        assert_eq!(
            e.keys().copied().collect::<Vec<_>>(),
            vec!["name", "price", "sector", "stock"]
        );
        let ok = ProductDraft::parse(
            &form(&[
                ("name", "Mật ong bạc hà"),
                ("sector", "food"),
                ("price", "250.000"),
                ("stock", "12"),
                ("unit", "hũ 500 ml"),
                ("weight_grams", ""),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(
            (ok.price.amount(), ok.stock, ok.weight_grams),
            (250_000, 12, None)
        );
    }

    #[test]
    fn certificates_agree_with_the_council_that_awards_them() {
        let base = [
            ("decision_number", "123/QĐ-UBND"),
            ("issued_on", "15/03/2025"),
            ("awarding_level", "central"),
            ("stars", "4"),
        ];
        let e = CertificateDraft::parse(&form(&base)).unwrap_err();
        assert!(e.contains_key("awarding_level"));
        let mut ok = base.to_vec();
        ok[2] = ("awarding_level", "provincial");
        let c = CertificateDraft::parse(&form(&ok)).unwrap();
        assert_eq!(c.expires_on, time::macros::date!(2028 - 03 - 15));
        let mut future = ok.clone();
        future[1] = ("issued_on", "2999-01-01");
        assert!(
            CertificateDraft::parse(&form(&future))
                .unwrap_err()
                .contains_key("issued_on")
        );
    }
}
