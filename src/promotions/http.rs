//! Promotion pages: a producer's owner creates and stops the promotions it funds
//! (`/producer/promotions`); staff do the same for the marketplace (national staff) or their
//! province's programme (`/staff/promotions`).

use super::{Creator, Errors, NewPromotion, PromotionView};
use crate::auth::{ProducerMember, Session, Staff};
use crate::domain::{Sector, vn_today};
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
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/producer/promotions",
            get(producer_page).post(producer_create),
        )
        .route("/producer/promotions/{id}/stop", post(producer_stop))
        .route("/staff/promotions", get(staff_page).post(staff_create))
        .route("/staff/promotions/{id}/stop", post(staff_stop))
}

#[derive(Deserialize)]
struct Notice {
    ok: Option<String>,
}

fn notice(q: &Notice) -> Option<&'static str> {
    match q.ok.as_deref() {
        Some("created") => Some("Đã tạo khuyến mãi."),
        Some("stopped") => Some("Đã dừng khuyến mãi."),
        _ => None,
    }
}

#[derive(Serialize)]
struct Page<'a> {
    /// "producer" or "staff": which frame and which fields
    side: &'static str,
    member: Option<&'a ProducerMember>,
    staff: Option<Value>,
    csrf: &'a str,
    promotions: Vec<PromotionView>,
    /// what a new one is funded by, as the form says it
    funder: &'static str,
    products: Vec<Value>,
    producers: Vec<Value>,
    provinces: Vec<Value>,
    sectors: Vec<Value>,
    values: BTreeMap<String, String>,
    errors: Errors,
    notice: Option<&'static str>,
    today: String,
}

fn sectors() -> Vec<Value> {
    Sector::ALL
        .iter()
        .map(|s| json!({"key": s.key(), "label": s.label()}))
        .collect()
}

async fn render(
    state: &AppState,
    session: &Session,
    who: Who<'_>,
    values: BTreeMap<String, String>,
    errors: Errors,
    notice: Option<&'static str>,
) -> Result<Response, AppError> {
    let snapshot = state.catalog.snapshot();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut page = Page {
        side: "producer",
        member: None,
        staff: None,
        csrf: &session.data.csrf,
        promotions: vec![],
        funder: "",
        products: vec![],
        producers: vec![],
        provinces: vec![],
        sectors: sectors(),
        values,
        errors,
        notice,
        today: vn_today().to_string(),
    };
    match who {
        Who::Producer(m) => {
            page.member = Some(m);
            page.funder = super::Funder::Producer.label();
            page.promotions = super::list(&state.pool, Some(m.producer_id), None).await?;
            let ids = snapshot.producer_products.get(&m.producer_id);
            page.products = ids
                .into_iter()
                .flatten()
                .filter_map(|id| snapshot.products.get(id))
                .map(|p| {
                    let checked = page.values.contains_key(&format!("product_{}", p.id));
                    json!({"id": p.id, "name": p.name, "checked": checked})
                })
                .collect();
        }
        Who::Staff(s) => {
            page.side = "staff";
            page.staff = Some(s.view(state));
            page.funder = match s.province {
                Some(_) => super::Funder::Province.label(),
                None => super::Funder::Marketplace.label(),
            };
            page.promotions = super::list(&state.pool, None, s.province).await?;
            match s.province {
                Some(p) => {
                    let mut producers: Vec<Value> = snapshot
                        .producers
                        .values()
                        .filter(|pr| pr.province_code == p && pr.approved)
                        .map(|pr| json!({"id": pr.id, "name": pr.name}))
                        .collect();
                    producers.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                    page.producers = producers;
                }
                None => {
                    page.provinces = snapshot
                        .admin
                        .provinces
                        .iter()
                        .map(|p| json!({"code": p.code, "name": p.name}))
                        .collect();
                }
            }
        }
    }
    let template = if page.side == "producer" {
        "promotions/producer.html"
    } else {
        "promotions/staff.html"
    };
    Ok((status, render_page(template, &page)).into_response())
}

#[derive(Clone, Copy)]
enum Who<'a> {
    Producer(&'a ProducerMember),
    Staff(&'a Staff),
}

async fn producer_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Query(q): Query<Notice>,
) -> Result<Response, AppError> {
    member.owner()?;
    render(
        &state,
        &session,
        Who::Producer(&member),
        BTreeMap::new(),
        Errors::new(),
        notice(&q),
    )
    .await
}

async fn producer_create(
    State(state): State<AppState>,
    member: ProducerMember,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    member.owner()?;
    if !member.is_approved() {
        return Err(AppError::bad(
            "not_approved",
            "Cơ sở cần được cán bộ tỉnh duyệt trước khi tạo khuyến mãi.",
        ));
    }
    let creator = Creator::Producer {
        producer_id: member.producer_id,
        province: member.province_code,
    };
    create(
        &state,
        &session,
        Who::Producer(&member),
        member.user.user_id,
        creator,
        form,
    )
    .await
}

async fn create(
    state: &AppState,
    session: &Session,
    who: Who<'_>,
    user_id: i64,
    creator: Creator,
    form: BTreeMap<String, String>,
) -> Result<Response, AppError> {
    let values: BTreeMap<String, String> = form.into_iter().filter(|(k, _)| k != "csrf").collect();
    let saved = match NewPromotion::parse(&values, creator, vn_today()) {
        Ok(p) => super::create(&state.pool, user_id, creator, &p).await?,
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => {
            let base = match who {
                Who::Producer(_) => "/producer/promotions",
                Who::Staff(_) => "/staff/promotions",
            };
            Ok(Redirect::to(&format!("{base}?ok=created")).into_response())
        }
        Err(errors) => render(state, session, who, values, errors, None).await,
    }
}

async fn producer_stop(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    member.owner()?;
    if !super::stop(&state.pool, id, Some(member.producer_id), None).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/producer/promotions?ok=stopped").into_response())
}

async fn staff_page(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<Notice>,
) -> Result<Response, AppError> {
    render(
        &state,
        &session,
        Who::Staff(&staff),
        BTreeMap::new(),
        Errors::new(),
        notice(&q),
    )
    .await
}

async fn staff_create(
    State(state): State<AppState>,
    staff: Staff,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let creator = Creator::Staff {
        province: staff.province,
    };
    create(
        &state,
        &session,
        Who::Staff(&staff),
        staff.user.user_id,
        creator,
        form,
    )
    .await
}

async fn staff_stop(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    if !super::stop(&state.pool, id, None, staff.province).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/staff/promotions?ok=stopped").into_response())
}
