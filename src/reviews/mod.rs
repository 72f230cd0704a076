//! Reviews by verified buyers. Only the buyer of an order line can review it, once, after it is
//! delivered (a tour: after the guest checked in), and may edit it for 30 days. The producer
//! replies once, in public; staff of the review's province hide it with a reason (audited);
//! shoppers report abuse. Each visible review counts in its product's rating, kept on the
//! product row in the same transaction as the review, so the catalog snapshot reads it with the
//! product and no page needs SQL for it.

pub mod http;

use crate::error::AppError;
use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;

/// How long after writing a buyer may still change a review.
pub const EDIT_DAYS: i64 = 30;
/// Photos per review.
pub const MAX_PHOTOS: usize = 3;
pub const MAX_TEXT: usize = 2_000;

/// 1 to 5 stars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rating(i16);

impl Rating {
    pub fn parse(s: &str) -> Option<Rating> {
        s.trim()
            .parse::<i16>()
            .ok()
            .filter(|n| (1..=5).contains(n))
            .map(Rating)
    }
    pub fn get(self) -> i16 {
        self.0
    }
}

/// What a buyer wrote: refused at the edge when it breaks a rule, with the message to show.
#[derive(Debug)]
pub struct Draft {
    pub rating: Rating,
    pub body: String,
}

impl Draft {
    /// The message keys of what is wrong, by field.
    pub fn parse(rating: &str, body: &str) -> Result<Draft, Vec<(&'static str, &'static str)>> {
        let mut errors = vec![];
        let rating = Rating::parse(rating);
        if rating.is_none() {
            errors.push(("rating", "review-error-rating"));
        }
        let body = body.trim().to_string();
        if body.chars().count() > MAX_TEXT {
            errors.push(("body", "review-error-too-long"));
        }
        match rating {
            Some(rating) if errors.is_empty() => Ok(Draft { rating, body }),
            _ => Err(errors),
        }
    }
}

/// Why a review cannot be written or changed.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("this line is not the buyer's, or not delivered yet")]
    NotEligible,
    #[error("the review is older than the editing window")]
    TooLate,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl ReviewError {
    /// The message to show, as a key of locales/.
    pub fn message_key(&self) -> &'static str {
        match self {
            ReviewError::NotEligible => "review-error-not-eligible",
            ReviewError::TooLate => "review-error-too-late",
            ReviewError::Db(_) => "review-error-not-eligible",
        }
    }
}

/// An order line as the order page offers it for review.
#[derive(Debug, Serialize)]
pub struct LineReview {
    pub order_id: i64,
    pub product_id: i64,
    /// delivered (or attended) and not yet reviewed, or reviewed and still editable
    pub can_write: bool,
    pub review_id: Option<i64>,
    pub rating: Option<i16>,
    pub body: String,
    pub photos: Vec<String>,
    pub hidden: bool,
    pub reply: Option<String>,
    /// when the buyer can no longer change it
    pub editable_until: Option<OffsetDateTime>,
}

/// Every line of an order group, with what its buyer can do about reviewing it.
pub async fn for_group(pool: &PgPool, group_id: i64) -> Result<Vec<LineReview>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select l.order_id, l.product_id, o.status,
                  exists(select 1 from booking b where b.order_id = o.order_id) as "booked!",
                  exists(select 1 from booking b where b.order_id = o.order_id and b.redeemed_at is not null) as "attended!",
                  r.review_id as "review_id?", r.rating as "rating?", r.body as "body?", r.photos as "photos?",
                  r.created_at as "created_at?", r.hidden_at, r.reply
           from shop_order o join order_line l using (order_id)
           left join review r on r.order_id = l.order_id and r.product_id = l.product_id
           where o.order_group_id = $1
           order by l.order_id, l.product_id"#,
        group_id
    )
    .fetch_all(pool)
    .await?;
    let now = OffsetDateTime::now_utc();
    Ok(rows
        .into_iter()
        .map(|r| {
            let eligible = r.status == "delivered" && (!r.booked || r.attended);
            let until = r.created_at.map(|t| t + time::Duration::days(EDIT_DAYS));
            LineReview {
                order_id: r.order_id,
                product_id: r.product_id,
                can_write: eligible && until.is_none_or(|u| now < u),
                review_id: r.review_id,
                rating: r.rating,
                body: r.body.unwrap_or_default(),
                photos: r.photos.unwrap_or_default(),
                hidden: r.hidden_at.is_some(),
                reply: r.reply,
                editable_until: until,
            }
        })
        .collect())
}

/// Writes or changes the buyer's review of one line of `group_id`. New photos replace the old
/// ones when any are given. The product's rating moves in the same transaction.
pub async fn save(
    pool: &PgPool,
    group_id: i64,
    order_id: i64,
    product_id: i64,
    draft: &Draft,
    photos: Option<Vec<String>>,
) -> Result<i64, ReviewError> {
    let mut tx = pool.begin().await?;
    // the order part's row: a status change and a review of it never cross
    let line = sqlx::query!(
        r#"select o.status, o.producer_id, g.buyer_name, pr.province_code,
                  exists(select 1 from booking b where b.order_id = o.order_id) as "booked!",
                  exists(select 1 from booking b where b.order_id = o.order_id and b.redeemed_at is not null) as "attended!"
           from shop_order o join order_group g using (order_group_id)
           join order_line l on l.order_id = o.order_id and l.product_id = $3
           join producer pr on pr.producer_id = o.producer_id
           where o.order_id = $1 and o.order_group_id = $2
           for update of o"#,
        order_id,
        group_id,
        product_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ReviewError::NotEligible)?;
    if line.status != "delivered" || (line.booked && !line.attended) {
        return Err(ReviewError::NotEligible);
    }
    let existing = sqlx::query!(
        r#"select review_id, rating, hidden_at, created_at > now() - make_interval(days => $3) as "editable!"
           from review where order_id = $1 and product_id = $2 for update"#,
        order_id,
        product_id,
        EDIT_DAYS as i32
    )
    .fetch_optional(&mut *tx)
    .await?;
    let rating = draft.rating.get();
    let review_id = match existing {
        Some(old) => {
            if !old.editable {
                return Err(ReviewError::TooLate);
            }
            sqlx::query!(
                "update review set rating = $2, body = $3, photos = coalesce($4, photos) where review_id = $1",
                old.review_id,
                rating,
                draft.body,
                photos.as_deref()
            )
            .execute(&mut *tx)
            .await?;
            if old.hidden_at.is_none() {
                sqlx::query!(
                    "update product set rating_sum = rating_sum + $2 where product_id = $1",
                    product_id,
                    i32::from(rating - old.rating)
                )
                .execute(&mut *tx)
                .await?;
            }
            old.review_id
        }
        None => {
            // the name shown is the buyer's first name and initial: "Lan N."
            let id = sqlx::query_scalar!(
                r#"insert into review (order_id, product_id, producer_id, province_code, author, rating, body, photos)
                   values ($1, $2, $3, $4, $5, $6, $7, $8) returning review_id"#,
                order_id,
                product_id,
                line.producer_id,
                line.province_code,
                display_author(&line.buyer_name),
                rating,
                draft.body,
                &photos.unwrap_or_default()
            )
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query!(
                "update product set rating_sum = rating_sum + $2, rating_count = rating_count + 1 where product_id = $1",
                product_id,
                i32::from(rating)
            )
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    tx.commit().await?;
    Ok(review_id)
}

/// A buyer's name as a review shows it: the given name (the last word, in Vietnamese order) and
/// the family name's initial. "Nguyễn Thị Lan" → "Lan N.".
pub fn display_author(full: &str) -> String {
    let words: Vec<&str> = full.split_whitespace().collect();
    match words.as_slice() {
        [] => "—".to_string(),
        [one] => one.to_string(),
        [first, .., last] => {
            let initial: String = first.chars().take(1).collect();
            format!("{last} {initial}.")
        }
    }
}

/// The producer's one public reply; the product it concerns, or `None` when the review is not
/// theirs or already answered.
pub async fn reply(
    pool: &PgPool,
    producer_id: i64,
    review_id: i64,
    user_id: i64,
    text: &str,
) -> Result<Option<i64>, AppError> {
    let mut tx = crate::audit::begin(pool, user_id, "review.reply", None).await?;
    let done = sqlx::query!(
        "update review set reply = $3, replied_at = now(), replied_by = $4
         where review_id = $1 and producer_id = $2 and reply is null returning product_id",
        review_id,
        producer_id,
        text,
        user_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(r) = &done {
        touch_product(&mut tx, r.product_id).await?;
    }
    tx.commit().await?;
    Ok(done.map(|r| r.product_id))
}

/// The product page shows reviews from the catalog snapshot: a visible change to one makes the
/// product's row announce itself (the catalog listener reloads it).
async fn touch_product(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    product_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "select pg_notify('catalog_changed', 'product:' || $1::bigint)",
        product_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Hides (or shows again) a review of a province the staff member covers; its rating leaves (or
/// re-enters) the product's average in the same transaction. `None` when out of scope.
pub async fn moderate(
    pool: &PgPool,
    staff: &crate::auth::Staff,
    review_id: i64,
    hide: Option<&str>,
) -> Result<Option<i64>, AppError> {
    let action = if hide.is_some() {
        "review.hide"
    } else {
        "review.unhide"
    };
    let mut tx = crate::audit::begin(pool, staff.user.user_id, action, hide).await?;
    let Some(r) = sqlx::query!(
        "select product_id, province_code, rating, hidden_at from review where review_id = $1 for update",
        review_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .filter(|r| staff.covers(r.province_code)) else {
        return Ok(None);
    };
    let (change_sum, change_count) = match (hide, r.hidden_at.is_some()) {
        (Some(_), false) => (-i32::from(r.rating), -1),
        (None, true) => (i32::from(r.rating), 1),
        // already as asked: nothing moves
        _ => {
            tx.commit().await?;
            return Ok(Some(r.product_id));
        }
    };
    sqlx::query!(
        "update review set hidden_at = case when $2::text is null then null else now() end,
                hidden_reason = $2, hidden_by = case when $2::text is null then null else $3::bigint end
         where review_id = $1",
        review_id,
        hide,
        staff.user.user_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update product set rating_sum = rating_sum + $2, rating_count = rating_count + $3 where product_id = $1",
        r.product_id,
        change_sum,
        change_count
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(r.product_id))
}

/// A shopper's report of abuse; a second report by the same reporter changes nothing.
pub async fn report(
    pool: &PgPool,
    review_id: i64,
    reporter: &str,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    // one statement: the review must be visible; a reporter's second report is a no-op
    sqlx::query_scalar!(
        r#"with r as (select review_id from review where review_id = $1 and hidden_at is null),
                ins as (insert into review_report (review_id, reporter, reason)
                        select review_id, $2, $3 from r on conflict do nothing)
           select exists(select 1 from r) as "e!""#,
        review_id,
        reporter,
        reason
    )
    .fetch_one(pool)
    .await
}

/// A review as the producer's and the staff's pages list it.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub review_id: i64,
    pub product_name: String,
    pub product_slug: String,
    pub producer_name: String,
    pub author: String,
    pub rating: i16,
    pub body: String,
    pub photos: Vec<String>,
    pub created_at: OffsetDateTime,
    pub reply: Option<String>,
    pub hidden_reason: Option<String>,
    pub reports: i64,
    pub report_reasons: Vec<String>,
}

/// Reviews of one producer, or of a province (all provinces when both are `None`), newest
/// first; reported ones first when `reported_first`.
pub async fn list(
    pool: &PgPool,
    producer: Option<i64>,
    province: Option<i16>,
    reported_first: bool,
) -> Result<Vec<Listed>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select r.review_id, p.name as product_name, p.slug as product_slug, pr.name as producer_name,
                  r.author, r.rating, r.body, r.photos, r.created_at, r.reply, r.hidden_reason,
                  (select count(*) from review_report x where x.review_id = r.review_id) as "reports!",
                  array(select x.reason from review_report x where x.review_id = r.review_id
                        order by x.created_at limit 5) as "report_reasons!"
           from review r join product p using (product_id) join producer pr on pr.producer_id = r.producer_id
           where ($1::bigint is null or r.producer_id = $1) and ($2::smallint is null or r.province_code = $2)
           order by case when $3 then (select count(*) from review_report x where x.review_id = r.review_id) > 0 else false end desc,
                    r.created_at desc
           limit 200"#,
        producer,
        province,
        reported_first
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Listed {
            review_id: r.review_id,
            product_name: r.product_name,
            product_slug: r.product_slug,
            producer_name: r.producer_name,
            author: r.author,
            rating: r.rating,
            body: r.body,
            photos: r.photos,
            created_at: r.created_at,
            reply: r.reply,
            hidden_reason: r.hidden_reason,
            reports: r.reports,
            report_reasons: r.report_reasons,
        })
        .collect())
}

/// Reviews on the dashboard: how many were written in the period, their average, and the
/// average per sector and per province.
#[derive(Debug, Serialize, Default)]
pub struct Stats {
    pub count: i64,
    /// the average as staff read it: "4,7"
    pub average: String,
    pub by_sector: Vec<StatRow>,
    pub by_province: Vec<StatRow>,
}

#[derive(Debug, Serialize)]
pub struct StatRow {
    pub label: String,
    pub count: i64,
    pub average: String,
}

/// Visible reviews written between `from` and `to` (Vietnamese days, inclusive) in `province`
/// (everywhere when `None`).
pub async fn stats(
    pool: &PgPool,
    province: Option<i16>,
    from: time::Date,
    to: time::Date,
) -> Result<Stats, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select p.sector, r.province_code, count(*) as "n!", sum(r.rating)::bigint as "sum!"
           from review r join product p using (product_id)
           where r.hidden_at is null
             and r.created_at >= ($2::date)::timestamp at time zone 'Asia/Ho_Chi_Minh'
             and r.created_at < ($3::date + 1)::timestamp at time zone 'Asia/Ho_Chi_Minh'
             and ($1::smallint is null or r.province_code = $1)
           group by p.sector, r.province_code"#,
        province,
        from,
        to
    )
    .fetch_all(pool)
    .await?;
    // the same rounding and writing as the shop's pages
    let tenths = |sum: i64, n: i64| {
        crate::catalog::views::rating(sum as i32, n as i32).unwrap_or_else(|| "0".into())
    };
    let mut by_sector: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    let mut by_province: std::collections::BTreeMap<i16, (i64, i64)> = Default::default();
    let (mut n, mut sum) = (0, 0);
    for r in &rows {
        let e = by_sector.entry(r.sector.clone()).or_default();
        e.0 += r.n;
        e.1 += r.sum;
        let e = by_province.entry(r.province_code).or_default();
        e.0 += r.n;
        e.1 += r.sum;
        n += r.n;
        sum += r.sum;
    }
    let names: std::collections::HashMap<i16, String> =
        sqlx::query!("select province_code, name from province")
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|p| (p.province_code, p.name))
            .collect();
    Ok(Stats {
        count: n,
        average: tenths(sum, n),
        by_sector: by_sector
            .into_iter()
            .map(|(k, (n, s))| StatRow {
                label: crate::domain::Sector::from_key(&k)
                    .map(|s| s.label().to_string())
                    .unwrap_or(k),
                count: n,
                average: tenths(s, n),
            })
            .collect(),
        by_province: by_province
            .into_iter()
            .map(|(k, (n, s))| StatRow {
                label: names.get(&k).cloned().unwrap_or_default(),
                count: n,
                average: tenths(s, n),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_are_one_to_five_stars() {
        assert_eq!(Rating::parse("5").map(Rating::get), Some(5));
        assert_eq!(Rating::parse(" 1 ").map(Rating::get), Some(1));
        assert!(Rating::parse("0").is_none() && Rating::parse("6").is_none());
        assert!(Rating::parse("").is_none() && Rating::parse("4.5").is_none());
    }

    #[test]
    fn a_review_is_signed_with_the_given_name_and_an_initial() {
        assert_eq!(display_author("Nguyễn Thị Lan"), "Lan N.");
        assert_eq!(display_author("Minh"), "Minh");
        assert_eq!(display_author("  "), "—");
    }

    #[test]
    fn a_draft_without_stars_or_with_too_much_text_is_refused() {
        assert!(Draft::parse("4", "Ngon").is_ok());
        let e = Draft::parse("", &"x".repeat(MAX_TEXT + 1)).unwrap_err();
        assert_eq!(e.len(), 2);
    }
}
