//! What the ledger says, as people read it: a producer's statement and yearly tax certificate,
//! the monthly withholding declaration, the settlement overview per province, the money each
//! payment channel should remit per day, and payout runs with their bank file.

use super::payouts::{LineStatus, bank_name};
use crate::domain::{VN_OFFSET, Vnd};
use crate::ledger::Event;
use serde::Serialize;
use sqlx::PgPool;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A calendar month in Vietnam time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub year: i32,
    pub month: u8,
}

impl Period {
    /// "2026-11"; anything else is refused.
    pub fn parse(s: &str) -> Option<Period> {
        let (y, m) = s.trim().split_once('-')?;
        let year: i32 = y.parse().ok().filter(|y| (2020..=2100).contains(y))?;
        let month: u8 = m.parse().ok().filter(|m| (1..=12).contains(m))?;
        Some(Period { year, month })
    }

    /// The month a page asks for (`?month=2026-11`), this month when it asks for none.
    pub fn asked(q: Option<&str>) -> Result<Period, crate::error::AppError> {
        match q.map(str::trim) {
            None | Some("") => Ok(Period::containing(OffsetDateTime::now_utc())),
            Some(m) => Period::parse(m).ok_or_else(|| {
                crate::error::AppError::bad("bad_month", "Tháng không hợp lệ (ví dụ 2026-11).")
            }),
        }
    }

    pub fn containing(t: OffsetDateTime) -> Period {
        let d = t.to_offset(VN_OFFSET).date();
        Period {
            year: d.year(),
            month: d.month() as u8,
        }
    }

    pub fn key(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    pub fn label(self) -> String {
        format!("tháng {}/{}", self.month, self.year)
    }

    fn first_day(self) -> Date {
        Date::from_calendar_date(
            self.year,
            Month::try_from(self.month).unwrap_or(Month::January),
            1,
        )
        .unwrap_or(Date::MIN)
    }

    pub fn start(self) -> OffsetDateTime {
        PrimitiveDateTime::new(self.first_day(), Time::MIDNIGHT).assume_offset(VN_OFFSET)
    }

    pub fn next(self) -> Period {
        if self.month == 12 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Period {
        if self.month == 1 {
            Period {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Period {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn end(self) -> OffsetDateTime {
        self.next().start()
    }
}

pub fn year_bounds(year: i32) -> (OffsetDateTime, OffsetDateTime) {
    (
        Period { year, month: 1 }.start(),
        Period {
            year: year + 1,
            month: 1,
        }
        .start(),
    )
}

/// One line of a producer's statement: an entry that moved what it is owed.
#[derive(Debug, Serialize)]
pub struct StatementRow {
    pub at: OffsetDateTime,
    pub event: Event,
    pub event_label: &'static str,
    pub order_id: Option<i64>,
    pub payout_reference: Option<String>,
    /// goods and shipping the shopper paid for (negative when a sale is undone)
    pub gross: Vnd,
    pub commission: Vnd,
    pub vat: Vnd,
    pub pit: Vnd,
    pub fee: Vnd,
    /// cash the producer collected itself, set against what it is owed
    pub cash: Vnd,
    pub payout: Vnd,
    pub net: Vnd,
}

#[derive(Debug, Serialize)]
pub struct Statement {
    pub opening: Vnd,
    pub closing: Vnd,
    pub rows: Vec<StatementRow>,
    pub gross: Vnd,
    pub commission: Vnd,
    pub vat: Vnd,
    pub pit: Vnd,
    pub fee: Vnd,
    pub payouts: Vnd,
    /// what the period added to the balance
    pub net: Vnd,
}

/// Every entry that moved the producer's payable in `[from, to)`, with the balance before and
/// after: deductions read as positive amounts, the net as what the producer gained.
pub async fn statement(
    pool: &PgPool,
    producer_id: i64,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Statement, sqlx::Error> {
    // the balance now, less what moved since the period began: both read few rows (the
    // producer's lines by index, its entries since `from` by date), never its whole history joined
    let now = crate::ledger::producer_balances(pool, producer_id)
        .await?
        .available;
    let since = sqlx::query_scalar!(
        r#"with e as materialized (
               select entry_id from journal_entry where producer_id = $1 and at >= $2
           )
           select coalesce(-sum(l.amount), 0)::bigint as "v!: Vnd"
           from e join journal_line l using (entry_id)
           where l.producer_id = $1 and l.account = 'payable'"#,
        producer_id,
        from
    )
    .fetch_one(pool)
    .await?;
    let opening = now - since;
    let rows = sqlx::query!(
        r#"select e.at, e.event as "event: Event", e.order_id, pl.reference as "reference?",
              coalesce(-sum(l.amount) filter (where l.component in ('goods', 'shipping')), 0)::bigint as "gross!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'commission'), 0)::bigint as "commission!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'vat'), 0)::bigint as "vat!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'pit'), 0)::bigint as "pit!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'fee'), 0)::bigint as "fee!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'cash'), 0)::bigint as "cash!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'payout'), 0)::bigint as "payout!: Vnd",
              (-sum(l.amount))::bigint as "net!: Vnd"
           from (select * from journal_entry where producer_id = $1 and at >= $2 and at < $3 offset 0) e
           join journal_line l using (entry_id)
           left join payout_line pl on pl.payout_line_id = e.payout_line_id
           where l.producer_id = $1 and l.account = 'payable'
           group by e.entry_id, e.at, e.event, e.order_id, pl.reference order by e.at, e.entry_id"#,
        producer_id,
        from,
        to
    )
    .fetch_all(pool)
    .await?;
    let rows: Vec<StatementRow> = rows
        .into_iter()
        .map(|r| StatementRow {
            at: r.at,
            event: r.event,
            event_label: r.event.label(),
            order_id: r.order_id,
            payout_reference: r.reference,
            gross: r.gross,
            commission: r.commission,
            vat: r.vat,
            pit: r.pit,
            fee: r.fee,
            cash: r.cash,
            payout: r.payout,
            net: r.net,
        })
        .collect();
    let sum = |f: fn(&StatementRow) -> Vnd| rows.iter().map(f).sum::<Vnd>();
    Ok(Statement {
        opening,
        closing: opening + sum(|r| r.net),
        gross: sum(|r| r.gross),
        commission: sum(|r| r.commission),
        vat: sum(|r| r.vat),
        pit: sum(|r| r.pit),
        fee: sum(|r| r.fee),
        payouts: sum(|r| r.payout),
        net: sum(|r| r.net),
        rows,
    })
}

/// One seller's line of the withholding declaration, or one month of a seller's yearly
/// certificate.
#[derive(Debug, Serialize)]
pub struct Withheld {
    pub producer_id: i64,
    pub name: String,
    pub producer_type: String,
    pub tax_code: Option<String>,
    pub citizen_id: Option<String>,
    /// staff compared the tax code or CCCD with the papers
    pub identity_checked: bool,
    pub province: String,
    pub month: Option<String>,
    /// goods and services sold whose return window passed
    pub revenue: Vnd,
    /// sales undone this period (offset against the revenue)
    pub returns: Vnd,
    pub vat: Vnd,
    pub pit: Vnd,
}

/// The month's declaration: each household seller with revenue, returns offset, VAT and PIT
/// withheld, in the province (or the whole country).
pub async fn withholding(
    pool: &PgPool,
    period: Period,
    province: Option<i16>,
) -> Result<Vec<Withheld>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select pr.producer_id, pr.name, pr.producer_type, pr.tax_code, pr.citizen_id, pv.name as province,
              pr.identity_checked_at is not null as "identity_checked!",
              coalesce(-sum(l.amount) filter (where l.component = 'goods' and e.event = 'release'), 0)::bigint as "revenue!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'goods' and e.event = 'reversal'), 0)::bigint as "returns!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'vat'), 0)::bigint as "vat!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'pit'), 0)::bigint as "pit!: Vnd"
           from journal_entry e join journal_line l using (entry_id)
           join producer pr on pr.producer_id = l.producer_id join province pv on pv.province_code = pr.province_code
           where l.account = 'payable' and e.event in ('release', 'reversal') and e.at >= $1 and e.at < $2
             and ($3::smallint is null or e.province_code = $3)
             and pr.producer_type in ('household', 'coop_group')
           group by pr.producer_id, pv.name order by pv.name, pr.name"#,
        period.start(),
        period.end(),
        province
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Withheld {
            producer_id: r.producer_id,
            name: r.name,
            producer_type: r.producer_type,
            tax_code: r.tax_code,
            citizen_id: r.citizen_id,
            identity_checked: r.identity_checked,
            province: r.province,
            month: None,
            revenue: r.revenue,
            returns: r.returns,
            vat: r.vat,
            pit: r.pit,
        })
        .collect())
}

/// A seller's tax withheld in `year`, month by month: the document it shows the tax office.
pub async fn yearly_certificate(
    pool: &PgPool,
    producer_id: i64,
    year: i32,
) -> Result<Vec<Withheld>, sqlx::Error> {
    let (from, to) = year_bounds(year);
    let rows = sqlx::query!(
        r#"select to_char(e.at at time zone 'Asia/Ho_Chi_Minh', 'YYYY-MM') as "month!",
              coalesce(-sum(l.amount) filter (where l.component = 'goods' and e.event = 'release'), 0)::bigint as "revenue!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'goods' and e.event = 'reversal'), 0)::bigint as "returns!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'vat'), 0)::bigint as "vat!: Vnd",
              coalesce(sum(l.amount) filter (where l.component = 'pit'), 0)::bigint as "pit!: Vnd"
           from journal_line l join journal_entry e using (entry_id)
           where l.producer_id = $1 and l.account = 'payable' and e.event in ('release', 'reversal')
             and e.at >= $2 and e.at < $3
           group by 1 order by 1"#,
        producer_id,
        from,
        to
    )
    .fetch_all(pool)
    .await?;
    let p = sqlx::query!(
        r#"select pr.name, pr.producer_type, pr.tax_code, pr.citizen_id, pv.name as province,
                  pr.identity_checked_at is not null as "identity_checked!"
           from producer pr join province pv using (province_code) where producer_id = $1"#,
        producer_id
    )
    .fetch_one(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Withheld {
            producer_id,
            name: p.name.clone(),
            producer_type: p.producer_type.clone(),
            tax_code: p.tax_code.clone(),
            citizen_id: p.citizen_id.clone(),
            identity_checked: p.identity_checked,
            province: p.province.clone(),
            month: Some(r.month),
            revenue: r.revenue,
            returns: r.returns,
            vat: r.vat,
            pit: r.pit,
        })
        .collect())
}

/// A province's money at a glance.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub province_code: i16,
    pub province: String,
    /// shoppers' money waiting for return windows
    pub held: Vnd,
    /// owed to producers now (payouts not yet run)
    pub owed: Vnd,
    pub in_flight: Vnd,
    pub commission_month: Vnd,
    pub vat_month: Vnd,
    pub pit_month: Vnd,
}

pub async fn overview(
    pool: &PgPool,
    province: Option<i16>,
    month: Period,
) -> Result<Vec<Overview>, sqlx::Error> {
    // balances from the rollup, money in flight from the open payout lines, the month's
    // commission and tax from the daily rollup: none of it sums the ledger's history
    let rows = sqlx::query!(
        r#"with bal as (
               select pr.province_code, sum(b.held) as held, sum(b.payable) as owed
               from (select producer_id, held, payable from producer_balance
                     union all
                     select producer_id, held, payable from producer_balance_delta) b
               join producer pr using (producer_id)
               where ($1::smallint is null or pr.province_code = $1)
               group by 1
           ), flight as (
               select pr.province_code, sum(l.amount) as in_flight
               from payout_line l join producer pr using (producer_id)
               where l.status = 'sent' and ($1::smallint is null or pr.province_code = $1)
               group by 1
           ), month as (
               select province_code,
                      -sum(amount) filter (where account = 'commission') as commission,
                      -sum(amount) filter (where account = 'vat_withheld') as vat,
                      -sum(amount) filter (where account = 'pit_withheld') as pit
               from ledger_day
               where day >= $2 and day < $3 and ($1::smallint is null or province_code = $1)
               group by 1
           )
           select pv.province_code, pv.name as province,
                  coalesce(bal.held, 0)::bigint as "held!: Vnd",
                  coalesce(bal.owed, 0)::bigint as "owed!: Vnd",
                  coalesce(flight.in_flight, 0)::bigint as "in_flight!: Vnd",
                  coalesce(month.commission, 0)::bigint as "commission!: Vnd",
                  coalesce(month.vat, 0)::bigint as "vat!: Vnd",
                  coalesce(month.pit, 0)::bigint as "pit!: Vnd"
           from province pv
           left join bal using (province_code)
           left join flight using (province_code)
           left join month using (province_code)
           where bal.province_code is not null or flight.province_code is not null
              or month.province_code is not null
           order by 2"#,
        province,
        month.first_day(),
        month.next().first_day()
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Overview {
            province_code: r.province_code,
            province: r.province,
            held: r.held,
            owed: r.owed,
            in_flight: r.in_flight,
            commission_month: r.commission,
            vat_month: r.vat,
            pit_month: r.pit,
        })
        .collect())
}

/// What a channel should have remitted for one day, to set beside the bank statement.
#[derive(Debug, Serialize)]
pub struct Remittance {
    pub day: Date,
    pub channel: &'static str,
    pub paid: Vnd,
    pub fees: Vnd,
    pub refunds: Vnd,
    pub expected: Vnd,
}

pub async fn remittances(
    pool: &PgPool,
    province: Option<i16>,
    days: i64,
) -> Result<Vec<Remittance>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select (e.at at time zone 'Asia/Ho_Chi_Minh')::date as "day!", l.account as "account: crate::ledger::Account",
              coalesce(sum(l.amount) filter (where l.component = 'payment'), 0)::bigint as "paid!: Vnd",
              coalesce(-sum(l.amount) filter (where l.component = 'fee'), 0)::bigint as "fees!: Vnd",
              coalesce(-sum(l.amount) filter (where l.component = 'refund'), 0)::bigint as "refunds!: Vnd"
           from journal_entry e join journal_line l using (entry_id)
           where l.account in ('clearing_bank', 'clearing_vnpay', 'clearing_momo', 'clearing_stripe')
             and l.component in ('payment', 'fee', 'refund')
             and e.at >= now() - make_interval(days => $2::int) and ($1::smallint is null or e.province_code = $1)
           group by 1, 2 order by 1 desc, 2"#,
        province,
        days as i32
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Remittance {
            day: r.day,
            channel: r.account.label(),
            paid: r.paid,
            fees: r.fees,
            refunds: r.refunds,
            expected: r.paid - r.fees - r.refunds,
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub struct RunSummary {
    pub run_id: i64,
    pub province: String,
    pub province_code: i16,
    pub run_on: Date,
    pub started_by: Option<String>,
    pub lines: i64,
    pub total: Vnd,
    pub sent: i64,
    pub paid: i64,
    pub failed: i64,
}

/// The latest 100 runs in scope, or the one run `only` (if in scope).
pub async fn runs(
    pool: &PgPool,
    province: Option<i16>,
    only: Option<i64>,
) -> Result<Vec<RunSummary>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select r.payout_run_id, pv.name as province, r.province_code, r.run_on, u.display_name as "started_by?",
              count(l.*) as "lines!", coalesce(sum(l.amount), 0)::bigint as "total!: Vnd",
              count(*) filter (where l.status = 'sent') as "sent!",
              count(*) filter (where l.status = 'paid') as "paid!",
              count(*) filter (where l.status in ('failed', 'returned')) as "failed!"
           from payout_run r join province pv using (province_code)
           left join app_user u on u.user_id = r.started_by
           left join payout_line l using (payout_run_id)
           where ($1::smallint is null or r.province_code = $1) and ($2::bigint is null or r.payout_run_id = $2)
           group by r.payout_run_id, pv.name, u.display_name order by r.run_on desc, r.payout_run_id desc limit 100"#,
        province,
        only
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RunSummary {
            run_id: r.payout_run_id,
            province: r.province,
            province_code: r.province_code,
            run_on: r.run_on,
            started_by: r.started_by,
            lines: r.lines,
            total: r.total,
            sent: r.sent,
            paid: r.paid,
            failed: r.failed,
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub struct PayoutRow {
    pub line_id: i64,
    pub producer: String,
    pub amount: Vnd,
    pub bank_bin: String,
    pub bank: &'static str,
    pub account_no: String,
    pub holder_name: String,
    pub reference: String,
    pub status: LineStatus,
    pub status_label: &'static str,
    pub bank_ref: Option<String>,
    pub note: Option<String>,
    /// the NAPAS VietQR a banking app scans to make this transfer
    pub qr: String,
}

/// A run's lines, if the run is in `province` (or any, for national staff).
pub async fn run_lines(
    pool: &PgPool,
    run_id: i64,
    province: Option<i16>,
) -> Result<Option<(RunSummary, Vec<PayoutRow>)>, sqlx::Error> {
    let Some(summary) = runs(pool, province, Some(run_id)).await?.pop() else {
        return Ok(None);
    };
    let rows = sqlx::query!(
        r#"select l.payout_line_id, pr.name, l.amount as "amount: Vnd", l.bank_bin, l.account_no, l.holder_name,
              l.reference, l.status as "status: LineStatus", l.bank_ref, l.note
           from payout_line l join producer pr using (producer_id)
           where l.payout_run_id = $1 order by pr.name"#,
        run_id
    )
    .fetch_all(pool)
    .await?;
    let lines = rows
        .into_iter()
        .map(|r| {
            let payload = crate::payments::gateways::bank::vietqr_payload(
                &r.bank_bin,
                &r.account_no,
                r.amount,
                &r.reference,
            );
            PayoutRow {
                line_id: r.payout_line_id,
                producer: r.name,
                amount: r.amount,
                bank: bank_name(&r.bank_bin).unwrap_or("?"),
                bank_bin: r.bank_bin,
                account_no: r.account_no,
                holder_name: r.holder_name,
                reference: r.reference,
                status: r.status,
                status_label: r.status.label(),
                bank_ref: r.bank_ref,
                note: r.note,
                qr: qr_svg(&payload),
            }
        })
        .collect();
    Ok(Some((summary, lines)))
}

/// An inline SVG of a QR code.
pub fn qr_svg(payload: &str) -> String {
    match qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(180, 180)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// The bank's batch-transfer file: one transfer per line still to be made.
pub fn bank_file(lines: &[PayoutRow]) -> Result<String, csv::Error> {
    crate::export::csv_document(
        &[
            "STT",
            "Mã ngân hàng (BIN)",
            "Ngân hàng",
            "Số tài khoản",
            "Tên chủ tài khoản",
            "Số tiền",
            "Nội dung",
        ],
        lines
            .iter()
            .filter(|l| l.status == LineStatus::Sent)
            .enumerate()
            .map(|(i, l)| {
                [
                    (i + 1).to_string(),
                    l.bank_bin.clone(),
                    l.bank.to_string(),
                    l.account_no.clone(),
                    l.holder_name.clone(),
                    l.amount.amount().to_string(),
                    format!("{} chi tra OCOP", l.reference),
                ]
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_vietnamese_calendar_months() {
        let p = Period::parse("2026-12").unwrap();
        assert_eq!(p.next(), Period::parse("2027-01").unwrap());
        assert_eq!(p.prev().key(), "2026-11");
        assert_eq!(
            p.start(),
            time::macros::datetime!(2026-11-30 17:00 UTC),
            "midnight in Vietnam"
        );
        assert!(Period::parse("2026-13").is_none());
        assert!(Period::parse("abc").is_none());
    }
}
