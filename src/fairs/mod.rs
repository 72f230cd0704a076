//! Fairs and OCOP sales points: where most OCOP goods are sold, face to face. Staff create an
//! event (a fair has an end, a permanent sales point has none) and invite producers; a producer's
//! member turns a phone into a till for it. A sale is paid by a dynamic VietQR carrying the
//! sale's code (to the marketplace's account, matched by the bank's webhook, or to the producer's
//! own account, confirmed by the stallholder) or in cash with one tap. The phone makes the sale's
//! code and id itself, so a sale started offline is sent later exactly once.
//!
//! This module owns `sale_event`, `event_producer`, `till_sale*`, `till_transfer` and
//! `till_stats_day`; the money it brings into the marketplace's account is posted by
//! `settlement`'s rules.

pub mod http;

use crate::domain::{ProducerType, Sector, VN_OFFSET, Vnd, text_enum};
use crate::error::AppError;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use time::{Date, Duration, OffsetDateTime};

text_enum! {
    /// Where a face-to-face sale happened: a channel of its own in the province's numbers.
    Channel {
        Fair = "fair", "Hội chợ";
        SalesPoint = "sales_point", "Điểm bán OCOP";
    }
}

text_enum! {
    SaleState {
        Awaiting = "awaiting", "Chờ tiền";
        Paid = "paid", "Đã nhận tiền";
        Cancelled = "cancelled", "Đã huỷ";
    }
}

text_enum! {
    TillMethod {
        Vietqr = "vietqr", "Chuyển khoản QR";
        Cash = "cash", "Tiền mặt";
    }
}

text_enum! {
    /// What a transfer carrying a sale's code did.
    TransferOutcome {
        Paid = "paid", "Đủ tiền";
        Short = "short", "Chưa đủ";
        Over = "over", "Thừa tiền";
        Late = "late", "Đến muộn (đơn đã trả tiền mặt hoặc đã huỷ)";
    }
}

/// The letters a sale code is made of: no 0/O or 1/I, which a stallholder reads aloud.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A sale's short code (`QB` and six letters or digits), the transfer's memo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SaleCode(String);

impl SaleCode {
    pub fn parse(input: &str) -> Option<SaleCode> {
        let s = input.trim().to_ascii_uppercase();
        (s.len() == 8
            && s.starts_with("QB")
            && s.bytes().skip(2).all(|b| CODE_ALPHABET.contains(&b)))
        .then_some(SaleCode(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new random sale code (the till's phone makes its own the same way).
pub fn fresh_code() -> SaleCode {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("randomness");
    let tail: String = bytes
        .iter()
        .map(|b| CODE_ALPHABET[(*b as usize) % CODE_ALPHABET.len()] as char)
        .collect();
    SaleCode(format!("QB{tail}"))
}

/// A new random key (a version-4 UUID, as the till's phone makes).
pub fn fresh_key() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("randomness");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The one sale code a bank memo carries (banks upper-case, strip and sometimes glue words: the
/// code must stand alone). None when there is none or more than one.
pub fn code_in(memo: &str) -> Option<SaleCode> {
    let upper = memo.to_ascii_uppercase();
    let words = upper.split(|c: char| !c.is_ascii_alphanumeric());
    let mut found: Option<SaleCode> = None;
    for w in words {
        if let Some(code) = SaleCode::parse(w) {
            match &found {
                Some(f) if *f != code => return None,
                _ => found = Some(code),
            }
        }
    }
    found
}

/// What a new event needs; `ends_on` none is a permanent sales point.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: Channel,
    pub name: String,
    pub province_code: i16,
    pub commune_code: i32,
    pub place: String,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
}

impl NewEvent {
    /// Refuses what cannot be an event, field by field, in Vietnamese.
    pub fn check(&self) -> Vec<(&'static str, &'static str)> {
        let mut errors = vec![];
        if !(3..=200).contains(&self.name.trim().chars().count()) {
            errors.push(("name", "Tên sự kiện từ 3 đến 200 ký tự."));
        }
        if !(3..=300).contains(&self.place.trim().chars().count()) {
            errors.push(("place", "Vui lòng ghi địa điểm (3 đến 300 ký tự)."));
        }
        match (self.kind, self.ends_on) {
            (Channel::Fair, None) => {
                errors.push(("ends_on", "Hội chợ cần ngày kết thúc."));
            }
            (_, Some(end)) if end < self.starts_on => {
                errors.push(("ends_on", "Ngày kết thúc không được trước ngày bắt đầu."));
            }
            _ => {}
        }
        errors
    }
}

pub async fn create_event(pool: &PgPool, by: i64, e: &NewEvent) -> Result<i64, sqlx::Error> {
    let mut tx = crate::audit::begin(pool, by, "fairs.create_event", None).await?;
    let id = sqlx::query_scalar!(
        "insert into sale_event (kind, name, province_code, commune_code, place, starts_on, ends_on, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning event_id",
        e.kind.key(),
        e.name.trim(),
        e.province_code,
        e.commune_code,
        e.place.trim(),
        e.starts_on,
        e.ends_on,
        by
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// An event as its pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub event_id: i64,
    pub kind: Channel,
    pub kind_label: &'static str,
    pub name: String,
    pub province_code: i16,
    pub place: String,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
    /// open today
    pub open: bool,
}

fn open_on(day: Date, starts_on: Date, ends_on: Option<Date>) -> bool {
    starts_on <= day && ends_on.is_none_or(|e| day <= e)
}

pub async fn event(db: &PgPool, event_id: i64) -> Result<Option<EventView>, sqlx::Error> {
    let today = crate::domain::vn_today();
    Ok(sqlx::query!(
        r#"select event_id, kind as "kind: Channel", name, province_code, place, starts_on, ends_on
           from sale_event where event_id = $1"#,
        event_id
    )
    .fetch_optional(db)
    .await?
    .map(|r| EventView {
        event_id: r.event_id,
        kind: r.kind,
        kind_label: r.kind.label(),
        name: r.name,
        province_code: r.province_code,
        place: r.place,
        open: open_on(today, r.starts_on, r.ends_on),
        starts_on: r.starts_on,
        ends_on: r.ends_on,
    }))
}

/// Events of a province (none: every province), newest first.
pub async fn events(db: &PgPool, province: Option<i16>) -> Result<Vec<EventView>, sqlx::Error> {
    let today = crate::domain::vn_today();
    Ok(sqlx::query!(
        r#"select event_id, kind as "kind: Channel", name, province_code, place, starts_on, ends_on
           from sale_event where ($1::smallint is null or province_code = $1)
           order by starts_on desc, event_id desc limit 200"#,
        province
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| EventView {
        event_id: r.event_id,
        kind: r.kind,
        kind_label: r.kind.label(),
        name: r.name,
        province_code: r.province_code,
        place: r.place,
        open: open_on(today, r.starts_on, r.ends_on),
        starts_on: r.starts_on,
        ends_on: r.ends_on,
    })
    .collect())
}

/// Invites an approved producer of the event's province; inviting again changes nothing.
/// False when the producer cannot take part.
pub async fn invite(
    pool: &PgPool,
    by: i64,
    event_id: i64,
    producer_id: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = crate::audit::begin(pool, by, "fairs.invite", None).await?;
    let done = sqlx::query!(
        "insert into event_producer (event_id, producer_id, invited_by)
         select e.event_id, p.producer_id, $3 from sale_event e join producer p on p.province_code = e.province_code
         where e.event_id = $1 and p.producer_id = $2 and p.status = 'approved'
         on conflict do nothing",
        event_id,
        producer_id,
        by
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let exists = sqlx::query_scalar!(
        r#"select exists (select 1 from event_producer where event_id = $1 and producer_id = $2) as "e!""#,
        event_id,
        producer_id
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done == 1 || exists)
}

/// A producer's answer to an invitation (accepting again may change the account its QR pays).
pub async fn answer(
    pool: &PgPool,
    event_id: i64,
    producer_id: i64,
    accept: bool,
    own_account: bool,
) -> Result<bool, sqlx::Error> {
    // the producer's own account is its payout account, when it has one
    Ok(sqlx::query!(
        "update event_producer set
             accepted_at = case when $3 then coalesce(accepted_at, now()) end,
             declined_at = case when $3 then null else now() end,
             own_account = $3 and $4 and exists (select 1 from payout_account a where a.producer_id = $2)
         where event_id = $1 and producer_id = $2",
        event_id,
        producer_id,
        accept,
        own_account
    )
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// An invitation as the producer's page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub event: EventView,
    pub accepted: bool,
    pub declined: bool,
    pub own_account: bool,
}

pub async fn invitations(db: &PgPool, producer_id: i64) -> Result<Vec<Invitation>, sqlx::Error> {
    let today = crate::domain::vn_today();
    Ok(sqlx::query!(
        r#"select e.event_id, e.kind as "kind: Channel", e.name, e.province_code, e.place, e.starts_on, e.ends_on,
                  ep.accepted_at is not null as "accepted!", ep.declined_at is not null as "declined!", ep.own_account
           from event_producer ep join sale_event e using (event_id)
           where ep.producer_id = $1 and (e.ends_on is null or e.ends_on >= $2::date - 30)
           order by e.starts_on desc"#,
        producer_id,
        today
    )
    .fetch_all(db)
    .await?
    .into_iter()
    .map(|r| Invitation {
        event: EventView {
            event_id: r.event_id,
            kind: r.kind,
            kind_label: r.kind.label(),
            name: r.name,
            province_code: r.province_code,
            place: r.place,
            open: open_on(today, r.starts_on, r.ends_on),
            starts_on: r.starts_on,
            ends_on: r.ends_on,
        },
        accepted: r.accepted,
        declined: r.declined,
        own_account: r.own_account,
    })
    .collect())
}

/// Where a till's QR sends the money.
#[derive(Debug, Clone, Serialize)]
pub struct QrAccount {
    pub bin: String,
    pub number: String,
    pub name: String,
    /// the marketplace's account (the bank's webhook confirms the sale)
    pub market: bool,
}

/// A producer's seat at an event it accepted: the event and where its QR pays.
#[derive(Debug, Clone, Serialize)]
pub struct Seat {
    pub event: EventView,
    pub account: Option<QrAccount>,
}

/// The producer's seat at `event_id`, if it accepted the invitation.
pub async fn seat(
    pool: &PgPool,
    market: Option<&crate::payments::BankAccount>,
    event_id: i64,
    producer_id: i64,
) -> Result<Option<Seat>, sqlx::Error> {
    let Some(r) = sqlx::query!(
        "select ep.own_account, a.bank_bin as \"bin?\", a.account_no as \"number?\", a.holder_name as \"name?\"
         from event_producer ep left join payout_account a on a.producer_id = ep.producer_id
         where ep.event_id = $1 and ep.producer_id = $2 and ep.accepted_at is not null",
        event_id,
        producer_id
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let Some(event) = event(pool, event_id).await? else {
        return Ok(None);
    };
    let account = match (r.own_account, r.bin, r.number, r.name) {
        (true, Some(bin), Some(number), Some(name)) => Some(QrAccount {
            bin,
            number,
            name,
            market: false,
        }),
        _ => market.map(|m| QrAccount {
            bin: m.bin.clone(),
            number: m.number.clone(),
            name: m.name.clone(),
            market: true,
        }),
    };
    Ok(Some(Seat { event, account }))
}

/// One sale as a phone sends it. The phone makes the code and the key, so the same sale sent
/// twice (a queued sale replayed, a double tap) is one sale.
#[derive(Debug, Clone)]
pub struct SaleRequest {
    pub client_key: String,
    pub code: SaleCode,
    pub method: TillMethod,
    /// (product, quantity, unit price the phone showed): the stallholder's own prices, as
    /// it showed them to the customer
    pub lines: Vec<(i64, i32, Vnd)>,
    /// an amount typed instead of products
    pub typed: Option<Vnd>,
    pub note: String,
    /// the phone's clock
    pub sold_at: OffsetDateTime,
    /// made while offline: the goods have already been handed over
    pub offline: bool,
}

/// Why a sale was not recorded (nothing changed), in the stallholder's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    NotSeated,
    Closed,
    Empty,
    BadKey,
    UnknownProduct,
    OutOfStock(String),
    CodeTaken,
    NoAccount,
    TooOld,
}

impl Refused {
    pub fn message(&self) -> String {
        match self {
            Refused::NotSeated => "Gian hàng chưa nhận lời tham gia sự kiện này.".into(),
            Refused::Closed => "Sự kiện không mở bán vào ngày này.".into(),
            Refused::Empty => {
                "Chưa chọn sản phẩm hoặc nhập số tiền (lớn hơn 0, tối đa 1 tỷ đồng).".into()
            }
            Refused::BadKey => "Giao dịch không hợp lệ: vui lòng tải lại trang.".into(),
            Refused::UnknownProduct => "Có sản phẩm không thuộc gian hàng của bạn.".into(),
            Refused::OutOfStock(name) => {
                format!("Không đủ hàng: {name}. Hãy cập nhật tồn kho hoặc bớt số lượng.")
            }
            Refused::CodeTaken => {
                "Mã giao dịch đã được dùng cho một giao dịch khác: hãy tạo lại.".into()
            }
            Refused::NoAccount => {
                "Chưa có tài khoản nhận chuyển khoản: hãy thu tiền mặt hoặc báo cán bộ sàn.".into()
            }
            Refused::TooOld => "Giao dịch quá cũ (hơn 7 ngày) để ghi nhận từ điện thoại.".into(),
        }
    }
}

fn valid_key(k: &str) -> bool {
    let b = k.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// Records a sale once: the stock taken, cash paid at once, a QR sale waiting for its money.
/// The same key again returns the sale already recorded.
pub async fn record_sale(
    pool: &PgPool,
    seat: &Seat,
    producer_id: i64,
    seller: i64,
    req: &SaleRequest,
) -> Result<Result<SaleView, Refused>, sqlx::Error> {
    if !valid_key(&req.client_key) {
        return Ok(Err(Refused::BadKey));
    }
    if let Some(sale) = sale_by_key(pool, producer_id, &req.client_key).await? {
        return Ok(Ok(sale));
    }
    let now = OffsetDateTime::now_utc();
    // a phone's clock ahead of ours is ours; a week-old queue is not a till's
    let sold_at = req.sold_at.min(now);
    if now - sold_at > Duration::days(7) {
        return Ok(Err(Refused::TooOld));
    }
    let day = sold_at.to_offset(VN_OFFSET).date();
    if !open_on(day, seat.event.starts_on, seat.event.ends_on) {
        return Ok(Err(Refused::Closed));
    }
    let to_market = match (req.method, &seat.account) {
        (TillMethod::Cash, _) => false,
        (TillMethod::Vietqr, Some(a)) => a.market,
        (TillMethod::Vietqr, None) => return Ok(Err(Refused::NoAccount)),
    };
    let lines = req.lines.clone();
    if lines
        .iter()
        .any(|l| !(1..=1000).contains(&l.1) || l.2 <= Vnd::ZERO)
    {
        return Ok(Err(Refused::Empty));
    }
    let amount = if lines.is_empty() {
        match req.typed {
            Some(v) if v > Vnd::ZERO => v,
            _ => return Ok(Err(Refused::Empty)),
        }
    } else {
        lines.iter().map(|l| l.2.times(l.1 as u32)).sum()
    };
    if amount > Vnd::new(1_000_000_000) {
        return Ok(Err(Refused::Empty));
    }
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = lines.iter().map(|l| l.0).collect();
    let products = sqlx::query!(
        "select product_id, name, unit, sector from product where product_id = any($1) and producer_id = $2",
        &ids,
        producer_id
    )
    .fetch_all(&mut *tx)
    .await?;
    if products.len() != {
        let mut d = ids.clone();
        d.sort_unstable();
        d.dedup();
        d.len()
    } || ids.len() != products.len()
    {
        return Ok(Err(Refused::UnknownProduct));
    }
    let wanted: Vec<(i64, i32)> = lines.iter().map(|l| (l.0, l.1)).collect();
    let mut stock_short = false;
    if !wanted.is_empty() && !crate::inventory::take(&mut tx, &wanted).await? {
        if !req.offline {
            let short = short_of(&mut tx, &wanted).await?;
            return Ok(Err(Refused::OutOfStock(short)));
        }
        // the goods already left the stall: take what there is, and say so
        crate::inventory::take_at_most(&mut tx, &wanted).await?;
        stock_short = true;
    }
    let paid = req.method == TillMethod::Cash;
    let inserted = sqlx::query_scalar!(
        "insert into till_sale (code, client_key, event_id, producer_id, province_code, channel, seller_id, method,
                                to_market, amount, note, state, sold_at, day, paid_at, stock_short)
         select $1, $2, e.event_id, $4, e.province_code, e.kind, $5, $6, $7, $8, $9, $10, $11, $12,
                case when $13 then $11::timestamptz end, $14
         from sale_event e where e.event_id = $3
         on conflict do nothing returning sale_id",
        req.code.as_str(),
        req.client_key,
        seat.event.event_id,
        producer_id,
        seller,
        req.method.key(),
        to_market,
        amount.amount(),
        req.note.trim().chars().take(200).collect::<String>(),
        if paid { "paid" } else { "awaiting" },
        sold_at,
        day,
        paid,
        stock_short
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(sale_id) = inserted else {
        // the key raced in from another tab, or the code is someone else's
        drop(tx);
        return Ok(
            match sale_by_key(pool, producer_id, &req.client_key).await? {
                Some(s) => Ok(s),
                None => Err(Refused::CodeTaken),
            },
        );
    };
    for (id, quantity, price) in &lines {
        let p = products
            .iter()
            .find(|p| p.product_id == *id)
            .expect("checked above");
        sqlx::query!(
            "insert into till_sale_line (sale_id, product_id, name, unit, sector, unit_price, quantity, line_total)
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
            sale_id,
            id,
            p.name,
            p.unit,
            p.sector,
            price.amount(),
            quantity,
            price.times(*quantity as u32).amount()
        )
        .execute(&mut *tx)
        .await?;
    }
    if paid {
        count_paid(&mut tx, sale_id).await?;
    }
    tx.commit().await?;
    Ok(Ok(sale_by_key(pool, producer_id, &req.client_key)
        .await?
        .expect("just recorded")))
}

/// The first product of `wanted` that has too little, by name.
async fn short_of(conn: &mut PgConnection, wanted: &[(i64, i32)]) -> Result<String, sqlx::Error> {
    let (ids, qs): (Vec<i64>, Vec<i32>) = wanted.iter().copied().unzip();
    Ok(sqlx::query_scalar!(
        "select p.name from product p join unnest($1::bigint[], $2::int[]) as v(id, q) on p.product_id = v.id
         where p.stock < v.q limit 1",
        &ids,
        &qs
    )
    .fetch_optional(conn)
    .await?
    .unwrap_or_default())
}

/// Adds a sale that just became paid to the day's numbers (in the caller's transaction).
async fn count_paid(conn: &mut PgConnection, sale_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into till_stats_day (province_code, day, channel, cash, sales, value)
         select province_code, day, channel, method = 'cash', 1, amount from till_sale where sale_id = $1
         on conflict (province_code, day, channel, cash)
         do update set sales = till_stats_day.sales + 1, value = till_stats_day.value + excluded.value",
        sale_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A sale as the till and the sale's page show it.
#[derive(Debug, Clone, Serialize)]
pub struct SaleView {
    pub sale_id: i64,
    pub event_id: i64,
    pub code: String,
    pub client_key: String,
    pub method: TillMethod,
    pub method_label: &'static str,
    pub to_market: bool,
    pub amount: Vnd,
    pub received: Vnd,
    pub note: String,
    pub state: SaleState,
    pub state_label: &'static str,
    pub sold_at: OffsetDateTime,
    pub paid_at: Option<OffsetDateTime>,
    pub stock_short: bool,
    /// "2 × Mật ong, 1 × Trà"
    pub items: String,
    pub transfers: Vec<TransferView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TransferView {
    pub amount: Vnd,
    pub outcome: TransferOutcome,
    pub outcome_label: &'static str,
    pub sender: Option<String>,
    pub at: OffsetDateTime,
}

async fn sale_by_key(
    pool: &PgPool,
    producer_id: i64,
    key: &str,
) -> Result<Option<SaleView>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "select sale_id from till_sale where client_key = $1 and producer_id = $2",
        key,
        producer_id
    )
    .fetch_optional(pool)
    .await?;
    match id {
        Some(id) => Ok(sales(pool, producer_id, &Filter::one(id)).await?.pop()),
        None => Ok(None),
    }
}

/// Which of a producer's sales to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub sale_id: Option<i64>,
    pub code: Option<String>,
    pub event_id: Option<i64>,
    pub day: Option<Date>,
    /// the amount a customer says they sent (matches the sale's amount or a transfer's)
    pub amount: Option<Vnd>,
    /// around this time of day (± 30 minutes)
    pub around: Option<time::Time>,
}

impl Filter {
    pub fn one(sale_id: i64) -> Filter {
        Filter {
            sale_id: Some(sale_id),
            ..Filter::default()
        }
    }
}

/// A producer's sales matching `f`, newest first (at most 200).
pub async fn sales(
    pool: &PgPool,
    producer_id: i64,
    f: &Filter,
) -> Result<Vec<SaleView>, sqlx::Error> {
    let around = f.around.map(|t| {
        let day = f.day.unwrap_or_else(crate::domain::vn_today);
        day.with_time(t).assume_offset(VN_OFFSET)
    });
    let rows = sqlx::query!(
        r#"select s.sale_id, s.event_id, s.code, s.client_key, s.method as "method: TillMethod", s.to_market,
                  s.amount as "amount: Vnd", s.received as "received: Vnd", s.note, s.state as "state: SaleState",
                  s.sold_at, s.paid_at, s.stock_short,
                  coalesce((select string_agg(l.quantity || ' × ' || l.name, ', ' order by l.name)
                            from till_sale_line l where l.sale_id = s.sale_id), '') as "items!"
           from till_sale s
           where s.producer_id = $1
             and ($2::bigint is null or s.sale_id = $2)
             and ($3::text is null or s.code = $3)
             and ($4::bigint is null or s.event_id = $4)
             and ($5::date is null or s.day = $5)
             and ($6::bigint is null or s.amount = $6
                  or exists (select 1 from till_transfer t where t.sale_id = s.sale_id and t.amount = $6))
             and ($7::timestamptz is null or s.sold_at between $7 - interval '30 minutes' and $7 + interval '30 minutes')
           order by s.sold_at desc, s.sale_id desc limit 200"#,
        producer_id,
        f.sale_id,
        f.code,
        f.event_id,
        f.day,
        f.amount.map(Vnd::amount),
        around
    )
    .fetch_all(pool)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.sale_id).collect();
    let transfers = sqlx::query!(
        r#"select sale_id, amount as "amount: Vnd", outcome as "outcome: TransferOutcome", sender, at
           from till_transfer where sale_id = any($1) order by at"#,
        &ids
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| SaleView {
            transfers: transfers
                .iter()
                .filter(|t| t.sale_id == r.sale_id)
                .map(|t| TransferView {
                    amount: t.amount,
                    outcome: t.outcome,
                    outcome_label: t.outcome.label(),
                    sender: t.sender.clone(),
                    at: t.at,
                })
                .collect(),
            sale_id: r.sale_id,
            event_id: r.event_id,
            code: r.code,
            client_key: r.client_key,
            method: r.method,
            method_label: r.method.label(),
            to_market: r.to_market,
            amount: r.amount,
            received: r.received,
            note: r.note,
            state: r.state,
            state_label: r.state.label(),
            sold_at: r.sold_at,
            paid_at: r.paid_at,
            stock_short: r.stock_short,
            items: r.items,
        })
        .collect())
}

/// What the stallholder does to a sale still waiting for its money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// the customer paid cash instead
    Cash,
    /// the transfer reached the producer's own account (seen in its bank app)
    OwnAccountReceived,
    /// the customer left: the goods go back to the stock
    Cancel,
}

/// Settles a waiting sale by the stallholder's hand. False when it was not waiting (paid by a
/// transfer meanwhile, or settled already) or the action does not fit it.
pub async fn settle(
    pool: &PgPool,
    producer_id: i64,
    sale_id: i64,
    how: Settle,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(s) = sqlx::query!(
        r#"select state as "state: SaleState", to_market, method as "method: TillMethod"
           from till_sale where sale_id = $1 and producer_id = $2 for update"#,
        sale_id,
        producer_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(false);
    };
    if s.state != SaleState::Awaiting {
        return Ok(false);
    }
    match how {
        Settle::Cash => {
            sqlx::query!(
                "update till_sale set state = 'paid', method = 'cash', to_market = false, paid_at = now() where sale_id = $1",
                sale_id
            )
            .execute(&mut *tx)
            .await?;
            count_paid(&mut tx, sale_id).await?;
        }
        Settle::OwnAccountReceived => {
            if s.to_market || s.method != TillMethod::Vietqr {
                return Ok(false);
            }
            sqlx::query!(
                "update till_sale set state = 'paid', paid_at = now() where sale_id = $1",
                sale_id
            )
            .execute(&mut *tx)
            .await?;
            count_paid(&mut tx, sale_id).await?;
        }
        Settle::Cancel => {
            sqlx::query!(
                "update till_sale set state = 'cancelled', cancelled_at = now() where sale_id = $1",
                sale_id
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!(
                "update product p set stock = p.stock + l.quantity from till_sale_line l
                 where l.sale_id = $1 and p.product_id = l.product_id",
                sale_id
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// What a transfer with a sale's code became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// the provider's transaction was claimed before
    Duplicate,
    Transfer(TransferOutcome),
}

/// A verified bank transfer into the marketplace's account whose memo carries `code`: matched
/// to its sale once per bank transaction, whatever the amount or the sale's state, the money
/// credited to the producer in the ledger (the stallholder settles a difference face to face),
/// and the tax the law makes the marketplace withhold taken when the sale is paid. None when no
/// sale has the code (the caller sends it to staff review like any unknown memo).
pub async fn apply_transfer(
    pool: &PgPool,
    event_id: i64,
    n: &crate::payments::Notification,
    code: &SaleCode,
    sender: Option<String>,
) -> Result<Option<Matched>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(sale) = sqlx::query!(
        r#"select s.sale_id, s.producer_id, s.province_code, s.amount as "amount: Vnd", s.received as "received: Vnd",
                  s.state as "state: SaleState", s.day, pr.producer_type
           from till_sale s join producer pr using (producer_id) where s.code = $1 for update of s"#,
        code.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let claimed = crate::payments::decision::claim(&mut tx, event_id, n).await?;
    if !claimed {
        sqlx::query!(
            "update payment_event set outcome = 'duplicate' where payment_event_id = $1",
            event_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Some(Matched::Duplicate));
    }
    let received = sale.received + n.amount;
    let outcome = match sale.state {
        SaleState::Awaiting if received == sale.amount => TransferOutcome::Paid,
        SaleState::Awaiting if received > sale.amount => TransferOutcome::Over,
        SaleState::Awaiting => TransferOutcome::Short,
        SaleState::Paid | SaleState::Cancelled => TransferOutcome::Late,
    };
    let now_paid = matches!(outcome, TransferOutcome::Paid | TransferOutcome::Over);
    sqlx::query!(
        "update till_sale set received = $2,
             state = case when $3 then 'paid' else state end,
             paid_at = case when $3 then now() else paid_at end
         where sale_id = $1",
        sale.sale_id,
        received.amount(),
        now_paid
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into till_transfer (payment_event_id, sale_id, amount, outcome, sender) values ($1, $2, $3, $4, $5)",
        event_id,
        sale.sale_id,
        n.amount.amount(),
        outcome.key(),
        sender
    )
    .execute(&mut *tx)
    .await?;
    let facts = crate::settlement::TillFacts {
        sale_id: sale.sale_id,
        producer_id: sale.producer_id,
        province_code: sale.province_code,
        producer_type: ProducerType::from_key(&sale.producer_type),
        amount: sale.amount,
        day: sale.day,
        lines: sqlx::query!(
            "select line_total, sector from till_sale_line where sale_id = $1",
            sale.sale_id
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|l| (Vnd::new(l.line_total), Sector::from_key(&l.sector)))
        .collect(),
    };
    let mut entries = vec![crate::settlement::till_transfer(&facts, event_id, n.amount)];
    if now_paid {
        count_paid(&mut tx, sale.sale_id).await?;
        let rates = crate::settlement::rates::Rates::load(&mut tx).await?;
        entries.push(crate::settlement::till_withholding(&facts, &rates));
    }
    crate::ledger::post(&mut tx, &entries).await?;
    sqlx::query!(
        "update payment_event set outcome = 'applied' where payment_event_id = $1",
        event_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Matched::Transfer(outcome)))
}

/// One row of the channels table: paid sales, their value and the non-cash part.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct ChannelNumbers {
    pub key: &'static str,
    pub label: &'static str,
    pub sales: i64,
    pub value: i64,
    pub non_cash_sales: i64,
    pub non_cash_value: i64,
    pub non_cash_value_per_mille: i64,
}

/// Paid fair and sales-point sales in a province (none: the country) between two days.
pub async fn channel_numbers(
    pool: &PgPool,
    province: Option<i16>,
    from: Date,
    to: Date,
) -> Result<Vec<ChannelNumbers>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select channel as "channel: Channel", cash, sum(sales)::bigint as "sales!", sum(value)::bigint as "value!"
           from till_stats_day where ($1::smallint is null or province_code = $1) and day between $2 and $3
           group by channel, cash"#,
        province,
        from,
        to
    )
    .fetch_all(pool)
    .await?;
    Ok([Channel::Fair, Channel::SalesPoint]
        .into_iter()
        .map(|c| {
            let mut n = ChannelNumbers {
                key: c.key(),
                label: c.label(),
                ..ChannelNumbers::default()
            };
            for r in rows.iter().filter(|r| r.channel == c) {
                n.sales += r.sales;
                n.value += r.value;
                if !r.cash {
                    n.non_cash_sales += r.sales;
                    n.non_cash_value += r.value;
                }
            }
            n.non_cash_value_per_mille = per_mille(n.non_cash_value, n.value);
            n
        })
        .collect())
}

pub fn per_mille(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        0
    } else {
        (part * 1000 + whole / 2) / whole
    }
}

/// The live board of one event.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Board {
    pub sales: i64,
    pub value: Vnd,
    pub non_cash_value: Vnd,
    pub non_cash_per_mille: i64,
    pub awaiting: i64,
    pub producers: Vec<BoardProducer>,
    pub best_sellers: Vec<BestSeller>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BoardProducer {
    pub producer_id: i64,
    pub name: String,
    pub accepted: bool,
    pub declined: bool,
    pub sales: i64,
    pub value: Vnd,
    pub non_cash_value: Vnd,
}

#[derive(Debug, Clone, Serialize)]
pub struct BestSeller {
    pub name: String,
    pub producer: String,
    pub quantity: i64,
    pub value: Vnd,
}

pub async fn board(pool: &PgPool, event_id: i64) -> Result<Board, sqlx::Error> {
    let producers = sqlx::query!(
        r#"select p.producer_id, p.name, ep.accepted_at is not null as "accepted!", ep.declined_at is not null as "declined!",
                  count(s.sale_id) filter (where s.state = 'paid') as "sales!",
                  coalesce(sum(s.amount) filter (where s.state = 'paid'), 0)::bigint as "value!",
                  coalesce(sum(s.amount) filter (where s.state = 'paid' and s.method = 'vietqr'), 0)::bigint as "non_cash!",
                  count(s.sale_id) filter (where s.state = 'awaiting') as "awaiting!"
           from event_producer ep join producer p using (producer_id)
           left join till_sale s on s.event_id = ep.event_id and s.producer_id = ep.producer_id
           where ep.event_id = $1
           group by p.producer_id, p.name, ep.accepted_at, ep.declined_at
           order by 6 desc, p.name"#,
        event_id
    )
    .fetch_all(pool)
    .await?;
    let best = sqlx::query!(
        r#"select l.name, p.name as producer, sum(l.quantity)::bigint as "quantity!", sum(l.line_total)::bigint as "value!"
           from till_sale s join till_sale_line l using (sale_id) join producer p on p.producer_id = s.producer_id
           where s.event_id = $1 and s.state = 'paid'
           group by l.product_id, l.name, p.name order by 4 desc, 1 limit 10"#,
        event_id
    )
    .fetch_all(pool)
    .await?;
    let mut b = Board::default();
    for p in producers {
        b.sales += p.sales;
        b.value += Vnd::new(p.value);
        b.non_cash_value += Vnd::new(p.non_cash);
        b.awaiting += p.awaiting;
        b.producers.push(BoardProducer {
            producer_id: p.producer_id,
            name: p.name,
            accepted: p.accepted,
            declined: p.declined,
            sales: p.sales,
            value: Vnd::new(p.value),
            non_cash_value: Vnd::new(p.non_cash),
        });
    }
    b.non_cash_per_mille = per_mille(b.non_cash_value.amount(), b.value.amount());
    b.best_sellers = best
        .into_iter()
        .map(|r| BestSeller {
            name: r.name,
            producer: r.producer,
            quantity: r.quantity,
            value: Vnd::new(r.value),
        })
        .collect();
    Ok(b)
}

/// What a sale still waits for and its event (the sandbox bank's transfer), whoever asks.
pub async fn due(pool: &PgPool, code: &SaleCode) -> Result<Option<(Vnd, i64)>, sqlx::Error> {
    Ok(sqlx::query!(
        "select greatest(amount - received, 1) as \"due!\", event_id from till_sale where code = $1",
        code.as_str()
    )
    .fetch_optional(pool)
    .await?
    .map(|r| (Vnd::new(r.due), r.event_id)))
}

/// A sale's state, for the till polling it.
pub async fn state_of(
    pool: &PgPool,
    producer_id: i64,
    code: &SaleCode,
) -> Result<Option<SaleView>, AppError> {
    let f = Filter {
        code: Some(code.as_str().to_string()),
        ..Filter::default()
    };
    Ok(sales(pool, producer_id, &f).await?.pop())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sale_code_is_found_in_a_bank_memo_however_the_bank_writes_it() {
        assert_eq!(
            code_in("QBK7M2XA chuyen tien").map(|c| c.0),
            Some("QBK7M2XA".into())
        );
        assert_eq!(
            code_in("MBVCB.123.qbk7m2xa.CT tu 0123").map(|c| c.0),
            Some("QBK7M2XA".into())
        );
        // glued to another word, or two different codes: not ours to guess
        assert_eq!(code_in("THANHTOANQBK7M2XA"), None);
        assert_eq!(code_in("QBK7M2XA QBK7M2XB"), None);
        assert_eq!(
            code_in("QBK7M2XA QBK7M2XA").map(|c| c.0),
            Some("QBK7M2XA".into())
        );
        // letters a person misreads are never in a code
        assert_eq!(code_in("QB0O1I23"), None);
        assert_eq!(code_in("OCOPAB12CD34"), None);
    }

    #[test]
    fn fresh_codes_and_keys_are_what_the_till_accepts() {
        for _ in 0..100 {
            assert!(SaleCode::parse(fresh_code().as_str()).is_some());
            assert!(valid_key(&fresh_key()));
        }
    }

    #[test]
    fn a_phone_key_is_a_lowercase_uuid() {
        assert!(valid_key("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!valid_key("0F8FAD5B-D9CB-469F-A165-70867728950E"));
        assert!(!valid_key("0f8fad5b-d9cb-469f-a165-70867728950"));
        assert!(!valid_key("0f8fad5bxd9cb-469f-a165-70867728950e"));
    }
}
