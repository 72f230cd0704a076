//! `seed --orders M`: a national sales history for the dashboard benchmarks — M producer orders over
//! the three years up to now, with their lines and payments, in the shapes the app itself writes.
//! Sales grow over the years, peak in the month before Tết, favour a few best sellers, and pay
//! more often without cash as time goes on. Resumable: orders already seeded are counted and the
//! rest added; each batch commits on its own.

use sqlx::PgPool;
use std::time::Instant;

/// Orders per transaction: big enough to amortise planning, small enough to keep memory flat.
const BATCH: i64 = 100_000;

/// The catalog as the generator samples it: products by a dense index (so a skewed random number
/// picks one with a join on equality), each with a second product of the same producer when it
/// has one, and communes by a dense index for the buyers' addresses.
const PREPARE: [&str; 4] = [
    "create temp table if not exists seed_product as
     with c as (
         select distinct on (product_id) product_id, stars from certificate order by product_id, issued_on desc
     ), p as (
         select p.product_id, p.producer_id, p.name, p.unit, p.price_vnd, p.sector, pr.province_code,
                lead(p.product_id) over w as next_id, first_value(p.product_id) over w as first_id,
                count(*) over (partition by p.producer_id) as n
         from product p join producer pr using (producer_id)
         window w as (partition by p.producer_id order by p.product_id)
     )
     select (row_number() over (order by p.product_id) - 1)::int as idx,
            p.product_id, p.producer_id, p.name, p.unit, p.price_vnd, p.sector,
            coalesce(c.stars, 3)::smallint as stars, p.province_code,
            o.product_id as other_id, o.name as other_name, o.unit as other_unit,
            o.price_vnd as other_price, o.sector as other_sector
     from p
     left join c using (product_id)
     left join product o on o.product_id = case when p.n > 1 then coalesce(p.next_id, p.first_id) end",
    "create unique index if not exists seed_product_idx on seed_product (idx)",
    "create temp table if not exists seed_commune as
     select (row_number() over (order by commune_code) - 1)::int as idx, province_code, commune_code from commune",
    "create unique index if not exists seed_commune_idx on seed_commune (idx)",
];

/// One batch, `$1..$2` (seed numbers), `$3` products, `$4` communes. Ids are drawn up front so
/// the tables are filled from one temporary table without matching rows back by generated keys.
/// The statistics triggers and foreign-key checks are off (`session_replication_role`); the
/// rollups are rebuilt from the raw tables in one pass at the end.
const BATCH_SQL: [&str; 7] = [
    "set local session_replication_role = replica",
    "create temp table seed_batch on commit drop as
     with r as (
         select k, random() as u_t, random() as u_tet, random() as u_p, random() as u_q,
                random() as u_m, random() as u_s, random() as u_c, random() as u_2
         from generate_series($1::bigint, $2::bigint) k
         offset 0
     ), t as (
         select r.*,
                case when u_tet < 0.12 then
                     (array[timestamptz '2024-02-10 00:00+07', '2025-01-29 00:00+07', '2026-02-17 00:00+07'])[1 + (u_t * 3)::int % 3]
                       - interval '30 days' * u_c
                else now() - interval '1095 days' * (1 - sqrt(u_t)) end as at
         from r
     )
     select t.k,
            nextval(pg_get_serial_sequence('order_group', 'order_group_id')) as gid,
            nextval(pg_get_serial_sequence('shop_order', 'order_id')) as oid,
            t.at, sp.*, c.province_code as buyer_province, c.commune_code as buyer_commune,
            1 + floor(t.u_q ^ 3 * 5)::int as qty,
            (sp.other_id is not null and t.u_2 < 0.3) as two_lines,
            -- paying without cash grows from half of the orders to three in four
            case when t.u_m < 0.5 - 0.25 * extract(epoch from t.at - (now() - interval '1095 days')) / (1095 * 86400.0) then 'cod'
                 when t.u_m < 0.78 then 'vietqr' when t.u_m < 0.87 then 'momo'
                 when t.u_m < 0.94 then 'vnpay' else 'card' end as method,
            t.u_s, now() - t.at < interval '4 days' as recent
     from t
     join seed_product sp on sp.idx = least(floor($3::int * t.u_p ^ 2.2)::int, $3::int - 1)
     join seed_commune c on c.idx = least(floor($4::int * t.u_c)::int, $4::int - 1)",
    "create temp table seed_order on commit drop as
     select b.*, b.price_vnd * b.qty + case when b.two_lines then b.other_price else 0 end as goods,
            case
              when b.recent and b.u_s < 0.2 then case when b.method = 'cod' then 'placed' else 'pending_payment' end
              when b.recent and b.u_s < 0.5 then case when b.method = 'cod' then 'confirmed' else 'paid' end
              when b.recent and b.u_s < 0.7 then 'shipped'
              when b.u_s < 0.035 then 'cancelled'
              when b.u_s < 0.05 then 'cancelled'
              when b.u_s < 0.06 and b.method <> 'cod' then 'refunded'
              else 'delivered' end as status,
            case when b.recent then null
                 when b.u_s < 0.035 then case when b.method = 'cod' then 'shopper' else 'expiry' end
                 when b.u_s < 0.05 then 'producer' end as cancelled_by,
            'OCOP' || lpad(upper(to_hex(((b.gid * 2654435761) % 4294967296)::bigint)), 8, '0') as code
     from seed_batch b",
    "insert into order_group (order_group_id, code, checkout_token, buyer_name, phone, province_code, commune_code,
                              street, payment_method, goods_total, shipping_total, grand_total, pay_before, created_at)
     overriding system value
     select gid, code, 'seed-' || lpad(k::text, 12, '0'), 'Khách hàng ' || k,
            '09' || lpad((k % 100000000)::text, 8, '0'), buyer_province, buyer_commune,
            'Số ' || (1 + k % 300) || ' đường Trần Hưng Đạo', method, goods,
            case when goods >= 500000 then 0 when buyer_province = province_code then 20000 else 35000 end,
            goods + case when goods >= 500000 then 0 when buyer_province = province_code then 20000 else 35000 end,
            case when method <> 'cod' then at + interval '30 minutes' end, at
     from seed_order",
    "insert into shop_order (order_id, order_group_id, producer_id, status, goods_total, shipping_fee, carrier,
                             tracking_number, cancel_reason, cancelled_by, created_at, updated_at, delivered_at)
     overriding system value
     select oid, gid, producer_id, status, goods,
            case when goods >= 500000 then 0 when buyer_province = province_code then 20000 else 35000 end,
            case when status in ('shipped', 'delivered', 'refunded') then 'Viettel Post' end,
            case when status in ('shipped', 'delivered', 'refunded') then 'VTP' || oid end,
            case cancelled_by when 'shopper' then 'Đổi ý' when 'producer' then 'Hết hàng'
                              when 'expiry' then 'Quá hạn thanh toán' end,
            cancelled_by, at, at + interval '2 days',
            case when status in ('delivered', 'refunded') then at + interval '2 days' end
     from seed_order",
    "insert into order_line (order_id, product_id, name, unit, unit_price, quantity, line_total, sector, stars)
     select oid, product_id, name, unit, price_vnd, qty, price_vnd * qty, sector, stars from seed_order
     union all
     select oid, other_id, other_name, other_unit, other_price, 1, other_price, other_sector, stars
     from seed_order where two_lines",
    // what the app records: the online payment (paid, or given up when the order lapsed), the
    // cash collected on delivery
    "insert into payment (order_group_id, method, amount, reference, provider_ref, status, paid_at, created_at)
     select gid, method, goods + case when goods >= 500000 then 0 when buyer_province = province_code then 20000 else 35000 end,
            case when method = 'cod' then code || 'C' || oid when method = 'vietqr' then code else code || '01' end,
            case when method <> 'cod' and status not in ('pending_payment', 'cancelled') then 'SEED' || gid end,
            case when status = 'refunded' then 'refunded'
                 when status = 'pending_payment' then 'pending'
                 when status = 'cancelled' and method <> 'cod' then 'expired'
                 else 'paid' end,
            case when status not in ('pending_payment', 'cancelled') then at + interval '3 minutes' end, at
     from seed_order
     where method <> 'cod' or status = 'delivered'",
];

#[derive(Debug, Default)]
pub struct OrdersSummary {
    pub added: i64,
    pub total: i64,
    pub seconds: f64,
    pub rollup_seconds: f64,
}

impl std::fmt::Display for OrdersSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed: {} orders added in {:.1}s ({} seeded in all); sales rollups rebuilt in {:.1}s",
            self.added, self.seconds, self.total, self.rollup_seconds
        )
    }
}

/// Adds seeded orders until there are `total`, then rebuilds the sales rollups from the raw
/// tables. `progress` hears (done, total) after each batch.
pub async fn orders(
    pool: &PgPool,
    total: i64,
    progress: impl Fn(i64, i64),
) -> Result<OrdersSummary, sqlx::Error> {
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    for sql in PREPARE {
        sqlx::query(sql).execute(&mut *conn).await?;
    }
    let (products, communes): (i64, i64) = sqlx::query_as(
        "select (select count(*) from seed_product), (select count(*) from seed_commune)",
    )
    .fetch_one(&mut *conn)
    .await?;
    if products == 0 {
        return Err(sqlx::Error::Protocol(
            "no products to order: seed a catalog first (--scale N or --demo)".into(),
        ));
    }
    let already: i64 =
        sqlx::query_scalar("select count(*) from order_group where checkout_token like 'seed-%'")
            .fetch_one(&mut *conn)
            .await?;
    let mut next = already;
    while next < total {
        let end = (next + BATCH).min(total);
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        // the same history every time for the same batch: demos and crawls can be compared
        sqlx::query("select setseed($1)")
            .bind((next % 9973) as f64 / 9973.0)
            .execute(&mut *tx)
            .await?;
        for (i, sql) in BATCH_SQL.iter().enumerate() {
            let q = sqlx::query(*sql);
            let q = if i == 1 {
                q.bind(next + 1)
                    .bind(end)
                    .bind(products as i32)
                    .bind(communes as i32)
            } else {
                q
            };
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        next = end;
        progress(next - already, total - already);
    }
    let mut summary = OrdersSummary {
        added: next - already,
        total: next,
        seconds: started.elapsed().as_secs_f64(),
        ..Default::default()
    };
    if summary.added > 0 {
        let t = Instant::now();
        crate::stats::rebuild(pool).await?;
        summary.rollup_seconds = t.elapsed().as_secs_f64();
    }
    Ok(summary)
}
