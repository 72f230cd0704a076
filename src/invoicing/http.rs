//! Invoice pages: the producer's e-invoice account and its invoices (`/producer/invoices`), the
//! printable receipt of an order group (everyone) or of one part (the producer's sales receipt),
//! and the sandbox provider's printed invoices.

use super::providers::{Credentials, ProviderId};
use super::views::{InvoiceView, receipt, views};
use crate::auth::{ProducerMember, Session};
use crate::domain::{TaxCode, Vnd};
use crate::error::AppError;
use crate::forms::{CheckedForm, Id};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/producer/invoices", get(producer_invoices))
        .route("/producer/invoices/account", post(save_account))
        .route("/producer/invoices/{id}/retry", post(retry))
        .route("/producer/invoices/{id}/pdf", get(producer_pdf))
        .route("/producer/orders/{id}/receipt", get(producer_receipt))
        .route("/sandbox/einvoice/{code}", get(sandbox_invoice))
}

#[derive(Serialize)]
struct AccountView {
    provider: &'static str,
    provider_name: &'static str,
    url: String,
    pattern: String,
    series: String,
    seller_tax_code: String,
    vat_rate: Option<i16>,
    cash_register: bool,
    refused_reason: Option<String>,
    refused_at: Option<OffsetDateTime>,
}

#[derive(Serialize)]
struct ProviderChoice {
    key: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct InvoicesPage<'a> {
    member: &'a ProducerMember,
    csrf: String,
    account: Option<AccountView>,
    providers: Vec<ProviderChoice>,
    farming_exempt: bool,
    tax_code: Option<String>,
    invoices: Vec<InvoiceView>,
    can_seal: bool,
    values: BTreeMap<String, String>,
    errors: BTreeMap<&'static str, String>,
    notice: Option<&'static str>,
}

#[derive(Deserialize, Default)]
struct PageQuery {
    ok: Option<String>,
}

fn providers(state: &AppState) -> Vec<ProviderChoice> {
    ProviderId::ALL
        .into_iter()
        .filter(|p| *p != ProviderId::Sandbox || state.config.invoice_sandbox)
        .map(|p| ProviderChoice {
            key: p.key(),
            name: p.name(),
        })
        .collect()
}

async fn page(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    values: BTreeMap<String, String>,
    errors: BTreeMap<&'static str, String>,
    notice: Option<&'static str>,
) -> Result<Response, AppError> {
    let account = sqlx::query!(
        r#"select provider as "provider: ProviderId", url, pattern, series, seller_tax_code, vat_rate,
                  cash_register, refused_reason, refused_at
           from einvoice_account where producer_id = $1"#,
        member.producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    .map(|a| AccountView {
        provider: a.provider.key(),
        provider_name: a.provider.name(),
        url: a.url,
        pattern: a.pattern,
        series: a.series,
        seller_tax_code: a.seller_tax_code,
        vat_rate: a.vat_rate,
        cash_register: a.cash_register,
        refused_reason: a.refused_reason,
        refused_at: a.refused_at,
    });
    let p = sqlx::query!(
        "select farming_exempt, tax_code from producer where producer_id = $1",
        member.producer_id
    )
    .fetch_one(&state.pool)
    .await?;
    let mut values = values;
    if values.is_empty() {
        // what is saved (never the passwords), or the producer's own tax code to start with
        match &account {
            Some(a) => {
                values.extend([
                    ("provider".to_string(), a.provider.to_string()),
                    ("pattern".into(), a.pattern.clone()),
                    ("series".into(), a.series.clone()),
                    ("seller_tax_code".into(), a.seller_tax_code.clone()),
                    ("url".into(), a.url.clone()),
                    (
                        "vat_rate".into(),
                        a.vat_rate.map_or("none".into(), |r| r.to_string()),
                    ),
                ]);
                if a.cash_register {
                    values.insert("cash_register".into(), "1".into());
                }
            }
            None => {
                values.insert(
                    "seller_tax_code".into(),
                    p.tax_code.clone().unwrap_or_default(),
                );
            }
        }
    }
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = InvoicesPage {
        member,
        csrf: session.data.csrf.clone(),
        account,
        providers: providers(state),
        farming_exempt: p.farming_exempt,
        tax_code: p.tax_code,
        invoices: views(state, None, Some(member.producer_id)).await?,
        can_seal: super::seal_key(state).is_some(),
        values,
        errors,
        notice,
    };
    Ok((status, render_page("producer/invoices.html", &body)).into_response())
}

async fn producer_invoices(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let notice = match q.ok.as_deref() {
        Some("account") => {
            Some("Đã lưu tài khoản hoá đơn điện tử. Hoá đơn đang chờ sẽ được xuất lại.")
        }
        Some("exempt") => Some("Đã lưu."),
        Some("retry") => Some("Sẽ thử xuất lại ngay."),
        _ => None,
    };
    page(
        &state,
        &member,
        &session,
        BTreeMap::new(),
        BTreeMap::new(),
        notice,
    )
    .await
}

/// Connects (or changes) the producer's e-invoice account; owners only. A blank password keeps
/// the one saved. Saving clears a refusal, so what waited is issued again.
async fn save_account(
    State(state): State<AppState>,
    member: ProducerMember,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    if !member.is_owner {
        return Err(AppError::Forbidden);
    }
    let get = |k: &str| {
        form.get(k)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    if form.contains_key("exempt_only") {
        let exempt = form.contains_key("farming_exempt");
        let mut tx =
            crate::audit::begin(&state.pool, member.user.user_id, "invoices.exempt", None).await?;
        sqlx::query!(
            "update producer set farming_exempt = $2 where producer_id = $1",
            member.producer_id,
            exempt
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Redirect::to("/producer/invoices?ok=exempt").into_response());
    }
    let mut errors = BTreeMap::new();
    let provider = ProviderId::from_key(&get("provider"))
        .filter(|p| *p != ProviderId::Sandbox || state.config.invoice_sandbox);
    if provider.is_none() {
        errors.insert(
            "provider",
            "Vui lòng chọn nhà cung cấp hoá đơn điện tử.".to_string(),
        );
    }
    let tax_code = TaxCode::parse(&get("seller_tax_code")).map_err(|m| {
        errors.insert("seller_tax_code", m.to_string());
    });
    let pattern = get("pattern");
    if !(1..=20).contains(&pattern.chars().count()) {
        errors.insert(
            "pattern",
            "Vui lòng nhập mẫu số hoá đơn (ví dụ 1/001 hoặc 1).".into(),
        );
    }
    let series = get("series");
    if !(1..=20).contains(&series.chars().count()) {
        errors.insert(
            "series",
            "Vui lòng nhập ký hiệu hoá đơn (ví dụ C26TAA).".into(),
        );
    }
    let vat_rate: Option<i16> = match get("vat_rate").as_str() {
        "" | "none" => None,
        r => match r.parse::<i16>() {
            Ok(v) if [0, 5, 8, 10].contains(&v) => Some(v),
            _ => {
                errors.insert("vat_rate", "Thuế suất GTGT chỉ là 0, 5, 8 hoặc 10%.".into());
                None
            }
        },
    };
    let url = get("url");
    if !url.is_empty() && !(url.starts_with("https://") || url.starts_with("http://")) {
        errors.insert("url", "Địa chỉ dịch vụ bắt đầu bằng https://".into());
    }
    if provider == Some(ProviderId::Vnpt) && url.is_empty() {
        errors.insert(
            "url",
            "VNPT cấp cho mỗi đơn vị một địa chỉ riêng: vui lòng nhập.".into(),
        );
    }
    let username = get("username");
    if username.is_empty() {
        errors.insert("username", "Vui lòng nhập tên đăng nhập.".into());
    }
    let Some(key) = super::seal_key(&state) else {
        return Err(AppError::Unavailable(
            "Máy chủ chưa đặt INVOICE_KEY nên chưa lưu được mật khẩu hoá đơn.".into(),
        ));
    };
    // a blank password keeps the saved one
    let saved: Option<Credentials> = sqlx::query_scalar!(
        "select sealed from einvoice_account where producer_id = $1",
        member.producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    .and_then(|s| key.open(&s))
    .and_then(|p| serde_json::from_slice(&p).ok());
    let keep = |field: &str, old: Option<String>| {
        let typed = get(field);
        if typed.is_empty() {
            old.unwrap_or_default()
        } else {
            typed
        }
    };
    let credentials = Credentials {
        username: username.clone(),
        password: keep("password", saved.as_ref().map(|c| c.password.clone())),
        app_id: get("app_id"),
        account: get("account"),
        account_password: keep(
            "account_password",
            saved.as_ref().map(|c| c.account_password.clone()),
        ),
    };
    if credentials.password.is_empty() {
        errors.insert("password", "Vui lòng nhập mật khẩu.".into());
    }
    if provider == Some(ProviderId::Misa) && credentials.app_id.is_empty() {
        errors.insert("app_id", "MISA cần mã ứng dụng (AppID) cấp cho sàn.".into());
    }
    if provider == Some(ProviderId::Vnpt)
        && (credentials.account.is_empty() || credentials.account_password.is_empty())
    {
        errors.insert(
            "account",
            "VNPT cần tài khoản và mật khẩu dịch vụ (Account, ACpass).".into(),
        );
    }
    let (Some(provider), Ok(tax_code), true) = (provider, tax_code, errors.is_empty()) else {
        let mut values: BTreeMap<String, String> = form.clone();
        values.remove("password");
        values.remove("account_password");
        values.remove("csrf");
        return page(&state, &member, &session, values, errors, None).await;
    };
    let sealed = key.seal(&serde_json::to_vec(&credentials).unwrap_or_default());
    let mut tx =
        crate::audit::begin(&state.pool, member.user.user_id, "invoices.account", None).await?;
    sqlx::query!(
        "insert into einvoice_account (producer_id, provider, url, pattern, series, seller_tax_code, vat_rate,
                                       cash_register, sealed)
         values ($1, $2, $3, $4, $5, $6, $7, $9, $8)
         on conflict (producer_id) do update set provider = excluded.provider, url = excluded.url,
             pattern = excluded.pattern, series = excluded.series, seller_tax_code = excluded.seller_tax_code,
             vat_rate = excluded.vat_rate, cash_register = excluded.cash_register, sealed = excluded.sealed,
             refused_at = null, refused_reason = null, updated_at = now()",
        member.producer_id,
        provider.key(),
        url,
        pattern,
        series,
        tax_code.as_str(),
        vat_rate,
        sealed,
        form.contains_key("cash_register")
    )
    .execute(&mut *tx)
    .await?;
    super::account_saved(&mut tx, member.producer_id).await?;
    tx.commit().await?;
    Ok(Redirect::to("/producer/invoices?ok=account").into_response())
}

/// Tries an invoice waiting on the provider now rather than at its next turn.
async fn retry(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let moved = sqlx::query!(
        "update invoice set next_try_at = now() where invoice_id = $1 and producer_id = $2 and state = 'pending'",
        id,
        member.producer_id
    )
    .execute(&state.pool)
    .await?
    .rows_affected();
    if moved == 0 {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/producer/invoices?ok=retry").into_response())
}

/// An invoice of this producer's (its own sales, or the marketplace's to it), as a PDF.
async fn producer_pdf(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
) -> Result<Response, AppError> {
    super::pdf(&state, id, super::Whose::Producer(member.producer_id)).await
}

/// The producer's sales receipt (phiếu bán hàng) for one part: what a producer without an
/// e-invoice account prints and hands over.
async fn producer_receipt(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
) -> Result<Response, AppError> {
    let group = sqlx::query_scalar!(
        "select order_group_id from shop_order where order_id = $1 and producer_id = $2",
        id,
        member.producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let r = receipt(&state, group, Some(id)).await?;
    Ok(render_page("invoices/receipt.html", &r).into_response())
}

// ---------- the sandbox provider's printed invoice ----------

#[derive(Serialize)]
struct SandboxPage {
    /// dd/mm/yyyy, as invoices write dates
    date: String,
    original_date: String,
    number: String,
    lookup_code: String,
    seller_tax_code: String,
    doc: serde_json::Value,
    total: Vnd,
    words: String,
}

async fn sandbox_invoice(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    if !state.config.invoice_sandbox || code.len() > 20 {
        return Err(AppError::NotFound);
    }
    let r = sqlx::query!(
        "select number, lookup_code, seller_tax_code, body from sandbox_invoice where lookup_code = $1",
        code
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let total: i64 = r.body["lines"]
        .as_array()
        .map(|ls| ls.iter().filter_map(|l| l["amount"].as_i64()).sum())
        .unwrap_or(0);
    // the document keeps ISO dates ("2026-12-04"); the invoice shows 04/12/2026
    let dmy = |v: &serde_json::Value| {
        let iso = v.as_str().unwrap_or("");
        let parts: Vec<&str> = iso.split('-').collect();
        match parts.as_slice() {
            [y, m, d] => format!("{d}/{m}/{y}"),
            _ => iso.to_string(),
        }
    };
    let page = SandboxPage {
        date: dmy(&r.body["issued_on"]),
        original_date: dmy(&r.body["adjusts"]["issued_on"]),
        number: r.number,
        lookup_code: r.lookup_code,
        seller_tax_code: r.seller_tax_code,
        doc: r.body,
        total: Vnd::new(total),
        words: Vnd::new(total).in_words(),
    };
    Ok(render_page("invoices/sandbox.html", &page).into_response())
}
