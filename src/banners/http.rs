//! `/staff/banners`: national staff plan, review and remove the home page's banners.

use super::{Errors, NewBanner, Theme, current, load};
use crate::auth::{NationalStaff, Staff};
use crate::catalog::art::Motif;
use crate::error::AppError;
use crate::forms::{CheckedForm, Id};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    let page = BannersPage {
        staff: staff.view(state),
        csrf,
        banners: banners
            .iter()
            .take(30)
            .map(|b| BannerRow {
                banner: b,
                showing: Some(b.id) == showing,
                past: b.ends_on < today,
                upcoming: b.starts_on > today,
            })
            .collect(),
        themes: Theme::ALL
            .iter()
            .map(|t| Choice {
                key: t.key(),
                label: t.label(),
            })
            .collect(),
        motifs: Motif::FOR_BANNERS
            .iter()
            .map(|m| Choice {
                key: m.key(),
                label: m.label(),
            })
            .collect(),
        values,
        errors,
        message,
    };
    Ok((status, render_page("staff/banners.html", &page)).into_response())
}

/// The banners page: the last 30 banners with where they stand today, and the form.
#[derive(Serialize)]
struct BannersPage<'a> {
    staff: serde_json::Value,
    csrf: &'a str,
    banners: Vec<BannerRow<'a>>,
    themes: Vec<Choice>,
    motifs: Vec<Choice>,
    values: &'a BTreeMap<String, String>,
    errors: &'a Errors,
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct BannerRow<'a> {
    banner: &'a super::Banner,
    showing: bool,
    past: bool,
    upcoming: bool,
}

#[derive(Serialize)]
struct Choice {
    key: &'static str,
    label: &'static str,
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

async fn remove(
    State(state): State<AppState>,
    NationalStaff(staff): NationalStaff,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<crate::forms::NoFields>,
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
