//! Invoices in the back office: what waits on a provider (with the provider's words), producers
//! whose e-invoice account was refused, and the marketplace's monthly commission invoices. Province
//! staff see their province's producers only.

use super::*;
use crate::domain::Vnd;
use time::OffsetDateTime;

#[derive(Serialize)]
struct Waiting {
    invoice_id: i64,
    order_id: Option<i64>,
    month: Option<String>,
    kind: &'static str,
    state: String,
    producer: String,
    amount: Vnd,
    attempts: i32,
    last_error: Option<String>,
    created_at: OffsetDateTime,
}

#[derive(Serialize)]
struct Refused {
    producer: String,
    provider: String,
    reason: Option<String>,
    at: Option<OffsetDateTime>,
}

#[derive(Serialize)]
struct Month {
    month: String,
    issued: i64,
    waiting: i64,
    amount: Vnd,
}

#[derive(Serialize)]
struct InvoicesPage {
    waiting: Vec<Waiting>,
    refused: Vec<Refused>,
    months: Vec<Month>,
    market_configured: bool,
}

pub(super) async fn invoices(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
) -> Result<Response, AppError> {
    let scope = staff.province;
    let waiting = sqlx::query!(
        r#"select i.invoice_id, i.order_id, i.month, i.kind, i.state, p.name as producer, i.amount, i.attempts,
                  i.last_error, i.created_at
           from invoice i join producer p using (producer_id)
           where (i.state = 'stuck' or (i.state = 'pending' and i.attempts > 0))
             and ($1::smallint is null or p.province_code = $1)
           order by i.created_at limit 300"#,
        scope
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| Waiting {
        invoice_id: r.invoice_id,
        order_id: r.order_id,
        month: r.month.map(|m| format!("{:02}/{}", u8::from(m.month()), m.year())),
        kind: crate::invoicing::views::kind_label(&r.kind),
        state: r.state,
        producer: r.producer,
        amount: Vnd::new(r.amount),
        attempts: r.attempts,
        last_error: r.last_error,
        created_at: r.created_at,
    })
    .collect();
    let refused = sqlx::query!(
        r#"select p.name, a.provider, a.refused_reason, a.refused_at
           from einvoice_account a join producer p using (producer_id)
           where a.refused_at is not null and ($1::smallint is null or p.province_code = $1)
           order by a.refused_at"#,
        scope
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| Refused {
        producer: r.name,
        provider: r.provider,
        reason: r.refused_reason,
        at: r.refused_at,
    })
    .collect();
    let months = sqlx::query!(
        r#"select i.month as "month!", count(*) filter (where i.state = 'issued') as "issued!",
                  count(*) filter (where i.state in ('pending', 'stuck')) as "waiting!",
                  coalesce(sum(i.amount), 0)::bigint as "amount!"
           from invoice i join producer p using (producer_id)
           where i.kind = 'commission' and ($1::smallint is null or p.province_code = $1)
           group by 1 order by 1 desc limit 12"#,
        scope
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| Month {
        month: format!("{:02}/{}", u8::from(r.month.month()), r.month.year()),
        issued: r.issued,
        waiting: r.waiting,
        amount: Vnd::new(r.amount),
    })
    .collect();
    let page = InvoicesPage {
        waiting,
        refused,
        months,
        market_configured: crate::invoicing::market_account(&state).is_some(),
    };
    Ok(show(
        StatusCode::OK,
        "staff/invoices.html",
        &framed(&state, &session, &staff, page),
    ))
}
