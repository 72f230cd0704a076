//! The numbers provinces report, from the sales rollups (migrations/0012 and 0014): a period is
//! read as a few rollup pieces (whole years, whole months, days at the edges) plus the deltas not
//! folded yet, so every number is exact at any moment and a national year reads a few thousand
//! rows, not millions. The same queries can read the orders themselves instead (`Source::Orders`,
//! the benchmark's "without rollups").

use serde::Serialize;
use sqlx::PgPool;
use std::time::Duration;
use time::{Date, Month};

/// Folds pending deltas into the rollups every few seconds (safe on every instance).
pub async fn fold_forever(pool: PgPool, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = fold(&pool).await {
            tracing::warn!(error = %e, "sales stats not folded; will retry");
        }
    }
}

pub async fn fold(pool: &PgPool) -> Result<i64, sqlx::Error> {
    Ok(sqlx::query_scalar!("select fold_stats() as \"moved!\"")
        .fetch_one(pool)
        .await?)
}

/// Rebuilds every rollup from the orders (after a bulk load), then refreshes the planner's view
/// of them.
pub async fn rebuild(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let moved = sqlx::query_scalar!("select rebuild_stats() as \"moved!\"")
        .fetch_one(pool)
        .await?;
    sqlx::query("vacuum (analyze) stats_sales, stats_producer, stats_product, stats_goods")
        .execute(pool)
        .await?;
    Ok(moved)
}

/// Where the numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// rollup pieces plus the pending deltas
    #[default]
    Rollups,
    /// the orders themselves, every time
    Orders,
}

/// The rollup tiers a query may use: breakdowns over time need pieces no longer than their step.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    Day,
    Month,
    Year,
}

/// The pieces that tile `from..=to`: whole years and months where they fit, days elsewhere. No
/// sale is dated after `today`, so a piece may run past `to` when `to` is today or later.
fn pieces(from: Date, to: Date, today: Date, widest: Tier) -> (Vec<i8>, Vec<Date>) {
    let open = to >= today;
    let fits = |end: Date| end <= to || open;
    let (mut tiers, mut starts) = (vec![], vec![]);
    let mut d = from;
    while d <= to {
        let year_end = Date::from_calendar_date(d.year(), Month::December, 31).expect("31 Dec");
        let month_end = Date::from_calendar_date(d.year(), d.month(), d.month().length(d.year()))
            .expect("a month's last day");
        let (tier, end) = if widest >= Tier::Year && d.ordinal() == 1 && fits(year_end) {
            (b'y', year_end)
        } else if widest >= Tier::Month && d.day() == 1 && fits(month_end) {
            (b'm', month_end)
        } else {
            (b'd', d)
        };
        tiers.push(tier as i8);
        starts.push(d);
        match end.next_day() {
            Some(next) => d = next,
            None => break,
        }
    }
    (tiers, starts)
}

/// What one breakdown is read from: a rollup, the facts it adds up, and which of its rows.
struct Cube {
    rollup: &'static str,
    /// pending deltas, and the orders themselves
    facts: [&'static str; 2],
    /// three value columns, the same on both sides
    values: &'static str,
}

const SALES: Cube = Cube {
    rollup: "stats_sales",
    facts: ["stats_order_delta", "stats_order_facts"],
    values: "orders, paid_orders, gmv",
};
const PRODUCERS: Cube = Cube {
    rollup: "stats_producer",
    facts: ["stats_order_delta", "stats_order_facts"],
    values: "orders, paid_orders, gmv",
};
const PRODUCTS: Cube = Cube {
    rollup: "stats_product",
    facts: ["stats_line_delta", "stats_line_facts"],
    values: "0::bigint, paid_quantity, paid_value",
};
const GOODS: Cube = Cube {
    rollup: "stats_goods",
    facts: ["stats_line_delta", "stats_line_facts"],
    values: "0::bigint, paid_quantity, paid_value",
};

/// The tables staff can break a period down by (the SQL comes from these fixed texts only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Method,
    ProducerType,
    /// communes of one province
    Commune,
    /// provinces of the country
    Province,
    Producer,
    Product,
    Sector,
    Stars,
    Day,
    Week,
    Month,
}

impl Table {
    pub fn from_key(key: &str) -> Option<Table> {
        Some(match key {
            "method" => Table::Method,
            "producer_type" => Table::ProducerType,
            "commune" => Table::Commune,
            "province" => Table::Province,
            "producer" => Table::Producer,
            "product" => Table::Product,
            "sector" => Table::Sector,
            "stars" => Table::Stars,
            "day" => Table::Day,
            "week" => Table::Week,
            "month" => Table::Month,
            _ => return None,
        })
    }

    /// Lines, not orders: the first number is units sold.
    pub fn counts_units(self) -> bool {
        matches!(self, Table::Product | Table::Sector | Table::Stars)
    }

    /// (cube, key on the rollup side, key on the facts side, which rollup rows, widest tier);
    /// keys keep their own type until the rows are added up (grouping by text costs more)
    fn plan(
        self,
    ) -> (
        &'static Cube,
        &'static str,
        &'static str,
        &'static str,
        Tier,
    ) {
        // $1 is the province (null: the whole country); the small cubes keep pre-added totals
        const TOTALS: &str = "r.province_code = coalesce($1::smallint, 0) and r.commune_code = 0";
        const ANY: &str = "($1::smallint is null or r.province_code = $1)";
        const GOODS_TOTALS: &str = "r.province_code = coalesce($1::smallint, 0)";
        match self {
            Table::Method => (&SALES, "method", "method", TOTALS, Tier::Year),
            Table::ProducerType => (&SALES, "producer_type", "producer_type", TOTALS, Tier::Year),
            Table::Commune => (
                &SALES,
                "commune_code",
                "commune_code",
                "r.commune_code <> 0 and ($1::smallint is null or r.province_code = $1)",
                Tier::Year,
            ),
            Table::Province => (
                &SALES,
                "province_code",
                "province_code",
                "r.province_code <> 0 and r.commune_code = 0 and ($1::smallint is null or r.province_code = $1)",
                Tier::Year,
            ),
            Table::Producer => (&PRODUCERS, "producer_id", "producer_id", ANY, Tier::Year),
            Table::Product => (&PRODUCTS, "product_id", "product_id", ANY, Tier::Year),
            Table::Sector => (&GOODS, "sector", "sector", GOODS_TOTALS, Tier::Year),
            Table::Stars => (&GOODS, "stars", "stars", GOODS_TOTALS, Tier::Year),
            Table::Day => (&SALES, "r.start", "day", TOTALS, Tier::Day),
            // weeks start on Monday, months on the 1st (Vietnamese dates)
            Table::Week => (
                &SALES,
                "date_trunc('week', r.start)::date",
                "date_trunc('week', day)::date",
                TOTALS,
                Tier::Day,
            ),
            Table::Month => (
                &SALES,
                "to_char(r.start, 'YYYY-MM')",
                "to_char(day, 'YYYY-MM')",
                TOTALS,
                Tier::Month,
            ),
        }
    }

    fn order_and_limit(self) -> &'static str {
        match self {
            Table::Day => "order by key limit 1200",
            Table::Week => "order by key limit 200",
            Table::Month => "order by key limit 60",
            Table::Province => "order by value desc, key limit 100",
            _ => "order by value desc, key limit 50",
        }
    }
}

/// One row of a breakdown, by its key (an id, a code, a date): orders (0 for product tables),
/// paid orders (units for product tables), value in đồng.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub key: String,
    pub orders: i64,
    pub paid: i64,
    pub value: i64,
}

/// A breakdown, and how many keys had something paid in the period (active producers, products
/// sold: the count covers every key, not only the rows returned).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Breakdown {
    pub rows: Vec<Row>,
    pub with_paid: i64,
    /// of the keys asked about, how many had something paid
    pub with_paid_among: i64,
}

/// What one query is asked: where, when, from which source.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub province: Option<i16>,
    pub from: Date,
    pub to: Date,
    pub today: Date,
    pub source: Source,
}

impl Scope {
    pub fn new(province: Option<i16>, from: Date, to: Date) -> Scope {
        Scope {
            province,
            from,
            to,
            today: crate::domain::vn_today(),
            source: Source::Rollups,
        }
    }
}

/// A breakdown of the period; for products, `among` (say, the listed ones) gets its own count of
/// those sold.
pub async fn breakdown(
    pool: &PgPool,
    scope: &Scope,
    table: Table,
    among: &[i64],
) -> Result<Breakdown, sqlx::Error> {
    let (cube, roll_key, fact_key, rows_filter, widest) = table.plan();
    let (tiers, starts) = match scope.source {
        Source::Rollups => pieces(scope.from, scope.to, scope.today, widest),
        Source::Orders => (vec![], vec![]),
    };
    let facts = cube.facts[(scope.source == Source::Orders) as usize];
    let sql = format!(
        "with f as (
             select {roll_key} as key, {values} from {rollup} r
             join unnest($2::\"char\"[], $3::date[]) as p(tier, start) on r.tier = p.tier and r.start = p.start
             where {rows_filter}
             union all
             select {fact_key}, {values} from {facts}
             where day between $4 and $5 and ($1::smallint is null or province_code = $1)
         ), g as (
             select key, sum(a)::bigint as a, sum(b)::bigint as b, sum(c)::bigint as value
             from f as f(key, a, b, c) group by key having sum(a) <> 0 or sum(b) <> 0 or sum(c) <> 0
         )
         select key::text, a, b, value, (select count(*) from g where b > 0) as with_paid,
                {among} as among
         from g {order}",
        values = cube.values,
        rollup = cube.rollup,
        order = table.order_and_limit(),
        // (counted over every key, not only the rows returned)
        among = if table == Table::Product {
            "(select count(*) from g join unnest($6::bigint[]) as i(id) on i.id = g.key where g.b > 0)"
        } else {
            "(0 * cardinality($6::bigint[]))::bigint"
        },
    );
    let rows: Vec<(String, i64, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(scope.province)
        .bind(tiers)
        .bind(starts)
        .bind(scope.from)
        .bind(scope.to)
        .bind(among)
        .fetch_all(pool)
        .await?;
    Ok(Breakdown {
        with_paid: rows.first().map(|r| r.4).unwrap_or(0),
        with_paid_among: rows.first().map(|r| r.5).unwrap_or(0),
        rows: rows
            .into_iter()
            .map(|(key, orders, paid, value, _, _)| Row {
                key,
                orders,
                paid,
                value,
            })
            .collect(),
    })
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MethodShare {
    pub method: String,
    pub paid_orders: i64,
    pub value: i64,
}

/// One period's headline numbers for a province (or all).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    pub orders: i64,
    pub paid_orders: i64,
    pub cancelled_orders: i64,
    pub gmv: i64,
    /// GMV per paid order, đồng (0 without paid orders)
    pub average_order_value: i64,
    /// cancelled / orders, in per mille (0 without orders)
    pub cancellation_per_mille: i64,
    /// paid orders paid without cash, by count and by value, in per mille
    pub non_cash_count_per_mille: i64,
    pub non_cash_value_per_mille: i64,
    pub by_method: Vec<MethodShare>,
    /// producers with at least one paid order in the period
    pub active_producers: i64,
    /// products with at least one paid unit in the period
    pub products_sold: i64,
}

fn per_mille(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        0
    } else {
        (part * 1000 + whole / 2) / whole
    }
}

impl Summary {
    /// The period `from..=to` (Vietnamese days) in `province` (None: the whole country).
    pub async fn load(
        pool: &PgPool,
        province: Option<i16>,
        from: Date,
        to: Date,
    ) -> Result<Summary, sqlx::Error> {
        let scope = Scope::new(province, from, to);
        let (mut s, producers, products) = tokio::try_join!(
            Summary::headline(pool, &scope),
            breakdown(pool, &scope, Table::Producer, &[]),
            breakdown(pool, &scope, Table::Product, &[]),
        )?;
        s.active_producers = producers.with_paid;
        s.products_sold = products.with_paid;
        Ok(s)
    }

    /// Everything but the two counts of distinct producers and products (left at 0): what a
    /// comparison with another period needs, from the small cube alone.
    pub async fn headline(pool: &PgPool, scope: &Scope) -> Result<Summary, sqlx::Error> {
        let (tiers, starts) = match scope.source {
            Source::Rollups => pieces(scope.from, scope.to, scope.today, Tier::Year),
            Source::Orders => (vec![], vec![]),
        };
        let facts = SALES.facts[(scope.source == Source::Orders) as usize];
        let sql = format!(
            "select method, sum(orders)::bigint, sum(paid_orders)::bigint, sum(cancelled_orders)::bigint, sum(gmv)::bigint
             from (
                 select method, orders, paid_orders, cancelled_orders, gmv from stats_sales r
                 join unnest($2::\"char\"[], $3::date[]) as p(tier, start) on r.tier = p.tier and r.start = p.start
                 where r.province_code = coalesce($1::smallint, 0) and r.commune_code = 0
                 union all
                 select method, orders, paid_orders, cancelled_orders, gmv from {facts}
                 where day between $4 and $5 and ($1::smallint is null or province_code = $1)
             ) f group by method order by method"
        );
        let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(scope.province)
            .bind(tiers)
            .bind(starts)
            .bind(scope.from)
            .bind(scope.to)
            .fetch_all(pool)
            .await?;
        let mut s = Summary::default();
        let (mut non_cash_n, mut non_cash_v) = (0, 0);
        for (method, orders, paid, cancelled, gmv) in rows {
            if orders == 0 && paid == 0 && cancelled == 0 && gmv == 0 {
                continue;
            }
            s.orders += orders;
            s.paid_orders += paid;
            s.cancelled_orders += cancelled;
            s.gmv += gmv;
            if method != "cod" {
                non_cash_n += paid;
                non_cash_v += gmv;
            }
            s.by_method.push(MethodShare {
                method,
                paid_orders: paid,
                value: gmv,
            });
        }
        s.average_order_value = if s.paid_orders == 0 {
            0
        } else {
            s.gmv / s.paid_orders
        };
        s.cancellation_per_mille = per_mille(s.cancelled_orders, s.orders);
        s.non_cash_count_per_mille = per_mille(non_cash_n, s.paid_orders);
        s.non_cash_value_per_mille = per_mille(non_cash_v, s.gmv);
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn show(p: (Vec<i8>, Vec<Date>)) -> Vec<String> {
        p.0.iter()
            .zip(p.1)
            .map(|(t, d)| format!("{}{d}", *t as u8 as char))
            .collect()
    }

    #[test]
    fn a_period_is_tiled_by_whole_years_and_months_and_days_at_the_edges() {
        let today = date!(2026 - 11 - 24);
        // this year so far: one piece, since nothing is sold after today
        assert_eq!(
            show(pieces(date!(2026 - 01 - 01), today, today, Tier::Year)),
            ["y2026-01-01"]
        );
        // the last 30 days: the end of October day by day, then November so far
        let p = show(pieces(date!(2026 - 10 - 26), today, today, Tier::Year));
        assert_eq!(p.len(), 7);
        assert_eq!(p[0], "d2026-10-26");
        assert_eq!(p[6], "m2026-11-01");
        // a closed period never reads a piece that runs past its end
        assert_eq!(
            show(pieces(
                date!(2025 - 12 - 30),
                date!(2026 - 02 - 02),
                today,
                Tier::Year
            )),
            [
                "d2025-12-30",
                "d2025-12-31",
                "m2026-01-01",
                "d2026-02-01",
                "d2026-02-02"
            ]
        );
        // three whole years, and months only when the table steps by month
        assert_eq!(
            show(pieces(
                date!(2023 - 01 - 01),
                date!(2025 - 12 - 31),
                today,
                Tier::Year
            )),
            ["y2023-01-01", "y2024-01-01", "y2025-01-01"]
        );
        assert_eq!(
            pieces(
                date!(2025 - 01 - 01),
                date!(2025 - 12 - 31),
                today,
                Tier::Month
            )
            .0
            .len(),
            12
        );
        assert_eq!(
            pieces(
                date!(2025 - 01 - 01),
                date!(2025 - 12 - 31),
                today,
                Tier::Day
            )
            .0
            .len(),
            365
        );
    }
}
