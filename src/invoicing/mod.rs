//! Invoices: each producer's part of an order is the producer's sale and gets the producer's
//! e-invoice, issued through the producer's own provider account once the part is delivered (or
//! paid, when nothing ships). A part cancelled, refunded or returned after that gets an adjusting
//! invoice, never a deletion. The job that issues them is safe on several instances (claims with
//! SKIP LOCKED) and never issues twice: the provider's retry key is derived from our ids, and a
//! retry first asks the provider by that key. Producers without an account print a sales receipt.

pub mod http;
pub mod providers;
pub mod views;

use crate::error::AppError;
use crate::state::AppState;
use providers::{
    Account, Buyer, Credentials, Ctx, Doc, InvoiceError, Issued, Line, Original, Party, ProviderId,
};
use sqlx::{PgConnection, Postgres, Transaction};
use std::time::Duration;

/// The provider's retry key for one invoice of ours: UUID-shaped, so every provider takes it
/// (Viettel's transactionUuid, MISA's RefID, VNPT's Fkey), and the same on every retry.
pub fn provider_key(kind: &str, id: i64) -> String {
    let h = crate::crypto::sha256_hex(format!("ocop-invoice:{kind}:{id}").as_bytes());
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An address from its parts, the empty ones left out: "Thôn Nà Ếch, Xã Bình Liêu, Tỉnh Quảng Ninh".
pub fn address_line(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|s| !s.trim().is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// The key that seals e-invoice credentials (`INVOICE_KEY`), if the operator set one.
pub fn seal_key(state: &AppState) -> Option<crate::crypto::SealKey> {
    state
        .config
        .invoice_key
        .as_deref()
        .and_then(crate::crypto::SealKey::from_hex)
}

/// A part became the producer's sale (delivered; or paid, when nothing in it ships): its invoice
/// is due, if the producer issues e-invoices through us. In the transaction that moved the order.
/// The amount is the goods and the shipping the producer charged itself (a carrier's fee is the
/// carrier's, not the producer's sale), less the producer's own promotions (a trade discount);
/// a discount the marketplace or a province funds is paid to the producer, so it is its sale.
pub async fn on_sale(
    tx: &mut Transaction<'_, Postgres>,
    order_id: i64,
    paid_not_delivered: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into invoice (kind, order_id, producer_id, provider, provider_key, amount)
         select 'sale', o.order_id, o.producer_id, a.provider, $2,
                o.goods_total + case when o.ship_carrier is null then o.shipping_fee else 0 end
                - coalesce((select sum(d.amount) from order_line_discount d
                            where d.order_id = o.order_id and d.funder = 'producer'), 0)
         from shop_order o join einvoice_account a using (producer_id)
         where o.order_id = $1
           and (not $3 or not exists (select 1 from order_line l join product p using (product_id)
                                      where l.order_id = o.order_id and p.sector <> 'tourism'))
         on conflict do nothing",
        order_id,
        provider_key("sale", order_id),
        paid_not_delivered
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A part was cancelled, refunded or returned: an invoice the provider never had is void; one on
/// its way is settled first (the job asks the provider); an issued one gets its adjustment.
pub async fn on_undone(
    tx: &mut Transaction<'_, Postgres>,
    order_id: i64,
) -> Result<(), sqlx::Error> {
    // one statement, the sale's invoice locked: the issuing job either finished before (issued:
    // adjust it) or finds the request when it does (cancel_requested)
    let issued = sqlx::query_scalar!(
        r#"with s as (
               select invoice_id, state, attempts from invoice
               where order_id = $1 and kind = 'sale' for update
           ), settle_first as (
               update invoice i set cancel_requested = true, next_try_at = least(i.next_try_at, now())
               from s where i.invoice_id = s.invoice_id and s.state in ('pending', 'stuck') and s.attempts > 0
           ), never_sent as (
               update invoice i set state = 'void'
               from s where i.invoice_id = s.invoice_id and s.state in ('pending', 'stuck') and s.attempts = 0
           )
           select invoice_id as "invoice_id!" from s where state = 'issued'"#,
        order_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = issued {
        adjust(&mut **tx, id).await?;
    }
    Ok(())
}

async fn adjust(conn: &mut PgConnection, invoice_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into invoice (kind, order_id, producer_id, adjusts, provider, provider_key, amount)
         select 'adjustment', order_id, producer_id, invoice_id, provider, $2, amount
         from invoice where invoice_id = $1
         on conflict do nothing",
        invoice_id,
        provider_key("adjustment", invoice_id)
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The producer's account, opened; Err with the reason it cannot be used now.
pub async fn account(
    state: &AppState,
    producer_id: i64,
) -> Result<Result<Account, String>, AppError> {
    let Some(a) = sqlx::query!(
        r#"select provider as "provider: ProviderId", url, pattern, series, seller_tax_code, vat_rate,
                  cash_register, sealed, refused_reason
           from einvoice_account where producer_id = $1"#,
        producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(Err("Chưa kết nối tài khoản hoá đơn điện tử.".into()));
    };
    if let Some(r) = a.refused_reason {
        return Ok(Err(r));
    }
    let Some(credentials) = seal_key(state)
        .and_then(|k| k.open(&a.sealed))
        .and_then(|plain| serde_json::from_slice::<Credentials>(&plain).ok())
    else {
        return Ok(Err(
            "Máy chủ không mở được thông tin đăng nhập (INVOICE_KEY chưa đặt hoặc đã đổi): hãy lưu lại tài khoản.".into(),
        ));
    };
    Ok(Ok(Account {
        provider: a.provider,
        url: a.url,
        pattern: a.pattern,
        series: a.series,
        seller_tax_code: a.seller_tax_code,
        vat_rate: a.vat_rate.map(|r| r as u8),
        cash_register: a.cash_register,
        credentials,
    }))
}

/// The invoice for one part, from the order as it was placed.
async fn document(
    state: &AppState,
    order_id: i64,
    key: String,
    adjusts: Option<Original>,
) -> Result<Doc, AppError> {
    let o = sqlx::query!(
        r#"select o.shipping_fee, o.ship_carrier, g.buyer_name, g.phone, g.email, g.street, g.payment_method,
                  g.buyer_company, g.buyer_tax_code, g.buyer_company_address, g.invoice_email,
                  c.name as commune, pv.name as province,
                  p.name as producer, p.address as producer_address, p.phone as producer_phone, p.tax_code,
                  pc.name as producer_commune, ppv.name as producer_province
           from shop_order o join order_group g using (order_group_id)
           join commune c on c.commune_code = g.commune_code join province pv on pv.province_code = g.province_code
           join producer p using (producer_id)
           join commune pc on pc.commune_code = p.commune_code join province ppv on ppv.province_code = p.province_code
           where o.order_id = $1"#,
        order_id
    )
    .fetch_one(&state.pool)
    .await?;
    let mut lines: Vec<Line> = sqlx::query!(
        "select name, unit, unit_price, quantity, line_total from order_line where order_id = $1 order by name",
        order_id
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|l| Line {
        name: l.name,
        unit: l.unit,
        quantity: i64::from(l.quantity),
        unit_price: crate::domain::Vnd::new(l.unit_price),
        amount: crate::domain::Vnd::new(l.line_total),
    })
    .collect();
    // the shipping the producer charged is its sale too (a carrier's fee is not)
    if o.ship_carrier.is_none() && o.shipping_fee > 0 {
        lines.push(Line {
            name: "Phí vận chuyển".into(),
            unit: "lần".into(),
            quantity: 1,
            unit_price: crate::domain::Vnd::new(o.shipping_fee),
            amount: crate::domain::Vnd::new(o.shipping_fee),
        });
    }
    // the producer's own promotions are a trade discount on its invoice, as a negative line
    let discount = sqlx::query_scalar!(
        r#"select coalesce(sum(amount), 0)::bigint as "n!" from order_line_discount
           where order_id = $1 and funder = 'producer'"#,
        order_id
    )
    .fetch_one(&state.pool)
    .await?;
    if discount > 0 {
        lines.push(Line {
            name: "Chiết khấu thương mại (khuyến mãi của cơ sở)".into(),
            unit: "lần".into(),
            quantity: 1,
            unit_price: crate::domain::Vnd::new(-discount),
            amount: crate::domain::Vnd::new(-discount),
        });
    }
    let home = format!("{}, {}, {}", o.street, o.commune, o.province);
    Ok(Doc {
        key,
        issued_on: crate::domain::vn_today(),
        seller: Party {
            name: o.producer,
            tax_code: o.tax_code,
            address: address_line(&[
                &o.producer_address,
                &o.producer_commune,
                &o.producer_province,
            ]),
            email: None,
            phone: o.producer_phone,
        },
        buyer: Buyer {
            name: o.buyer_name,
            company: o.buyer_company,
            tax_code: o.buyer_tax_code,
            address: o.buyer_company_address.unwrap_or(home),
            email: o.invoice_email.or(o.email),
            phone: o.phone,
        },
        lines,
        paid_online: o.payment_method != "cod",
        adjusts,
    })
}

struct Claimed {
    invoice_id: i64,
    kind: String,
    order_id: Option<i64>,
    month: Option<time::Date>,
    producer_id: i64,
    adjusts: Option<i64>,
    provider_key: String,
    attempts: i32,
    cancel_requested: bool,
    created_at: time::OffsetDateTime,
}

/// Issues what is due. Each invoice is claimed by pushing its next try out (1, 2, 4… minutes, at
/// most six hours), so a crash mid-call only delays it, and another instance skips it.
pub async fn issue_once(state: &AppState) -> Result<usize, AppError> {
    let claimed = sqlx::query_as!(
        Claimed,
        r#"update invoice i
           set attempts = i.attempts + 1,
               next_try_at = now() + least(interval '6 hours', interval '1 minute' * power(2, least(i.attempts, 12)))
           from (select invoice_id from invoice d
                 where d.state = 'pending' and d.next_try_at <= now()
                   and (d.kind = 'commission'
                        or not exists (select 1 from einvoice_account a
                                       where a.producer_id = d.producer_id and a.refused_at is not null))
                 order by d.next_try_at limit 20
                 for update skip locked) due
           where i.invoice_id = due.invoice_id
           returning i.invoice_id, i.kind, i.order_id, i.month, i.producer_id, i.adjusts, i.provider_key,
                     i.attempts, i.cancel_requested, i.created_at"#
    )
    .fetch_all(&state.pool)
    .await?;
    let n = claimed.len();
    for c in claimed {
        if let Err(e) = work(state, &c).await {
            tracing::warn!(invoice = c.invoice_id, error = %e, "invoice not issued; retried later");
        }
    }
    Ok(n)
}

async fn work(state: &AppState, c: &Claimed) -> Result<(), AppError> {
    let account = if c.kind == "commission" {
        market_account(state).ok_or_else(|| {
            "Sàn chưa cấu hình tài khoản hoá đơn của mình (MARKET_EINVOICE_*).".to_string()
        })
    } else {
        account(state, c.producer_id).await?
    };
    let account = match account {
        Ok(a) => a,
        Err(reason) => return note(state, c.invoice_id, &reason).await,
    };
    let ctx = Ctx {
        http: &state.http,
        pool: &state.pool,
        public_url: state.config.public_url.as_deref().unwrap_or(""),
    };
    let created_on = c.created_at.to_offset(time::macros::offset!(+7)).date();
    // a retry, or a part no longer wanted: what does the provider already have under our key?
    if c.attempts > 1 || c.cancel_requested {
        match providers::find(&ctx, &account, &c.provider_key, created_on).await {
            Ok(Some(found)) => return issued(state, c, &account, &found).await,
            Ok(None) if c.cancel_requested => {
                sqlx::query!(
                    "update invoice set state = 'void', last_error = null where invoice_id = $1 and state = 'pending'",
                    c.invoice_id
                )
                .execute(&state.pool)
                .await?;
                return Ok(());
            }
            Ok(None) => {}
            Err(e) => return failed(state, c, e).await,
        }
    }
    let original = match c.adjusts {
        None => None,
        Some(id) => {
            let o = sqlx::query!(
                r#"select number as "number!", pattern as "pattern!", series as "series!",
                          issued_at as "issued_at!", provider_key
                   from invoice where invoice_id = $1 and state = 'issued'"#,
                id
            )
            .fetch_one(&state.pool)
            .await?;
            Some(Original {
                number: o.number,
                pattern: o.pattern,
                series: o.series,
                issued_on: o.issued_at.to_offset(time::macros::offset!(+7)).date(),
                key: o.provider_key,
            })
        }
    };
    let doc = match (c.order_id, c.month) {
        (Some(order_id), _) => document(state, order_id, c.provider_key.clone(), original).await?,
        (None, Some(month)) => {
            commission_document(
                state,
                &account,
                c.producer_id,
                month,
                c.provider_key.clone(),
            )
            .await?
        }
        (None, None) => return Err(AppError::Internal("an invoice of nothing".into())),
    };
    match providers::issue(&ctx, &account, &doc).await {
        Ok(done) => issued(state, c, &account, &done).await,
        Err(InvoiceError::Duplicate) => {
            match providers::find(&ctx, &account, &c.provider_key, created_on).await {
                Ok(Some(found)) => issued(state, c, &account, &found).await,
                Ok(None) => {
                    failed(
                        state,
                        c,
                        InvoiceError::Unavailable(
                            "nhà cung cấp báo trùng nhưng chưa tra được".into(),
                        ),
                    )
                    .await
                }
                Err(e) => failed(state, c, e).await,
            }
        }
        Err(e) => failed(state, c, e).await,
    }
}

async fn issued(
    state: &AppState,
    c: &Claimed,
    account: &Account,
    done: &Issued,
) -> Result<(), AppError> {
    let mut tx = state.pool.begin().await?;
    let cancel = sqlx::query_scalar!(
        "update invoice set state = 'issued', number = $2, lookup_code = $3, pdf_url = $4, pattern = $5,
                series = $6, issued_at = now(), last_error = null
         where invoice_id = $1 and state = 'pending'
         returning cancel_requested",
        c.invoice_id,
        done.number,
        done.lookup_code,
        done.pdf_url,
        account.pattern,
        account.series
    )
    .fetch_optional(&mut *tx)
    .await?;
    if cancel == Some(true) && c.kind == "sale" {
        adjust(&mut tx, c.invoice_id).await?;
    }
    tx.commit().await?;
    tracing::info!(invoice = c.invoice_id, number = %done.number, "invoice issued");
    if cancel.is_some() {
        tell_buyer(state, c, done).await;
    }
    Ok(())
}

/// The buyer (its invoice e-mail, else the order's) hears the invoice's number and where to get it.
async fn tell_buyer(state: &AppState, c: &Claimed, done: &Issued) {
    let Some(order_id) = c.order_id else { return };
    let Ok(Some(g)) = sqlx::query!(
        "select g.code, coalesce(g.invoice_email, g.email) as to, p.name as producer
         from shop_order o join order_group g using (order_group_id) join producer p using (producer_id)
         where o.order_id = $1",
        order_id
    )
    .fetch_optional(&state.pool)
    .await
    else {
        return;
    };
    let public = state.config.public_url();
    let what = views::kind_label(&c.kind);
    state
        .mailer
        .notify(
            g.to.as_deref(),
            &format!("{what} số {} · đơn hàng {}", done.number, g.code),
            format!(
                "{} đã xuất {} số {}{} cho đơn hàng {}.\nXem và tải hoá đơn: {public}/orders/{}\n",
                g.producer,
                what.to_lowercase(),
                done.number,
                done.lookup_code
                    .as_deref()
                    .map(|l| format!(" (mã tra cứu {l})"))
                    .unwrap_or_default(),
                g.code,
                g.code
            ),
        )
        .await;
}

async fn note(state: &AppState, invoice_id: i64, reason: &str) -> Result<(), AppError> {
    sqlx::query!(
        "update invoice set last_error = $2 where invoice_id = $1",
        invoice_id,
        reason
    )
    .execute(&state.pool)
    .await?;
    Ok(())
}

async fn failed(state: &AppState, c: &Claimed, e: InvoiceError) -> Result<(), AppError> {
    if let (InvoiceError::Credentials(reason), false) = (&e, c.kind == "commission") {
        // reported once: the account is marked, and nothing of this producer is tried again
        // until the producer saves its credentials anew
        let mut tx = state.pool.begin().await?;
        let first = sqlx::query!(
            "update einvoice_account set refused_at = now(), refused_reason = $2
             where producer_id = $1 and refused_at is null",
            c.producer_id,
            reason
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query!(
            "update invoice set state = 'stuck', last_error = $2 where invoice_id = $1 and state = 'pending'",
            c.invoice_id,
            reason
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if first {
            // the owner hears it once, not at every invoice
            let owner = sqlx::query_scalar!(
                "select u.email from producer_member m join app_user u using (user_id)
                 where m.producer_id = $1 and m.role = 'owner' limit 1",
                c.producer_id
            )
            .fetch_optional(&state.pool)
            .await?
            .flatten();
            let public = state.config.public_url();
            state
                .mailer
                .notify(
                    owner.as_deref(),
                    "Nhà cung cấp hoá đơn điện tử từ chối tài khoản của bạn",
                    format!(
                        "{reason}\nSàn tạm dừng xuất hoá đơn cho gian hàng của bạn. Hãy nhập lại thông tin đăng nhập đúng tại {public}/producer/invoices: các hoá đơn đang chờ sẽ được xuất ngay.\n"
                    ),
                )
                .await;
        }
        return Ok(());
    }
    note(state, c.invoice_id, &e.to_string()).await
}

/// The producer saved its credentials again: what waited for them is due now.
pub async fn account_saved(conn: &mut PgConnection, producer_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update invoice set state = 'pending', next_try_at = now()
         where producer_id = $1 and state = 'stuck'",
        producer_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Who asks for an invoice: the producer it was issued by (or to, for the marketplace's), or the
/// shopper of the order group it belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Whose {
    Producer(i64),
    Shopper { group: i64 },
}

/// An issued invoice's PDF from its provider, within a few seconds; on failure the answer says
/// how to look it up instead (a shopper's page never waits long on a provider).
pub async fn pdf(
    state: &AppState,
    invoice_id: i64,
    whose: Whose,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    let (producer, group) = match whose {
        Whose::Producer(p) => (Some(p), None),
        Whose::Shopper { group } => (None, Some(group)),
    };
    let i = sqlx::query!(
        r#"select kind, producer_id, provider as "provider: ProviderId", provider_key, number as "number!", lookup_code
           from invoice
           where invoice_id = $1 and state = 'issued'
             and (producer_id = $2
                  or order_id in (select order_id from shop_order where order_group_id = $3))"#,
        invoice_id,
        producer,
        group
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let account = if i.kind == "commission" {
        market_account(state)
            .ok_or_else(|| "Sàn chưa cấu hình tài khoản hoá đơn của mình.".to_string())
    } else {
        account(state, i.producer_id).await?
    };
    let ctx = Ctx {
        http: &state.http,
        pool: &state.pool,
        public_url: "",
    };
    let fetched = match &account {
        Ok(account) => tokio::time::timeout(
            Duration::from_secs(8),
            providers::pdf(
                &ctx,
                account,
                &i.provider_key,
                &i.number,
                i.lookup_code.as_deref(),
            ),
        )
        .await
        .ok(),
        Err(_) => None,
    };
    if let Some(Ok(bytes)) = fetched {
        return Ok((
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    "application/pdf".to_string(),
                ),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"hoa-don-{}.pdf\"", i.number),
                ),
            ],
            bytes,
        )
            .into_response());
    }
    let message = format!(
        "Chưa tải được hoá đơn từ {}. Hãy thử lại sau, hoặc tra cứu hoá đơn số {}{}.",
        i.provider.name(),
        i.number,
        match (i.provider.lookup_portal(), i.lookup_code) {
            (Some(portal), Some(code)) => format!(" tại {portal} với mã {code}"),
            (None, Some(code)) => format!(" với mã {code}"),
            _ => String::new(),
        }
    );
    Ok((
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        crate::render::render_page(
            "invoices/unavailable.html",
            &serde_json::json!({ "message": message }),
        ),
    )
        .into_response())
}

// ---------- the marketplace's commission invoices ----------

/// The marketplace's own account, from the environment, when complete.
pub fn market_account(state: &AppState) -> Option<Account> {
    let c = &state.config;
    let provider = ProviderId::from_key(c.market_einvoice_provider.as_deref()?)?;
    if provider == ProviderId::Sandbox && !c.invoice_sandbox {
        return None;
    }
    let filled = |s: &str| !s.trim().is_empty();
    if !(filled(&c.market_einvoice_series) && filled(&c.market_einvoice_username)) {
        return None;
    }
    Some(Account {
        provider,
        url: c.market_einvoice_url.clone(),
        pattern: c.market_einvoice_pattern.clone(),
        series: c.market_einvoice_series.clone(),
        seller_tax_code: c.market_tax_code.clone()?,
        vat_rate: Some(c.market_einvoice_vat_rate),
        cash_register: false,
        credentials: Credentials {
            username: c.market_einvoice_username.clone(),
            password: c.market_einvoice_password.clone(),
            app_id: c.market_einvoice_app_id.clone(),
            account: c.market_einvoice_account.clone(),
            account_password: c.market_einvoice_account_password.clone(),
        },
    })
}

/// The first and last instants of a month in Vietnam.
fn month_bounds(month: time::Date) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let vn = time::macros::offset!(+7);
    let next = month
        .replace_day(28)
        .expect("day 28")
        .checked_add(time::Duration::days(4))
        .expect("a later month")
        .replace_day(1)
        .expect("day 1");
    (
        month.midnight().assume_offset(vn),
        next.midnight().assume_offset(vn),
    )
}

/// Commission and fees the ledger charged each producer (or one) in a month, net of reversals.
pub async fn month_charges(
    conn: &mut PgConnection,
    month: time::Date,
    producer: Option<i64>,
) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    let (from, to) = month_bounds(month);
    let rows = sqlx::query!(
        r#"select e.producer_id as "producer_id!",
                  coalesce(sum(l.amount) filter (where l.component = 'commission'), 0)::bigint as "commission!",
                  coalesce(sum(l.amount) filter (where l.component = 'fee'), 0)::bigint as "fee!"
           from journal_entry e join journal_line l using (entry_id)
           where e.at >= $1 and e.at < $2 and e.producer_id is not null
             and ($3::bigint is null or e.producer_id = $3)
             and l.producer_id = e.producer_id and l.account = 'payable'
             and l.component in ('commission', 'fee')
           group by e.producer_id"#,
        from,
        to,
        producer
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.producer_id, r.commission, r.fee))
        .collect())
}

/// Once a month, on any instance (the month is claimed in `job_run`): last month's commission
/// invoice for each producer charged something. Returns how many were created.
pub async fn commission_month_once(state: &AppState, today: time::Date) -> Result<usize, AppError> {
    let Some(account) = market_account(state) else {
        return Ok(0);
    };
    let this_month = today.replace_day(1).expect("day 1");
    let last_month = (this_month - time::Duration::days(1))
        .replace_day(1)
        .expect("day 1");
    let mut tx = state.pool.begin().await?;
    let claimed = sqlx::query!(
        "insert into job_run (job, day) values ('commission-invoices', $1) on conflict do nothing",
        last_month
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(0);
    }
    let charges = month_charges(&mut tx, last_month, None).await?;
    if charges
        .iter()
        .all(|(_, commission, fee)| commission + fee <= 0)
    {
        // nothing charged (yet: a ledger still being brought in at first start): the month
        // stays unclaimed, and a later tick looks again
        return Ok(0);
    }
    let (producers, amounts, keys): (Vec<i64>, Vec<i64>, Vec<String>) = charges
        .into_iter()
        .filter(|(_, commission, fee)| commission + fee > 0)
        .map(|(p, commission, fee)| {
            let key = provider_key(
                "commission",
                p * 1_000_000
                    + i64::from(last_month.year()) * 100
                    + i64::from(u8::from(last_month.month())),
            );
            (p, commission + fee, key)
        })
        .fold(
            (vec![], vec![], vec![]),
            |(mut a, mut b, mut c), (p, v, k)| {
                a.push(p);
                b.push(v);
                c.push(k);
                (a, b, c)
            },
        );
    let created = sqlx::query!(
        "insert into invoice (kind, producer_id, month, provider, provider_key, amount)
         select 'commission', p, $4, $5, k, a from unnest($1::bigint[], $2::bigint[], $3::text[]) as t(p, a, k)
         on conflict do nothing",
        &producers,
        &amounts,
        &keys,
        last_month,
        account.provider.key()
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    tracing::info!(month = %last_month, created, "commission invoices due");
    Ok(created as usize)
}

/// The marketplace's invoice to one producer for a month's commission and fees.
async fn commission_document(
    state: &AppState,
    account: &Account,
    producer_id: i64,
    month: time::Date,
    key: String,
) -> Result<Doc, AppError> {
    let mut conn = state.pool.acquire().await?;
    let (_, commission, fee) = month_charges(&mut conn, month, Some(producer_id))
        .await?
        .pop()
        .unwrap_or((producer_id, 0, 0));
    let p = sqlx::query!(
        "select p.name, p.producer_type, p.tax_code, p.citizen_id, p.address, p.phone, p.email,
                c.name as commune, pv.name as province
         from producer p join commune c on c.commune_code = p.commune_code
         join province pv on pv.province_code = p.province_code
         where p.producer_id = $1",
        producer_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let label = format!("{:02}/{}", u8::from(month.month()), month.year());
    let mut lines = vec![];
    for (name, amount) in [
        (
            format!("Phí dịch vụ sàn thương mại điện tử (hoa hồng) tháng {label}"),
            commission,
        ),
        (format!("Phí thanh toán trực tuyến tháng {label}"), fee),
    ] {
        if amount > 0 {
            lines.push(Line {
                name,
                unit: "tháng".into(),
                quantity: 1,
                unit_price: crate::domain::Vnd::new(amount),
                amount: crate::domain::Vnd::new(amount),
            });
        }
    }
    let organisation = p.producer_type != "household";
    let address = address_line(&[&p.address, &p.commune, &p.province]);
    let c = &state.config;
    Ok(Doc {
        key,
        issued_on: crate::domain::vn_today(),
        seller: Party {
            name: c.market_legal_name.clone(),
            tax_code: Some(account.seller_tax_code.clone()),
            address: c.market_address.clone(),
            email: c.support_email.clone(),
            phone: c.support_phone.clone(),
        },
        buyer: Buyer {
            name: p.name.clone(),
            company: organisation.then(|| p.name.clone()),
            tax_code: p.tax_code.or(p.citizen_id),
            address,
            email: p.email,
            phone: p.phone.unwrap_or_default(),
        },
        lines,
        paid_online: true,
        adjusts: None,
    })
}

pub async fn issue_forever(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = commission_month_once(&state, crate::domain::vn_today()).await {
            tracing::warn!(error = %e, "commission invoices not created; retrying");
        }
        match issue_once(&state).await {
            Ok(n) if n > 0 => tracing::info!(claimed = n, "invoices worked on"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "invoice job failed; retrying"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_retry_key_is_the_same_for_the_same_invoice_and_uuid_shaped() {
        let k = super::provider_key("sale", 42);
        assert_eq!(k, super::provider_key("sale", 42));
        assert_ne!(k, super::provider_key("adjustment", 42));
        assert_eq!(k.len(), 36);
        assert_eq!(k.matches('-').count(), 4);
    }
}
