//! The numbers provinces report, from the sales rollups (migrations/0012_sales_stats.sql): read as
//! rollup plus the deltas not folded yet, so they are exact at any moment; the fold job keeps the
//! delta tables small. The dashboard pages build on `Summary`.

use serde::Serialize;
use sqlx::PgPool;
use std::time::Duration;
use time::Date;

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
        let rows = sqlx::query!(
            r#"
            with facts as (
                select producer_id, method, orders, paid_orders, cancelled_orders, gmv from stats_order_day
                where day between $2 and $3 and ($1::smallint is null or province_code = $1)
                union all
                select producer_id, method, orders, paid_orders, cancelled_orders, gmv from stats_order_delta
                where day between $2 and $3 and ($1::smallint is null or province_code = $1)
            ),
            by_producer as (
                select producer_id, sum(paid_orders) as paid from facts group by producer_id
            )
            select method as "method!",
                   sum(orders)::bigint as "orders!", sum(paid_orders)::bigint as "paid!",
                   sum(cancelled_orders)::bigint as "cancelled!", sum(gmv)::bigint as "gmv!",
                   (select count(*) from by_producer where paid > 0) as "active!"
            from facts group by method order by method
            "#,
            province,
            from,
            to
        )
        .fetch_all(pool)
        .await?;
        let products_sold = sqlx::query_scalar!(
            r#"
            select count(*) as "n!" from (
                select product_id from (
                    select product_id, paid_quantity from stats_line_day
                    where day between $2 and $3 and ($1::smallint is null or province_code = $1)
                    union all
                    select product_id, paid_quantity from stats_line_delta
                    where day between $2 and $3 and ($1::smallint is null or province_code = $1)
                ) l group by product_id having sum(paid_quantity) > 0
            ) sold
            "#,
            province,
            from,
            to
        )
        .fetch_one(pool)
        .await?;
        let mut s = Summary {
            products_sold,
            ..Default::default()
        };
        let (mut non_cash_n, mut non_cash_v) = (0, 0);
        for r in rows {
            s.orders += r.orders;
            s.paid_orders += r.paid;
            s.cancelled_orders += r.cancelled;
            s.gmv += r.gmv;
            s.active_producers = r.active;
            if r.method != "cod" {
                non_cash_n += r.paid;
                non_cash_v += r.gmv;
            }
            s.by_method.push(MethodShare {
                method: r.method,
                paid_orders: r.paid,
                value: r.gmv,
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
