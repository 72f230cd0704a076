//! Payments. Every provider's callback goes the same way: the raw request is committed to
//! `payment_event` before anything else, its signature is checked with the provider's own
//! algorithm, its transaction id is claimed once, and one state machine decides: pay the order
//! group, record a failed attempt, or send the event to the staff review queue (amount too low
//! or too high, unknown code, already paid, cancelled or expired order, wrong account).

pub mod config;
pub mod http;
pub mod method;
pub mod provider;
pub mod reconcile;
pub mod sandbox;
pub mod sign;
pub mod verify;

use crate::orders::{Actor, Details, Status, transition};
pub use config::{BankAccount, Momo, Providers, Stripe, Vnpay, bank_brand};
pub use config::{
    SANDBOX_CASSO_KEY, SANDBOX_MOMO_SECRET, SANDBOX_SEPAY_API_KEY, SANDBOX_SEPAY_SECRET,
    SANDBOX_STRIPE_WEBHOOK_SECRET, SANDBOX_VNPAY_SECRET,
};
pub use method::PaymentMethod;
pub use provider::Provider;
use serde::Serialize;
use sqlx::PgPool;

/// Commits the raw callback before anything is decided about it.
pub async fn record_event(
    pool: &PgPool,
    provider: Provider,
    headers: &axum::http::HeaderMap,
    body: &str,
) -> Result<i64, sqlx::Error> {
    // signature headers are evidence; credentials (API keys) are not kept
    let headers: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter(|(k, _)| {
            *k != axum::http::header::AUTHORIZATION && *k != axum::http::header::COOKIE
        })
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::Value::String(v.to_str().unwrap_or("").to_string()),
            )
        })
        .collect();
    sqlx::query_scalar!(
        "insert into payment_event (provider, headers, body) values ($1, $2::text::jsonb, $3) returning payment_event_id",
        provider.key(),
        serde_json::Value::Object(headers).to_string(),
        body
    )
    .fetch_one(pool)
    .await
}

/// How much of a refused callback is kept (with the size and SHA-256 of all of it).
pub const REFUSED_PREFIX_CHARS: i32 = 2048;

/// Marks an event as failing verification, keeping only a prefix of its body with the whole
/// body's size and hash (a stranger's junk must not fill the database); nothing else changes.
pub async fn reject_event(pool: &PgPool, event_id: i64, why: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update payment_event set verified = false, verification_error = $2, outcome = 'rejected',
             body = left(body, $3), body_bytes = octet_length(body),
             body_sha256 = encode(sha256(convert_to(body, 'UTF8')), 'hex')
         where payment_event_id = $1",
        event_id,
        why,
        REFUSED_PREFIX_CHARS
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes refused callbacks older than `days` (safe on every instance at once: a delete of
/// what another instance deleted deletes nothing). Answers how many went.
pub async fn purge_refused(pool: &PgPool, days: u32) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "delete from payment_event where outcome = 'rejected'
           and received_at < now() - make_interval(days => $1)",
        days as i32
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// What a verified callback says.
#[derive(Debug, Clone)]
pub struct Notification {
    pub provider: Provider,
    pub tx_id: String,
    pub target: Target,
    /// what the provider says arrived, in đồng
    pub amount: crate::domain::Vnd,
    pub success: bool,
    /// the receiving account, for bank transfers
    pub account: Option<String>,
    /// the provider's id for the attempt, kept on the payment
    pub provider_ref: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Target {
    /// the reference we gave the provider for one attempt
    Attempt(String),
    /// a bank transfer's free text, which should hold the order code
    Memo(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Applied,
    Duplicate,
    FailedPayment,
    Review(&'static str),
    /// e.g. an outgoing transfer
    Ignored(&'static str),
}

impl Outcome {
    fn key(&self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::FailedPayment => "failed_payment",
            Outcome::Review(_) => "review",
            Outcome::Ignored(_) => "ignored",
        }
    }
}

/// A payment attempt's state as people say it.
pub fn payment_status_label(status: &str) -> &'static str {
    match status {
        "pending" => "Đang chờ",
        "paid" => "Đã nhận tiền",
        "failed" => "Không thành công",
        "expired" => "Hết hạn",
        "cancelled" => "Đã huỷ",
        "refunded" => "Đã hoàn tiền",
        _ => "Không rõ",
    }
}

pub fn review_label(reason: &str) -> &'static str {
    match reason {
        "amount_too_low" => "Số tiền nhận được thấp hơn giá trị đơn",
        "amount_too_high" => "Số tiền nhận được cao hơn giá trị đơn",
        "unknown_code" => "Không tìm thấy mã đơn hàng trong nội dung",
        "several_codes" => "Nội dung có nhiều mã đơn hàng",
        "already_paid" => "Đơn đã được thanh toán trước đó",
        "order_cancelled" => "Đơn đã huỷ hoặc quá hạn thanh toán",
        "wrong_account" => "Tiền vào tài khoản khác tài khoản nhận của sàn",
        "unknown_attempt" => "Không tìm thấy lần thanh toán",
        _ => "Cần xem xét",
    }
}

/// What staff read of a callback in the review queue: the transfer's memo, who sent it, from
/// which bank, and the provider's reference, each as the provider named it.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Facts {
    pub memo: Option<String>,
    pub sender: Option<String>,
    pub bank: Option<String>,
    pub reference: Option<String>,
}

pub fn facts(provider: Provider, body: &str) -> Facts {
    let text = |v: &serde_json::Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| v.as_i64().map(|n| n.to_string()))
    };
    if provider == Provider::Vnpay {
        let q: std::collections::HashMap<String, String> =
            form_urlencoded::parse(body.trim_start_matches('?').as_bytes())
                .into_owned()
                .collect();
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
        return Facts {
            memo: get("vnp_OrderInfo"),
            sender: None,
            bank: get("vnp_BankCode"),
            reference: get("vnp_TransactionNo").or_else(|| get("vnp_BankTranNo")),
        };
    }
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return Facts::default();
    };
    match provider {
        Provider::Sepay => Facts {
            memo: text(&json["content"]).or_else(|| text(&json["description"])),
            sender: None,
            bank: text(&json["gateway"]),
            reference: text(&json["referenceCode"]),
        },
        Provider::Casso => {
            // v2 sends one object, v1 a list
            let d = if json["data"].is_array() {
                &json["data"][0]
            } else {
                &json["data"]
            };
            let sender = match (
                text(&d["counterAccountName"]),
                text(&d["counterAccountNumber"]),
            ) {
                (Some(n), Some(a)) => Some(format!("{n} · {a}")),
                (n, a) => n.or(a),
            };
            Facts {
                memo: text(&d["description"]),
                sender,
                bank: text(&d["counterAccountBankName"]).or_else(|| text(&d["bankName"])),
                reference: text(&d["reference"]).or_else(|| text(&d["tid"])),
            }
        }
        Provider::Momo => Facts {
            memo: text(&json["orderInfo"]),
            sender: None,
            bank: text(&json["payType"]).map(|t| format!("MoMo ({t})")),
            reference: text(&json["transId"]),
        },
        Provider::Stripe => {
            let o = &json["data"]["object"];
            Facts {
                memo: text(&o["client_reference_id"]),
                sender: text(&o["customer_details"]["name"])
                    .or_else(|| text(&o["customer_details"]["email"])),
                bank: Some("Stripe (thẻ quốc tế)".into()),
                reference: text(&o["payment_intent"]).or_else(|| text(&o["id"])),
            }
        }
        _ => Facts::default(),
    }
}

/// Order codes (`OCOP` + 8 letters or digits) in a transfer's text, however the bank cased it.
pub fn codes_in(memo: &str) -> Vec<String> {
    let upper = memo.to_uppercase();
    let bytes = upper.as_bytes();
    let mut found: Vec<String> = vec![];
    let mut i = 0;
    while let Some(at) = upper[i..].find("OCOP") {
        let start = i + at;
        let end = start + 12;
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        if end <= bytes.len()
            && before_ok
            && bytes[start + 4..end]
                .iter()
                .all(|b| b.is_ascii_alphanumeric())
            && (end == bytes.len() || !bytes[end].is_ascii_alphanumeric())
        {
            let code = upper[start..end].to_string();
            if !found.contains(&code) {
                found.push(code);
            }
        }
        i = start + 4;
    }
    found
}

/// One attempt to pay an order group online.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub payment_id: i64,
    /// what the provider is told (vnp_TxnRef, MoMo orderId, Stripe client_reference_id)
    pub reference: String,
    pub amount: i64,
    /// VNPAY's querydr names the attempt by this time, so the pay request sends exactly it
    pub created_at: time::OffsetDateTime,
}

/// The payment attempt a new online attempt gets: its reference is the order code for a bank
/// transfer, the code and a counter for a gateway (each attempt a fresh reference, as VNPAY
/// and MoMo require).
pub async fn start_attempt(
    pool: &PgPool,
    code: &str,
    method: PaymentMethod,
) -> Result<Option<Attempt>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(g) = sqlx::query!(
        r#"select g.order_group_id, g.grand_total,
                  (select bool_and(o.status = 'pending_payment') from shop_order o
                    where o.order_group_id = g.order_group_id) as "payable!"
           from order_group g where g.code = $1 for update"#,
        code
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    if !g.payable {
        return Ok(None);
    }
    let attempts: i64 = sqlx::query_scalar!(
        "select count(*) as \"n!\" from payment where order_group_id = $1",
        g.order_group_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let reference = if method == PaymentMethod::Vietqr {
        code.to_string()
    } else {
        format!("{code}{:02}", attempts + 1)
    };
    let row = sqlx::query!(
        "insert into payment (order_group_id, method, amount, reference) values ($1, $2, $3, $4)
         on conflict (reference) do update set updated_at = now() returning payment_id, created_at",
        g.order_group_id,
        method.key(),
        g.grand_total,
        reference
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Attempt {
        payment_id: row.payment_id,
        reference,
        amount: g.grand_total,
        created_at: row.created_at,
    }))
}

/// Acts on a verified notification: exactly once per provider transaction, in one transaction
/// that also records the outcome on the event.
pub async fn apply(
    pool: &PgPool,
    bank: Option<&BankAccount>,
    event_id: i64,
    n: &Notification,
) -> Result<(Outcome, Option<i64>), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "update payment_event set verified = true, provider_tx_id = $2, amount = $3 where payment_event_id = $1",
        event_id,
        n.tx_id,
        n.amount.amount()
    )
    .execute(&mut *tx)
    .await?;
    let claimed = sqlx::query_scalar!(
        "insert into payment_tx_claim (provider, provider_tx_id, payment_event_id) values ($1, $2, $3)
         on conflict do nothing returning payment_event_id",
        n.provider.key(),
        n.tx_id,
        event_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (outcome, group, payment) = if claimed.is_none() {
        // kept with the order the first delivery was about, so its history shows both
        let first = sqlx::query!(
            "select e.order_group_id, e.payment_id from payment_tx_claim c join payment_event e using (payment_event_id)
             where c.provider = $1 and c.provider_tx_id = $2",
            n.provider.key(),
            n.tx_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        (
            Outcome::Duplicate,
            first.as_ref().and_then(|f| f.order_group_id),
            first.and_then(|f| f.payment_id),
        )
    } else {
        decide(&mut tx, bank, n).await?
    };
    let review = match &outcome {
        Outcome::Review(r) | Outcome::Ignored(r) => Some(*r),
        _ => None,
    };
    sqlx::query!(
        "update payment_event set outcome = $2, review_reason = $3, order_group_id = $4, payment_id = $5 where payment_event_id = $1",
        event_id,
        outcome.key(),
        review,
        group,
        payment
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((outcome, group))
}

async fn decide(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    bank: Option<&BankAccount>,
    n: &Notification,
) -> Result<(Outcome, Option<i64>, Option<i64>), sqlx::Error> {
    // which order group, and which attempt
    let (group, payment) = match &n.target {
        Target::Attempt(reference) => match sqlx::query!(
            "select payment_id, order_group_id from payment where reference = $1",
            reference
        )
        .fetch_optional(&mut **tx)
        .await?
        {
            Some(p) => (p.order_group_id, Some(p.payment_id)),
            None => return Ok((Outcome::Review("unknown_attempt"), None, None)),
        },
        Target::Memo(memo) => {
            let codes = codes_in(memo);
            if codes.len() > 1 {
                return Ok((Outcome::Review("several_codes"), None, None));
            }
            let Some(code) = codes.first() else {
                return Ok((Outcome::Review("unknown_code"), None, None));
            };
            let Some(group) = sqlx::query_scalar!(
                "select order_group_id from order_group where code = $1",
                code
            )
            .fetch_optional(&mut **tx)
            .await?
            else {
                return Ok((Outcome::Review("unknown_code"), None, None));
            };
            let payment =
                sqlx::query_scalar!("select payment_id from payment where reference = $1", code)
                    .fetch_optional(&mut **tx)
                    .await?;
            (group, payment)
        }
    };
    if let (Some(bank), Some(account)) = (bank, &n.account) {
        if account.trim() != bank.number {
            return Ok((Outcome::Review("wrong_account"), Some(group), payment));
        }
    }
    let orders = sqlx::query!(
        r#"select order_id, status as "status: Status" from shop_order where order_group_id = $1 order by order_id for update"#,
        group
    )
    .fetch_all(&mut **tx)
    .await?;
    let total = sqlx::query_scalar!(
        r#"select grand_total as "grand_total: crate::domain::Vnd" from order_group where order_group_id = $1"#,
        group
    )
    .fetch_one(&mut **tx)
    .await?;
    if !n.success {
        if let Some(p) = payment {
            sqlx::query!(
                "update payment set status = 'failed' where payment_id = $1 and status = 'pending'",
                p
            )
            .execute(&mut **tx)
            .await?;
        }
        return Ok((Outcome::FailedPayment, Some(group), payment));
    }
    if orders.iter().all(|o| o.status == Status::Cancelled) {
        return Ok((Outcome::Review("order_cancelled"), Some(group), payment));
    }
    if !orders.iter().all(|o| o.status == Status::PendingPayment) {
        return Ok((Outcome::Review("already_paid"), Some(group), payment));
    }
    if n.amount < total {
        return Ok((Outcome::Review("amount_too_low"), Some(group), payment));
    }
    if n.amount > total {
        return Ok((Outcome::Review("amount_too_high"), Some(group), payment));
    }
    let payment = mark_paid(
        tx,
        group,
        payment,
        n.provider,
        n.amount,
        n.provider_ref.as_deref().or(Some(&n.tx_id)),
    )
    .await?;
    for o in orders {
        transition(
            tx,
            o.order_id,
            Status::Paid,
            Actor::Payment,
            &Details::default(),
        )
        .await
        .map_err(|e| match e {
            crate::orders::TransitionError::Database(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        })?;
    }
    Ok((Outcome::Applied, Some(group), Some(payment)))
}

/// Records the money as received on the attempt (creating one for a bank transfer that came
/// without an attempt of its own).
async fn mark_paid(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    group: i64,
    payment: Option<i64>,
    provider: Provider,
    amount: crate::domain::Vnd,
    provider_ref: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let amount = amount.amount();
    if let Some(p) = payment {
        sqlx::query!(
            "update payment set status = 'paid', paid_at = now(), provider_ref = coalesce($2, provider_ref), amount = $3 where payment_id = $1",
            p,
            provider_ref,
            amount
        )
        .execute(&mut **tx)
        .await?;
        return Ok(p);
    }
    let method = provider.method().key();
    let code: String = sqlx::query_scalar!(
        "select code from order_group where order_group_id = $1",
        group
    )
    .fetch_one(&mut **tx)
    .await?;
    let n: i64 = sqlx::query_scalar!(
        "select count(*) as \"n!\" from payment where order_group_id = $1",
        group
    )
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query_scalar!(
        "insert into payment (order_group_id, method, amount, reference, provider_ref, status, paid_at)
         values ($1, $2, $3, $4, $5, 'paid', now()) returning payment_id",
        group,
        method,
        amount,
        format!("{code}R{:02}", n + 1),
        provider_ref
    )
    .fetch_one(&mut **tx)
    .await
}

/// Cash on delivery: the producer's part is paid when it is delivered.
pub async fn record_cash(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    order_id: i64,
) -> Result<(), sqlx::Error> {
    let o = sqlx::query!(
        "select o.order_group_id, o.goods_total + o.shipping_fee as \"amount!\", g.code, g.payment_method
         from shop_order o join order_group g using (order_group_id) where o.order_id = $1",
        order_id
    )
    .fetch_one(&mut **tx)
    .await?;
    if o.payment_method != "cod" {
        return Ok(());
    }
    sqlx::query!(
        "insert into payment (order_group_id, method, amount, reference, status, paid_at)
         values ($1, 'cod', $2, $3, 'paid', now()) on conflict (reference) do nothing",
        o.order_group_id,
        o.amount,
        format!("{}C{order_id}", o.code)
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Staff settle a reviewed event: apply it to its order (taking the stock again if the order
/// had expired), or note that the money went back, or dismiss it.
pub async fn resolve(
    pool: &PgPool,
    event_id: i64,
    staff_id: i64,
    resolution: &str,
    note: &str,
) -> Result<Result<(), &'static str>, sqlx::Error> {
    // the decision and every order it moves go to the audit log with it
    let mut tx = crate::audit::begin(pool, staff_id, "payment.resolve", Some(note)).await?;
    let Some(ev) = sqlx::query!(
        r#"select provider as "provider: Provider", order_group_id, payment_id, amount, provider_tx_id from payment_event
         where payment_event_id = $1 and outcome = 'review' and resolved_at is null for update"#,
        event_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Err("Khoản này đã được xử lý hoặc không cần xem xét."));
    };
    if resolution == "applied" {
        let Some(group) = ev.order_group_id else {
            return Ok(Err(
                "Không biết khoản tiền này thuộc đơn hàng nào; hãy hoàn tiền hoặc bỏ qua.",
            ));
        };
        // an amount the provider did not state is never recorded as some made-up number
        let Some(amount) = ev.amount.filter(|a| *a > 0) else {
            return Ok(Err(
                "Không rõ số tiền của khoản này; hãy đối chiếu sao kê rồi hoàn tiền hoặc bỏ qua.",
            ));
        };
        let orders = sqlx::query_scalar!(
            "select order_id from shop_order where order_group_id = $1 order by order_id for update",
            group
        )
        .fetch_all(&mut *tx)
        .await?;
        let details = Details {
            reason: Some(format!("Cán bộ xác nhận khoản thanh toán: {note}")),
            ..Default::default()
        };
        // every part goes through the state machine (an expired one takes its stock again)
        for &o in &orders {
            match transition(&mut tx, o, Status::Paid, Actor::Staff, &details).await {
                Ok(_) => {}
                Err(crate::orders::TransitionError::Database(e)) => return Err(e),
                Err(crate::orders::TransitionError::Invalid(m)) => return Ok(Err(m)),
                Err(_) => {
                    return Ok(Err(
                        "Đơn hàng đã được thanh toán hoặc đã bị huỷ bởi người mua/nhà sản xuất; hãy hoàn tiền.",
                    ));
                }
            }
        }
        let payment = mark_paid(
            &mut tx,
            group,
            ev.payment_id,
            ev.provider,
            crate::domain::Vnd::new(amount),
            ev.provider_tx_id.as_deref(),
        )
        .await?;
        sqlx::query!(
            "update payment_event set payment_id = $2 where payment_event_id = $1",
            event_id,
            payment
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        "update payment_event set resolved_at = now(), resolved_by = $2, resolution = $3, resolution_note = $4 where payment_event_id = $1",
        event_id,
        staff_id,
        resolution,
        note
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn staff_read_the_memo_sender_and_bank_of_each_provider() {
        use super::{Facts, Provider, facts};
        let casso = r#"{"error":0,"data":{"id":0,"reference":"MA_GIAO_DICH_THU_NGHIEM","description":"OCOPAB12CD34 chuyen tien","amount":599000,"counterAccountName":"NGUYEN VAN A","counterAccountNumber":"8888888888","counterAccountBankName":"VietinBank"}}"#;
        assert_eq!(
            facts(Provider::Casso, casso),
            Facts {
                memo: Some("OCOPAB12CD34 chuyen tien".into()),
                sender: Some("NGUYEN VAN A · 8888888888".into()),
                bank: Some("VietinBank".into()),
                reference: Some("MA_GIAO_DICH_THU_NGHIEM".into()),
            }
        );
        let sepay = r#"{"id":92704,"gateway":"Vietcombank","content":"OCOPAB12CD34 thanh toan","transferAmount":75000,"referenceCode":"MBVCB.3278907687"}"#;
        let f = facts(Provider::Sepay, sepay);
        assert_eq!(f.memo.as_deref(), Some("OCOPAB12CD34 thanh toan"));
        assert_eq!(f.bank.as_deref(), Some("Vietcombank"));
        assert_eq!(f.reference.as_deref(), Some("MBVCB.3278907687"));
        let vnpay = "vnp_Amount=1000000&vnp_BankCode=NCB&vnp_OrderInfo=Thanh+toan+don+hang+OCOPAB12CD34&vnp_TransactionNo=14226112";
        let f = facts(Provider::Vnpay, vnpay);
        assert_eq!(f.memo.as_deref(), Some("Thanh toan don hang OCOPAB12CD34"));
        assert_eq!(f.bank.as_deref(), Some("NCB"));
        assert_eq!(facts(Provider::Sepay, "not json"), Facts::default());
    }

    #[test]
    fn order_codes_are_found_however_the_bank_wrote_them() {
        assert_eq!(
            super::codes_in("CK thanh toan ocopab12cd34 cam on"),
            vec!["OCOPAB12CD34"]
        );
        assert_eq!(
            super::codes_in("MBVCB.123.OCOPAB12CD34.CT tu 0123"),
            vec!["OCOPAB12CD34"]
        );
        assert!(super::codes_in("OCOPAB12CD345 too long").is_empty());
        assert!(super::codes_in("no code here").is_empty());
        assert_eq!(super::codes_in("OCOPAB12CD34 OCOPZZ99YY88").len(), 2);
    }
}
