//! Settlement: what the ledger records as an order's money moves, in the order real money does.
//! Paid → held for the shopper; delivered and the return window passed → split into the
//! producer's payable, the commission and the tax withheld; cancelled or refunded → reversed from
//! wherever it is (after a payout too: the producer's balance goes negative). Payouts are in
//! `payouts`; the rates in `rates`.
//!
//! One function, `catch_up`, posts every entry an order's current state implies that is not
//! posted yet. The order's transition calls it in the same transaction, the release job calls it
//! when return windows pass, and the history is brought in by it: one owner for each rule, and
//! posting twice is harmless (each entry has its event's key).

pub mod payouts;
pub mod rates;
pub mod reports;

use crate::domain::{ProducerType, Sector, Vnd};
use crate::ledger::{Account, Component, Entry, Event, post};
use crate::orders::Status;
use crate::payments::PaymentMethod;
use rates::{Fees, Rates};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

/// What settlement needs to know about one producer order.
#[derive(Debug, Clone)]
pub struct OrderFacts {
    pub order_id: i64,
    pub producer_id: i64,
    pub province_code: i16,
    pub producer_type: Option<ProducerType>,
    pub status: Status,
    pub goods: Vnd,
    pub shipping: Vnd,
    /// what promotions took off its goods, by who bears it
    pub discounts: Discounts,
    pub placed_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
    /// how the money came, and when, if it came: the group's payment, or cash at delivery
    pub paid: Option<(PaymentMethod, OffsetDateTime)>,
    /// (line total less what the producer's own promotions took off, sector) of each line:
    /// commission and tax go by sector, on what the producer sold for
    pub lines: Vec<(Vnd, Option<Sector>)>,
    /// the kinds of entry already posted for it ("paid", "release", ...)
    pub posted: Vec<String>,
    /// a carrier carries it on the marketplace's account: its fee, who bears it, and when the
    /// cash it collected (cash on delivery) reached us
    pub carried: Option<Carried>,
}

/// A parcel a carrier carries for the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Carried {
    /// what the carrier charges (its booking's fee, or the quote the shopper accepted)
    pub fee: Vnd,
    /// the part ships free: the producer bears the carrier's fee
    pub producer_pays: bool,
    pub cod_remitted_at: Option<OffsetDateTime>,
}

/// An order's discounts by funder: the producer's lower what it is owed; the marketplace's and
/// a province programme's are paid to it by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Discounts {
    pub producer: Vnd,
    pub marketplace: Vnd,
    pub province: Vnd,
}

impl Discounts {
    pub fn total(self) -> Vnd {
        self.producer + self.marketplace + self.province
    }
}

impl OrderFacts {
    /// What the shopper paid for it.
    pub fn total(&self) -> Vnd {
        self.goods + self.shipping - self.discounts.total()
    }

    /// Where its money lands: the paying channel, or for cash a carrier collected, the carrier
    /// (it owes us until it remits).
    fn clearing(&self, method: PaymentMethod) -> Account {
        match (method, self.carried) {
            (PaymentMethod::Cod, Some(_)) => Account::CarrierCod,
            _ => Account::clearing(method),
        }
    }

    fn base(&self, key: &str, event: Event, at: OffsetDateTime) -> Entry {
        let mut e = Entry::new(format!("{key}:{}", self.order_id), event);
        e.order_id = Some(self.order_id);
        e.producer_id = Some(self.producer_id);
        e.province_code = Some(self.province_code);
        e.at = Some(at);
        e
    }

    /// When its return window ends (delivered orders only).
    pub fn due(&self, window: Duration) -> Option<OffsetDateTime> {
        self.delivered_at.map(|d| d + window)
    }
}

/// Money in: an online payment lands in its channel's clearing account and is held for the
/// producer, less the channel's fee when the producer bears it; cash is collected by the producer
/// at delivery and held the same way.
pub fn money_in(f: &OrderFacts, fees: &Fees) -> Option<Entry> {
    let (method, at) = f.paid?;
    let total = f.total();
    let clearing = f.clearing(method);
    let mut e = if method == PaymentMethod::Cod {
        f.base("cash", Event::CashCollected, f.delivered_at.unwrap_or(at))
    } else {
        f.base("paid", Event::Payment, at)
    };
    e.transfer(clearing, Account::Held, Component::Payment, total);
    if let Some(fee) = fees.fee(method) {
        let amount = total.basis_points(fee.rate_bp);
        let bearer = if fee.producer_pays {
            Account::Held
        } else {
            Account::ProviderFees
        };
        e.transfer(bearer, clearing, Component::Fee, amount);
    }
    Some(e)
}

/// What a release takes from the goods, in đồng.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Split {
    pub commission: Vnd,
    pub vat: Vnd,
    pub pit: Vnd,
}

/// Commission and tax on an order's goods, each rounded once over the order (half up).
pub fn split(f: &OrderFacts, rates: &Rates, at: OffsetDateTime) -> Split {
    let (mut commission, mut vat, mut pit) = (0i128, 0i128, 0i128);
    let withholds = rates::withholds(f.producer_type);
    for &(amount, sector) in &f.lines {
        let a = i128::from(amount.amount());
        commission += a * i128::from(rates.commission_bp(f, sector));
        if withholds {
            let tax = rates.tax(rates::TaxKind::of(sector), at.date());
            vat += a * i128::from(tax.vat_bp);
            pit += a * i128::from(tax.pit_bp);
        }
    }
    let round = |n: i128| Vnd::new(((n + 5_000) / 10_000) as i64);
    Split {
        commission: round(commission),
        vat: round(vat),
        pit: round(pit),
    }
}

/// What settlement needs to know about a fair or sales-point sale paid into the marketplace's
/// account.
#[derive(Debug, Clone)]
pub struct TillFacts {
    pub sale_id: i64,
    pub producer_id: i64,
    pub province_code: i16,
    pub producer_type: Option<ProducerType>,
    pub amount: Vnd,
    pub day: time::Date,
    /// (line total, sector); none for an amount typed at the stall
    pub lines: Vec<(Vnd, Option<Sector>)>,
}

/// A transfer for a till sale reached the marketplace's account: the producer's at once (the
/// goods were handed over at the stall; a difference is settled there, face to face). No
/// commission: fairs and sales points are the province's programme.
pub fn till_transfer(f: &TillFacts, payment_event_id: i64, amount: Vnd) -> Entry {
    let mut e = Entry::new(
        format!("till_transfer:{payment_event_id}"),
        Event::TillTransfer,
    );
    e.producer_id = Some(f.producer_id);
    e.province_code = Some(f.province_code);
    e.memo = Some(format!("till_sale:{}", f.sale_id));
    e.transfer(
        Account::ClearingBank,
        Account::Payable,
        Component::Payment,
        amount,
    );
    e
}

/// The tax the marketplace withholds on a till sale it collected (households and individuals,
/// as for an online order), by its lines' sectors; an amount typed at the stall is goods.
pub fn till_withholding(f: &TillFacts, rates: &Rates) -> Entry {
    let mut e = Entry::new(format!("till_sale:{}", f.sale_id), Event::TillSale);
    e.producer_id = Some(f.producer_id);
    e.province_code = Some(f.province_code);
    if !rates::withholds(f.producer_type) {
        return e;
    }
    let lines = if f.lines.is_empty() {
        vec![(f.amount, Some(Sector::Food))]
    } else {
        f.lines.clone()
    };
    let (mut vat, mut pit) = (0i128, 0i128);
    for (amount, sector) in lines {
        let tax = rates.tax(rates::TaxKind::of(sector), f.day);
        vat += i128::from(amount.amount()) * i128::from(tax.vat_bp);
        pit += i128::from(amount.amount()) * i128::from(tax.pit_bp);
    }
    let round = |n: i128| Vnd::new(((n + 5_000) / 10_000) as i64);
    e.transfer(
        Account::Payable,
        Account::VatWithheld,
        Component::Vat,
        round(vat),
    )
    .transfer(
        Account::Payable,
        Account::PitWithheld,
        Component::Pit,
        round(pit),
    );
    e
}

/// The release: what is held for the order (`held`) becomes the producer's, less commission,
/// tax withheld and the fee it bears (what was never held); cash it collected itself is set
/// against what it is owed.
pub fn release(f: &OrderFacts, rates: &Rates, held: Vnd, at: OffsetDateTime) -> Entry {
    let s = split(f, rates, at);
    let total = f.total();
    let mut e = f.base("release", Event::Release, at);
    // the shipping the shopper paid is the carrier's when a carrier carried it, the producer's
    // when it shipped itself; a free parcel's carrier is paid by the producer
    let (shipping_to, carrier_from_producer) = match f.carried {
        Some(c) if c.producer_pays => (Account::CarriersPayable, c.fee),
        Some(_) => (Account::CarriersPayable, Vnd::ZERO),
        None => (Account::Payable, Vnd::ZERO),
    };
    // the producer is owed its goods at full price, less what its own promotions took off; the
    // marketplace and the province programme pay in what theirs took off
    e.line(Account::Held, Component::Payment, held)
        .line(Account::Payable, Component::Goods, -f.goods)
        .line(Account::Payable, Component::Discount, f.discounts.producer)
        .line(
            Account::PromotionsMarketplace,
            Component::Discount,
            f.discounts.marketplace,
        )
        .line(
            Account::PromotionsProvince,
            Component::Discount,
            f.discounts.province,
        )
        .line(shipping_to, Component::Shipping, -f.shipping)
        .transfer(
            Account::Payable,
            Account::CarriersPayable,
            Component::Shipping,
            carrier_from_producer,
        )
        .transfer(
            Account::Payable,
            Account::Commission,
            Component::Commission,
            s.commission,
        )
        .transfer(
            Account::Payable,
            Account::VatWithheld,
            Component::Vat,
            s.vat,
        )
        .transfer(
            Account::Payable,
            Account::PitWithheld,
            Component::Pit,
            s.pit,
        )
        .line(Account::Payable, Component::Fee, total - held);
    // cash the producer collected itself is set against what it is owed (a carrier's is not
    // the producer's: it comes to us)
    if matches!(f.paid, Some((PaymentMethod::Cod, _))) && f.carried.is_none() {
        e.transfer(
            Account::Payable,
            Account::CashCollected,
            Component::Cash,
            total,
        );
    }
    e
}

/// Undoing a sale: the release turned back if there was one, then what was paid is owed back to
/// the shopper. A fee the channel kept is the marketplace's loss.
pub fn reversal(
    f: &OrderFacts,
    released: &[crate::ledger::Line],
    held_now: Vnd,
    at: OffsetDateTime,
) -> Entry {
    let mut e = f.base("reversal", Event::Reversal, at);
    let mut held = held_now;
    for l in released {
        if l.account == Account::Held {
            held += l.amount;
        }
        e.line(l.account, l.component, -l.amount);
    }
    let paid = f.total();
    e.line(Account::Held, Component::Payment, held)
        .line(Account::ProviderFees, Component::Fee, paid - held)
        .line(Account::RefundsOwed, Component::Refund, -paid);
    e
}

/// The money goes back the way it came (cash: the producer hands it back).
pub fn refund(f: &OrderFacts, at: OffsetDateTime) -> Option<Entry> {
    let (method, _) = f.paid?;
    let mut e = f.base("refund", Event::Refund, at);
    // cash a carrier collected is refunded from our bank once the carrier remitted it
    let from = match f.clearing(method) {
        Account::CarrierCod if f.carried.is_some_and(|c| c.cod_remitted_at.is_some()) => {
            Account::ClearingBank
        }
        other => other,
    };
    e.transfer(Account::RefundsOwed, from, Component::Refund, f.total());
    Some(e)
}

/// The carrier paid us the cash it collected for the order: from what it owed into our bank.
pub fn cod_remitted(f: &OrderFacts) -> Option<Entry> {
    let at = f.carried?.cod_remitted_at?;
    if !matches!(f.paid, Some((PaymentMethod::Cod, _))) {
        return None;
    }
    let mut e = f.base("cod_remitted", Event::CodRemitted, at);
    e.transfer(
        Account::ClearingBank,
        Account::CarrierCod,
        Component::Cash,
        f.total(),
    );
    Some(e)
}

/// Loads what settlement needs about these orders.
pub async fn facts(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<OrderFacts>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select o.order_id, o.producer_id, pr.province_code, pr.producer_type, o.status as "status: Status",
                  o.goods_total as "goods: Vnd", o.shipping_fee as "shipping: Vnd", g.created_at as placed_at,
                  d.by_producer as "by_producer!: Vnd", d.by_marketplace as "by_marketplace!: Vnd",
                  d.by_province as "by_province!: Vnd",
                  o.updated_at, o.delivered_at, g.payment_method as "payment_method: PaymentMethod",
                  pay.method as "paid_method?: PaymentMethod", pay.paid_at,
                  l.totals as "totals!: Vec<i64>", l.sectors as "sectors!: Vec<Option<String>>",
                  coalesce((select array_agg(split_part(e.key, ':', 1)) from journal_entry e where e.order_id = o.order_id),
                           '{}') as "posted!: Vec<String>",
                  sh.fee as "carrier_fee?", sh.cod_remitted_at as "cod_remitted_at?", (sh.order_id is not null) as "carried!",
                  o.ship_quote_fee, o.shipping_paid_by
           from shop_order o join order_group g using (order_group_id) join producer pr using (producer_id)
           left join shipment sh on sh.order_id = o.order_id and sh.state in ('active', 'done')
           left join lateral (
               select method, paid_at from payment p
               where p.order_group_id = o.order_group_id and p.method <> 'cod' and p.status in ('paid', 'refunded')
               order by p.paid_at limit 1
           ) pay on true
           cross join lateral (
               select array_agg(ol.line_total - coalesce(od.by_producer, 0) order by ol.product_id) as totals,
                      array_agg(ol.sector order by ol.product_id) as sectors
               from order_line ol
               left join lateral (
                   select (sum(x.amount) filter (where x.funder = 'producer'))::bigint as by_producer
                   from order_line_discount x where x.order_id = ol.order_id and x.product_id = ol.product_id
               ) od on ol.discount > 0
               where ol.order_id = o.order_id
           ) l
           cross join lateral (
               select coalesce(sum(x.amount) filter (where x.funder = 'producer'), 0)::bigint as by_producer,
                      coalesce(sum(x.amount) filter (where x.funder = 'marketplace'), 0)::bigint as by_marketplace,
                      coalesce(sum(x.amount) filter (where x.funder = 'province'), 0)::bigint as by_province
               from order_line_discount x where x.order_id = o.order_id
           ) d
           where o.order_id = any($1)
           order by o.order_id"#,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let paid = match (r.payment_method, r.paid_method, r.paid_at) {
                (PaymentMethod::Cod, _, _) => r.delivered_at.map(|d| (PaymentMethod::Cod, d)),
                // a paid order is past pending_payment; an expired one whose money was refunded
                // from the review queue never had its payment marked paid
                (_, Some(m), Some(at)) if r.status != Status::PendingPayment => Some((m, at)),
                _ => None,
            };
            OrderFacts {
                order_id: r.order_id,
                producer_id: r.producer_id,
                province_code: r.province_code,
                producer_type: ProducerType::from_key(&r.producer_type),
                status: r.status,
                goods: r.goods,
                shipping: r.shipping,
                discounts: Discounts {
                    producer: r.by_producer,
                    marketplace: r.by_marketplace,
                    province: r.by_province,
                },
                placed_at: r.placed_at,
                updated_at: r.updated_at,
                delivered_at: r.delivered_at,
                paid,
                lines: r
                    .totals
                    .into_iter()
                    .zip(r.sectors)
                    .map(|(t, s)| (Vnd::new(t), s.as_deref().and_then(Sector::from_key)))
                    .collect(),
                posted: r.posted,
                carried: r.carried.then(|| Carried {
                    fee: Vnd::new(
                        r.carrier_fee
                            .or(r.ship_quote_fee)
                            .unwrap_or(r.shipping.amount()),
                    ),
                    producer_pays: r.shipping_paid_by == "producer",
                    cod_remitted_at: r.cod_remitted_at,
                }),
            }
        })
        .collect())
}

/// Posts every entry these orders' states imply that is not posted yet, dated when each thing
/// happened. `now` is the clock the return window is judged by. Returns how many were new.
pub async fn catch_up(
    conn: &mut PgConnection,
    ids: &[i64],
    now: OffsetDateTime,
) -> Result<usize, sqlx::Error> {
    let facts = facts(conn, ids).await?;
    let facts: Vec<&OrderFacts> = facts.iter().filter(|f| f.paid.is_some()).collect();
    if facts.is_empty() {
        return Ok(0);
    }
    let todo = |f: &&OrderFacts, key: &str| !f.posted.iter().any(|k| k == key);
    let mut count = 0;

    // 1. money in (all the payment callback's path reads: the orders and the channel's fee)
    let arrived: Vec<&&OrderFacts> = facts
        .iter()
        .filter(|f| todo(f, "paid") && todo(f, "cash"))
        .collect();
    if !arrived.is_empty() {
        let fees = Fees::load(conn).await?;
        let entries: Vec<Entry> = arrived.iter().filter_map(|f| money_in(f, &fees)).collect();
        count += post(conn, &entries).await?;
    }
    // the rest concerns delivered, cancelled and refunded orders only
    if !facts.iter().any(|f| {
        matches!(
            f.status,
            Status::Delivered | Status::Cancelled | Status::Returned | Status::Refunded
        )
    }) {
        return Ok(count);
    }
    let rates = Rates::load(conn).await?;
    let window = rates.return_window();

    // 2. releases due: delivered orders whose window passed (before a refund, if refunded)
    let due: Vec<(&OrderFacts, OffsetDateTime)> = facts
        .iter()
        .filter(|f| todo(f, "release") && todo(f, "reversal"))
        .filter_map(|f| {
            let due = f.due(window)?;
            let until = match f.status {
                Status::Delivered => now,
                Status::Refunded => f.updated_at.min(now),
                _ => return None,
            };
            (due <= until).then_some((*f, due))
        })
        .collect();
    if !due.is_empty() {
        let ids: Vec<i64> = due.iter().map(|(f, _)| f.order_id).collect();
        let held = held_by_order(conn, &ids).await?;
        let entries: Vec<Entry> = due
            .iter()
            .map(|(f, at)| {
                let h = held.get(&f.order_id).copied().unwrap_or(Vnd::ZERO);
                release(f, &rates, h, *at)
            })
            .collect();
        count += post(conn, &entries).await?;
    }

    // 3. reversals of cancelled and refunded sales
    let undone: Vec<&&OrderFacts> = facts
        .iter()
        .filter(|f| {
            matches!(
                f.status,
                Status::Cancelled | Status::Returned | Status::Refunded
            ) && todo(f, "reversal")
        })
        .collect();
    if !undone.is_empty() {
        let ids: Vec<i64> = undone.iter().map(|f| f.order_id).collect();
        let held = held_by_order(conn, &ids).await?;
        let released = release_lines(conn, &ids).await?;
        let entries: Vec<Entry> = undone
            .iter()
            .map(|f| {
                let r = released.get(&f.order_id).map(Vec::as_slice).unwrap_or(&[]);
                let h = held.get(&f.order_id).copied().unwrap_or(Vnd::ZERO);
                reversal(f, r, h, f.updated_at.min(now))
            })
            .collect();
        count += post(conn, &entries).await?;
    }

    // what still waits for its return window is queued for the release job; the rest leaves it
    let released: Vec<i64> = due.iter().map(|(f, _)| f.order_id).collect();
    let (waiting, waits_until): (Vec<i64>, Vec<OffsetDateTime>) = facts
        .iter()
        .filter(|f| {
            f.status == Status::Delivered && todo(f, "release") && !released.contains(&f.order_id)
        })
        .filter_map(|f| Some((f.order_id, f.due(window)?)))
        .unzip();
    if !waiting.is_empty() {
        sqlx::query!(
            "insert into settlement_due (order_id, due_at) select * from unnest($1::bigint[], $2::timestamptz[])
             on conflict (order_id) do update set due_at = excluded.due_at",
            &waiting,
            &waits_until
        )
        .execute(&mut *conn)
        .await?;
    }
    let settled: Vec<i64> = facts
        .iter()
        .filter(|f| {
            matches!(
                f.status,
                Status::Delivered | Status::Cancelled | Status::Returned | Status::Refunded
            )
        })
        .map(|f| f.order_id)
        .filter(|id| !waiting.contains(id))
        .collect();
    if !settled.is_empty() {
        sqlx::query!(
            "delete from settlement_due where order_id = any($1)",
            &settled
        )
        .execute(&mut *conn)
        .await?;
    }

    // the carrier paid us the cash it collected
    let cashed: Vec<i64> = arrived.iter().map(|f| f.order_id).collect();
    let remitted: Vec<Entry> = facts
        .iter()
        .filter(|f| todo(f, "cod_remitted") && (!todo(f, "cash") || cashed.contains(&f.order_id)))
        .filter_map(|f| cod_remitted(f))
        .collect();
    count += post(conn, &remitted).await?;

    // 4. refunds paid back
    let entries: Vec<Entry> = facts
        .iter()
        .filter(|f| f.status == Status::Refunded && todo(f, "refund"))
        .filter_map(|f| refund(f, f.updated_at.min(now)))
        .collect();
    count += post(conn, &entries).await?;
    Ok(count)
}

/// What is held for each order now (credit balances read as positive amounts).
async fn held_by_order(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vnd>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select e.order_id as "order_id!", (-sum(l.amount))::bigint as "held!: Vnd"
           from journal_line l join journal_entry e using (entry_id)
           where e.order_id = any($1) and l.account = 'held' group by 1"#,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.order_id, r.held)).collect())
}

async fn release_lines(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<crate::ledger::Line>>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select e.order_id as "order_id!", l.account as "account: Account", l.producer_id,
                  l.component as "component: Component", l.amount as "amount: Vnd"
           from journal_line l join journal_entry e using (entry_id)
           where e.order_id = any($1) and e.event = 'release'"#,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out: HashMap<i64, Vec<crate::ledger::Line>> = HashMap::new();
    for r in rows {
        out.entry(r.order_id)
            .or_default()
            .push(crate::ledger::Line {
                account: r.account,
                producer: r.producer_id,
                component: r.component,
                amount: r.amount,
            });
    }
    Ok(out)
}

/// Splits the money of orders whose return window has passed by `now`. Safe with several
/// instances: each batch of orders is claimed with SKIP LOCKED, and entries are keyed.
pub async fn release_due(pool: &PgPool, now: OffsetDateTime) -> Result<usize, sqlx::Error> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let ids = sqlx::query_scalar!(
            "select order_id from settlement_due where due_at <= $1
             order by due_at, order_id limit 1000 for update skip locked",
            now
        )
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(total);
        }
        total += catch_up(&mut tx, &ids, now).await?;
        tx.commit().await?;
        if ids.len() < 1000 {
            return Ok(total);
        }
    }
}

/// Brings any order the ledger has not seen into it (a database from before the ledger, a seeded
/// history), then runs `release_due` every `every` until the process stops.
pub async fn release_forever(pool: PgPool, every: std::time::Duration) {
    match backfill(&pool, OffsetDateTime::now_utc()).await {
        Ok(n) if n > 0 => tracing::info!(entries = n, "orders from before the ledger brought in"),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "ledger backfill failed; it resumes at the next start")
        }
    }
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match release_due(&pool, OffsetDateTime::now_utc()).await {
            Ok(n) if n > 0 => tracing::info!(entries = n, "return windows passed, money split"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "settlement release failed; retrying"),
        }
        if let Err(e) = crate::ledger::fold_balances(&pool).await {
            tracing::warn!(error = %e, "folding producers' balances failed; retrying");
        }
    }
}

/// Brings orders made before the ledger (or seeded) into it: every entry their states imply,
/// dated when it happened. Resumable and harmless to rerun.
pub async fn backfill(pool: &PgPool, now: OffsetDateTime) -> Result<usize, sqlx::Error> {
    let mut after = 0i64;
    let mut total = 0;
    loop {
        // orders with money and no entry yet (a cancelled order whose money never came has none)
        let ids = sqlx::query_scalar!(
            "select order_id from shop_order o
             where order_id > $1 and status not in ('pending_payment', 'placed')
               and not exists (select 1 from journal_entry e where e.order_id = o.order_id)
               and (o.status <> 'cancelled' or exists (
                   select 1 from payment p where p.order_group_id = o.order_group_id
                     and p.method <> 'cod' and p.status in ('paid', 'refunded')))
             order by order_id limit 2000",
            after
        )
        .fetch_all(pool)
        .await?;
        let Some(&last) = ids.last() else {
            return Ok(total);
        };
        let mut tx = pool.begin().await?;
        total += catch_up(&mut tx, &ids, now).await?;
        tx.commit().await?;
        after = last;
    }
}

/// A staff correction of what a producer is owed: positive in its favour, negative against it.
/// A reason is required; `token` (from the form) makes a double submission post once.
pub async fn adjust(
    pool: &PgPool,
    staff_id: i64,
    producer_id: i64,
    amount: Vnd,
    reason: &str,
    token: &str,
) -> Result<Result<bool, &'static str>, sqlx::Error> {
    let reason = reason.trim();
    if reason.chars().count() < 5 {
        return Ok(Err("Vui lòng ghi rõ lý do điều chỉnh (ít nhất 5 ký tự)."));
    }
    if amount == Vnd::ZERO || amount.amount().abs() > 1_000_000_000 {
        return Ok(Err(
            "Số tiền điều chỉnh phải khác 0 và không quá 1 tỷ đồng.",
        ));
    }
    if token.len() < 16 || token.len() > 64 || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(Err("Biểu mẫu đã cũ, vui lòng tải lại trang."));
    }
    let mut tx = crate::audit::begin(pool, staff_id, "ledger.adjust", Some(reason)).await?;
    let province = sqlx::query_scalar!(
        "select province_code from producer where producer_id = $1",
        producer_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(province) = province else {
        return Ok(Err("Không tìm thấy chủ thể."));
    };
    let mut e = Entry::new(format!("adjustment:{token}"), Event::Adjustment);
    e.producer_id = Some(producer_id);
    e.province_code = Some(province);
    e.actor = Some(staff_id);
    e.memo = Some(reason.to_string());
    e.transfer(
        Account::Adjustments,
        Account::Payable,
        Component::Adjustment,
        amount,
    );
    let posted = post(&mut tx, &[e]).await?;
    tx.commit().await?;
    Ok(Ok(posted == 1))
}
