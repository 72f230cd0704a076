//! The ledger: the truth about money. Double-entry journal entries whose lines sum to zero (the
//! database refuses any that do not), never updated or deleted, each caused by one business event
//! and posted under that event's idempotency key, so posting it again does nothing. Debits are
//! positive, credits negative. This module owns `journal_entry` and `journal_line`; what to post
//! and when is `settlement`'s business.

use crate::domain::Vnd;
use crate::payments::PaymentMethod;
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

/// The accounts. `Held` and `Payable` are per producer; the rest are the marketplace's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Account {
    /// the marketplace's bank account (VietQR transfers in, payouts out)
    ClearingBank,
    ClearingVnpay,
    ClearingMomo,
    ClearingStripe,
    /// cash on delivery, in the hands of the producer (or its carrier)
    CashCollected,
    /// shoppers' money for a producer's orders, held until the return window passes
    Held,
    /// what the marketplace owes a producer (negative when the producer owes it)
    Payable,
    Commission,
    VatWithheld,
    PitWithheld,
    ProviderFees,
    RefundsOwed,
    PayoutsInFlight,
    /// staff corrections in a producer's favour or against it
    Adjustments,
    /// cash on delivery a carrier collected and has not paid us yet
    CarrierCod,
    /// what the marketplace owes the carriers for parcels they carried
    CarriersPayable,
    /// what the marketplace's own promotions took off orders (its expense)
    PromotionsMarketplace,
    /// what provinces' programmes' promotions took off orders (owed by each province, by the
    /// entries' province)
    PromotionsProvince,
}

impl Account {
    pub fn per_producer(self) -> bool {
        matches!(self, Account::Held | Account::Payable)
    }

    /// Where money paid with `method` lands.
    pub fn clearing(method: PaymentMethod) -> Account {
        match method {
            PaymentMethod::Vietqr => Account::ClearingBank,
            PaymentMethod::Vnpay => Account::ClearingVnpay,
            PaymentMethod::Momo => Account::ClearingMomo,
            PaymentMethod::Card => Account::ClearingStripe,
            PaymentMethod::Cod => Account::CashCollected,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Account::ClearingBank => "Tài khoản ngân hàng của sàn",
            Account::ClearingVnpay => "VNPAY",
            Account::ClearingMomo => "MoMo",
            Account::ClearingStripe => "Stripe (thẻ)",
            Account::CashCollected => "Tiền mặt nhà sản xuất đã thu",
            Account::Held => "Tiền người mua đang tạm giữ",
            Account::Payable => "Phải trả nhà sản xuất",
            Account::Commission => "Phí hoa hồng của sàn",
            Account::VatWithheld => "Thuế GTGT đã khấu trừ",
            Account::PitWithheld => "Thuế TNCN đã khấu trừ",
            Account::ProviderFees => "Phí cổng thanh toán",
            Account::RefundsOwed => "Tiền phải hoàn cho người mua",
            Account::PayoutsInFlight => "Tiền đang chuyển cho nhà sản xuất",
            Account::Adjustments => "Điều chỉnh",
            Account::CarrierCod => "Tiền thu hộ hãng vận chuyển chưa chuyển",
            Account::CarriersPayable => "Phải trả hãng vận chuyển",
            Account::PromotionsMarketplace => "Khuyến mãi do sàn tài trợ",
            Account::PromotionsProvince => "Khuyến mãi do chương trình của tỉnh tài trợ",
        }
    }
}

/// What a line's amount is, as a statement shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Component {
    Payment,
    Fee,
    Goods,
    Shipping,
    Commission,
    Vat,
    Pit,
    Cash,
    Refund,
    Payout,
    Adjustment,
    /// a promotion's discount
    Discount,
}

/// The business events that post entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Event {
    Payment,
    CashCollected,
    Release,
    Reversal,
    Refund,
    PayoutSent,
    PayoutPaid,
    PayoutFailed,
    PayoutReturned,
    Adjustment,
    /// the carrier paid us the cash it collected
    CodRemitted,
    /// a transfer for a fair or sales-point sale reached the marketplace's account
    TillTransfer,
    /// a fair or sales-point sale paid into the marketplace's account: the tax withheld
    TillSale,
}

impl Event {
    pub fn label(self) -> &'static str {
        match self {
            Event::Payment => "Người mua đã thanh toán",
            Event::CashCollected => "Đã thu tiền mặt khi giao",
            Event::Release => "Hết hạn đổi trả: chia tiền",
            Event::Reversal => "Huỷ / trả hàng: hoàn lại",
            Event::Refund => "Đã hoàn tiền cho người mua",
            Event::PayoutSent => "Lệnh chi trả",
            Event::PayoutPaid => "Ngân hàng xác nhận đã chuyển",
            Event::PayoutFailed => "Chuyển khoản không thành công",
            Event::PayoutReturned => "Ngân hàng trả lại tiền",
            Event::Adjustment => "Điều chỉnh của cán bộ",
            Event::CodRemitted => "Hãng vận chuyển đã chuyển tiền thu hộ",
            Event::TillTransfer => "Khách chuyển khoản tại hội chợ / điểm bán",
            Event::TillSale => "Bán tại hội chợ / điểm bán: thuế khấu trừ",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub account: Account,
    pub producer: Option<i64>,
    pub component: Component,
    pub amount: Vnd,
}

/// One business event's entry, before it is posted.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub event: Event,
    pub order_id: Option<i64>,
    pub producer_id: Option<i64>,
    pub province_code: Option<i16>,
    pub payout_line_id: Option<i64>,
    pub memo: Option<String>,
    pub actor: Option<i64>,
    /// when it happened; now when absent (history brought in later keeps its own dates)
    pub at: Option<OffsetDateTime>,
    pub lines: Vec<Line>,
}

impl Entry {
    pub fn new(key: String, event: Event) -> Entry {
        Entry {
            key,
            event,
            order_id: None,
            producer_id: None,
            province_code: None,
            payout_line_id: None,
            memo: None,
            actor: None,
            at: None,
            lines: vec![],
        }
    }

    /// Adds a line (a zero amount adds nothing). A producer's line names the producer the entry
    /// is for.
    pub fn line(&mut self, account: Account, component: Component, amount: Vnd) -> &mut Entry {
        if amount != Vnd::ZERO {
            let producer = if account.per_producer() {
                self.producer_id
            } else {
                None
            };
            self.lines.push(Line {
                account,
                producer,
                component,
                amount,
            });
        }
        self
    }

    /// Debits `debit` and credits `credit` with the same amount.
    pub fn transfer(
        &mut self,
        debit: Account,
        credit: Account,
        component: Component,
        amount: Vnd,
    ) -> &mut Entry {
        self.line(debit, component, amount)
            .line(credit, component, -amount)
    }

    pub fn sum(&self) -> Vnd {
        self.lines.iter().map(|l| l.amount).sum()
    }
}

/// Posts entries that were not posted before (by key), in one statement whatever their number
/// (so entries and lines land together even outside a transaction). Returns how many were new.
/// An entry with no lines is skipped; one that does not sum to zero is refused by the database,
/// and the caller's transaction with it.
pub async fn post(conn: &mut PgConnection, entries: &[Entry]) -> Result<usize, sqlx::Error> {
    let entries: Vec<&Entry> = entries.iter().filter(|e| !e.lines.is_empty()).collect();
    if entries.is_empty() {
        return Ok(0);
    }
    let keys: Vec<String> = entries.iter().map(|e| e.key.clone()).collect();
    let events: Vec<Event> = entries.iter().map(|e| e.event).collect();
    let orders: Vec<Option<i64>> = entries.iter().map(|e| e.order_id).collect();
    let producers: Vec<Option<i64>> = entries.iter().map(|e| e.producer_id).collect();
    let provinces: Vec<Option<i16>> = entries.iter().map(|e| e.province_code).collect();
    let payout_lines: Vec<Option<i64>> = entries.iter().map(|e| e.payout_line_id).collect();
    let memos: Vec<Option<String>> = entries.iter().map(|e| e.memo.clone()).collect();
    let actors: Vec<Option<i64>> = entries.iter().map(|e| e.actor).collect();
    let ats: Vec<Option<OffsetDateTime>> = entries.iter().map(|e| e.at).collect();
    let (mut line_keys, mut accounts, mut line_producers, mut components, mut amounts) =
        (vec![], vec![], vec![], vec![], vec![]);
    for e in &entries {
        for l in &e.lines {
            line_keys.push(e.key.clone());
            accounts.push(l.account);
            line_producers.push(l.producer);
            components.push(l.component);
            amounts.push(l.amount.amount());
        }
    }
    let new = sqlx::query_scalar!(
        r#"with e as (
               insert into journal_entry (key, event, order_id, producer_id, province_code, payout_line_id, memo, actor_id, at)
               select k, e, o, p, pv, pl, m, a, coalesce(t, now())
               from unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::smallint[], $6::bigint[], $7::text[],
                           $8::bigint[], $9::timestamptz[]) as x(k, e, o, p, pv, pl, m, a, t)
               on conflict (key) do nothing
               returning entry_id, key
           ), l as (
               insert into journal_line (entry_id, account, producer_id, component, amount)
               select e.entry_id, l.account, l.producer, l.component, l.amount
               from e join unnest($10::text[], $11::text[], $12::bigint[], $13::text[], $14::bigint[])
                   as l(key, account, producer, component, amount) on l.key = e.key
               returning entry_id
           )
           select count(distinct entry_id) as "n!" from l"#,
        &keys,
        &events as &[Event],
        &orders as &[Option<i64>],
        &producers as &[Option<i64>],
        &provinces as &[Option<i16>],
        &payout_lines as &[Option<i64>],
        &memos as &[Option<String>],
        &actors as &[Option<i64>],
        &ats as &[Option<OffsetDateTime>],
        &line_keys,
        &accounts as &[Account],
        &line_producers as &[Option<i64>],
        &components as &[Component],
        &amounts
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(new as usize)
}

/// A producer's balances, as it reads them: credits are what it is owed, so signs are turned.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Balances {
    /// shoppers' money for its orders, waiting for the return window
    pub held: Vnd,
    /// owed to it now (negative when it owes the marketplace)
    pub available: Vnd,
}

/// Read from the balance rollup (migration 0023) plus the deltas not folded yet, in one
/// statement so both come from the same snapshot.
pub async fn producer_balances(
    db: impl PgExecutor<'_>,
    producer_id: i64,
) -> Result<Balances, sqlx::Error> {
    let r = sqlx::query!(
        r#"select coalesce(sum(held), 0)::bigint as "held!: Vnd",
                  coalesce(sum(payable), 0)::bigint as "available!: Vnd"
           from (select held, payable from producer_balance where producer_id = $1
                 union all
                 select held, payable from producer_balance_delta where producer_id = $1) b"#,
        producer_id
    )
    .fetch_one(db)
    .await?;
    Ok(Balances {
        held: r.held,
        available: r.available,
    })
}

/// Folds the balance deltas posting appended into one row per producer. Safe with several
/// instances: one folds at a time, and the others skip. Returns how many deltas were folded.
pub async fn fold_balances(pool: &sqlx::PgPool) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mine: bool = sqlx::query_scalar!(
        r#"select pg_try_advisory_xact_lock(hashtext('ocop.fold_balances')) as "v!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    if !mine {
        return Ok(0);
    }
    // the delete sees this statement's snapshot only: a delta committed meanwhile waits for the
    // next fold, and a reader's single statement sees either the delta or the folded row
    let folded = sqlx::query_scalar!(
        r#"with d as (
               delete from producer_balance_delta returning producer_id, held, payable
           ), f as (
               insert into producer_balance (producer_id, held, payable)
               select producer_id, sum(held), sum(payable) from d group by producer_id order by producer_id
               on conflict (producer_id) do update
                   set held = producer_balance.held + excluded.held,
                       payable = producer_balance.payable + excluded.payable
           )
           select count(*) as "n!" from d"#
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(folded as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_balances_and_zero_lines_are_dropped() {
        let mut e = Entry::new("t:1".into(), Event::Adjustment);
        e.producer_id = Some(7);
        e.transfer(
            Account::Adjustments,
            Account::Payable,
            Component::Adjustment,
            Vnd::new(5_000),
        )
        .line(Account::Commission, Component::Commission, Vnd::ZERO);
        assert_eq!(e.lines.len(), 2);
        assert_eq!(e.sum(), Vnd::ZERO);
        assert_eq!(
            e.lines[1].producer,
            Some(7),
            "the payable is the producer's"
        );
        assert_eq!(
            e.lines[0].producer, None,
            "the marketplace's account is not"
        );
    }
}
