//! What the search engine holds of a product: its words, folded, and the fields filters use.
//! Read from Postgres, so the index is built from the same truth as everything else.

use crate::domain::{Vnd, fold_vietnamese, vn_today};
use serde::Serialize;
use sqlx::PgPool;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Doc {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// the producer's English name, folded (empty when there is none)
    pub name_en: String,
    pub producer_name: String,
    pub commune_name: String,
    pub province_name: String,
    pub sector_name: String,
    pub story: String,
    pub province_code: i16,
    pub commune_code: i32,
    pub sector: String,
    pub stars: i16,
    pub producer_type: String,
    pub price_vnd: Vnd,
    pub in_stock: bool,
    pub created_at: i64,
    /// verified buyers' average rating in tenths (47 = 4.7), 0 when unrated: a tie-breaker
    pub rating: i32,
    pub rating_count: i32,
}

/// For each product asked about (all when `ids` is None): its document when it is listed today,
/// `None` when it must not be found (hidden, unapproved producer, certificate expired or revoked,
/// deleted).
pub async fn load(
    pool: &PgPool,
    ids: Option<&[i64]>,
) -> Result<Vec<(i64, Option<Doc>)>, sqlx::Error> {
    let today = vn_today();
    let rows = sqlx::query!(
        r#"
        select p.product_id, p.slug, p.name, p.story, p.sector, p.price_vnd as "price_vnd: Vnd", p.stock, p.hidden, p.created_at,
               pr.name as producer_name, pr.producer_type, pr.status as producer_status,
               pr.province_code, pr.commune_code, c.name as commune_name, pv.name as province_name,
               l.stars as "stars?", l.expires_on as "expires_on?", l.listed_until,
               p.name_en, p.rating_sum, p.rating_count
        from product p
        join producer pr using (producer_id)
        join commune c on c.commune_code = pr.commune_code
        join province pv on pv.province_code = pr.province_code
        join product_listing l using (product_id)
        where $1::bigint[] is null or p.product_id = any($1)
        "#,
        ids as Option<&[i64]>
    )
    .fetch_all(pool)
    .await?;
    let mut out: Vec<(i64, Option<Doc>)> = Vec::with_capacity(rows.len());
    for r in rows {
        let listed = r.listed_until.is_some_and(|until| today < until);
        let doc = listed.then(|| Doc {
            id: r.product_id,
            slug: r.slug,
            name: fold_vietnamese(&r.name),
            name_en: r
                .name_en
                .as_deref()
                .map(fold_vietnamese)
                .unwrap_or_default(),
            producer_name: fold_vietnamese(&r.producer_name),
            commune_name: fold_vietnamese(&r.commune_name),
            province_name: fold_vietnamese(&r.province_name),
            sector_name: crate::domain::Sector::from_key(&r.sector)
                .map(|s| fold_vietnamese(s.label()))
                .unwrap_or_default(),
            story: fold_vietnamese(&r.story),
            province_code: r.province_code,
            commune_code: r.commune_code,
            sector: r.sector,
            stars: r.stars.unwrap_or(0),
            producer_type: r.producer_type,
            price_vnd: r.price_vnd,
            in_stock: r.stock > 0,
            created_at: r.created_at.unix_timestamp(),
            rating: crate::domain::average_tenths(r.rating_sum.into(), r.rating_count.into())
                as i32,
            rating_count: r.rating_count,
        });
        out.push((r.product_id, doc));
    }
    // products asked about that no longer exist must leave the index too
    if let Some(ids) = ids {
        for id in ids {
            if !out.iter().any(|(found, _)| found == id) {
                out.push((*id, None));
            }
        }
    }
    Ok(out)
}
