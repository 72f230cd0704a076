//! Review pages and actions: the buyer writes from the order page, anyone reports from the
//! product page, the producer replies at `/producer/reviews`, staff moderate at `/staff/reviews`.

use super::{Draft, MAX_PHOTOS};
use crate::auth::{ProducerMember, Session, Staff};
use crate::error::AppError;
use crate::forms::{CheckedForm, Id, SameSiteForm, UploadForm};
use crate::i18n::tr;
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

/// Three photos of at most 5 MB each, and the text fields.
const REVIEW_BODY_LIMIT: usize = MAX_PHOTOS * crate::media::MAX_UPLOAD_BYTES + 1024 * 1024;
/// Reports one client address may send in an hour: enough for a person, not for a script.
const REPORTS_PER_HOUR: u32 = 10;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/orders/{code}/reviews",
            post(write).layer(DefaultBodyLimit::max(REVIEW_BODY_LIMIT)),
        )
        .route("/reviews/{id}/report", post(report))
        .route("/producer/reviews", get(producer_page))
        .route("/producer/reviews/{id}/reply", post(producer_reply))
        .route("/staff/reviews", get(staff_page))
        .route("/staff/reviews/{id}/hide", post(staff_hide))
        .route("/staff/reviews/{id}/unhide", post(staff_unhide))
}

/// Back to the order page, at the line's review, with what happened.
fn back(code: &str, order_id: i64, product_id: i64, outcome: &str) -> Response {
    Redirect::to(&format!(
        "/orders/{code}?review={outcome}&line={order_id}-{product_id}#review-{order_id}-{product_id}"
    ))
    .into_response()
}

async fn write(
    State(state): State<AppState>,
    Path(code): Path<String>,
    form: UploadForm,
) -> Result<Response, AppError> {
    let group_id = crate::orders::shoppers_group(&state.pool, &form.session, &code)
        .await?
        .ok_or(AppError::NotFound)?;
    let (Ok(order_id), Ok(product_id)) = (
        form.text("order_id").parse::<i64>(),
        form.text("product_id").parse::<i64>(),
    ) else {
        return Err(AppError::NotFound);
    };
    let draft = match Draft::parse(&form.text("rating"), &form.text("body")) {
        Ok(d) => d,
        Err(errors) => return Ok(back(&code, order_id, product_id, errors[0].1)),
    };
    if !form.too_big.is_empty() {
        return Ok(back(&code, order_id, product_id, "review-error-photo-size"));
    }
    // the existing upload checks: a real JPEG, PNG or WebP, re-encoded by us
    let mut photos = Vec::new();
    for i in 1..=MAX_PHOTOS {
        if let Some(bytes) = form.file(&format!("photo{i}")) {
            match state.media.store_product_image(bytes.clone()).await {
                Ok((url, _)) => photos.push(url),
                Err(_) => return Ok(back(&code, order_id, product_id, "review-error-photo")),
            }
        }
    }
    let photos = (!photos.is_empty()).then_some(photos);
    match super::save(&state.pool, group_id, order_id, product_id, &draft, photos).await {
        Ok(_) => {
            state.catalog.refresh_after(&[product_id], &[]).await;
            Ok(back(&code, order_id, product_id, "saved"))
        }
        Err(super::ReviewError::Db(e)) => Err(e.into()),
        Err(e) => Ok(back(&code, order_id, product_id, e.message_key())),
    }
}

#[derive(Deserialize)]
struct ReportForm {
    reason: String,
    #[serde(default)]
    back: String,
}

/// From the product page (cached for everyone, so protected by origin rather than a token).
async fn report(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    Id(review_id): Id,
    SameSiteForm(form): SameSiteForm<ReportForm>,
) -> Result<Response, AppError> {
    if let Some(retry_after_secs) = crate::auth::session::rate_limit(
        &state,
        &format!("review-report:{ip}"),
        REPORTS_PER_HOUR,
        3600,
    )
    .await?
    {
        return Err(AppError::TooManyAttempts { retry_after_secs });
    }
    let reason = form.reason.trim();
    if !(3..=500).contains(&reason.chars().count()) {
        return Err(AppError::bad("bad_reason", tr("review-report-reason")));
    }
    // a person reports once: by client address (hashed, nothing personal is kept)
    let reporter = format!("ip:{}", &crate::crypto::sha256_hex(ip.as_bytes())[..32]);
    if !super::report(&state.pool, review_id, &reporter, reason).await? {
        return Err(AppError::NotFound);
    }
    let back = Some(form.back.as_str())
        .filter(|b| b.starts_with("/products/") && !b.contains("//"))
        .unwrap_or("/");
    Ok(render_page(
        "reviews/reported.html",
        &serde_json::json!({ "back": back }),
    ))
}

#[derive(Serialize)]
struct PortalPage<'a> {
    member: Option<&'a ProducerMember>,
    staff: Option<serde_json::Value>,
    csrf: &'a str,
    reviews: Vec<super::Listed>,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct Notice {
    ok: Option<String>,
}

fn notice(q: &Notice) -> Option<String> {
    match q.ok.as_deref() {
        Some("replied") => Some("Đã đăng câu trả lời.".into()),
        Some("hidden") => Some("Đã ẩn đánh giá; điểm của sản phẩm đã được tính lại.".into()),
        Some("shown") => Some("Đã hiện lại đánh giá.".into()),
        Some("already") => Some("Đánh giá này đã có câu trả lời.".into()),
        _ => None,
    }
}

async fn producer_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Query(q): Query<Notice>,
) -> Result<Response, AppError> {
    let reviews = super::list(&state.pool, Some(member.producer_id), None, false).await?;
    Ok(render_page(
        "producer/reviews.html",
        &PortalPage {
            member: Some(&member),
            staff: None,
            csrf: &session.data.csrf,
            reviews,
            notice: notice(&q),
        },
    ))
}

#[derive(Deserialize)]
struct ReplyForm {
    reply: String,
}

async fn producer_reply(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(review_id): Id,
    CheckedForm { form, .. }: CheckedForm<ReplyForm>,
) -> Result<Response, AppError> {
    let text = form.reply.trim();
    if !(1..=super::MAX_TEXT).contains(&text.chars().count()) {
        return Err(AppError::bad(
            "bad_reply",
            "Câu trả lời cần có nội dung và dài tối đa 2.000 ký tự.",
        ));
    }
    let done = super::reply(
        &state.pool,
        member.producer_id,
        review_id,
        member.user.user_id,
        text,
    )
    .await?;
    let Some(product) = done else {
        return Ok(Redirect::to("/producer/reviews?ok=already").into_response());
    };
    state.catalog.refresh_after(&[product], &[]).await;
    Ok(Redirect::to("/producer/reviews?ok=replied").into_response())
}

async fn staff_page(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<Notice>,
) -> Result<Response, AppError> {
    let reviews = super::list(&state.pool, None, staff.province, true).await?;
    Ok(render_page(
        "staff/reviews.html",
        &PortalPage {
            member: None,
            staff: Some(staff.view(&state)),
            csrf: &session.data.csrf,
            reviews,
            notice: notice(&q),
        },
    ))
}

#[derive(Deserialize)]
struct HideForm {
    reason: String,
}

async fn staff_hide(
    State(state): State<AppState>,
    staff: Staff,
    Id(review_id): Id,
    CheckedForm { form, .. }: CheckedForm<HideForm>,
) -> Result<Response, AppError> {
    let reason = form.reason.trim();
    if !(3..=500).contains(&reason.chars().count()) {
        return Err(AppError::bad(
            "bad_reason",
            "Vui lòng ghi lý do ẩn (3 đến 500 ký tự): lý do được lưu trong nhật ký thao tác.",
        ));
    }
    let product = super::moderate(&state.pool, &staff, review_id, Some(reason))
        .await?
        .ok_or(AppError::NotFound)?;
    state.catalog.refresh_after(&[product], &[]).await;
    Ok(Redirect::to("/staff/reviews?ok=hidden").into_response())
}

async fn staff_unhide(
    State(state): State<AppState>,
    staff: Staff,
    Id(review_id): Id,
    CheckedForm { .. }: CheckedForm<crate::forms::NoFields>,
) -> Result<Response, AppError> {
    let product = super::moderate(&state.pool, &staff, review_id, None)
        .await?
        .ok_or(AppError::NotFound)?;
    state.catalog.refresh_after(&[product], &[]).await;
    Ok(Redirect::to("/staff/reviews?ok=shown").into_response())
}
