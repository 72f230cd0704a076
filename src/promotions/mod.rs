//! Promotions: vouchers (a code the shopper types at checkout) and automatic promotions, each
//! with a named funder (the marketplace, a province's programme or a producer) who bears the
//! discount in the settlement ledger. A discount is split across the lines it covers in
//! proportion to their amounts, to the đồng (the remainder goes to the largest fractions, ties
//! to the earlier line), and kept on the order lines, so a cancelled or refunded producer part
//! takes exactly its own share back. Limits are counted on the promotion's row under its lock,
//! so 200 shoppers racing for 10 uses get exactly 10.
//!
//! This module owns `promotion`, `promotion_use` and `order_line_discount`; checkout asks it
//! what applies and records the uses inside the order's transaction.

pub mod http;

use crate::domain::{Sector, VN_OFFSET, Vnd, text_enum};
use serde::Serialize;
use sqlx::PgConnection;
use std::collections::BTreeMap;
use time::{Date, OffsetDateTime, Time};

text_enum! {
    Kind {
        Percent = "percent", "Giảm theo phần trăm";
        Amount = "amount", "Giảm số tiền";
    }
}

text_enum! {
    /// Who bears the discount.
    Funder {
        Marketplace = "marketplace", "Sàn tài trợ";
        Province = "province", "Chương trình của tỉnh";
        Producer = "producer", "Nhà sản xuất tài trợ";
    }
}

/// A voucher code as the shopper types it: letters and digits, read in upper case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoucherCode(String);

impl VoucherCode {
    pub fn parse(input: &str) -> Result<VoucherCode, &'static str> {
        let code: String = input.trim().to_uppercase();
        if (4..=20).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(VoucherCode(code))
        } else {
            Err("Mã giảm giá gồm 4–20 chữ cái hoặc chữ số, không dấu.")
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a promotion applies to: every filter given must match a line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub province: Option<i16>,
    pub sector: Option<Sector>,
    pub producer: Option<i64>,
    pub products: Vec<i64>,
}

impl Scope {
    fn covers(&self, l: &Line) -> bool {
        self.province.is_none_or(|p| p == l.province_code)
            && self.sector.is_none_or(|s| s == l.sector)
            && self.producer.is_none_or(|p| p == l.producer_id)
            && (self.products.is_empty() || self.products.contains(&l.product_id))
    }
}

#[derive(Debug, Clone)]
pub struct Promotion {
    pub id: i64,
    pub code: Option<String>,
    pub name: String,
    pub kind: Kind,
    /// a whole percentage, or đồng
    pub value: i64,
    pub max_discount: Option<Vnd>,
    pub min_order: Vnd,
    pub scope: Scope,
    pub stackable: bool,
    pub funder: Funder,
}

/// An order line as promotions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub product_id: i64,
    pub producer_id: i64,
    pub province_code: i16,
    pub sector: Sector,
    pub total: Vnd,
}

/// A promotion applied to some lines: its discount on each (by the lines' positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub promotion_id: i64,
    pub name: String,
    pub code: Option<String>,
    pub funder: Funder,
    pub per_line: Vec<(usize, Vnd)>,
}

impl Applied {
    pub fn total(&self) -> Vnd {
        self.per_line.iter().map(|(_, d)| *d).sum()
    }
}

/// Why a promotion gives nothing on these lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NothingCovered,
    BelowMinimum { min: Vnd, have: Vnd },
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::NothingCovered => {
                "Mã giảm giá này không áp dụng cho sản phẩm nào trong giỏ hàng.".into()
            }
            Refusal::BelowMinimum { min, have } => format!(
                "Mã giảm giá này áp dụng cho đơn từ {min} (các sản phẩm được áp dụng hiện là {have})."
            ),
        }
    }
}

/// `total` split across `weights` in proportion, to the đồng: each share rounded down, then the
/// đồng left over go one each to the largest remainders (ties to the earlier weight).
pub fn split(total: Vnd, weights: &[Vnd]) -> Vec<Vnd> {
    let sum: i128 = weights.iter().map(|w| i128::from(w.amount())).sum();
    if sum <= 0 {
        return weights.iter().map(|_| Vnd::ZERO).collect();
    }
    let t = i128::from(total.amount());
    let mut shares: Vec<(i128, i128)> = weights
        .iter()
        .map(|w| {
            let n = t * i128::from(w.amount());
            (n / sum, n % sum)
        })
        .collect();
    let mut left = t - shares.iter().map(|s| s.0).sum::<i128>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| shares[b].1.cmp(&shares[a].1).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i].0 += 1;
        left -= 1;
    }
    shares.into_iter().map(|s| Vnd::new(s.0 as i64)).collect()
}

impl Promotion {
    /// Its discount on `lines`, none of a line above what is `left` of it.
    pub fn apply(&self, lines: &[Line], left: &[Vnd]) -> Result<Applied, Refusal> {
        let covered: Vec<usize> = (0..lines.len())
            .filter(|&i| self.scope.covers(&lines[i]) && left[i] > Vnd::ZERO)
            .collect();
        if covered.is_empty() {
            return Err(Refusal::NothingCovered);
        }
        let base: Vnd = covered.iter().map(|&i| lines[i].total).sum();
        if base < self.min_order {
            return Err(Refusal::BelowMinimum {
                min: self.min_order,
                have: base,
            });
        }
        let wanted = match self.kind {
            Kind::Percent => {
                let d = base.basis_points((self.value * 100) as i32);
                self.max_discount.map_or(d, |cap| d.min(cap))
            }
            Kind::Amount => Vnd::new(self.value),
        };
        let room: Vnd = covered.iter().map(|&i| left[i]).sum();
        let amount = wanted.min(room);
        let weights: Vec<Vnd> = covered.iter().map(|&i| lines[i].total).collect();
        let mut shares = split(amount, &weights);
        // a share above what is left of its line moves to the next line with room
        let mut spill = Vnd::ZERO;
        for (k, &i) in covered.iter().enumerate() {
            if shares[k] > left[i] {
                spill += shares[k] - left[i];
                shares[k] = left[i];
            }
        }
        for (k, &i) in covered.iter().enumerate() {
            let room = left[i] - shares[k];
            let more = spill.min(room);
            shares[k] += more;
            spill = spill - more;
        }
        Ok(Applied {
            promotion_id: self.id,
            name: self.name.clone(),
            code: self.code.clone(),
            funder: self.funder,
            per_line: covered
                .into_iter()
                .zip(shares)
                .filter(|(_, d)| *d > Vnd::ZERO)
                .collect(),
        })
    }
}

/// Applies `promos` one after another (by id), each on what the earlier ones left.
fn apply_all(promos: &[&Promotion], lines: &[Line]) -> Vec<Applied> {
    let mut left: Vec<Vnd> = lines.iter().map(|l| l.total).collect();
    let mut out = vec![];
    for p in promos {
        if let Ok(a) = p.apply(lines, &left) {
            for &(i, d) in &a.per_line {
                left[i] = left[i] - d;
            }
            if a.total() > Vnd::ZERO {
                out.push(a);
            }
        }
    }
    out
}

/// The best the shopper can have from `promos` (automatic ones and the voucher typed): all the
/// stackable ones together, or one that stands alone, whichever takes more off (ties: the
/// stackable set, then the earliest promotion). Never more than the goods.
pub fn best(promos: &[Promotion], lines: &[Line]) -> Vec<Applied> {
    let mut sorted: Vec<&Promotion> = promos.iter().collect();
    sorted.sort_by_key(|p| p.id);
    let stacked: Vec<&Promotion> = sorted.iter().copied().filter(|p| p.stackable).collect();
    let mut choice = apply_all(&stacked, lines);
    let total = |a: &[Applied]| a.iter().map(Applied::total).sum::<Vnd>();
    for p in sorted.iter().filter(|p| !p.stackable) {
        let alone = apply_all(&[p], lines);
        if total(&alone) > total(&choice) {
            choice = alone;
        }
    }
    choice
}

/// The discount of each line (by position), all promotions together.
pub fn per_line(applied: &[Applied], lines: usize) -> Vec<Vnd> {
    let mut out = vec![Vnd::ZERO; lines];
    for a in applied {
        for &(i, d) in &a.per_line {
            out[i] += d;
        }
    }
    out
}

/// Who a use is counted against: the account when signed in, else the phone.
pub fn customer_key(user_id: Option<i64>, phone: &str) -> String {
    match user_id {
        Some(u) => format!("u:{u}"),
        None => format!("p:{phone}"),
    }
}

/// What checkout offers: the automatic promotions running now, and the voucher typed (if it is
/// one the shopper may use now; if not, why not).
#[derive(Debug, Default)]
pub struct Offer {
    pub promotions: Vec<Promotion>,
    pub voucher: Option<Result<i64, String>>,
}

impl Offer {
    /// The best choice for `lines`, with the sentence for a voucher that gives nothing.
    pub fn choose(&self, lines: &[Line]) -> (Vec<Applied>, Option<String>) {
        let applied = best(&self.promotions, lines);
        let note = match &self.voucher {
            None => None,
            Some(Err(why)) => Some(why.clone()),
            Some(Ok(id)) if applied.iter().any(|a| a.promotion_id == *id) => None,
            Some(Ok(id)) => {
                let p = self.promotions.iter().find(|p| p.id == *id);
                let alone =
                    p.map(|p| p.apply(lines, &lines.iter().map(|l| l.total).collect::<Vec<_>>()));
                Some(match alone {
                    Some(Err(r)) => r.message(),
                    _ => "Mã giảm giá này không dùng chung được với khuyến mãi đang áp dụng (đơn hàng đã được giảm nhiều hơn).".into(),
                })
            }
        };
        (applied, note)
    }
}

struct Row {
    promotion_id: i64,
    code: Option<String>,
    name: String,
    kind: String,
    value: i64,
    max_discount: Option<i64>,
    min_order: i64,
    scope_province: Option<i16>,
    scope_sector: Option<String>,
    scope_producer: Option<i64>,
    scope_products: Vec<i64>,
    stackable: bool,
    funder: String,
    starts_at: OffsetDateTime,
    ends_at: Option<OffsetDateTime>,
    total_limit: Option<i32>,
    per_customer_limit: Option<i32>,
    used: i32,
    active: bool,
}

impl Row {
    fn promotion(self) -> Option<Promotion> {
        Some(Promotion {
            id: self.promotion_id,
            code: self.code,
            name: self.name,
            kind: Kind::from_key(&self.kind)?,
            value: self.value,
            max_discount: self.max_discount.map(Vnd::new),
            min_order: Vnd::new(self.min_order),
            scope: Scope {
                province: self.scope_province,
                sector: self.scope_sector.as_deref().and_then(Sector::from_key),
                producer: self.scope_producer,
                products: self.scope_products,
            },
            stackable: self.stackable,
            funder: Funder::from_key(&self.funder)?,
        })
    }
}

/// The automatic promotions running at `now`, and the voucher `code` if the customer may use
/// it now. One query for the promotions, one more for a voucher with a per-customer limit.
pub async fn offer(
    conn: &mut PgConnection,
    code: Option<&VoucherCode>,
    customer: Option<&str>,
    now: OffsetDateTime,
) -> Result<Offer, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"select promotion_id, code, name, kind, value, max_discount, min_order, scope_province,
                  scope_sector, scope_producer, scope_products, stackable, funder, starts_at, ends_at,
                  total_limit, per_customer_limit, used, active
           from promotion
           where (code is null and active and starts_at <= $2 and (ends_at is null or ends_at > $2)
                  and (total_limit is null or used < total_limit))
              or code = $1
           order by promotion_id"#,
        code.map(VoucherCode::as_str),
        now
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Offer::default();
    for r in rows {
        if r.code.is_none() {
            // one the customer has used up is simply not offered
            let used_up = match (customer, r.per_customer_limit) {
                (Some(c), Some(_)) => !may_use(&mut *conn, r.promotion_id, c).await?,
                _ => false,
            };
            if !used_up {
                out.promotions.extend(r.promotion());
            }
            continue;
        }
        let id = r.promotion_id;
        let why = if !r.active || r.starts_at > now {
            Some("Mã giảm giá chưa đến thời gian áp dụng hoặc đã ngừng.")
        } else if r.ends_at.is_some_and(|e| e <= now) {
            Some("Mã giảm giá đã hết hạn.")
        } else if r.total_limit.is_some_and(|l| r.used >= l) {
            Some("Mã giảm giá đã hết lượt sử dụng.")
        } else {
            None
        };
        if let Some(why) = why {
            out.voucher = Some(Err(why.into()));
            continue;
        }
        if let Some(customer) = customer {
            if !may_use(&mut *conn, id, customer).await? {
                out.voucher = Some(Err("Bạn đã dùng mã giảm giá này đủ số lần cho phép.".into()));
                continue;
            }
        }
        if let Some(p) = r.promotion() {
            out.promotions.push(p);
            out.voucher = Some(Ok(id));
        }
    }
    if code.is_some() && out.voucher.is_none() {
        out.voucher = Some(Err("Mã giảm giá không tồn tại.".into()));
    }
    Ok(out)
}

/// Whether `customer` has uses of the promotion left.
async fn may_use(
    conn: &mut PgConnection,
    promotion_id: i64,
    customer: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select p.per_customer_limit is null
                  or (select count(*) from promotion_use u where u.promotion_id = p.promotion_id and u.customer = $2)
                     < p.per_customer_limit as "ok!"
           from promotion p where p.promotion_id = $1"#,
        promotion_id,
        customer
    )
    .fetch_one(&mut *conn)
    .await
}

/// Counts one use of each applied promotion by the order group, inside the order's
/// transaction: the promotion's row is locked while its limits are checked, so concurrent
/// checkouts take the last uses one at a time. `Err` is the shopper's sentence; the caller
/// rolls back.
pub async fn take(
    conn: &mut PgConnection,
    order_group_id: i64,
    customer: &str,
    applied: &[Applied],
) -> Result<Result<(), String>, sqlx::Error> {
    let mut ids: Vec<(i64, Vnd, &str)> = applied
        .iter()
        .map(|a| {
            (
                a.promotion_id,
                a.total(),
                a.code.as_deref().unwrap_or(&a.name),
            )
        })
        .collect();
    ids.sort_by_key(|i| i.0);
    for (id, amount, label) in ids {
        let now = OffsetDateTime::now_utc();
        let taken = sqlx::query_scalar!(
            "update promotion set used = used + 1
             where promotion_id = $1 and active and starts_at <= $2 and (ends_at is null or ends_at > $2)
               and (total_limit is null or used < total_limit)
             returning promotion_id",
            id,
            now
        )
        .fetch_optional(&mut *conn)
        .await?;
        if taken.is_none() {
            return Ok(Err(format!(
                "Khuyến mãi \"{label}\" vừa hết lượt hoặc hết hạn."
            )));
        }
        // the row is locked now: uses by the same customer are counted one checkout at a time
        if !may_use(&mut *conn, id, customer).await? {
            return Ok(Err(format!(
                "Bạn đã dùng khuyến mãi \"{label}\" đủ số lần cho phép."
            )));
        }
        sqlx::query!(
            "insert into promotion_use (promotion_id, order_group_id, customer, amount) values ($1, $2, $3, $4)",
            id,
            order_group_id,
            customer,
            amount.amount()
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(Ok(()))
}

/// Records each line's discounts (lines given as (order id, product id) by position).
pub async fn record_lines(
    conn: &mut PgConnection,
    lines: &[(i64, i64)],
    applied: &[Applied],
) -> Result<(), sqlx::Error> {
    let (mut orders, mut products, mut promos, mut funders, mut amounts) =
        (vec![], vec![], vec![], vec![], vec![]);
    for a in applied {
        for &(i, d) in &a.per_line {
            orders.push(lines[i].0);
            products.push(lines[i].1);
            promos.push(a.promotion_id);
            funders.push(a.funder.key().to_string());
            amounts.push(d.amount());
        }
    }
    if orders.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "insert into order_line_discount (order_id, product_id, promotion_id, funder, amount)
         select * from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[])",
        &orders,
        &products,
        &promos,
        &funders,
        &amounts
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The order's group, once every part of it is cancelled, gives its uses back (an unpaid order
/// that expired does not spend the shopper's voucher).
pub async fn give_back(conn: &mut PgConnection, order_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "with g as (select order_group_id from shop_order where order_id = $1),
         gone as (
             delete from promotion_use u using g where u.order_group_id = g.order_group_id
               and not exists (select 1 from shop_order o where o.order_group_id = g.order_group_id
                                 and o.status <> 'cancelled')
             returning u.promotion_id)
         update promotion p set used = used - 1 from gone where p.promotion_id = gone.promotion_id",
        order_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An expired order whose money came late is back: its group's uses count again (it was placed
/// within the limits, so they are taken even if others took the last uses meanwhile).
pub async fn take_again(conn: &mut PgConnection, order_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "with g as (select o.order_group_id,
                           case when gr.user_id is not null then 'u:' || gr.user_id else 'p:' || gr.phone end as customer
                    from shop_order o join order_group gr using (order_group_id) where o.order_id = $1),
         uses as (
             insert into promotion_use (promotion_id, order_group_id, customer, amount)
             select d.promotion_id, g.order_group_id, g.customer, sum(d.amount)
             from g join shop_order o on o.order_group_id = g.order_group_id
             join order_line_discount d on d.order_id = o.order_id
             group by d.promotion_id, g.order_group_id, g.customer
             on conflict do nothing
             returning promotion_id)
         update promotion p set used = used + 1 from uses where p.promotion_id = uses.promotion_id",
        order_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The first moment of a Vietnamese calendar day.
pub fn day_start(d: Date) -> OffsetDateTime {
    d.with_time(Time::MIDNIGHT).assume_offset(VN_OFFSET)
}

/// Who is creating a promotion, and so what it may fund and cover.
#[derive(Debug, Clone, Copy)]
pub enum Creator {
    Producer {
        producer_id: i64,
        province: i16,
    },
    /// province staff fund their province's programme; national staff the marketplace
    Staff {
        province: Option<i16>,
    },
}

/// A new promotion as typed into the portal, checked.
#[derive(Debug, Clone)]
pub struct NewPromotion {
    pub code: Option<VoucherCode>,
    pub name: String,
    pub kind: Kind,
    pub value: i64,
    pub max_discount: Option<Vnd>,
    pub min_order: Vnd,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
    pub total_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub scope: Scope,
    pub stackable: bool,
}

pub type Errors = BTreeMap<&'static str, String>;

impl NewPromotion {
    /// The form's fields, each mistake named; `creator` fixes the funder and bounds the scope.
    pub fn parse(
        f: &BTreeMap<String, String>,
        creator: Creator,
        today: Date,
    ) -> Result<NewPromotion, Errors> {
        let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
        let mut e = Errors::new();
        let code = match get("code") {
            "" => None,
            c => VoucherCode::parse(c)
                .map_err(|m| e.insert("code", m.into()))
                .ok(),
        };
        let name = get("name").to_string();
        if !(3..=120).contains(&name.chars().count()) {
            e.insert("name", "Vui lòng đặt tên khuyến mãi (3–120 ký tự).".into());
        }
        let kind = Kind::from_key(get("kind"));
        let value = Vnd::parse_amount(get("value"));
        match (kind, value) {
            (None, _) => {
                e.insert(
                    "kind",
                    "Vui lòng chọn giảm theo phần trăm hay số tiền.".into(),
                );
            }
            (Some(Kind::Percent), v) if !v.is_some_and(|v| (1..=90).contains(&v)) => {
                e.insert("value", "Phần trăm giảm từ 1 đến 90.".into());
            }
            (Some(Kind::Amount), v) if !v.is_some_and(|v| (1_000..=10_000_000).contains(&v)) => {
                e.insert("value", "Số tiền giảm từ 1.000 ₫ đến 10.000.000 ₫.".into());
            }
            _ => {}
        }
        let money = |k: &'static str, e: &mut Errors| match get(k) {
            "" => None,
            s => match Vnd::parse_amount(s).filter(|v| (1..=1_000_000_000).contains(v)) {
                Some(v) => Some(Vnd::new(v)),
                None => {
                    e.insert(k, "Số tiền không hợp lệ (ví dụ 200.000).".into());
                    None
                }
            },
        };
        let max_discount = money("max_discount", &mut e);
        let min_order = money("min_order", &mut e).unwrap_or(Vnd::ZERO);
        let date = |k: &'static str| {
            Date::parse(
                get(k),
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .ok()
        };
        let starts_on = date("starts_on");
        match starts_on {
            None => {
                e.insert(
                    "starts_on",
                    "Vui lòng nhập ngày bắt đầu (năm-tháng-ngày).".into(),
                );
            }
            Some(d) if d < today => {
                e.insert("starts_on", "Ngày bắt đầu không được ở quá khứ.".into());
            }
            _ => {}
        }
        let ends_on = date("ends_on");
        if !get("ends_on").is_empty() && ends_on.is_none() {
            e.insert(
                "ends_on",
                "Ngày kết thúc không đọc được (năm-tháng-ngày).".into(),
            );
        }
        if let (Some(s), Some(end)) = (starts_on, ends_on) {
            if end < s {
                e.insert("ends_on", "Ngày kết thúc phải sau ngày bắt đầu.".into());
            }
        }
        let limit = |k: &'static str, e: &mut Errors| match get(k) {
            "" => None,
            s => match s
                .parse::<i32>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
            {
                Some(n) => Some(n),
                None => {
                    e.insert(
                        k,
                        "Số lượt là số nguyên từ 1 (để trống: không giới hạn).".into(),
                    );
                    None
                }
            },
        };
        let total_limit = limit("total_limit", &mut e);
        let per_customer_limit = limit("per_customer_limit", &mut e);
        let sector = match get("sector") {
            "" => None,
            s => {
                let sector = Sector::from_key(s);
                if sector.is_none() {
                    e.insert("sector", "Ngành hàng không hợp lệ.".into());
                }
                sector
            }
        };
        let products: Vec<i64> = f
            .iter()
            .filter(|(k, v)| k.starts_with("product_") && v.as_str() == "1")
            .filter_map(|(k, _)| k["product_".len()..].parse().ok())
            .collect();
        let scope = match creator {
            Creator::Producer { producer_id, .. } => Scope {
                province: None,
                sector,
                producer: Some(producer_id),
                products,
            },
            Creator::Staff { province } => {
                let chosen = match get("scope_province") {
                    "" => None,
                    p => p.parse::<i16>().ok(),
                };
                if province.is_some() && chosen.is_some_and(|c| Some(c) != province) {
                    e.insert(
                        "scope_province",
                        "Chỉ tạo được khuyến mãi cho tỉnh của bạn.".into(),
                    );
                }
                let producer = match get("scope_producer") {
                    "" => None,
                    p => {
                        let id = p.parse::<i64>().ok();
                        if id.is_none() {
                            e.insert("scope_producer", "Mã chủ thể không hợp lệ.".into());
                        }
                        id
                    }
                };
                Scope {
                    province: province.or(chosen),
                    sector,
                    producer,
                    products: vec![],
                }
            }
        };
        match (kind, value, starts_on) {
            (Some(kind), Some(value), Some(starts_on)) if e.is_empty() => Ok(NewPromotion {
                code,
                name,
                kind,
                value,
                max_discount: max_discount.filter(|_| kind == Kind::Percent),
                min_order,
                starts_on,
                ends_on,
                total_limit,
                per_customer_limit,
                scope,
                stackable: !get("stackable").is_empty(),
            }),
            _ => Err(e),
        }
    }
}

/// Saves a new promotion. The funder follows from who creates it. A producer's chosen products
/// must be its own, and a staff member's chosen producer must be in its province; a code
/// already taken is a form error.
pub async fn create(
    pool: &sqlx::PgPool,
    user_id: i64,
    creator: Creator,
    p: &NewPromotion,
) -> Result<Result<i64, Errors>, sqlx::Error> {
    let mut e = Errors::new();
    let (funder, funder_province, funder_producer) = match creator {
        Creator::Producer { producer_id, .. } => (Funder::Producer, None, Some(producer_id)),
        Creator::Staff { province: Some(p) } => (Funder::Province, Some(p), None),
        Creator::Staff { province: None } => (Funder::Marketplace, None, None),
    };
    if let Creator::Producer { producer_id, .. } = creator {
        let own = sqlx::query_scalar!(
            r#"select count(*) as "n!" from product where product_id = any($1) and producer_id = $2"#,
            &p.scope.products,
            producer_id
        )
        .fetch_one(pool)
        .await?;
        if own != p.scope.products.len() as i64 {
            e.insert("products", "Chỉ chọn được sản phẩm của chính cơ sở.".into());
        }
    }
    if let (Some(producer), Creator::Staff { province }) = (p.scope.producer, creator) {
        let in_scope = sqlx::query_scalar!(
            r#"select exists(select 1 from producer where producer_id = $1 and ($2::smallint is null or province_code = $2)) as "e!""#,
            producer,
            province
        )
        .fetch_one(pool)
        .await?;
        if !in_scope {
            e.insert(
                "scope_producer",
                "Không tìm thấy chủ thể này trong phạm vi của bạn.".into(),
            );
        }
    }
    if !e.is_empty() {
        return Ok(Err(e));
    }
    let id = sqlx::query_scalar!(
        "insert into promotion (code, name, kind, value, max_discount, min_order, starts_at, ends_at,
             total_limit, per_customer_limit, scope_province, scope_sector, scope_producer, scope_products,
             stackable, funder, funder_province, funder_producer, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
         on conflict (code) do nothing
         returning promotion_id",
        p.code.as_ref().map(VoucherCode::as_str),
        p.name.trim(),
        p.kind.key(),
        p.value,
        p.max_discount.map(Vnd::amount),
        p.min_order.amount(),
        day_start(p.starts_on),
        p.ends_on.map(|d| day_start(d.next_day().unwrap_or(d))),
        p.total_limit,
        p.per_customer_limit,
        p.scope.province,
        p.scope.sector.map(Sector::key),
        p.scope.producer,
        &p.scope.products,
        p.stackable,
        funder.key(),
        funder_province,
        funder_producer,
        user_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(id.ok_or_else(|| {
        Errors::from([(
            "code",
            "Mã này đã có khuyến mãi khác dùng. Vui lòng chọn mã khác.".to_string(),
        )])
    }))
}

/// A promotion as its owner's list shows it.
#[derive(Debug, Serialize)]
pub struct PromotionView {
    pub id: i64,
    pub code: Option<String>,
    pub name: String,
    pub offer: String,
    pub funder: &'static str,
    pub starts_on: Date,
    /// its last day
    pub ends_on: Option<Date>,
    pub used: i32,
    pub total_limit: Option<i32>,
    pub discounted: Vnd,
    pub active: bool,
    pub running: bool,
}

/// The promotions a producer funds, or (`producer` none) those staff see: the province's own
/// programme, or every one for national staff.
pub async fn list(
    pool: &sqlx::PgPool,
    producer: Option<i64>,
    province: Option<i16>,
) -> Result<Vec<PromotionView>, sqlx::Error> {
    let now = OffsetDateTime::now_utc();
    let rows = sqlx::query!(
        r#"select p.promotion_id, p.code, p.name, p.kind, p.value, p.max_discount, p.min_order, p.funder,
                  p.starts_at, p.ends_at, p.used, p.total_limit, p.active,
                  coalesce((select sum(u.amount) from promotion_use u where u.promotion_id = p.promotion_id), 0)::bigint as "discounted!"
           from promotion p
           where case when $1::bigint is not null then p.funder_producer = $1
                      else $2::smallint is null or p.scope_province = $2 end
           order by p.promotion_id desc limit 200"#,
        producer,
        province
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut offer = match r.kind.as_str() {
                "percent" => format!("Giảm {}%", r.value),
                _ => format!("Giảm {}", Vnd::new(r.value)),
            };
            if let Some(m) = r.max_discount {
                offer.push_str(&format!(", tối đa {}", Vnd::new(m)));
            }
            if r.min_order > 0 {
                offer.push_str(&format!(", đơn từ {}", Vnd::new(r.min_order)));
            }
            PromotionView {
                id: r.promotion_id,
                code: r.code,
                name: r.name,
                offer,
                funder: Funder::from_key(&r.funder).map_or("", Funder::label),
                running: r.active && r.starts_at <= now && r.ends_at.is_none_or(|e| e > now),
                starts_on: r.starts_at.to_offset(VN_OFFSET).date(),
                ends_on: r
                    .ends_at
                    .map(|e| (e - time::Duration::seconds(1)).to_offset(VN_OFFSET).date()),
                used: r.used,
                total_limit: r.total_limit,
                discounted: Vnd::new(r.discounted),
                active: r.active,
            }
        })
        .collect())
}

/// Stops a promotion: only its funder (the producer, or staff over its province) may.
pub async fn stop(
    pool: &sqlx::PgPool,
    id: i64,
    producer: Option<i64>,
    province: Option<i16>,
) -> Result<bool, sqlx::Error> {
    let n = sqlx::query!(
        "update promotion set active = false where promotion_id = $1
           and case when $2::bigint is not null then funder_producer = $2
                    else funder <> 'producer' and ($3::smallint is null or scope_province = $3) end",
        id,
        producer,
        province
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(product_id: i64, producer_id: i64, total: i64) -> Line {
        Line {
            product_id,
            producer_id,
            province_code: 22,
            sector: Sector::Food,
            total: Vnd::new(total),
        }
    }

    fn promo(id: i64, kind: Kind, value: i64, stackable: bool) -> Promotion {
        Promotion {
            id,
            code: None,
            name: format!("KM{id}"),
            kind,
            value,
            max_discount: None,
            min_order: Vnd::ZERO,
            scope: Scope::default(),
            stackable,
            funder: Funder::Marketplace,
        }
    }

    #[test]
    fn a_split_adds_up_to_the_dong_and_gives_the_remainder_to_the_largest_fractions() {
        let v = Vnd::new;
        assert_eq!(
            split(v(100), &[v(1), v(1), v(1)]),
            vec![v(34), v(33), v(33)]
        );
        assert_eq!(split(v(10), &[v(1), v(2)]), vec![v(3), v(7)]);
        assert_eq!(split(v(0), &[v(5), v(5)]), vec![v(0), v(0)]);
        assert_eq!(split(v(7), &[]), Vec::<Vnd>::new());
        for total in [1, 999, 50_000, 123_457] {
            let weights = [v(45_000), v(120_000), v(333), v(77_777)];
            let s = split(v(total), &weights);
            assert_eq!(s.iter().copied().sum::<Vnd>(), v(total));
            assert_eq!(s, split(v(total), &weights), "the same every time");
        }
    }

    #[test]
    fn a_marketplace_voucher_is_shared_between_producers_in_proportion() {
        let lines = [line(1, 10, 100_000), line(2, 20, 200_000)];
        let a = promo(1, Kind::Amount, 30_000, false)
            .apply(&lines, &[Vnd::new(100_000), Vnd::new(200_000)])
            .unwrap();
        assert_eq!(
            a.per_line,
            vec![(0, Vnd::new(10_000)), (1, Vnd::new(20_000))]
        );
    }

    #[test]
    fn a_percentage_respects_its_cap_and_the_minimum_order() {
        let lines = [line(1, 10, 300_000)];
        let mut p = promo(1, Kind::Percent, 10, false);
        p.max_discount = Some(Vnd::new(20_000));
        assert_eq!(best(&[p.clone()], &lines)[0].total(), Vnd::new(20_000));
        p.min_order = Vnd::new(500_000);
        assert_eq!(
            p.apply(&lines, &[Vnd::new(300_000)]),
            Err(Refusal::BelowMinimum {
                min: Vnd::new(500_000),
                have: Vnd::new(300_000)
            })
        );
    }

    #[test]
    fn a_producers_voucher_covers_only_its_own_goods() {
        let lines = [line(1, 10, 100_000), line(2, 20, 200_000)];
        let mut p = promo(1, Kind::Percent, 10, false);
        p.funder = Funder::Producer;
        p.scope.producer = Some(20);
        let a = best(&[p], &lines);
        assert_eq!(a[0].per_line, vec![(1, Vnd::new(20_000))]);
    }

    #[test]
    fn stackable_promotions_add_up_but_a_lone_one_wins_when_it_gives_more() {
        let lines = [line(1, 10, 100_000)];
        let s1 = promo(1, Kind::Amount, 10_000, true);
        let s2 = promo(2, Kind::Amount, 15_000, true);
        let lone = promo(3, Kind::Amount, 20_000, false);
        let a = best(&[s1.clone(), s2.clone(), lone.clone()], &lines);
        assert_eq!(a.iter().map(Applied::total).sum::<Vnd>(), Vnd::new(25_000));
        let big = promo(4, Kind::Percent, 30, false);
        let a = best(&[s1, s2, lone, big], &lines);
        assert_eq!((a.len(), a[0].promotion_id), (1, 4));
    }

    #[test]
    fn discounts_never_exceed_the_goods() {
        let lines = [line(1, 10, 5_000), line(2, 10, 3_000)];
        let a = best(
            &[
                promo(1, Kind::Amount, 6_000, true),
                promo(2, Kind::Amount, 6_000, true),
            ],
            &lines,
        );
        let each = per_line(&a, 2);
        assert_eq!(each, vec![Vnd::new(5_000), Vnd::new(3_000)]);
    }

    #[test]
    fn voucher_codes_are_read_in_upper_case_and_refused_when_odd() {
        assert_eq!(VoucherCode::parse(" tet2027 ").unwrap().as_str(), "TET2027");
        for bad in ["", "ab", "GIẢM50", "A B C D", "X".repeat(21).as_str()] {
            assert!(VoucherCode::parse(bad).is_err(), "{bad}");
        }
    }
}
