//! Domain values that refuse bad input at the edge: money in đồng, star ratings, sectors,
//! producer types, slugs and the Vietnamese calendar day.

mod money;
mod tax_id;
mod text;

pub use money::Vnd;
pub use tax_id::{CitizenId, TaxCode};
pub use text::{fold_vietnamese, slugify, strip_diacritics};

use serde::Serialize;
use time::{Date, OffsetDateTime, UtcOffset};

/// Vietnam does not observe daylight saving: UTC+7 all year.
pub const VN_OFFSET: UtcOffset = match UtcOffset::from_hms(7, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("UTC+7 is a valid offset"),
};

/// Today's date in Vietnam, the day certificates are judged by.
pub fn vn_today() -> Date {
    OffsetDateTime::now_utc().to_offset(VN_OFFSET).date()
}

/// Declares a closed set stored as text: its key, its Vietnamese label, and parsing back.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $key:literal, $label:literal;)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text", rename_all = "snake_case")]
        pub enum $name { $($variant),+ }
        impl $name {
            pub fn key(self) -> &'static str { match self { $($name::$variant => $key),+ } }
            pub fn label(self) -> &'static str { match self { $($name::$variant => $label),+ } }
            pub fn from_key(key: &str) -> Option<Self> {
                match key { $($key => Some($name::$variant),)+ _ => None }
            }
        }
    };
}
pub(crate) use text_enum;

/// An OCOP star rating. Only 3★, 4★ and 5★ products are certified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "u8")]
pub struct Stars(u8);

impl Stars {
    pub const ALL: [Stars; 3] = [Stars(5), Stars(4), Stars(3)];
    pub fn parse(value: &str) -> Option<Stars> {
        value
            .trim()
            .trim_end_matches(['★', '*'])
            .trim()
            .parse::<u8>()
            .ok()
            .and_then(Stars::new)
    }
    pub fn new(value: u8) -> Option<Stars> {
        (3..=5).contains(&value).then_some(Stars(value))
    }
    pub fn get(self) -> u8 {
        self.0
    }
    /// Since the two-tier local government (July 2025) the central council awards 5★.
    pub fn awarding_level(self) -> AwardingLevel {
        if self.0 == 5 {
            AwardingLevel::Central
        } else {
            AwardingLevel::Provincial
        }
    }
}

impl From<Stars> for u8 {
    fn from(s: Stars) -> u8 {
        s.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AwardingLevel {
    Central,
    Provincial,
}

impl AwardingLevel {
    pub fn key(self) -> &'static str {
        match self {
            AwardingLevel::Central => "central",
            AwardingLevel::Provincial => "provincial",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            AwardingLevel::Central => "Trung ương",
            AwardingLevel::Provincial => "Cấp tỉnh",
        }
    }
    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "central" => Some(AwardingLevel::Central),
            "provincial" => Some(AwardingLevel::Provincial),
            _ => None,
        }
    }
}

/// Declares a closed set of keys with Vietnamese labels and accepted spellings.
macro_rules! keyed_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $key:literal, $label:literal, [$($alias:literal),*];)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stable key used in the database, URLs and the JSON API.
            pub fn key(self) -> &'static str { match self { $($name::$variant => $key),+ } }
            /// The Vietnamese name people read.
            pub fn label(self) -> &'static str { match self { $($name::$variant => $label),+ } }
            pub fn from_key(key: &str) -> Option<Self> {
                match key { $($key => Some($name::$variant),)+ _ => None }
            }
            /// Accepts the key, the position (1-based), the Vietnamese label or a common spelling,
            /// with or without diacritics: what people type into a spreadsheet.
            pub fn parse_loose(input: &str) -> Option<Self> {
                let folded = fold_vietnamese(input.trim());
                if let Ok(n) = folded.parse::<usize>() {
                    return n.checked_sub(1).and_then(|i| Self::ALL.get(i)).copied();
                }
                Self::ALL.iter().copied().find(|v| {
                    v.key() == folded
                        || fold_vietnamese(v.label()) == folded
                        || v.aliases().iter().any(|a| fold_vietnamese(a) == folded)
                })
            }
            fn aliases(self) -> &'static [&'static str] {
                match self { $($name::$variant => &[$($alias),*]),+ }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.key())
            }
        }
    };
}

keyed_enum! {
    /// The six OCOP sectors (ngành).
    Sector {
        Food = "food", "Thực phẩm", ["thuc pham", "thực phẩm", "food"];
        Beverage = "beverage", "Đồ uống", ["do uong", "đồ uống"];
        Herbal = "herbal", "Thảo dược", ["thao duoc", "thảo dược"];
        Textile = "textile", "Vải và may mặc", ["vai va may mac", "vải, may mặc", "may mặc"];
        Souvenir = "souvenir", "Lưu niệm, nội thất, trang trí", ["luu niem", "lưu niệm - nội thất - trang trí", "thủ công mỹ nghệ"];
        Tourism = "tourism", "Dịch vụ du lịch cộng đồng", ["du lich", "du lịch", "dịch vụ du lịch", "du lịch cộng đồng", "dịch vụ du lịch cộng đồng, du lịch nông thôn, điểm du lịch"];
    }
}

keyed_enum! {
    /// The kinds of OCOP producer (chủ thể) that national statistics count.
    ProducerType {
        Cooperative = "cooperative", "Hợp tác xã", ["htx", "hop tac xa"];
        Firm = "firm", "Doanh nghiệp", ["công ty", "doanh nghiep", "dn", "công ty tnhh", "công ty cổ phần"];
        Household = "household", "Hộ kinh doanh", ["hộ sản xuất", "cơ sở sản xuất", "hkd", "hộ kinh doanh cá thể", "cơ sở"];
        CoopGroup = "coop_group", "Tổ hợp tác", ["tht", "to hop tac"];
    }
}

impl Sector {
    /// Tourism is sold as bookings or vouchers: nothing to ship.
    pub fn ships_goods(self) -> bool {
        self != Sector::Tourism
    }
}

/// An average rating in tenths of a star, rounded half up: 47 over 10 reviews → 47 (4.7); 0 when
/// nobody rated. The one rule for every place that shows or ranks by a rating.
pub fn average_tenths(sum: i64, count: i64) -> i64 {
    if count <= 0 {
        return 0;
    }
    (sum * 10 + count / 2) / count
}

/// Certificates are valid for 36 months from issue unless the decision records another date.
pub fn default_expiry(issued_on: Date) -> Date {
    let month0 = issued_on.month() as u8 - 1;
    let year = issued_on.year() + 3;
    let month = time::Month::try_from(month0 + 1).expect("same month");
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, issued_on.day().min(last)).expect("valid date")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn stars_accept_only_three_to_five() {
        assert_eq!(Stars::parse("4").map(Stars::get), Some(4));
        assert_eq!(Stars::parse("5★").map(Stars::get), Some(5));
        for bad in ["2", "6", "7", "0", "-3", "", "abc", "3.5"] {
            assert_eq!(Stars::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sectors_and_types_parse_the_way_spreadsheets_spell_them() {
        assert_eq!(Sector::parse_loose("Đồ uống"), Some(Sector::Beverage));
        assert_eq!(Sector::parse_loose("do uong"), Some(Sector::Beverage));
        assert_eq!(Sector::parse_loose("2"), Some(Sector::Beverage));
        assert_eq!(Sector::parse_loose("7"), None);
        assert_eq!(
            ProducerType::parse_loose("HTX"),
            Some(ProducerType::Cooperative)
        );
        assert_eq!(
            ProducerType::parse_loose("Hộ kinh doanh"),
            Some(ProducerType::Household)
        );
        assert_eq!(
            ProducerType::parse_loose("coop_group"),
            Some(ProducerType::CoopGroup)
        );
        assert_eq!(ProducerType::parse_loose("bank"), None);
    }

    #[test]
    fn certificates_expire_thirty_six_months_after_issue() {
        assert_eq!(default_expiry(date!(2023 - 05 - 10)), date!(2026 - 05 - 10));
        // 29 February has no twin three years later
        assert_eq!(default_expiry(date!(2024 - 02 - 29)), date!(2027 - 02 - 28));
    }
}

/// What a person is on the marketplace. Stored as text (`app_user.role`, checked by the table);
/// serialised as that text, so pages compare it the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Role {
    Shopper,
    Producer,
    ProvinceStaff,
    NationalStaff,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Self::Shopper,
        Self::Producer,
        Self::ProvinceStaff,
        Self::NationalStaff,
        Self::Admin,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::Shopper => "shopper",
            Self::Producer => "producer",
            Self::ProvinceStaff => "province_staff",
            Self::NationalStaff => "national_staff",
            Self::Admin => "admin",
        }
    }

    pub fn from_key(key: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.key() == key)
    }

    /// The role as people say it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Shopper => "Người mua",
            Self::Producer => "Thành viên chủ thể OCOP",
            Self::ProvinceStaff => "Cán bộ cấp tỉnh",
            Self::NationalStaff => "Cán bộ trung ương",
            Self::Admin => "Quản trị viên",
        }
    }

    /// Staff of a province, of the country, or an admin: the back office's people.
    pub fn is_staff(self) -> bool {
        matches!(
            self,
            Self::ProvinceStaff | Self::NationalStaff | Self::Admin
        )
    }
}
