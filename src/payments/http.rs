//! Payment routes: starting an online payment, the providers' callbacks (each answered the way
//! that provider expects), the shopper's return pages, the order page's status poll, and the
//! staff review queue. The callback handlers are thin: `sepay`, `casso`, `vnpay_ipn`, `momo_ipn`
//! and `stripe_webhook` do the work, and the sandbox calls the same functions.

use super::sign::{self, same_hex};
use super::verify::{self, Read, Refusal};
use super::{Outcome, apply, record_event, reject_event};
use crate::auth::{Session, Staff};
use crate::checkout::PaymentMethod;
use crate::error::AppError;
use crate::forms::{CheckedForm, Id};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The largest callback body each provider's real payloads need, with room to spare (they are a
/// few KB); anything larger is answered 413 and never stored.
pub const BANK_BODY_LIMIT: usize = 16 * 1024;
pub const MOMO_BODY_LIMIT: usize = 16 * 1024;
pub const STRIPE_BODY_LIMIT: usize = 64 * 1024;
/// VNPAY's IPN is a GET: its query string is bounded the same way.
pub const VNPAY_QUERY_LIMIT: usize = 4 * 1024;

pub fn router() -> Router<AppState> {
    use axum::extract::DefaultBodyLimit;
    Router::new()
        .route(
            "/payments/sepay/webhook",
            post(sepay_route).layer(DefaultBodyLimit::max(BANK_BODY_LIMIT)),
        )
        .route(
            "/payments/casso/webhook",
            post(casso_route).layer(DefaultBodyLimit::max(BANK_BODY_LIMIT)),
        )
        .route("/payments/vnpay/ipn", get(vnpay_ipn_route))
        .route("/payments/vnpay/return", get(vnpay_return))
        .route(
            "/payments/momo/ipn",
            post(momo_ipn_route).layer(DefaultBodyLimit::max(MOMO_BODY_LIMIT)),
        )
        .route("/payments/momo/return", get(momo_return))
        .route(
            "/payments/stripe/webhook",
            post(stripe_route).layer(DefaultBodyLimit::max(STRIPE_BODY_LIMIT)),
        )
        .route("/pay/{code}/{method}", post(start))
        .route("/orders/{code}/status", get(status))
        .route("/staff/payments", get(review_queue))
        .route("/staff/payments/{id}/resolve", post(resolve))
}

/// Callbacks are limited per sending address, so a flood cannot crowd out the shop.
async fn limited(
    state: &AppState,
    provider: crate::payments::Provider,
    ip: &str,
) -> Result<(), Response> {
    match crate::auth::session::rate_limit(state, &format!("webhook:{provider}:{ip}"), 600, 60)
        .await
    {
        Ok(None) => Ok(()),
        Ok(Some(_)) => Err((StatusCode::TOO_MANY_REQUESTS, "too many callbacks").into_response()),
        // Redis down: the callback still counts; the provider must not lose it
        Err(_) => Ok(()),
    }
}

/// Tells the order's followers (its page, the producers) that it was paid.
pub(crate) async fn after_apply(state: &AppState, outcome: &Outcome, group: Option<i64>) {
    if *outcome == Outcome::Applied {
        if let Some(g) = group {
            crate::orders::notify::group_paid(state, g).await;
        }
    }
}

/// What became of a callback, for each provider to answer in its own words.
enum Handled {
    /// not stored: the provider must send it again
    NotStored,
    Refused(Refusal),
    Done(Option<Outcome>),
    /// stored and verified, but not applied (the database failed): the provider retries
    NotApplied,
}

/// The one path every callback takes: store it raw, read it, act on it once.
async fn process(
    state: &AppState,
    provider: crate::payments::Provider,
    headers: &HeaderMap,
    raw: &str,
    read: impl FnOnce() -> Result<Read, Refusal>,
) -> Handled {
    let Ok(event) = record_event(&state.pool, provider, headers, raw).await else {
        return Handled::NotStored;
    };
    match read() {
        Err(refusal) => {
            let _ = reject_event(&state.pool, event, refusal.as_str()).await;
            Handled::Refused(refusal)
        }
        Ok(Read::Ignore { tx_id, why }) => {
            let _ = sqlx::query!(
                "update payment_event set verified = true, outcome = 'ignored', review_reason = $2, provider_tx_id = $3
                 where payment_event_id = $1",
                event,
                why,
                tx_id
            )
            .execute(&state.pool)
            .await;
            Handled::Done(None)
        }
        Ok(Read::Notify(n)) => {
            // only bank transfers name the receiving account
            let bank = if n.account.is_some() {
                state.payments.bank.as_ref()
            } else {
                None
            };
            match apply(&state.pool, bank, event, &n).await {
                Ok((outcome, group)) => {
                    after_apply(state, &outcome, group).await;
                    Handled::Done(Some(outcome))
                }
                Err(e) => {
                    tracing::error!(error = %e, provider = provider.key(), "payment event not applied; the provider will retry");
                    Handled::NotApplied
                }
            }
        }
    }
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

// ---------- SePay and Casso (bank transfers) ----------

async fn sepay_route(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = limited(&state, crate::payments::Provider::Sepay, &ip).await {
        return r;
    }
    sepay(&state, &headers, &body).await
}

/// SePay and Casso are answered alike: 2xx with `{"success": true}` when kept and acted on.
fn bank_answer(handled: Handled) -> Response {
    let (status, ok, message) = match handled {
        Handled::Done(_) => (StatusCode::OK, true, "ok"),
        Handled::Refused(Refusal::Unreadable) => {
            (StatusCode::BAD_REQUEST, false, Refusal::Unreadable.as_str())
        }
        Handled::Refused(r) => (StatusCode::UNAUTHORIZED, false, r.as_str()),
        Handled::NotStored | Handled::NotApplied => {
            (StatusCode::SERVICE_UNAVAILABLE, false, "try again")
        }
    };
    (
        status,
        axum::Json(json!({ "success": ok, "message": message })),
    )
        .into_response()
}

pub async fn sepay(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let raw = String::from_utf8_lossy(body);
    bank_answer(
        process(
            state,
            crate::payments::Provider::Sepay,
            headers,
            &raw,
            || verify::sepay(&state.payments, headers, body, now()),
        )
        .await,
    )
}

async fn casso_route(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = limited(&state, crate::payments::Provider::Casso, &ip).await {
        return r;
    }
    casso(&state, &headers, &body).await
}

pub async fn casso(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let raw = String::from_utf8_lossy(body);
    bank_answer(
        process(
            state,
            crate::payments::Provider::Casso,
            headers,
            &raw,
            || verify::casso(&state.payments, headers, body, now()),
        )
        .await,
    )
}

// ---------- VNPAY 2.1.0 ----------

fn rsp(code: &str, message: &str) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({ "RspCode": code, "Message": message })),
    )
        .into_response()
}

async fn vnpay_ipn_route(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Err(r) = limited(&state, crate::payments::Provider::Vnpay, &ip).await {
        return r;
    }
    let q = q.as_deref().unwrap_or("");
    if q.len() > VNPAY_QUERY_LIMIT {
        return (StatusCode::URI_TOO_LONG, "callback too large").into_response();
    }
    vnpay_ipn(&state, &headers, q).await
}

/// VNPAY's IPN, the source of truth for its payments; answered with RspCode as VNPAY's demo does.
pub async fn vnpay_ipn(state: &AppState, headers: &HeaderMap, query: &str) -> Response {
    match process(
        state,
        crate::payments::Provider::Vnpay,
        headers,
        query,
        || verify::vnpay(&state.payments, query, now()),
    )
    .await
    {
        Handled::Refused(Refusal::Unreadable) => rsp("04", "Invalid amount"),
        Handled::Refused(_) => rsp("97", "Invalid signature"),
        Handled::NotStored | Handled::NotApplied => rsp("99", "Unknown error"),
        Handled::Done(
            None | Some(Outcome::Applied | Outcome::FailedPayment | Outcome::Ignored(_)),
        ) => rsp("00", "Confirm Success"),
        Handled::Done(Some(
            Outcome::Duplicate | Outcome::Review("already_paid" | "order_cancelled"),
        )) => rsp("02", "Order already confirmed"),
        Handled::Done(Some(Outcome::Review("unknown_attempt"))) => rsp("01", "Order not found"),
        Handled::Done(Some(Outcome::Review(_))) => rsp("04", "Invalid amount"),
    }
}

/// Where VNPAY sends the shopper back: display only (the IPN decides).
async fn vnpay_return(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    let params = verify::query_params(q.as_deref().unwrap_or(""));
    let valid = state
        .payments
        .vnpay
        .as_ref()
        .zip(params.get("vnp_SecureHash"))
        .is_some_and(|(cfg, given)| same_hex(given, &sign::vnpay_sign(&params, &cfg.secret)));
    let ok = valid && params.get("vnp_ResponseCode").map(String::as_str) == Some("00");
    let reference = params.get("vnp_TxnRef").cloned().unwrap_or_default();
    return_page(&state, valid, ok, &reference).await
}

async fn return_page(
    state: &AppState,
    valid: bool,
    ok: bool,
    reference: &str,
) -> Result<Response, AppError> {
    let code = sqlx::query_scalar!(
        "select g.code from payment p join order_group g using (order_group_id) where p.reference = $1",
        reference
    )
    .fetch_optional(&state.pool)
    .await?;
    Ok(render_page(
        "payments/return.html",
        &json!({ "valid": valid, "ok": ok, "code": code }),
    ))
}

// ---------- MoMo ----------

async fn momo_ipn_route(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = limited(&state, crate::payments::Provider::Momo, &ip).await {
        return r;
    }
    momo_ipn(&state, &headers, &body).await
}

/// MoMo wants 204 once the notification is recorded, whatever it said.
pub async fn momo_ipn(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let raw = String::from_utf8_lossy(body);
    match process(
        state,
        crate::payments::Provider::Momo,
        headers,
        &raw,
        || verify::momo(&state.payments, body, now()),
    )
    .await
    {
        Handled::Done(_) => StatusCode::NO_CONTENT.into_response(),
        Handled::Refused(Refusal::Unreadable) => StatusCode::BAD_REQUEST.into_response(),
        Handled::Refused(_) => StatusCode::UNAUTHORIZED.into_response(),
        Handled::NotStored | Handled::NotApplied => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[derive(Deserialize)]
struct MomoReturn {
    #[serde(rename = "orderId", default)]
    order_id: String,
    #[serde(rename = "resultCode", default)]
    result_code: Option<i64>,
}

async fn momo_return(
    State(state): State<AppState>,
    Query(q): Query<MomoReturn>,
) -> Result<Response, AppError> {
    // display only; the IPN decides
    return_page(&state, true, q.result_code == Some(0), &q.order_id).await
}

// ---------- Stripe ----------

async fn stripe_route(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = limited(&state, crate::payments::Provider::Stripe, &ip).await {
        return r;
    }
    stripe_webhook(&state, &headers, &body).await
}

/// Stripe's events: 2xx once kept and acted on, 400 for anything that does not verify.
pub async fn stripe_webhook(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let raw = String::from_utf8_lossy(body);
    match process(
        state,
        crate::payments::Provider::Stripe,
        headers,
        &raw,
        || verify::stripe(&state.payments, headers, body, now()),
    )
    .await
    {
        Handled::Done(_) => {
            (StatusCode::OK, axum::Json(json!({ "received": true }))).into_response()
        }
        Handled::Refused(r) => (StatusCode::BAD_REQUEST, r.as_str()).into_response(),
        Handled::NotStored | Handled::NotApplied => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

// ---------- starting a payment ----------

async fn start(
    State(state): State<AppState>,
    Path((code, method)): Path<(String, String)>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    CheckedForm { session, .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    if !session.data.orders.contains(&code) && !owns(&state, &session, &code).await? {
        return Err(AppError::NotFound);
    }
    let method = PaymentMethod::from_key(&method)
        .filter(|m| m.online() && state.payments.enabled().contains(m))
        .ok_or(AppError::NotFound)?;
    let to = begin(&state, &code, method, &ip).await?;
    Ok(Redirect::to(&to).into_response())
}

/// Starts paying order group `code` with `method` (online, enabled) and says where the shopper
/// goes next: the provider's page, or the order page when there is nothing left to pay.
pub async fn begin(
    state: &AppState,
    code: &str,
    method: PaymentMethod,
    ip: &str,
) -> Result<String, AppError> {
    let Some(attempt) = super::start_attempt(&state.pool, code, method).await? else {
        return Ok(format!("/orders/{code}"));
    };
    let (reference, amount) = (attempt.reference.clone(), attempt.amount);
    sqlx::query!(
        "update order_group set payment_method = $2 where code = $1",
        code,
        method.key()
    )
    .execute(&state.pool)
    .await?;
    let public = state.config.public_url();
    let to = match method {
        PaymentMethod::Vnpay => {
            let cfg = state.payments.vnpay.as_ref().expect("enabled");
            let created = attempt.created_at;
            let mut params: BTreeMap<String, String> = [
                ("vnp_Version", "2.1.0".to_string()),
                ("vnp_Command", "pay".into()),
                ("vnp_TmnCode", cfg.tmn_code.clone()),
                (
                    "vnp_Amount",
                    crate::domain::Vnd::new(amount).to_minor().to_string(),
                ),
                // querydr will name this attempt by its creation time
                ("vnp_CreateDate", sign::vnpay_date(created)),
                (
                    "vnp_ExpireDate",
                    sign::vnpay_date(created + time::Duration::minutes(15)),
                ),
                ("vnp_CurrCode", "VND".into()),
                ("vnp_IpAddr", ip.to_string()),
                ("vnp_Locale", "vn".into()),
                ("vnp_OrderInfo", format!("Thanh toan don hang {code}")),
                ("vnp_OrderType", "other".into()),
                ("vnp_ReturnUrl", format!("{public}/payments/vnpay/return")),
                ("vnp_TxnRef", reference.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let hash = sign::vnpay_sign(&params, &cfg.secret);
            params.insert("vnp_SecureHash".into(), hash.clone());
            format!(
                "{}?{}&vnp_SecureHash={hash}",
                cfg.url,
                sign::vnpay_hash_data(&params)
            )
        }
        PaymentMethod::Momo => momo_create(state, code, &reference, amount).await?,
        PaymentMethod::Card => stripe_create(state, code, &reference, amount).await?,
        _ => format!("/orders/{code}"),
    };
    Ok(to)
}

async fn owns(state: &AppState, session: &Session, code: &str) -> Result<bool, AppError> {
    let Some(uid) = session.data.user_id else {
        return Ok(false);
    };
    Ok(sqlx::query_scalar!(
        "select exists(select 1 from order_group where code = $1 and user_id = $2) as \"e!\"",
        code,
        uid
    )
    .fetch_one(&state.pool)
    .await?)
}

/// MoMo v2 create: a signed request; MoMo answers with the page (and QR) to pay on.
async fn momo_create(
    state: &AppState,
    code: &str,
    reference: &str,
    amount: i64,
) -> Result<String, AppError> {
    let cfg = state.payments.momo.as_ref().expect("enabled");
    let public = state.config.public_url();
    let ipn = format!("{public}/payments/momo/ipn");
    let redirect = format!("{public}/payments/momo/return");
    let info = format!("Thanh toan don hang {code}");
    let request_id = format!("{reference}R");
    let fields = sign::MomoCreate {
        access_key: &cfg.access_key,
        amount,
        extra_data: "",
        ipn_url: &ipn,
        order_id: reference,
        order_info: &info,
        partner_code: &cfg.partner_code,
        redirect_url: &redirect,
        request_id: &request_id,
        request_type: "captureWallet",
    };
    let signature = sign::hmac_sha256_hex(
        cfg.secret_key.as_bytes(),
        sign::momo_create_raw(&fields).as_bytes(),
    );
    let body = json!({
        "partnerCode": cfg.partner_code, "requestId": request_id, "amount": amount, "orderId": reference,
        "orderInfo": info, "redirectUrl": redirect, "ipnUrl": ipn, "requestType": "captureWallet",
        "extraData": "", "lang": "vi", "signature": signature,
    });
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let answer: Value = client
        .post(format!(
            "{}/v2/gateway/api/create",
            cfg.endpoint.trim_end_matches('/')
        ))
        .json(&body)
        .send()
        .await
        .map_err(|e| AppError::Unavailable(format!("momo: {e}")))?
        .json()
        .await
        .map_err(|e| AppError::Unavailable(format!("momo: {e}")))?;
    match (answer["resultCode"].as_i64(), answer["payUrl"].as_str()) {
        (Some(0), Some(url)) => Ok(url.to_string()),
        _ => Err(AppError::bad(
            "momo_refused",
            "MoMo chưa nhận yêu cầu thanh toán. Vui lòng thử lại hoặc chọn cách thanh toán khác.",
        )),
    }
}

/// A Stripe Checkout Session in VND (zero-decimal), with a per-attempt idempotency key.
async fn stripe_create(
    state: &AppState,
    code: &str,
    reference: &str,
    amount: i64,
) -> Result<String, AppError> {
    use stripe::StripeRequest;
    let cfg = state.payments.stripe.as_ref().expect("enabled");
    let public = state.config.public_url();
    let client = cfg.client().map_err(AppError::Internal)?;
    let mut price = stripe_checkout::checkout_session::CreateCheckoutSessionLineItemsPriceData::new(
        stripe_types::Currency::VND,
    );
    price.unit_amount = Some(amount);
    price.product_data = Some(stripe_checkout::checkout_session::ProductData::new(
        format!("Đơn hàng {code}"),
    ));
    let mut item = stripe_checkout::checkout_session::CreateCheckoutSessionLineItems::new();
    item.price_data = Some(price);
    item.quantity = Some(1);
    let key = stripe::IdempotencyKey::new(format!("checkout:{reference}"))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let session = stripe_checkout::checkout_session::CreateCheckoutSession::new()
        .mode(stripe_checkout::CheckoutSessionMode::Payment)
        .line_items(vec![item])
        .client_reference_id(reference)
        .success_url(format!("{public}/orders/{code}"))
        .cancel_url(format!("{public}/orders/{code}"))
        .customize()
        .request_strategy(stripe::RequestStrategy::Idempotent(key))
        .send(&client)
        .await
        .map_err(|e| AppError::Unavailable(stripe_error(&e)))?;
    // reconciliation asks Stripe about the session by its id
    sqlx::query!(
        "update payment set provider_ref = $2 where reference = $1",
        reference,
        session.id.as_str()
    )
    .execute(&state.pool)
    .await?;
    session
        .url
        .ok_or_else(|| AppError::Unavailable("stripe: no checkout url".into()))
}

/// One line for a Stripe error (the client's own text spreads the whole error object over lines).
pub(crate) fn stripe_error(e: &stripe::StripeError) -> String {
    match e {
        stripe::StripeError::Stripe(api, status) => format!(
            "Stripe answered {status}: {}",
            api.message.as_deref().unwrap_or("no message")
        ),
        other => format!("Stripe: {other}"),
    }
}

// ---------- the order page's poll ----------

async fn status(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    if !session.data.orders.contains(&code) && !owns(&state, &session, &code).await? {
        return Err(AppError::NotFound);
    }
    let statuses = sqlx::query_scalar!(
        r#"select o.status as "status: crate::orders::Status" from shop_order o join order_group g using (order_group_id) where g.code = $1"#,
        code
    )
    .fetch_all(&state.pool)
    .await?;
    let waiting = !statuses.is_empty()
        && statuses
            .iter()
            .all(|s| *s == crate::orders::Status::PendingPayment);
    Ok(axum::Json(json!({ "waiting_for_payment": waiting, "statuses": statuses })).into_response())
}

// ---------- staff review queue ----------

#[derive(Deserialize)]
struct QueueQuery {
    /// what the last action did, said back to the person who did it
    done: Option<String>,
    code: Option<String>,
}

async fn review_queue(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<QueueQuery>,
) -> Result<Response, AppError> {
    let rows: Vec<Value> = sqlx::query!(
        r#"select e.payment_event_id, e.provider as "provider: super::Provider", e.received_at, e.amount, e.review_reason, e.provider_tx_id,
                  g.code as "code?", g.grand_total as "grand_total?", e.body,
                  ($1::smallint is not null and exists (select 1 from shop_order o join producer pr using (producer_id)
                        where o.order_group_id = e.order_group_id and pr.province_code <> $1)) as "national_only!"
           from payment_event e left join order_group g using (order_group_id)
           where e.outcome = 'review' and e.resolved_at is null
             and ($1::smallint is null
                  or exists (select 1 from shop_order o join producer pr using (producer_id)
                             where o.order_group_id = e.order_group_id and pr.province_code = $1))
           order by e.received_at limit 200"#,
        staff.province
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| {
        json!({
            "id": r.payment_event_id, "provider": r.provider, "received_at": r.received_at, "amount": r.amount,
            "reason": super::review_label(r.review_reason.as_deref().unwrap_or("")), "tx": r.provider_tx_id,
            "code": r.code, "grand_total": r.grand_total, "body": r.body.chars().take(400).collect::<String>(),
            "facts": super::facts(r.provider, &r.body), "too_low": r.review_reason.as_deref() == Some("amount_too_low"),
            "national_only": r.national_only,
        })
    })
    .collect();
    let code = q
        .code
        .filter(|c| c.len() == 12 && c.chars().all(|c| c.is_ascii_alphanumeric()));
    let done = match (q.done.as_deref(), code) {
        (Some("applied"), Some(c)) => Some(format!(
            "Đã áp dụng khoản tiền vào đơn {c}: đơn chuyển sang đã thanh toán và người bán được báo."
        )),
        (Some("refunded"), _) => {
            Some("Đã ghi nhận: khoản tiền đã được hoàn ngoài hệ thống.".to_string())
        }
        (Some("dismissed"), _) => Some("Đã ghi nhận: bỏ qua khoản này.".to_string()),
        _ => None,
    };
    let page = json!({
        "csrf": session.data.csrf, "events": rows, "done": done,
        "staff": staff.view(&state),
    });
    Ok(render_page("staff/payments.html", &page))
}

#[derive(Deserialize)]
struct ResolveForm {
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    note: String,
}

async fn resolve(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ResolveForm>,
) -> Result<Response, AppError> {
    let resolution = match form.resolution.as_str() {
        r @ ("applied" | "refunded" | "dismissed") => r,
        _ => return Err(AppError::bad("bad_resolution", "Vui lòng chọn cách xử lý.")),
    };
    if form.note.trim().chars().count() < 5 {
        return Err(AppError::bad(
            "note_required",
            "Vui lòng ghi chú cách xử lý (ít nhất 5 ký tự). Chưa có gì thay đổi.",
        ));
    }
    // in scope: national staff everything; province staff only money whose every order is in
    // their province (a group spanning provinces, or money of no known order, is national staff's)
    let visible = sqlx::query_scalar!(
        r#"select exists(select 1 from payment_event e where e.payment_event_id = $1 and ($2::smallint is null
             or (exists (select 1 from shop_order o where o.order_group_id = e.order_group_id)
                 and not exists (select 1 from shop_order o join producer pr using (producer_id)
                                 where o.order_group_id = e.order_group_id and pr.province_code <> $2)))) as "e!""#,
        id,
        staff.province
    )
    .fetch_one(&state.pool)
    .await?;
    if !visible {
        return Err(AppError::NotFound);
    }
    match super::resolve(
        &state.pool,
        id,
        staff.user.user_id,
        resolution,
        form.note.trim(),
    )
    .await?
    {
        Ok(()) => {
            let code = sqlx::query_scalar!(
                "select g.code from payment_event e join order_group g using (order_group_id) where e.payment_event_id = $1",
                id
            )
            .fetch_optional(&state.pool)
            .await?
            .unwrap_or_default();
            Ok(
                Redirect::to(&format!("/staff/payments?done={resolution}&code={code}"))
                    .into_response(),
            )
        }
        Err(message) => Err(AppError::bad(
            "cannot_resolve",
            format!("{message} Chưa có gì thay đổi."),
        )),
    }
}
