//! Experience pages: the tourist picks a day, a slot and the number of guests and books
//! (`/experiences/{slug}`); the producer sets the terms and calendar of a tourism product
//! (`/producer/products/{id}/experience`), closes or reopens a slot, and checks guests in at the
//! meeting point by scanning or typing a voucher's code (`/producer/checkin`).

use super::{CheckIn, LANGUAGES, SlotView, Terms};
use crate::auth::{ProducerMember, Session};
use crate::checkout::{Asked, Delivery, PaymentMethod, PlaceError, SeenLine, ShippingRule};
use crate::error::AppError;
use crate::forms::{CheckedForm, Id};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/experiences/{slug}", get(booking_page).post(book))
        .route(
            "/producer/products/{id}/experience",
            get(terms_page).post(save_terms),
        )
        .route("/producer/slots/{id}/close", post(close_slot))
        .route("/producer/slots/{id}/open", post(open_slot))
        .route("/producer/checkin", get(checkin_page).post(checkin))
}

/// The slots of the coming days, grouped by day for the picker.
fn by_day(slots: Vec<SlotView>) -> Vec<Value> {
    let mut days: Vec<Value> = vec![];
    for s in slots {
        let day = s.day.to_string();
        match days.last_mut() {
            Some(d) if d["day"] == day.as_str() => {
                d["slots"].as_array_mut().expect("array").push(json!(s))
            }
            _ => days.push(json!({"day": day, "weekday": weekday(s.day), "slots": [s]})),
        }
    }
    days
}

fn weekday(d: time::Date) -> String {
    crate::i18n::tr(&format!("weekday-{}", d.weekday().number_from_monday()))
}

fn language_names(keys: &[String]) -> Vec<String> {
    LANGUAGES
        .iter()
        .filter(|(k, _)| keys.iter().any(|x| x == k))
        .map(|(k, n)| crate::i18n::label("tour-language", k, n))
        .collect()
}

#[derive(Serialize)]
struct BookingPage {
    csrf: String,
    token: String,
    product: Value,
    terms: Option<Terms>,
    /// "3 giờ 30 phút"
    duration: String,
    languages: Vec<String>,
    days: Vec<Value>,
    methods: Vec<Value>,
    values: BTreeMap<String, String>,
    errors: BTreeMap<&'static str, String>,
    problems: Vec<String>,
}

async fn render_booking(
    state: &AppState,
    session: &Session,
    slug: &str,
    values: BTreeMap<String, String>,
    errors: BTreeMap<&'static str, String>,
    problems: Vec<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let snapshot = state.catalog.snapshot();
    let (p, producer) = snapshot.product_by_slug(slug).ok_or(AppError::NotFound)?;
    if p.sector != crate::domain::Sector::Tourism {
        return Err(AppError::NotFound);
    }
    let terms = {
        let mut conn = state.pool.acquire().await?;
        super::terms(&mut conn, p.id).await?
    };
    let days = match &terms {
        Some(t) => {
            super::extend(&state.pool, p.id).await?;
            by_day(super::slots(&state.pool, p.id, t.cutoff_hours, 30).await?)
        }
        None => vec![],
    };
    let enabled = state.payments.enabled();
    let methods: Vec<Value> = PaymentMethod::ALL
        .iter()
        .filter(|m| enabled.contains(m))
        .map(|m| json!({ "key": m.key(), "label": crate::i18n::label("method", m.key(), m.label()) }))
        .collect();
    let page = BookingPage {
        csrf: session.data.csrf.clone(),
        token: values
            .get("token")
            .cloned()
            .unwrap_or_else(crate::crypto::random_token),
        product: json!({
            "name": p.name, "slug": p.slug, "price": p.price_vnd, "unit": p.unit,
            "image": p.images.first(), "producer": producer.name, "listed": snapshot.row_of.contains_key(&p.id),
        }),
        languages: terms
            .as_ref()
            .map(|t| language_names(&t.languages))
            .unwrap_or_default(),
        duration: terms
            .as_ref()
            .map(|t| super::duration_text(t.duration_minutes))
            .unwrap_or_default(),
        terms,
        days,
        methods,
        values,
        errors,
        problems,
    };
    let mut response = (status, render_page("experiences/book.html", &page)).into_response();
    if session.is_new {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, session.cookie(state));
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("valid"));
    Ok(response)
}

async fn booking_page(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let mut values = BTreeMap::new();
    values.insert("guests".to_string(), "2".to_string());
    render_booking(
        &state,
        &session,
        &slug,
        values,
        BTreeMap::new(),
        vec![],
        StatusCode::OK,
    )
    .await
}

/// Books a slot: the guests are the line's quantity, the slot's seats its stock; nothing ships,
/// so the order's place is the meeting point's commune.
/// Bookings one client address may place in an hour: a booking holds seats (cash ones until the
/// day), so an anonymous client cannot hold a calendar.
const BOOKINGS_PER_HOUR: u32 = 20;

async fn book(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    Path(slug): Path<String>,
    CheckedForm { form, mut session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let mut values: BTreeMap<String, String> =
        form.into_iter().filter(|(k, _)| k != "csrf").collect();
    let token = values.get("token").cloned().unwrap_or_default();
    if !(32..=128).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::bad(
            "bad_token",
            "Phiên đặt chỗ không hợp lệ. Vui lòng tải lại trang.",
        ));
    }
    let snapshot = state.catalog.snapshot();
    let (p, producer) = snapshot.product_by_slug(&slug).ok_or(AppError::NotFound)?;
    let (product_id, price) = (p.id, p.price_vnd);
    let mut errors = BTreeMap::new();
    let slot = values.get("slot").and_then(|s| s.parse::<i64>().ok());
    if slot.is_none() {
        errors.insert("slot", crate::i18n::tr("book-error-slot"));
    }
    let guests = values
        .get("guests")
        .and_then(|g| g.trim().parse::<i64>().ok());
    let guests = match guests {
        Some(g) if (1..=i64::from(crate::cart::MAX_LINE)).contains(&g) => g as u32,
        _ => {
            errors.insert(
                "guests",
                crate::i18n::tr_with(
                    "book-error-guests",
                    &[("max", i64::from(crate::cart::MAX_LINE).into())],
                ),
            );
            0
        }
    };
    // the meeting point stands in for a delivery address
    let meeting = {
        let mut conn = state.pool.acquire().await?;
        super::terms(&mut conn, product_id).await?
    }
    .ok_or(AppError::NotFound)?
    .meeting_point;
    values.insert("province".into(), producer.province_code.to_string());
    values.insert("commune".into(), producer.commune_code.to_string());
    values.insert("street".into(), meeting.chars().take(300).collect());
    let delivery = Delivery::parse(&values, &snapshot.admin, &state.payments.enabled());
    let delivery = match delivery {
        Ok(d) if errors.is_empty() => d,
        other => {
            if let Err(e) = other {
                errors.extend(e);
            }
            return render_booking(
                &state,
                &session,
                &slug,
                values,
                errors,
                vec![],
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if let Some(wait) =
        crate::auth::session::rate_limit(&state, &format!("book:ip:{ip}"), BOOKINGS_PER_HOUR, 3600)
            .await?
    {
        let why = crate::i18n::tr_with(
            "book-error-too-many",
            &[("minutes", (wait.div_ceil(60) as i64).into())],
        );
        return render_booking(
            &state,
            &session,
            &slug,
            values,
            BTreeMap::new(),
            vec![why],
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    let seen = [SeenLine {
        product_id,
        quantity: guests,
        price,
    }];
    let asked = Asked {
        slots: BTreeMap::from([(product_id, slot.expect("checked"))]),
        ..Asked::default()
    };
    let placed = crate::checkout::place_order(
        &state.pool,
        ShippingRule::from_config(&state.config),
        state.config.order_payment_minutes,
        &token,
        session.data.user_id,
        &delivery,
        &seen,
        &Default::default(),
        &asked,
    )
    .await;
    match placed {
        Ok(placed) => {
            if session.data.remember_order(&placed.code) {
                session.save(&state).await?;
            }
            if !placed.replayed {
                if delivery.method == PaymentMethod::Vietqr {
                    crate::payments::start_attempt(&state.pool, &placed.code, delivery.method)
                        .await?;
                }
                crate::orders::notify::placed(&state, placed.order_group_id).await;
            }
            Ok(Redirect::to(&format!("/orders/{}?placed=1", placed.code)).into_response())
        }
        Err(PlaceError::Changed(problems)) => {
            values.insert("token".into(), crate::crypto::random_token());
            values.remove("slot");
            render_booking(
                &state,
                &session,
                &slug,
                values,
                BTreeMap::new(),
                problems,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(PlaceError::Empty) => Err(AppError::NotFound),
        Err(PlaceError::Database(e)) => Err(e.into()),
    }
}

// ---------- the producer ----------

#[derive(Serialize)]
struct TermsPage<'a> {
    member: &'a ProducerMember,
    csrf: &'a str,
    product: Value,
    values: BTreeMap<String, String>,
    errors: BTreeMap<&'static str, String>,
    languages: Vec<Value>,
    days: Vec<Value>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
struct Notice {
    ok: Option<String>,
    error: Option<String>,
}

/// The terms as the form shows them.
fn values_of(t: &Terms) -> BTreeMap<String, String> {
    let mut v = BTreeMap::from([
        (
            "duration_minutes".to_string(),
            t.duration_minutes.to_string(),
        ),
        ("meeting_point".to_string(), t.meeting_point.clone()),
        ("capacity".to_string(), t.capacity.to_string()),
        ("cutoff_hours".to_string(), t.cutoff_hours.to_string()),
        (
            "free_cancel_hours".to_string(),
            t.free_cancel_hours.to_string(),
        ),
        (
            "start_times".to_string(),
            t.start_minutes
                .iter()
                .map(|m| format!("{:02}:{:02}", m / 60, m % 60))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ]);
    for l in &t.languages {
        v.insert(format!("lang_{l}"), "1".into());
    }
    for d in &t.weekdays {
        v.insert(format!("day_{d}"), "1".into());
    }
    v
}

async fn render_terms(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    product_id: i64,
    values: Option<BTreeMap<String, String>>,
    errors: BTreeMap<&'static str, String>,
    notice: Option<&'static str>,
) -> Result<Response, AppError> {
    let snapshot = state.catalog.snapshot();
    let p = snapshot
        .products
        .get(&product_id)
        .filter(|p| {
            p.producer_id == member.producer_id && p.sector == crate::domain::Sector::Tourism
        })
        .ok_or(AppError::NotFound)?;
    let terms = {
        let mut conn = state.pool.acquire().await?;
        super::terms(&mut conn, product_id).await?
    };
    let days = match &terms {
        Some(t) => {
            super::extend(&state.pool, product_id).await?;
            by_day(super::slots(&state.pool, product_id, t.cutoff_hours, 21).await?)
        }
        None => vec![],
    };
    let values = values.unwrap_or_else(|| {
        terms.as_ref().map(values_of).unwrap_or_else(|| {
            BTreeMap::from([
                ("duration_minutes".to_string(), "180".to_string()),
                ("capacity".to_string(), "10".to_string()),
                ("cutoff_hours".to_string(), "12".to_string()),
                ("free_cancel_hours".to_string(), "48".to_string()),
                ("start_times".to_string(), "08:00, 14:00".to_string()),
                ("lang_vi".to_string(), "1".to_string()),
                ("day_6".to_string(), "1".to_string()),
                ("day_7".to_string(), "1".to_string()),
            ])
        })
    });
    let languages = LANGUAGES
        .iter()
        .map(|(k, n)| json!({"key": k, "name": n, "checked": values.contains_key(&format!("lang_{k}"))}))
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = TermsPage {
        member,
        csrf: &session.data.csrf,
        product: json!({"id": p.id, "name": p.name, "slug": p.slug, "configured": terms.is_some()}),
        values,
        errors,
        languages,
        days,
        notice,
    };
    Ok((status, render_page("experiences/terms.html", &page)).into_response())
}

async fn terms_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Id(id): Id,
    Query(q): Query<Notice>,
) -> Result<Response, AppError> {
    let notice = match (q.ok.as_deref(), q.error.as_deref()) {
        (Some("saved"), _) => Some("Đã lưu. Khách đặt chỗ được ở trang dịch vụ."),
        (Some("closed"), _) => Some("Đã đóng khung giờ."),
        (Some("opened"), _) => Some("Đã mở lại khung giờ."),
        (_, Some("booked")) => {
            Some("Khung giờ đã có khách đặt: hãy liên hệ khách để đổi lịch trước khi đóng.")
        }
        _ => None,
    };
    render_terms(&state, &member, &session, id, None, BTreeMap::new(), notice).await
}

async fn save_terms(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let values: BTreeMap<String, String> = form.into_iter().filter(|(k, _)| k != "csrf").collect();
    match Terms::parse(&values) {
        Ok(t) => {
            if !super::save(&state.pool, member.producer_id, id, &t).await? {
                return Err(AppError::NotFound);
            }
            Ok(
                Redirect::to(&format!("/producer/products/{id}/experience?ok=saved"))
                    .into_response(),
            )
        }
        Err(errors) => {
            render_terms(&state, &member, &session, id, Some(values), errors, None).await
        }
    }
}

async fn set_slot(
    state: &AppState,
    member: &ProducerMember,
    slot: i64,
    closed: bool,
) -> Result<Response, AppError> {
    let product = sqlx::query_scalar!(
        "select s.product_id from experience_slot s join product p using (product_id)
         where s.slot_id = $1 and p.producer_id = $2",
        slot,
        member.producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let outcome = match super::set_closed(&state.pool, member.producer_id, slot, closed).await? {
        Ok(()) if closed => "ok=closed",
        Ok(()) => "ok=opened",
        Err(_) => "error=booked",
    };
    Ok(Redirect::to(&format!(
        "/producer/products/{product}/experience?{outcome}"
    ))
    .into_response())
}

async fn close_slot(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    set_slot(&state, &member, id, true).await
}

async fn open_slot(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    set_slot(&state, &member, id, false).await
}

#[derive(Serialize)]
struct CheckInPage<'a> {
    member: &'a ProducerMember,
    csrf: &'a str,
    result: Option<CheckIn>,
    /// a no-show recorded (or refused)
    no_show: Option<bool>,
    code: String,
}

async fn checkin_page(member: ProducerMember, session: Session) -> Result<Response, AppError> {
    let page = CheckInPage {
        member: &member,
        csrf: &session.data.csrf,
        result: None,
        no_show: None,
        code: String::new(),
    };
    Ok(render_page("experiences/checkin.html", &page).into_response())
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    /// "no_show": the guests did not come
    #[serde(default)]
    action: String,
}

async fn checkin(
    State(state): State<AppState>,
    member: ProducerMember,
    CheckedForm { form, session }: CheckedForm<CodeForm>,
) -> Result<Response, AppError> {
    let code = form.code.trim().to_string();
    if form.action == "no_show" && !code.is_empty() && code.len() <= 20 {
        let done = super::no_show(&state.pool, member.producer_id, &code).await?;
        let page = CheckInPage {
            member: &member,
            csrf: &session.data.csrf,
            result: None,
            no_show: Some(done),
            code,
        };
        let status = if done {
            StatusCode::OK
        } else {
            StatusCode::CONFLICT
        };
        return Ok((status, render_page("experiences/checkin.html", &page)).into_response());
    }
    let result = if code.is_empty() || code.len() > 20 {
        CheckIn::NotFound
    } else {
        super::check_in(&state.pool, member.producer_id, member.user.user_id, &code).await?
    };
    let status = match result {
        CheckIn::Welcome { .. } => StatusCode::OK,
        CheckIn::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    let page = CheckInPage {
        member: &member,
        csrf: &session.data.csrf,
        result: Some(result),
        no_show: None,
        code,
    };
    Ok((status, render_page("experiences/checkin.html", &page)).into_response())
}
