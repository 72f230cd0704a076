//! Sandbox mode (`PAYMENT_SANDBOX=1`, on for the demo): a simulated page for each provider with
//! "Pay", "Cancel" and "Pay the wrong amount", which sends the app the callback that provider
//! would send, signed with the provider's real algorithm and the configured test secret. The
//! callbacks go through exactly the handlers the real providers reach. Off, these routes are 404.
//!
//! The gateways also remember each transaction (in Redis, shared by every instance) and answer
//! the status queries reconciliation asks (VNPAY querydr, MoMo query, Stripe's session), so the
//! button "pay, but the notification is lost" shows the order turning paid without a callback.

use super::http::{casso, momo_ipn, now, sepay, stripe_webhook, vnpay_ipn};
use super::sign;
use crate::error::AppError;
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sandbox/bank/{code}", get(bank_page).post(bank_pay))
        .route("/sandbox/vnpay", get(vnpay_page).post(vnpay_pay))
        .route(
            "/sandbox/vnpay/merchant_webapi/api/transaction",
            post(vnpay_query),
        )
        .route("/sandbox/momo/v2/gateway/api/create", post(momo_create))
        .route("/sandbox/momo/v2/gateway/api/query", post(momo_query))
        .route("/sandbox/momo/pay", get(momo_page).post(momo_pay))
        .route("/sandbox/stripe/v1/checkout/sessions", post(stripe_create))
        .route(
            "/sandbox/stripe/v1/checkout/sessions/{id}",
            get(stripe_retrieve),
        )
        .route("/sandbox/stripe/pay", get(stripe_page).post(stripe_pay))
}

/// Where a simulated gateway may send the shopper back: only this site's own return routes
/// (the VNPAY and MoMo return pages, an order page). Anything else goes home, so the sandbox is
/// no open redirect.
fn own_return(state: &AppState, url: &str) -> String {
    let public = state.config.public_url();
    let path = url.strip_prefix(public.as_str()).unwrap_or(url);
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let order_page = route
        .strip_prefix("/orders/")
        .is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()));
    let ok = matches!(route, "/payments/vnpay/return" | "/payments/momo/return") || order_page;
    let safe_query = query
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"=&_-.%+".contains(&b));
    match (ok && safe_query, query.is_empty()) {
        (true, true) => route.to_string(),
        (true, false) => format!("{route}?{query}"),
        (false, _) => "/".to_string(),
    }
}

fn on(state: &AppState) -> Result<(), AppError> {
    if state.payments.sandbox {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

fn page(
    title: &str,
    provider: &str,
    amount: i64,
    action: &str,
    fields: BTreeMap<String, String>,
    note: &str,
) -> Response {
    render_page(
        "payments/sandbox.html",
        &json!({ "title": title, "provider": provider, "amount": amount, "action": action, "fields": fields, "note": note }),
    )
}

/// What a simulated gateway knows about a transaction, kept a week (the sandbox's own state).
async fn remember(
    state: &AppState,
    provider: &str,
    id: &str,
    what: &serde_json::Value,
) -> Result<(), AppError> {
    let mut redis = state.redis.clone();
    redis::cmd("SET")
        .arg(format!("ocop:sandbox:{provider}:{id}"))
        .arg(what.to_string())
        .arg("EX")
        .arg(7 * 24 * 3600)
        .query_async::<()>(&mut redis)
        .await
        .map_err(|e| AppError::Unavailable(format!("sandbox state: {e}")))
}

pub async fn recall(
    state: &AppState,
    provider: &str,
    id: &str,
) -> Result<Option<serde_json::Value>, AppError> {
    let mut redis = state.redis.clone();
    let kept: Option<String> = redis::cmd("GET")
        .arg(format!("ocop:sandbox:{provider}:{id}"))
        .query_async(&mut redis)
        .await
        .map_err(|e| AppError::Unavailable(format!("sandbox state: {e}")))?;
    Ok(kept.and_then(|k| serde_json::from_str(&k).ok()))
}

/// Which button: the amount the simulated provider reports. "lost" pays but sends no callback.
fn reported(choice: &str, amount: i64) -> (bool, i64) {
    match choice {
        "pay" | "lost" => (true, amount),
        "wrong" => (true, (amount - 10_000).max(1)),
        _ => (false, amount),
    }
}

// ---------- a bank transfer, reported by SePay or Casso ----------

async fn bank_page(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    on(&state)?;
    let amount = sqlx::query_scalar!("select grand_total from order_group where code = $1", code)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(AppError::NotFound)?;
    let fields = [("code".to_string(), code.clone())].into();
    Ok(page(
        "Ngân hàng (giả lập): chuyển khoản",
        "bank",
        amount,
        &format!("/sandbox/bank/{code}"),
        fields,
        &format!(
            "Nội dung chuyển khoản: {code}. Giao dịch được báo về sàn qua webhook SePay hoặc Casso, ký bằng thuật toán thật của nhà cung cấp."
        ),
    ))
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    choice: String,
    #[serde(default)]
    via: String,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

async fn bank_pay(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Form(c): Form<Choice>,
) -> Result<Response, AppError> {
    on(&state)?;
    let amount = sqlx::query_scalar!("select grand_total from order_group where code = $1", code)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(AppError::NotFound)?;
    if c.choice == "cancel" {
        return Ok(Redirect::to(&format!("/orders/{code}")).into_response());
    }
    let (_, amount) = reported(&c.choice, amount);
    let account = state
        .payments
        .bank
        .as_ref()
        .map(|b| b.number.clone())
        .unwrap_or_default();
    let mut id_bytes = [0u8; 4];
    getrandom::fill(&mut id_bytes).expect("randomness");
    let tx = (u32::from_be_bytes(id_bytes) % 90_000_000 + 10_000_000) as i64;
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let answer = if c.via == "casso" {
        let body = json!({ "error": 0, "data": {
            "id": tx, "reference": format!("FT{tx}"), "description": format!("{code} chuyen tien mua hang"), "amount": amount,
            "runningBalance": 25_000_000, "transactionDateTime": "2026-11-24 10:00:00", "accountNumber": account,
            "bankName": "Vietcombank", "bankAbbreviation": "VCB", "virtualAccountNumber": "", "virtualAccountName": "",
            "counterAccountName": "NGUYEN VAN A", "counterAccountNumber": "0123456789", "counterAccountBankId": "970415",
            "counterAccountBankName": "VietinBank" } });
        let t = (now() * 1000).to_string();
        let key = state.payments.casso_key.clone().unwrap_or_default();
        let signature = format!("t={t},v1={}", sign::casso_signature(&key, &t, &body));
        headers.insert(
            "x-casso-signature",
            HeaderValue::from_str(&signature).expect("ascii"),
        );
        casso(&state, &headers, body.to_string().as_bytes()).await
    } else {
        let body = json!({
            "id": tx, "gateway": "Vietcombank", "transactionDate": "2026-11-24 10:00:00", "accountNumber": account,
            "subAccount": null, "code": null, "content": format!("{code} chuyen tien mua hang"), "transferType": "in",
            "transferAmount": amount, "accumulated": 25_000_000, "referenceCode": format!("FT{tx}"),
            "description": format!("BankAPINotify {code}") })
        .to_string();
        let t = now().to_string();
        let secret = state.payments.sepay_secret.clone().unwrap_or_default();
        headers.insert(
            "x-sepay-timestamp",
            HeaderValue::from_str(&t).expect("digits"),
        );
        headers.insert(
            "x-sepay-signature",
            HeaderValue::from_str(&sign::sepay_signature(&secret, &t, body.as_bytes()))
                .expect("ascii"),
        );
        sepay(&state, &headers, body.as_bytes()).await
    };
    if !answer.status().is_success() {
        return Err(AppError::Internal(format!(
            "sandbox bank callback refused: {}",
            answer.status()
        )));
    }
    Ok(Redirect::to(&format!("/orders/{code}")).into_response())
}

// ---------- VNPAY ----------

async fn vnpay_page(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    on(&state)?;
    let params: BTreeMap<String, String> =
        form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let cfg = state.payments.vnpay.as_ref().ok_or(AppError::NotFound)?;
    // what VNPAY checks first: the merchant's signature
    if !params
        .get("vnp_SecureHash")
        .is_some_and(|h| sign::same_hex(h, &sign::vnpay_sign(&params, &cfg.secret)))
    {
        return Err(AppError::bad(
            "vnpay_signature",
            "VNPAY (giả lập): chữ ký yêu cầu không hợp lệ.",
        ));
    }
    let amount = params
        .get("vnp_Amount")
        .and_then(|a| a.parse::<i64>().ok())
        .and_then(crate::domain::Vnd::from_minor)
        .map_or(0, crate::domain::Vnd::amount);
    Ok(page(
        "VNPAY (giả lập)",
        "vnpay",
        amount,
        "/sandbox/vnpay",
        params,
        "Cổng VNPAY giả lập: kết quả được gửi về sàn qua IPN, ký HMAC-SHA512 như VNPAY.",
    ))
}

async fn vnpay_pay(
    State(state): State<AppState>,
    Form(c): Form<Choice>,
) -> Result<Response, AppError> {
    on(&state)?;
    let cfg = state.payments.vnpay.clone().ok_or(AppError::NotFound)?;
    let get = |k: &str| c.rest.get(k).cloned().unwrap_or_default();
    let amount = get("vnp_Amount")
        .parse::<i64>()
        .ok()
        .and_then(crate::domain::Vnd::from_minor)
        .map_or(0, crate::domain::Vnd::amount);
    let (paid, amount) = reported(&c.choice, amount);
    let now = time::OffsetDateTime::now_utc().to_offset(crate::domain::VN_OFFSET);
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    let mut tx = [0u8; 4];
    getrandom::fill(&mut tx).expect("randomness");
    let mut back: BTreeMap<String, String> = [
        (
            "vnp_Amount",
            crate::domain::Vnd::new(amount).to_minor().to_string(),
        ),
        ("vnp_BankCode", "NCB".into()),
        ("vnp_BankTranNo", format!("VNP{}", u32::from_be_bytes(tx))),
        ("vnp_CardType", "ATM".into()),
        ("vnp_OrderInfo", get("vnp_OrderInfo")),
        ("vnp_PayDate", now.format(fmt).expect("formats")),
        ("vnp_ResponseCode", if paid { "00" } else { "24" }.into()),
        ("vnp_TmnCode", cfg.tmn_code.clone()),
        (
            "vnp_TransactionNo",
            (u32::from_be_bytes(tx) % 90_000_000 + 10_000_000).to_string(),
        ),
        (
            "vnp_TransactionStatus",
            if paid { "00" } else { "02" }.into(),
        ),
        ("vnp_TxnRef", get("vnp_TxnRef")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    remember(&state, "vnpay", &get("vnp_TxnRef"), &json!(back)).await?;
    let hash = sign::vnpay_sign(&back, &cfg.secret);
    back.insert("vnp_SecureHash".into(), hash.clone());
    let query = format!("{}&vnp_SecureHash={hash}", sign::vnpay_hash_data(&back));
    // server to server first (the IPN is the source of truth), then the shopper's browser
    if c.choice != "lost" {
        let answer = vnpay_ipn(&state, &HeaderMap::new(), &query).await;
        if !answer.status().is_success() {
            return Err(AppError::Internal("sandbox VNPAY IPN refused".into()));
        }
    }
    let back = own_return(&state, &get("vnp_ReturnUrl"));
    Ok(Redirect::to(&format!("{back}?{query}")).into_response())
}

/// Stands in for VNPAY's merchant API, `vnp_Command=querydr` only: the transaction as the
/// simulated gateway recorded it, signed over VNPAY's answer fields.
async fn vnpay_query(
    State(state): State<AppState>,
    axum::Json(q): axum::Json<serde_json::Value>,
) -> Result<Response, AppError> {
    on(&state)?;
    let cfg = state.payments.vnpay.clone().ok_or(AppError::NotFound)?;
    let field = |k: &str| q[k].as_str().unwrap_or("").to_string();
    let expected = sign::vnpay_pipe_sign(&sign::VNPAY_QUERY_REQUEST_FIELDS, &q, &cfg.secret);
    if !sign::same_hex(&field("vnp_SecureHash"), &expected) {
        return Ok(axum::Json(
            json!({ "vnp_ResponseCode": "97", "vnp_Message": "Invalid Checksum" }),
        )
        .into_response());
    }
    if field("vnp_Command") != "querydr" || field("vnp_TmnCode") != cfg.tmn_code {
        return Ok(
            axum::Json(json!({ "vnp_ResponseCode": "99", "vnp_Message": "Unsupported" }))
                .into_response(),
        );
    }
    let Some(tx) = recall(&state, "vnpay", &field("vnp_TxnRef")).await? else {
        return Ok(axum::Json(
            json!({ "vnp_ResponseCode": "91", "vnp_Message": "Transaction not found", "vnp_TxnRef": field("vnp_TxnRef") }),
        )
        .into_response());
    };
    let t = |k: &str| tx[k].clone();
    let mut answer = json!({
        "vnp_ResponseId": field("vnp_RequestId"), "vnp_Command": "querydr", "vnp_ResponseCode": "00",
        "vnp_Message": "QueryDR Success", "vnp_TmnCode": cfg.tmn_code, "vnp_TxnRef": t("vnp_TxnRef"),
        "vnp_Amount": t("vnp_Amount"), "vnp_OrderInfo": t("vnp_OrderInfo"), "vnp_BankCode": t("vnp_BankCode"),
        "vnp_PayDate": t("vnp_PayDate"), "vnp_TransactionNo": t("vnp_TransactionNo"), "vnp_TransactionType": "01",
        "vnp_TransactionStatus": t("vnp_TransactionStatus"),
    });
    answer["vnp_SecureHash"] =
        sign::vnpay_pipe_sign(&sign::VNPAY_QUERY_RESPONSE_FIELDS, &answer, &cfg.secret).into();
    Ok(axum::Json(answer).into_response())
}

// ---------- MoMo ----------

async fn momo_create(State(state): State<AppState>, body: Bytes) -> Result<Response, AppError> {
    on(&state)?;
    let cfg = state.payments.momo.clone().ok_or(AppError::NotFound)?;
    let req: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| AppError::bad("bad_json", "bad json"))?;
    let s = |k: &str| req[k].as_str().unwrap_or("").to_string();
    let amount = req["amount"].as_i64().unwrap_or(0);
    let fields = sign::MomoCreate {
        access_key: &cfg.access_key,
        amount,
        extra_data: &s("extraData"),
        ipn_url: &s("ipnUrl"),
        order_id: &s("orderId"),
        order_info: &s("orderInfo"),
        partner_code: &s("partnerCode"),
        redirect_url: &s("redirectUrl"),
        request_id: &s("requestId"),
        request_type: &s("requestType"),
    };
    let expected = sign::hmac_sha256_hex(
        cfg.secret_key.as_bytes(),
        sign::momo_create_raw(&fields).as_bytes(),
    );
    if !sign::same_hex(&s("signature"), &expected) {
        // MoMo's answer to a bad signature
        return Ok(axum::Json(
            json!({ "resultCode": 13, "message": "Merchant authentication failed" }),
        )
        .into_response());
    }
    remember(
        &state,
        "momo",
        &s("orderId"),
        &json!({ "partnerCode": s("partnerCode"), "orderId": s("orderId"), "requestId": s("requestId"),
                 "amount": amount, "transId": 0, "resultCode": 1000, "message": "Giao dịch đã được khởi tạo, chờ người dùng xác nhận thanh toán.",
                 "payType": "", "responseTime": now() * 1000, "extraData": "" }),
    )
    .await?;
    let pay_url = format!(
        "{}/sandbox/momo/pay?{}",
        state.config.public_url(),
        form_urlencoded::Serializer::new(String::new())
            .append_pair("orderId", &s("orderId"))
            .append_pair("requestId", &s("requestId"))
            .append_pair("amount", &amount.to_string())
            .append_pair("orderInfo", &s("orderInfo"))
            .append_pair("redirectUrl", &s("redirectUrl"))
            .finish()
    );
    Ok(axum::Json(json!({
        "partnerCode": s("partnerCode"), "orderId": s("orderId"), "requestId": s("requestId"), "amount": amount,
        "responseTime": now() * 1000, "message": "Thành công.", "resultCode": 0, "payUrl": pay_url,
    }))
    .into_response())
}

/// Stands in for MoMo's `/v2/gateway/api/query`: the order as the simulated wallet left it.
async fn momo_query(
    State(state): State<AppState>,
    axum::Json(q): axum::Json<serde_json::Value>,
) -> Result<Response, AppError> {
    on(&state)?;
    let cfg = state.payments.momo.clone().ok_or(AppError::NotFound)?;
    let field = |k: &str| q[k].as_str().unwrap_or("").to_string();
    let expected = sign::hmac_sha256_hex(
        cfg.secret_key.as_bytes(),
        sign::momo_query_raw(
            &cfg.access_key,
            &field("orderId"),
            &field("partnerCode"),
            &field("requestId"),
        )
        .as_bytes(),
    );
    if !sign::same_hex(&field("signature"), &expected) || field("partnerCode") != cfg.partner_code {
        return Ok(axum::Json(
            json!({ "resultCode": 13, "message": "Merchant authentication failed" }),
        )
        .into_response());
    }
    let Some(mut tx) = recall(&state, "momo", &field("orderId")).await? else {
        return Ok(axum::Json(json!({
            "partnerCode": cfg.partner_code, "orderId": field("orderId"), "requestId": field("requestId"),
            "resultCode": 42, "message": "orderId không tồn tại.", "responseTime": now() * 1000,
        }))
        .into_response());
    };
    tx["requestId"] = field("requestId").into();
    tx["refundTrans"] = json!([]);
    tx["lastUpdated"] = tx["responseTime"].clone();
    tx["responseTime"] = (now() * 1000).into();
    if let Some(o) = tx.as_object_mut() {
        // the IPN's fields that a query answer does not carry
        o.remove("signature");
        o.remove("orderType");
        o.remove("orderInfo");
    }
    Ok(axum::Json(tx).into_response())
}

async fn momo_page(
    State(state): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    gateway_page(
        &state,
        q,
        "Ví MoMo (giả lập)",
        "momo",
        "Ví MoMo giả lập: kết quả được gửi về sàn qua IPN, ký HMAC-SHA256 như MoMo.",
    )
}

/// A gateway's page: the fields it was sent come back with the button pressed.
fn gateway_page(
    state: &AppState,
    q: BTreeMap<String, String>,
    title: &str,
    provider: &str,
    note: &str,
) -> Result<Response, AppError> {
    on(state)?;
    let amount = q.get("amount").and_then(|a| a.parse().ok()).unwrap_or(0);
    Ok(page(
        title,
        provider,
        amount,
        &format!("/sandbox/{provider}/pay"),
        q,
        note,
    ))
}

async fn momo_pay(
    State(state): State<AppState>,
    Form(c): Form<Choice>,
) -> Result<Response, AppError> {
    on(&state)?;
    let cfg = state.payments.momo.clone().ok_or(AppError::NotFound)?;
    let get = |k: &str| c.rest.get(k).cloned().unwrap_or_default();
    let (paid, amount) = reported(&c.choice, get("amount").parse().unwrap_or(0));
    let mut tx = [0u8; 4];
    getrandom::fill(&mut tx).expect("randomness");
    let mut result = sign::MomoResult {
        partner_code: cfg.partner_code.clone(),
        order_id: get("orderId"),
        request_id: get("requestId"),
        amount,
        order_info: get("orderInfo"),
        order_type: "momo_wallet".into(),
        trans_id: u32::from_be_bytes(tx) as i64 + 4_000_000_000,
        result_code: if paid { 0 } else { 1006 },
        message: if paid {
            "Successful."
        } else {
            "Transaction denied by user."
        }
        .into(),
        pay_type: "qr".into(),
        response_time: now() * 1000,
        extra_data: String::new(),
        signature: String::new(),
    };
    result.signature = sign::hmac_sha256_hex(
        cfg.secret_key.as_bytes(),
        sign::momo_result_raw(&cfg.access_key, &result).as_bytes(),
    );
    let body = serde_json::to_string(&result).expect("serialises");
    remember(
        &state,
        "momo",
        &result.order_id,
        &serde_json::from_str(&body).expect("json"),
    )
    .await?;
    if c.choice != "lost" {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let answer = momo_ipn(&state, &headers, body.as_bytes()).await;
        if answer.status() != StatusCode::NO_CONTENT {
            return Err(AppError::Internal("sandbox MoMo IPN refused".into()));
        }
    }
    Ok(Redirect::to(&format!(
        "{}?orderId={}&resultCode={}",
        own_return(&state, &get("redirectUrl")),
        result.order_id,
        result.result_code
    ))
    .into_response())
}

// ---------- Stripe ----------

/// Stands in for `POST /v1/checkout/sessions` (the async-stripe client is pointed here).
async fn stripe_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    on(&state)?;
    if !stripe_authorised(&state, &headers)? {
        return Ok(stripe_refusal(
            StatusCode::UNAUTHORIZED,
            "Invalid API Key provided",
        ));
    }
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let reference = form.get("client_reference_id").cloned().unwrap_or_default();
    let amount: i64 = form
        .get("line_items[0][price_data][unit_amount]")
        .and_then(|a| a.parse().ok())
        .unwrap_or(0);
    let id = format!("cs_test_{reference}");
    let url = format!(
        "{}/sandbox/stripe/pay?{}",
        state.config.public_url(),
        form_urlencoded::Serializer::new(String::new())
            .append_pair("session", &id)
            .append_pair("reference", &reference)
            .append_pair("amount", &amount.to_string())
            .append_pair(
                "success",
                form.get("success_url").map(String::as_str).unwrap_or("/")
            )
            .append_pair(
                "cancel",
                form.get("cancel_url").map(String::as_str).unwrap_or("/")
            )
            .finish()
    );
    let session = json!({
        "id": id, "object": "checkout.session", "amount_total": amount, "currency": "vnd",
        "automatic_tax": { "enabled": false }, "created": now(), "custom_fields": [], "custom_text": {},
        "expires_at": now() + 1800, "livemode": false, "mode": "payment", "payment_method_types": ["card"],
        "payment_status": "unpaid", "shipping_options": [], "client_reference_id": reference, "status": "open", "url": url,
    });
    remember(&state, "stripe", &id, &session).await?;
    Ok(axum::Json(session).into_response())
}

fn stripe_authorised(state: &AppState, headers: &HeaderMap) -> Result<bool, AppError> {
    let cfg = state.payments.stripe.as_ref().ok_or(AppError::NotFound)?;
    Ok(headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a == format!("Bearer {}", cfg.secret_key)))
}

fn stripe_refusal(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "type": "invalid_request_error", "message": message } })),
    )
        .into_response()
}

/// Stands in for `GET /v1/checkout/sessions/{id}`: the session as the sandbox last left it.
async fn stripe_retrieve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    on(&state)?;
    if !stripe_authorised(&state, &headers)? {
        return Ok(stripe_refusal(
            StatusCode::UNAUTHORIZED,
            "Invalid API Key provided",
        ));
    }
    Ok(match recall(&state, "stripe", &id).await? {
        Some(session) => axum::Json(session).into_response(),
        None => stripe_refusal(
            StatusCode::NOT_FOUND,
            &format!("No such checkout.session: '{id}'"),
        ),
    })
}

async fn stripe_page(
    State(state): State<AppState>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    gateway_page(
        &state,
        q,
        "Thẻ quốc tế qua Stripe (giả lập)",
        "stripe",
        "Stripe Checkout giả lập: kết quả được gửi về sàn qua webhook, ký theo Stripe-Signature.",
    )
}

async fn stripe_pay(
    State(state): State<AppState>,
    Form(c): Form<Choice>,
) -> Result<Response, AppError> {
    on(&state)?;
    let cfg = state.payments.stripe.clone().ok_or(AppError::NotFound)?;
    let get = |k: &str| c.rest.get(k).cloned().unwrap_or_default();
    let (paid, amount) = reported(&c.choice, get("amount").parse().unwrap_or(0));
    let mut session = recall(&state, "stripe", &get("session"))
        .await?
        .ok_or(AppError::NotFound)?;
    session["amount_total"] = amount.into();
    session["payment_status"] = if paid { "paid" } else { "unpaid" }.into();
    session["status"] = if paid { "complete" } else { "expired" }.into();
    remember(&state, "stripe", &get("session"), &session).await?;
    if c.choice == "lost" {
        return Ok(Redirect::to(&own_return(&state, &get("success"))).into_response());
    }
    let event_id = format!("evt_{}", &crate::crypto::random_token()[..24]);
    let body = json!({
        "id": event_id, "object": "event", "type": if paid { "checkout.session.completed" } else { "checkout.session.expired" },
        "created": now(),
        "data": { "object": session },
    })
    .to_string();
    let t = now();
    let mut headers = HeaderMap::new();
    headers.insert(
        "stripe-signature",
        HeaderValue::from_str(&format!(
            "t={t},v1={}",
            sign::stripe_signature(&cfg.webhook_secret, t, body.as_bytes())
        ))
        .expect("ascii"),
    );
    let answer = stripe_webhook(&state, &headers, body.as_bytes()).await;
    if !answer.status().is_success() {
        return Err(AppError::Internal("sandbox Stripe webhook refused".into()));
    }
    let back = if paid { get("success") } else { get("cancel") };
    Ok(Redirect::to(&own_return(&state, &back)).into_response())
}
