//! Stock, the one owner of `product.stock` once a product exists: taking it for an order, giving
//! an order's back, and a producer's adjustment. Each change is one conditional statement in the
//! caller's transaction, so stock stays between zero and the cap however many people race.
//! (A product's first stock is written with the product; an imported list states its stock.)

use sqlx::PgConnection;

/// The most one product may hold.
pub const MAX_STOCK: i32 = 1_000_000;

/// Takes every `(product, quantity)` or nothing: `false` when one of them has too little (the
/// caller rolls its transaction back). Rows are taken in product order, so two orders sharing
/// products never wait on each other in a cycle.
pub async fn take(conn: &mut PgConnection, lines: &[(i64, i32)]) -> Result<bool, sqlx::Error> {
    let mut lines = lines.to_vec();
    lines.sort_unstable();
    let (ids, quantities): (Vec<i64>, Vec<i32>) = lines.iter().copied().unzip();
    let taken = sqlx::query!(
        "update product p set stock = p.stock - v.q
         from unnest($1::bigint[], $2::int[]) as v(id, q)
         where p.product_id = v.id and p.stock >= v.q",
        &ids,
        &quantities
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(taken == lines.len() as u64)
}

/// Takes what there is of every `(product, quantity)`, down to zero: goods a till handed over
/// while offline, which the stock can no longer refuse.
pub async fn take_at_most(
    conn: &mut PgConnection,
    lines: &[(i64, i32)],
) -> Result<(), sqlx::Error> {
    let mut lines = lines.to_vec();
    lines.sort_unstable();
    let (ids, quantities): (Vec<i64>, Vec<i32>) = lines.iter().copied().unzip();
    sqlx::query!(
        "update product p set stock = greatest(p.stock - v.q, 0)
         from unnest($1::bigint[], $2::int[]) as v(id, q) where p.product_id = v.id",
        &ids,
        &quantities
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes an order's lines again (an expired order revived by its late payment): `false` when
/// one of them has too little.
pub async fn take_order(conn: &mut PgConnection, order_id: i64) -> Result<bool, sqlx::Error> {
    let lines: Vec<(i64, i32)> = sqlx::query!(
        "select l.product_id, l.quantity from order_line l where l.order_id = $1
           and not exists (select 1 from booking b join experience_slot s using (slot_id)
                           where b.order_id = l.order_id and s.product_id = l.product_id)",
        order_id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|l| (l.product_id, l.quantity))
    .collect();
    take(conn, &lines).await
}

/// Gives an order's lines back (cancelled, expired or refunded before it left). A booked
/// experience's line took seats, not stock (`experiences` gives those back).
pub async fn return_order(conn: &mut PgConnection, order_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update product p set stock = p.stock + l.quantity from order_line l
         where l.order_id = $1 and p.product_id = l.product_id
           and not exists (select 1 from booking b join experience_slot s using (slot_id)
                           where b.order_id = l.order_id and s.product_id = l.product_id)",
        order_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A producer's count: `delta` more (or fewer) of its own product. The new stock, or `None` when
/// it would leave zero–`MAX_STOCK` or the product is not the producer's.
pub async fn adjust(
    conn: &mut PgConnection,
    product_id: i64,
    producer_id: i64,
    delta: i32,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar!(
        "update product set stock = stock + $3
         where product_id = $1 and producer_id = $2 and stock + $3 between 0 and $4 returning stock",
        product_id,
        producer_id,
        delta,
        MAX_STOCK
    )
    .fetch_optional(conn)
    .await
}
