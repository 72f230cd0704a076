//! Tourism experiences sold by the slot (OCOP sector 6: homestays, craft-village tours). A
//! tourism product becomes an experience when its producer sets the duration, meeting point,
//! languages, capacity per slot, a weekly calendar, the booking cut-off and the cancellation
//! policy. Slots are made from the weekly rule (60 days ahead, extended as days pass); a slot the
//! producer closes is an exception. Seats are taken with one conditional update per slot in the
//! order's transaction, so a slot is never oversold; each booking gets a voucher with a short code
//! and a QR, checked in once at the meeting point.
//!
//! This module owns `experience`, `experience_slot` and `booking`.

pub mod http;

use crate::domain::{VN_OFFSET, vn_today};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeMap;
use time::{Date, Duration, OffsetDateTime, Time};

/// How far ahead slots are made.
const DAYS_AHEAD: i64 = 60;

pub type Errors = BTreeMap<&'static str, String>;

/// The languages a guide may speak, as the form offers them.
pub const LANGUAGES: [(&str, &str); 6] = [
    ("vi", "Tiếng Việt"),
    ("en", "English"),
    ("fr", "Français"),
    ("zh", "中文"),
    ("ko", "한국어"),
    ("ja", "日本語"),
];

/// An experience's terms, as the producer sets them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Terms {
    pub duration_minutes: i32,
    pub meeting_point: String,
    pub languages: Vec<String>,
    pub capacity: i32,
    pub cutoff_hours: i32,
    pub free_cancel_hours: i32,
    /// 1 = Monday … 7 = Sunday
    pub weekdays: Vec<i16>,
    /// minutes after midnight, Vietnam time
    pub start_minutes: Vec<i16>,
}

/// "08:00, 14:30" → [480, 870]; None when any is not a time of day.
pub fn parse_times(s: &str) -> Option<Vec<i16>> {
    let mut out = vec![];
    for part in s.split([',', ';', ' ']).filter(|p| !p.trim().is_empty()) {
        let (h, m) = part
            .trim()
            .split_once([':', 'h', 'g'])
            .unwrap_or((part.trim(), "0"));
        let h: i16 = h.trim().parse().ok()?;
        let m: i16 = if m.trim().is_empty() {
            0
        } else {
            m.trim().parse().ok()?
        };
        if !(0..24).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        out.push(h * 60 + m);
    }
    out.sort_unstable();
    out.dedup();
    (!out.is_empty() && out.len() <= 12).then_some(out)
}

impl Terms {
    /// The form's fields, each mistake named.
    pub fn parse(f: &BTreeMap<String, String>) -> Result<Terms, Errors> {
        let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
        let mut e = Errors::new();
        let number =
            |k: &'static str, range: std::ops::RangeInclusive<i32>, why: &str, e: &mut Errors| {
                match get(k).parse::<i32>().ok().filter(|n| range.contains(n)) {
                    Some(n) => n,
                    None => {
                        e.insert(k, why.to_string());
                        0
                    }
                }
            };
        let duration_minutes = number(
            "duration_minutes",
            15..=10_080,
            "Thời lượng tính bằng phút, từ 15 phút đến 7 ngày.",
            &mut e,
        );
        let capacity = number(
            "capacity",
            1..=500,
            "Số khách tối đa mỗi khung giờ từ 1 đến 500.",
            &mut e,
        );
        let cutoff_hours = number(
            "cutoff_hours",
            0..=720,
            "Số giờ đóng đặt chỗ trước giờ bắt đầu, từ 0 đến 720.",
            &mut e,
        );
        let free_cancel_hours = number(
            "free_cancel_hours",
            0..=720,
            "Số giờ huỷ miễn phí trước giờ bắt đầu, từ 0 đến 720.",
            &mut e,
        );
        let meeting_point = get("meeting_point").to_string();
        if !(3..=300).contains(&meeting_point.chars().count()) {
            e.insert(
                "meeting_point",
                "Vui lòng ghi rõ điểm hẹn đón khách.".into(),
            );
        }
        let languages: Vec<String> = LANGUAGES
            .iter()
            .filter(|(k, _)| !get(&format!("lang_{k}")).is_empty())
            .map(|(k, _)| k.to_string())
            .collect();
        if languages.is_empty() {
            e.insert("languages", "Chọn ít nhất một ngôn ngữ hướng dẫn.".into());
        }
        let weekdays: Vec<i16> = (1..=7)
            .filter(|d| !get(&format!("day_{d}")).is_empty())
            .collect();
        if weekdays.is_empty() {
            e.insert("weekdays", "Chọn ít nhất một ngày trong tuần.".into());
        }
        let start_minutes = parse_times(get("start_times")).unwrap_or_else(|| {
            e.insert(
                "start_times",
                "Giờ bắt đầu viết như 08:00, 14:30 (tối đa 12 giờ mỗi ngày).".into(),
            );
            vec![]
        });
        if e.is_empty() {
            Ok(Terms {
                duration_minutes,
                meeting_point,
                languages,
                capacity,
                cutoff_hours,
                free_cancel_hours,
                weekdays,
                start_minutes,
            })
        } else {
            Err(e)
        }
    }

    /// The start of every slot the rule makes on the days `from..=to`.
    pub fn starts(&self, from: Date, to: Date) -> Vec<OffsetDateTime> {
        let mut out = vec![];
        let mut day = from;
        while day <= to {
            if self
                .weekdays
                .contains(&i16::from(day.weekday().number_from_monday()))
            {
                for m in &self.start_minutes {
                    let t = Time::from_hms((m / 60) as u8, (m % 60) as u8, 0).expect("checked");
                    out.push(day.with_time(t).assume_offset(VN_OFFSET));
                }
            }
            day = match day.next_day() {
                Some(d) => d,
                None => break,
            };
        }
        out
    }
}

/// "3 giờ 30 phút", "45 phút", "2 ngày".
pub fn duration_text(minutes: i32) -> String {
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let mut parts = vec![];
    for (n, key) in [
        (d, "duration-days"),
        (h, "duration-hours"),
        (m, "duration-minutes"),
    ] {
        if n > 0 {
            parts.push(crate::i18n::tr_with(key, &[("count", i64::from(n).into())]));
        }
    }
    parts.join(" ")
}

/// The terms of a product's experience, if it is one.
pub async fn terms(conn: &mut PgConnection, product_id: i64) -> Result<Option<Terms>, sqlx::Error> {
    Ok(sqlx::query_as!(
        Terms,
        "select duration_minutes, meeting_point, languages, capacity, cutoff_hours, free_cancel_hours,
                weekdays, start_minutes
         from experience where product_id = $1",
        product_id
    )
    .fetch_optional(&mut *conn)
    .await?)
}

/// Saves a tourism product's terms (its producer's only) and remakes its future slots: slots no
/// one booked that the rule no longer makes are removed; booked ones stay.
pub async fn save(
    pool: &PgPool,
    producer_id: i64,
    product_id: i64,
    t: &Terms,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ours = sqlx::query_scalar!(
        r#"select exists(select 1 from product where product_id = $1 and producer_id = $2 and sector = 'tourism') as "e!""#,
        product_id,
        producer_id
    )
    .fetch_one(&mut *tx)
    .await?;
    if !ours {
        return Ok(false);
    }
    sqlx::query!(
        "insert into experience (product_id, duration_minutes, meeting_point, languages, capacity, cutoff_hours,
             free_cancel_hours, weekdays, start_minutes)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (product_id) do update set duration_minutes = $2, meeting_point = $3, languages = $4,
             capacity = $5, cutoff_hours = $6, free_cancel_hours = $7, weekdays = $8, start_minutes = $9,
             updated_at = now()",
        product_id,
        t.duration_minutes,
        t.meeting_point.trim(),
        &t.languages,
        t.capacity,
        t.cutoff_hours,
        t.free_cancel_hours,
        &t.weekdays,
        &t.start_minutes
    )
    .execute(&mut *tx)
    .await?;
    let now = OffsetDateTime::now_utc();
    let today = vn_today();
    let starts = t.starts(today, today + Duration::days(DAYS_AHEAD));
    sqlx::query!(
        "delete from experience_slot where product_id = $1 and starts_at > $2 and booked = 0
           and not (starts_at = any($3))",
        product_id,
        now,
        &starts
    )
    .execute(&mut *tx)
    .await?;
    // a capacity change applies to future slots, never below what is booked
    sqlx::query!(
        "update experience_slot set capacity = greatest($2, booked) where product_id = $1 and starts_at > $3",
        product_id,
        t.capacity,
        now
    )
    .execute(&mut *tx)
    .await?;
    make_slots(&mut tx, product_id, t.capacity, &starts).await?;
    tx.commit().await?;
    Ok(true)
}

async fn make_slots(
    conn: &mut PgConnection,
    product_id: i64,
    capacity: i32,
    starts: &[OffsetDateTime],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into experience_slot (product_id, starts_at, capacity)
         select $1, s, $2 from unnest($3::timestamptz[]) s
         on conflict (product_id, starts_at) do nothing",
        product_id,
        capacity,
        starts
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Makes the slots the rule adds as days pass (safe from several instances: a slot is unique by
/// its start).
pub async fn extend(pool: &PgPool, product_id: i64) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let Some(t) = terms(&mut conn, product_id).await? else {
        return Ok(());
    };
    let today = vn_today();
    let last = sqlx::query_scalar!(
        "select max(starts_at) from experience_slot where product_id = $1",
        product_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let horizon = day_start(today + Duration::days(DAYS_AHEAD - 7));
    if last.is_none_or(|l| l < horizon) {
        let starts = t.starts(today, today + Duration::days(DAYS_AHEAD));
        make_slots(&mut conn, product_id, t.capacity, &starts).await?;
    }
    Ok(())
}

fn day_start(d: Date) -> OffsetDateTime {
    d.with_time(Time::MIDNIGHT).assume_offset(VN_OFFSET)
}

/// A slot as the booking page and the producer's calendar show it.
#[derive(Debug, Clone, Serialize)]
pub struct SlotView {
    pub slot_id: i64,
    pub day: Date,
    /// "08:00"
    pub time: String,
    pub capacity: i32,
    pub booked: i32,
    pub left: i32,
    pub closed: bool,
    /// still takes bookings (open, seats left, before the cut-off)
    pub bookable: bool,
}

/// The slots of the coming `days`, the past ones left out.
pub async fn slots(
    pool: &PgPool,
    product_id: i64,
    cutoff_hours: i32,
    days: i64,
) -> Result<Vec<SlotView>, sqlx::Error> {
    let now = OffsetDateTime::now_utc();
    let rows = sqlx::query!(
        "select slot_id, starts_at, capacity, booked, closed from experience_slot
         where product_id = $1 and starts_at > $2 and starts_at < $3 order by starts_at",
        product_id,
        now,
        now + Duration::days(days)
    )
    .fetch_all(pool)
    .await?;
    let cutoff = now + Duration::hours(cutoff_hours.into());
    Ok(rows
        .into_iter()
        .map(|r| {
            let local = r.starts_at.to_offset(VN_OFFSET);
            let left = r.capacity - r.booked;
            SlotView {
                slot_id: r.slot_id,
                day: local.date(),
                time: format!("{:02}:{:02}", local.hour(), local.minute()),
                capacity: r.capacity,
                booked: r.booked,
                left,
                closed: r.closed,
                bookable: !r.closed && left > 0 && r.starts_at > cutoff,
            }
        })
        .collect())
}

/// Closes or reopens a slot of the producer's. A slot with guests booked is not closed: the
/// producer agrees another time with them first.
pub async fn set_closed(
    pool: &PgPool,
    producer_id: i64,
    slot_id: i64,
    closed: bool,
) -> Result<Result<(), &'static str>, sqlx::Error> {
    let n = sqlx::query!(
        "update experience_slot s set closed = $3
         from product p where p.product_id = s.product_id and s.slot_id = $1 and p.producer_id = $2
           and ($3 = false or s.booked = 0)",
        slot_id,
        producer_id,
        closed
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(if n == 1 {
        Ok(())
    } else {
        Err("Khung giờ đã có khách đặt: hãy liên hệ khách để đổi lịch trước khi đóng.")
    })
}

/// Which of these products are experiences (their lines need a slot).
pub async fn among(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "select product_id from experience where product_id = any($1)",
        ids
    )
    .fetch_all(&mut *conn)
    .await
}

/// Takes `guests` seats of a slot of `product_id` in the caller's transaction, or says why not.
/// One conditional statement: concurrent bookings never take the slot beyond its capacity.
pub async fn take_seats(
    conn: &mut PgConnection,
    product_id: i64,
    slot_id: i64,
    guests: i32,
    name: &str,
) -> Result<Result<(), String>, sqlx::Error> {
    let now = OffsetDateTime::now_utc();
    let taken = sqlx::query_scalar!(
        "update experience_slot s set booked = booked + $3
         from experience e
         where s.slot_id = $1 and s.product_id = $2 and e.product_id = s.product_id and not s.closed
           and s.starts_at > $4::timestamptz + make_interval(hours => e.cutoff_hours)
           and s.booked + $3 <= s.capacity
         returning s.slot_id",
        slot_id,
        product_id,
        guests,
        now
    )
    .fetch_optional(&mut *conn)
    .await?;
    if taken.is_some() {
        return Ok(Ok(()));
    }
    let slot = sqlx::query!(
        r#"select s.capacity - s.booked as "left!", s.closed, s.starts_at <= $2::timestamptz + make_interval(hours => e.cutoff_hours) as "late!"
           from experience_slot s join experience e using (product_id) where s.slot_id = $1 and s.product_id = $3"#,
        slot_id,
        now,
        product_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(Err(match slot {
        None => format!("\"{name}\": khung giờ đã chọn không còn tồn tại."),
        Some(s) if s.late => format!("\"{name}\": khung giờ này đã qua hoặc đã hết hạn đặt chỗ."),
        Some(s) if s.closed => format!("\"{name}\": khung giờ này đã đóng."),
        Some(s) if s.left <= 0 => format!("\"{name}\": khung giờ này vừa hết chỗ."),
        Some(s) => format!("\"{name}\": khung giờ này chỉ còn {} chỗ.", s.left),
    }))
}

fn voucher_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect();
    format!("BK{tail}")
}

/// Issues the booking's voucher (its code unique, drawn again on the rare clash).
pub async fn issue(
    conn: &mut PgConnection,
    order_id: i64,
    slot_id: i64,
    guests: i32,
) -> Result<(), sqlx::Error> {
    for _ in 0..5 {
        let made = sqlx::query!(
            "insert into booking (order_id, slot_id, guests, code) values ($1, $2, $3, $4)
             on conflict (code) do nothing",
            order_id,
            slot_id,
            guests,
            voucher_code()
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if made == 1 {
            return Ok(());
        }
    }
    Err(sqlx::Error::Protocol("no free voucher code".into()))
}

/// A cancelled order's seats go back to their slots.
pub async fn release_order(conn: &mut PgConnection, order_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update experience_slot s set booked = s.booked - b.guests
         from booking b where b.slot_id = s.slot_id and b.order_id = $1",
        order_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An expired order revived by a late payment takes its seats again: `false` when a slot has
/// no room left (the caller refuses the revival).
pub async fn retake_order(conn: &mut PgConnection, order_id: i64) -> Result<bool, sqlx::Error> {
    let wanted = sqlx::query_scalar!(
        r#"select count(*) as "n!" from booking where order_id = $1"#,
        order_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let taken = sqlx::query!(
        "update experience_slot s set booked = s.booked + b.guests
         from booking b where b.slot_id = s.slot_id and b.order_id = $1 and s.booked + b.guests <= s.capacity",
        order_id
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(taken as i64 == wanted)
}

/// Whether the shopper may still cancel the order under its experiences' policy (free until
/// `free_cancel_hours` before the first slot starts; after that, nothing is refunded).
pub async fn may_cancel(conn: &mut PgConnection, order_id: i64) -> Result<bool, sqlx::Error> {
    let late = sqlx::query_scalar!(
        r#"select exists(
               select 1 from booking b join experience_slot s using (slot_id)
               join experience e on e.product_id = s.product_id
               where b.order_id = $1 and s.starts_at - make_interval(hours => e.free_cancel_hours) <= now()) as "late!""#,
        order_id
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(!late)
}

/// A booking's voucher as its holder and the producer see it.
#[derive(Debug, Clone, Serialize)]
pub struct Voucher {
    pub order_id: i64,
    pub code: String,
    pub product: String,
    pub starts_at: String,
    pub guests: i32,
    pub meeting_point: String,
    pub duration_minutes: i32,
    pub redeemed_at: Option<String>,
    /// until when the shopper may cancel it for a full refund
    pub free_cancel_until: String,
    pub cancellable: bool,
}

/// The vouchers of these orders.
pub async fn vouchers(pool: &PgPool, order_ids: &[i64]) -> Result<Vec<Voucher>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select b.order_id, b.code, p.name, s.starts_at, b.guests, e.meeting_point, e.duration_minutes, b.redeemed_at,
                s.starts_at - make_interval(hours => e.free_cancel_hours) as "free_until!"
         from booking b join experience_slot s using (slot_id) join experience e on e.product_id = s.product_id
         join product p on p.product_id = s.product_id
         where b.order_id = any($1) order by s.starts_at, b.booking_id"#,
        order_ids
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Voucher {
            order_id: r.order_id,
            code: r.code,
            product: r.name,
            starts_at: crate::render::format_vn_time(r.starts_at),
            guests: r.guests,
            meeting_point: r.meeting_point,
            duration_minutes: r.duration_minutes,
            redeemed_at: r.redeemed_at.map(crate::render::format_vn_time),
            free_cancel_until: crate::render::format_vn_time(r.free_until),
            cancellable: r.free_until > OffsetDateTime::now_utc(),
        })
        .collect())
}

/// What a check-in found.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CheckIn {
    /// let them in
    Welcome {
        voucher: Voucher,
    },
    /// used before: when and by whom
    Used {
        voucher: Voucher,
        by: String,
    },
    /// its order was cancelled, refunded or never paid
    NotValid {
        voucher: Voucher,
        status: &'static str,
    },
    NotFound,
}

/// Checks a voucher in at the producer's meeting point: each voucher once, however many gates
/// scan it at the same moment (one conditional update decides).
pub async fn check_in(
    pool: &PgPool,
    producer_id: i64,
    user_id: i64,
    code: &str,
) -> Result<CheckIn, sqlx::Error> {
    let code = normalize(code);
    let mut tx = pool.begin().await?;
    let won = sqlx::query!(
        r#"update booking b set redeemed_at = now(), redeemed_by = $3
           from shop_order o where o.order_id = b.order_id and b.code = $1 and o.producer_id = $2
             and b.redeemed_at is null and o.status in ('placed', 'paid', 'confirmed', 'delivered')
           returning b.order_id, o.status as "status: crate::orders::Status""#,
        code,
        producer_id,
        user_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    // the guests came: the service is delivered (cash paid at the meeting point is recorded, and
    // the money is released when the return window passes, as for goods)
    if let Some(w) = &won {
        deliver(&mut tx, w.order_id, w.status, &code, "Tại điểm hẹn").await?;
    }
    tx.commit().await?;
    let row = sqlx::query!(
        r#"select b.order_id, o.status as "status: crate::orders::Status", u.display_name as "by?"
           from booking b join shop_order o using (order_id) left join app_user u on u.user_id = b.redeemed_by
           where b.code = $1 and o.producer_id = $2"#,
        code,
        producer_id
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(CheckIn::NotFound);
    };
    let voucher = vouchers(pool, &[row.order_id])
        .await?
        .into_iter()
        .find(|v| v.code == code)
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(if won.is_some() {
        CheckIn::Welcome { voucher }
    } else if voucher.redeemed_at.is_some() {
        CheckIn::Used {
            voucher,
            by: row.by.unwrap_or_default(),
        }
    } else {
        CheckIn::NotValid {
            voucher,
            status: row.status.label(),
        }
    })
}

fn normalize(code: &str) -> String {
    code.trim().to_uppercase().replace([' ', '-'], "")
}

/// Moves a booking's order to delivered, the way a parcel goes, in the caller's transaction.
async fn deliver(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    order_id: i64,
    from: crate::orders::Status,
    code: &str,
    how: &str,
) -> Result<(), sqlx::Error> {
    use crate::orders::{Actor, Details, Status};
    let steps: &[Status] = match from {
        Status::Placed | Status::Paid => &[Status::Confirmed, Status::Shipped, Status::Delivered],
        Status::Confirmed => &[Status::Shipped, Status::Delivered],
        _ => &[],
    };
    let details = Details {
        carrier: Some(how.into()),
        tracking_number: Some(code.into()),
        reason: None,
    };
    for to in steps {
        crate::orders::transition(tx, order_id, *to, Actor::Producer, &details)
            .await
            .map_err(|e| sqlx::Error::Protocol(format!("booking not delivered: {e:?}")))?;
    }
    Ok(())
}

/// The guests of a slot that has started did not come: under the policy nothing is refunded,
/// so the order is settled as delivered (the voucher stays unused). `false` when there is no
/// such booking of the producer's, unused, whose slot has started.
pub async fn no_show(pool: &PgPool, producer_id: i64, code: &str) -> Result<bool, sqlx::Error> {
    let code = normalize(code);
    let mut tx = pool.begin().await?;
    let b = sqlx::query!(
        r#"select o.order_id, o.status as "status: crate::orders::Status"
           from booking b join shop_order o using (order_id) join experience_slot s using (slot_id)
           where b.code = $1 and o.producer_id = $2 and b.redeemed_at is null and s.starts_at <= now()
             and o.status in ('placed', 'paid', 'confirmed')
           for update of o"#,
        code,
        producer_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(b) = b else {
        return Ok(false);
    };
    deliver(&mut tx, b.order_id, b.status, &code, "Khách không đến").await?;
    tx.commit().await?;
    Ok(true)
}

/// Guests expected per visit day in a province (or everywhere), from `from` for `days`: the
/// dashboards count bookings by visit date as well as by order date.
pub async fn by_visit_day(
    pool: &PgPool,
    province: Option<i16>,
    from: Date,
    days: i64,
) -> Result<Vec<(Date, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select (s.starts_at at time zone 'Asia/Ho_Chi_Minh')::date as "day!", count(*) as "bookings!",
                  sum(b.guests)::bigint as "guests!"
           from booking b join experience_slot s using (slot_id) join shop_order o using (order_id)
           join producer pr on pr.producer_id = o.producer_id
           where s.starts_at >= $1 and s.starts_at < $2 and o.status not in ('cancelled', 'refunded', 'pending_payment')
             and ($3::smallint is null or pr.province_code = $3)
           group by 1 order by 1"#,
        day_start(from),
        day_start(from + Duration::days(days)),
        province
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.day, r.bookings, r.guests))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn start_times_are_read_as_people_write_them() {
        assert_eq!(parse_times("08:00, 14:30"), Some(vec![480, 870]));
        assert_eq!(parse_times("8h 14h30"), Some(vec![480, 870]));
        assert_eq!(parse_times("14:30,08:00,8:00"), Some(vec![480, 870]));
        for bad in ["", "25:00", "8:75", "sáng"] {
            assert_eq!(parse_times(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_weekly_rule_makes_slots_on_its_days_in_vietnam_time() {
        let t = Terms {
            duration_minutes: 180,
            meeting_point: "Nhà văn hoá thôn".into(),
            languages: vec!["vi".into()],
            capacity: 8,
            cutoff_hours: 12,
            free_cancel_hours: 48,
            weekdays: vec![6, 7],
            start_minutes: vec![480, 840],
        };
        // Friday 4 to Monday 7 December 2026: the weekend's four slots
        let s = t.starts(date!(2026 - 12 - 04), date!(2026 - 12 - 07));
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].to_offset(VN_OFFSET).date(), date!(2026 - 12 - 05));
        assert_eq!(
            (
                s[0].to_offset(VN_OFFSET).hour(),
                s[0].to_offset(time::UtcOffset::UTC).hour()
            ),
            (8, 1),
            "08:00 is 01:00 UTC"
        );
    }
}
