//! The home page's hero banner, one per season or campaign (Tết, mùa hè, a province's fair):
//! national staff plan each one's words, link, colours, drawn motif and the days it shows
//! (`/staff/banners`). The catalog snapshot carries the plan, so the home page reads no table;
//! a change reaches every instance through `catalog_changed`.

use crate::app::AppState;
use crate::auth::{NationalStaff, Staff};
use crate::catalog::art::{Motif, banner_svg};
use crate::error::AppError;
use crate::forms::{CheckedForm, Id};
use crate::render::render_page;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
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
    fn art_colours(self) -> (&'static str, &'static str) {
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

async fn load(pool: &PgPool, from: Option<Date>) -> Result<Vec<Banner>, sqlx::Error> {
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

/// Banners belong to the national home page: national staff and admins keep them (anyone else
/// finds no such page).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/banners", get(page).post(create))
        .route("/staff/banners/{id}/delete", post(remove))
}

#[derive(Deserialize, Default)]
struct PageQuery {
    done: Option<String>,
}

async fn show(
    state: &AppState,
    staff: &Staff,
    csrf: &str,
    values: &BTreeMap<String, String>,
    errors: &Errors,
    message: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let today = crate::domain::vn_today();
    let banners = load(&state.pool, None).await?;
    let showing = current(&banners, today).map(|b| b.id);
    let page = json!({
        "staff": staff.view(state),
        "csrf": csrf,
        "banners": banners.iter().take(30).map(|b| json!({
            "banner": b,
            "showing": Some(b.id) == showing,
            "past": b.ends_on < today,
            "upcoming": b.starts_on > today,
        })).collect::<Vec<_>>(),
        "themes": Theme::ALL.iter().map(|t| json!({ "key": t.key(), "label": t.label() })).collect::<Vec<_>>(),
        "motifs": Motif::FOR_BANNERS.iter().map(|m| json!({ "key": m.key(), "label": m.label() })).collect::<Vec<_>>(),
        "values": values,
        "errors": errors,
        "message": message,
    });
    Ok((status, render_page("staff/banners.html", &page)).into_response())
}

async fn page(
    State(state): State<AppState>,
    NationalStaff(staff): NationalStaff,
    session: crate::auth::Session,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let message = match q.done.as_deref() {
        Some("created") => {
            Some("Đã lưu banner. Trang chủ hiện banner này trong những ngày đã chọn.")
        }
        Some("deleted") => Some("Đã gỡ banner."),
        _ => None,
    };
    let today = crate::domain::vn_today().to_string();
    let values = BTreeMap::from([
        ("theme".to_string(), "green".to_string()),
        ("starts_on".to_string(), today.clone()),
        ("ends_on".to_string(), today),
    ]);
    show(
        &state,
        &staff,
        &session.data.csrf,
        &values,
        &Errors::new(),
        message,
        StatusCode::OK,
    )
    .await
}

async fn create(
    State(state): State<AppState>,
    NationalStaff(staff): NationalStaff,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let values: BTreeMap<String, String> = form.into_iter().filter(|(k, _)| k != "csrf").collect();
    let b = match NewBanner::parse(&values, crate::domain::vn_today()) {
        Ok(b) => b,
        Err(errors) => {
            return show(
                &state,
                &staff,
                &session.data.csrf,
                &values,
                &errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let mut tx =
        crate::audit::begin(&state.pool, staff.user.user_id, "banner.create", None).await?;
    sqlx::query!(
        "insert into banner (title, subtitle, link, cta, theme, motif, starts_on, ends_on, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        b.title,
        b.subtitle,
        b.link,
        b.cta,
        b.theme.key(),
        b.motif.key(),
        b.starts_on,
        b.ends_on,
        staff.user.user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/staff/banners?done=created").into_response())
}

#[derive(Deserialize)]
struct Nothing {}

async fn remove(
    State(state): State<AppState>,
    NationalStaff(staff): NationalStaff,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<Nothing>,
) -> Result<Response, AppError> {
    let mut tx =
        crate::audit::begin(&state.pool, staff.user.user_id, "banner.delete", None).await?;
    let gone = sqlx::query!("delete from banner where banner_id = $1", id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(Redirect::to("/staff/banners?done=deleted").into_response())
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
