//! The home page's hero banner, one per season or campaign (Tết, mùa hè, a province's fair):
//! national staff plan each one's words, link, colours, drawn motif and the days it shows
//! (`/staff/banners`). The catalog snapshot carries the plan, so the home page reads no table;
//! a change reaches every instance through `catalog_changed`.

pub mod http;

use crate::catalog::art::{Motif, banner_svg};
use serde::Serialize;
use sqlx::PgPool;
use std::collections::BTreeMap;
use time::Date;

/// A banner's colours: the season it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    Green,
    Tet,
    Summer,
    Autumn,
}

impl Theme {
    pub const ALL: [Theme; 4] = [Self::Green, Self::Tet, Self::Summer, Self::Autumn];

    pub fn key(self) -> &'static str {
        match self {
            Self::Green => "green",
            Self::Tet => "tet",
            Self::Summer => "summer",
            Self::Autumn => "autumn",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Green => "Xanh OCOP (quanh năm)",
            Self::Tet => "Tết (đỏ, vàng)",
            Self::Summer => "Mùa hè (xanh biển)",
            Self::Autumn => "Mùa thu, Trung thu (vàng cam)",
        }
    }

    pub fn from_key(key: &str) -> Option<Theme> {
        Self::ALL.into_iter().find(|t| t.key() == key)
    }

    /// (drawing colour, circle behind it); the text colours live in app.css (`.banner-…`).
    pub(crate) fn art_colours(self) -> (&'static str, &'static str) {
        match self {
            Self::Green => ("#1f6f43", "#d9efe0"),
            Self::Tet => ("#b3261e", "#ffe08a"),
            Self::Summer => ("#0b5f86", "#cdeefa"),
            Self::Autumn => ("#9a4a00", "#ffd9a8"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Banner {
    pub id: i64,
    pub title: String,
    pub subtitle: String,
    pub link: String,
    pub cta: String,
    pub theme: Theme,
    #[serde(skip)]
    pub motif: Motif,
    pub motif_label: &'static str,
    pub starts_on: Date,
    pub ends_on: Date,
    /// the drawing, as inline SVG (drawn here, never fetched)
    pub art: String,
}

impl Banner {
    pub fn shows_on(&self, day: Date) -> bool {
        self.starts_on <= day && day <= self.ends_on
    }
}

/// Banners that still show or will: the snapshot keeps these.
pub async fn load_current(pool: &PgPool, today: Date) -> Result<Vec<Banner>, sqlx::Error> {
    load(pool, Some(today)).await
}

pub(crate) async fn load(pool: &PgPool, from: Option<Date>) -> Result<Vec<Banner>, sqlx::Error> {
    let rows = sqlx::query!(
        "select banner_id, title, subtitle, link, cta, theme, motif, starts_on, ends_on from banner
         where $1::date is null or ends_on >= $1
         order by starts_on desc, banner_id desc limit 100",
        from
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let theme = Theme::from_key(&r.theme)?;
            let motif = Motif::from_key(&r.motif)?;
            let (fg, bg) = theme.art_colours();
            Some(Banner {
                id: r.banner_id,
                title: r.title,
                subtitle: r.subtitle,
                link: r.link,
                cta: r.cta,
                theme,
                motif_label: motif.label(),
                art: banner_svg(motif, fg, bg),
                motif,
                starts_on: r.starts_on,
                ends_on: r.ends_on,
            })
        })
        .collect())
}

/// A banner in `theme` showing `motif`, for the components page (`/dev/ui`).
pub fn sample(theme: Theme, motif: Motif) -> Banner {
    let (fg, bg) = theme.art_colours();
    let today = crate::domain::vn_today();
    Banner {
        id: 0,
        title: theme.label().to_string(),
        subtitle: "Lời giới thiệu ngắn của chiến dịch.".to_string(),
        link: "/products".to_string(),
        cta: "Xem ngay".to_string(),
        theme,
        motif,
        motif_label: motif.label(),
        starts_on: today,
        ends_on: today,
        art: banner_svg(motif, fg, bg),
    }
}

/// The banner shown on `day`: of those showing, the one that started last (a campaign laid over
/// a season's banner wins for its days).
pub fn current(banners: &[Banner], day: Date) -> Option<&Banner> {
    banners.iter().find(|b| b.shows_on(day))
}

/// A banner as staff typed it, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBanner {
    pub title: String,
    pub subtitle: String,
    pub link: String,
    pub cta: String,
    pub theme: Theme,
    pub motif: Motif,
    pub starts_on: Date,
    pub ends_on: Date,
}

pub type Errors = BTreeMap<&'static str, String>;

impl NewBanner {
    pub fn parse(f: &BTreeMap<String, String>, today: Date) -> Result<NewBanner, Errors> {
        let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
        let mut e = Errors::new();
        let title = get("title").to_string();
        if !(3..=80).contains(&title.chars().count()) {
            e.insert("title", "Tiêu đề từ 3 đến 80 ký tự.".into());
        }
        let subtitle = get("subtitle").to_string();
        if subtitle.chars().count() > 160 {
            e.insert("subtitle", "Lời giới thiệu tối đa 160 ký tự.".into());
        }
        let link = get("link").to_string();
        // only this site's pages: a banner never sends shoppers elsewhere
        let local = link.starts_with('/')
            && !link.starts_with("//")
            && !link.contains('\\')
            && !link.chars().any(char::is_whitespace)
            && link.len() <= 300;
        if !local {
            e.insert(
                "link",
                "Đường dẫn là một trang của sàn, bắt đầu bằng \"/\", ví dụ /products?sector=food."
                    .into(),
            );
        }
        let cta = match get("cta") {
            "" => "Xem ngay".to_string(),
            c => c.to_string(),
        };
        if !(2..=30).contains(&cta.chars().count()) {
            e.insert("cta", "Chữ trên nút từ 2 đến 30 ký tự.".into());
        }
        let theme = Theme::from_key(get("theme"));
        if theme.is_none() {
            e.insert("theme", "Vui lòng chọn màu theo mùa.".into());
        }
        let motif = Motif::from_key(get("motif"));
        if motif.is_none() {
            e.insert("motif", "Vui lòng chọn hình vẽ.".into());
        }
        let date = |k: &'static str, e: &mut Errors| {
            let d = Date::parse(
                get(k),
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .ok();
            if d.is_none() {
                e.insert(k, "Vui lòng chọn ngày (ngày/tháng/năm).".into());
            }
            d
        };
        let starts_on = date("starts_on", &mut e);
        let ends_on = date("ends_on", &mut e);
        if let (Some(s), Some(t)) = (starts_on, ends_on) {
            if t < s {
                e.insert(
                    "ends_on",
                    "Ngày kết thúc phải từ ngày bắt đầu trở đi.".into(),
                );
            } else if t < today {
                e.insert("ends_on", "Ngày kết thúc đã qua.".into());
            }
        }
        match (theme, motif, starts_on, ends_on) {
            (Some(theme), Some(motif), Some(starts_on), Some(ends_on)) if e.is_empty() => {
                Ok(NewBanner {
                    title,
                    subtitle,
                    link,
                    cta,
                    theme,
                    motif,
                    starts_on,
                    ends_on,
                })
            }
            _ => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_banner_links_only_to_this_sites_pages() {
        let today = date!(2026 - 12 - 03);
        for link in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "javascript:x",
            "/a b",
        ] {
            let f = form(&[
                ("title", "Tết OCOP"),
                ("link", link),
                ("theme", "tet"),
                ("motif", "cake"),
                ("starts_on", "2026-12-03"),
                ("ends_on", "2027-01-31"),
            ]);
            let e = NewBanner::parse(&f, today).unwrap_err();
            assert!(e.contains_key("link"), "{link} refused");
        }
        let f = form(&[
            ("title", "Tết OCOP"),
            ("link", "/products?sector=food"),
            ("theme", "tet"),
            ("motif", "cake"),
            ("starts_on", "2026-12-03"),
            ("ends_on", "2027-01-31"),
        ]);
        let b = NewBanner::parse(&f, today).unwrap();
        assert_eq!(
            b.cta, "Xem ngay",
            "the button says something when left empty"
        );
    }

    #[test]
    fn a_banner_that_ends_before_it_starts_or_already_ended_is_refused() {
        let today = date!(2026 - 12 - 03);
        let base = [
            ("title", "Mùa hè"),
            ("link", "/products"),
            ("theme", "summer"),
            ("motif", "seafood"),
        ];
        let mut f = form(&base);
        f.insert("starts_on".into(), "2026-12-10".into());
        f.insert("ends_on".into(), "2026-12-09".into());
        assert!(
            NewBanner::parse(&f, today)
                .unwrap_err()
                .contains_key("ends_on")
        );
        f.insert("starts_on".into(), "2026-11-01".into());
        f.insert("ends_on".into(), "2026-12-02".into());
        assert!(
            NewBanner::parse(&f, today)
                .unwrap_err()
                .contains_key("ends_on")
        );
    }
}
