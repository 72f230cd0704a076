//! From cart to order. The cart is priced from the in-memory catalog for display; placing the
//! order re-checks everything inside one Postgres transaction that locks the products, so a price
//! that moved, stock that ran out or a certificate that lapsed stops the order with an explanation,
//! and stock can never go below zero however many buyers race for the last unit.

pub mod http;

use crate::catalog::snapshot::Snapshot;
use crate::domain::{Sector, Vnd, vn_today};
use crate::shipping::Piece;
use crate::shipping::quotes::{Leg, Offer};
use serde::Serialize;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// Flat shipping fees per producer, free above a threshold.
#[derive(Debug, Clone, Copy)]
pub struct ShippingRule {
    pub same_province: Vnd,
    pub other_province: Vnd,
    pub free_from: Vnd,
}

impl ShippingRule {
    pub fn from_config(c: &crate::config::Config) -> ShippingRule {
        ShippingRule {
            same_province: Vnd::new(c.shipping_same_province_vnd.max(0)),
            other_province: Vnd::new(c.shipping_other_province_vnd.max(0)),
            free_from: Vnd::new(c.shipping_free_from_vnd.max(0)),
        }
    }

    /// A part worth this much ships free to the shopper.
    pub fn ships_free(&self, subtotal: Vnd) -> bool {
        self.free_from > Vnd::default() && subtotal >= self.free_from
    }

    /// The fee for one producer's part; `to` unknown means the other-province fee (an upper bound).
    pub fn fee(&self, from: i16, to: Option<i16>, subtotal: Vnd, ships_goods: bool) -> Vnd {
        if !ships_goods || self.ships_free(subtotal) {
            Vnd::default()
        } else if to == Some(from) {
            self.same_province
        } else {
            self.other_province
        }
    }
}

/// One producer's part of an order, priced: its goods and its shipping fee. The cart page and
/// placing the order both price a part with `quote_part`, so the shopper pays what was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartQuote {
    pub subtotal: Vnd,
    pub shipping_fee: Vnd,
    /// whether anything in it travels (a tourism experience does not)
    pub ships: bool,
}

/// Prices one producer's lines (price, quantity, sector) sent from `from` to `to`.
pub fn quote_part(
    rule: ShippingRule,
    from: i16,
    to: Option<i16>,
    lines: impl IntoIterator<Item = (Vnd, u32, Sector)>,
) -> PartQuote {
    let (mut subtotal, mut ships) = (Vnd::default(), false);
    for (price, quantity, sector) in lines {
        subtotal += price.times(quantity);
        ships |= sector.ships_goods();
    }
    let shipping_fee = if subtotal > Vnd::default() {
        rule.fee(from, to, subtotal, ships)
    } else {
        Vnd::default()
    };
    PartQuote {
        subtotal,
        shipping_fee,
        ships,
    }
}

/// When a parcel sent on a day is expected, earliest and latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub from: time::Date,
    pub to: time::Date,
}

impl ShippingRule {
    /// Days from the order to the door, fastest and slowest: a day to pack, then the carriers'
    /// standard services within a province and across the country (until they quote their own).
    pub fn days(&self, from: i16, to: Option<i16>) -> (u8, u8) {
        if to == Some(from) { (2, 3) } else { (3, 6) }
    }

    /// The dates a parcel ordered on `ordered` is expected.
    pub fn arrives(&self, ordered: time::Date, from: i16, to: Option<i16>) -> Window {
        let (fast, slow) = self.days(from, to);
        let after = |d: u8| ordered.saturating_add(time::Duration::days(d.into()));
        Window {
            from: after(fast),
            to: after(slow),
        }
    }
}

pub use crate::payments::PaymentMethod;

#[derive(Debug, Serialize, Clone)]
pub struct CartLine {
    pub product_id: i64,
    pub slug: String,
    pub name: String,
    pub image: Option<String>,
    pub unit: String,
    pub price: Vnd,
    pub quantity: u32,
    pub line_total: Vnd,
    /// the most that may be ordered now
    pub max: u32,
    /// what promotions take off this line
    pub discount: Vnd,
    /// why this line cannot be ordered as it is
    pub problem: Option<String>,
}

#[derive(Debug, Serialize, Clone)]
pub struct CartGroup {
    pub producer_id: i64,
    pub producer_name: String,
    pub producer_slug: String,
    pub province_name: String,
    pub lines: Vec<CartLine>,
    pub subtotal: Vnd,
    pub shipping_fee: Vnd,
    /// when the parcel is expected, once the destination is known (goods only)
    pub arrives: Option<Window>,
    /// the carriers' prices for this parcel (cheapest first), once the commune is known
    pub offers: Vec<crate::shipping::quotes::Offer>,
    /// the offer the fee comes from
    pub chosen: Option<String>,
    /// the parcel ships free (the producer bears the carrier's fee)
    pub ships_free: bool,
    /// what promotions take off this producer's goods
    pub discount: Vnd,
}

#[derive(Debug, Serialize, Clone, Default)]
pub struct PricedCart {
    pub groups: Vec<CartGroup>,
    pub count: u32,
    pub goods_total: Vnd,
    pub shipping_total: Vnd,
    /// what promotions take off, all together
    pub discount_total: Vnd,
    pub grand_total: Vnd,
    /// the promotions applied, as the shopper reads them
    pub promotions: Vec<AppliedView>,
    /// why the voucher typed takes nothing off
    pub voucher_note: Option<String>,
    pub has_problems: bool,
    /// lines whose product no longer exists at all
    pub gone: Vec<i64>,
}

/// Prices a cart from the catalog snapshot, flagging what cannot be ordered.
pub fn price_cart(
    s: &Snapshot,
    lines: &[(i64, u32)],
    to: Option<i16>,
    rule: ShippingRule,
) -> PricedCart {
    let mut groups: BTreeMap<(String, i64), CartGroup> = BTreeMap::new();
    let mut cart = PricedCart::default();
    for &(id, qty) in lines {
        let Some(p) = s.products.get(&id) else {
            cart.gone.push(id);
            continue;
        };
        let Some(producer) = s.producers.get(&p.producer_id) else {
            cart.gone.push(id);
            continue;
        };
        let listed = s.row_of.contains_key(&id);
        let stock = p.stock.max(0) as u32;
        let problem = if !listed {
            Some(
                "Sản phẩm này hiện không được bán (đã ẩn hoặc chứng nhận OCOP hết hiệu lực)."
                    .to_string(),
            )
        } else if stock == 0 {
            Some("Sản phẩm đã hết hàng.".to_string())
        } else if qty > stock {
            Some(format!("Chỉ còn {stock} {}.", p.unit))
        } else {
            None
        };
        cart.has_problems |= problem.is_some();
        let group = groups
            .entry((producer.name.clone(), producer.id))
            .or_insert_with(|| CartGroup {
                producer_id: producer.id,
                producer_name: producer.name.clone(),
                producer_slug: producer.slug.clone(),
                province_name: s
                    .admin
                    .province(producer.province_code)
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                lines: vec![],
                subtotal: Vnd::default(),
                shipping_fee: Vnd::default(),
                arrives: None,
                offers: vec![],
                chosen: None,
                ships_free: false,
                discount: Vnd::ZERO,
            });
        let price = p.price_vnd;
        cart.count += qty;
        group.lines.push(CartLine {
            product_id: id,
            slug: p.slug.clone(),
            name: p.name.clone(),
            image: p.images.first().map(|u| crate::media::thumbnail_url(u)),
            unit: p.unit.clone(),
            price,
            quantity: qty,
            line_total: price.times(qty),
            max: stock.min(crate::cart::MAX_LINE),
            problem,
            discount: Vnd::ZERO,
        });
    }
    for group in groups.into_values() {
        let mut group = group;
        let producer = &s.producers[&group.producer_id];
        // what can be ordered as it is: the lines with a problem are left out of the price
        let quote = quote_part(
            rule,
            producer.province_code,
            to,
            group
                .lines
                .iter()
                .filter(|l| l.problem.is_none())
                .map(|l| (l.price, l.quantity, s.products[&l.product_id].sector)),
        );
        group.subtotal = quote.subtotal;
        group.shipping_fee = quote.shipping_fee;
        group.ships_free = quote.ships && rule.ships_free(quote.subtotal);
        group.arrives =
            (quote.ships && to.is_some()).then(|| rule.arrives(s.day, producer.province_code, to));
        cart.goods_total += group.subtotal;
        cart.shipping_total += group.shipping_fee;
        cart.groups.push(group);
    }
    cart.grand_total = cart.goods_total + cart.shipping_total;
    cart
}

/// A promotion on the checkout page.
#[derive(Debug, Serialize, Clone)]
pub struct AppliedView {
    pub name: String,
    pub code: Option<String>,
    pub funder: &'static str,
    pub amount: Vnd,
}

/// The orderable lines of a priced cart as promotions see them, group by group.
pub fn promotion_lines(s: &Snapshot, cart: &PricedCart) -> Vec<crate::promotions::Line> {
    cart.groups
        .iter()
        .flat_map(|g| g.lines.iter().map(move |l| (g, l)))
        .filter(|(_, l)| l.problem.is_none())
        .filter_map(|(g, l)| {
            Some(crate::promotions::Line {
                product_id: l.product_id,
                producer_id: g.producer_id,
                province_code: s.producers.get(&g.producer_id)?.province_code,
                sector: s.products.get(&l.product_id)?.sector,
                total: l.line_total,
            })
        })
        .collect()
}

/// Puts the chosen promotions on a priced cart: each line's, each producer's and the total
/// discount, and what the shopper pays.
pub fn apply_promotions(
    cart: &mut PricedCart,
    lines: &[crate::promotions::Line],
    applied: &[crate::promotions::Applied],
    voucher_note: Option<String>,
) {
    let each = crate::promotions::per_line(applied, lines.len());
    cart.discount_total = Vnd::ZERO;
    for g in &mut cart.groups {
        g.discount = Vnd::ZERO;
        for l in &mut g.lines {
            l.discount = lines
                .iter()
                .position(|x| x.product_id == l.product_id && l.problem.is_none())
                .map_or(Vnd::ZERO, |i| each[i]);
            g.discount += l.discount;
        }
        cart.discount_total += g.discount;
    }
    cart.promotions = applied
        .iter()
        .map(|a| AppliedView {
            name: a.name.clone(),
            code: a.code.clone(),
            funder: a.funder.label(),
            amount: a.total(),
        })
        .collect();
    cart.voucher_note = voucher_note;
    cart.grand_total = cart.goods_total + cart.shipping_total - cart.discount_total;
}

/// Each producer parcel of a priced cart, for the carriers to quote: its pieces weighed as the
/// producer entered them (or by unit), from the producer's commune to the shopper's.
pub fn legs(s: &Snapshot, cart: &PricedCart, to_province: i16, to_commune: i32) -> Vec<Leg> {
    cart.groups
        .iter()
        .filter_map(|g| {
            let producer = s.producers.get(&g.producer_id)?;
            let pieces: Vec<Piece> = g
                .lines
                .iter()
                .filter(|l| l.problem.is_none())
                .filter_map(|l| {
                    let p = s.products.get(&l.product_id)?;
                    p.sector.ships_goods().then(|| {
                        Piece::new(p.weight_grams, p.dims_cm, &p.unit, l.quantity, l.price)
                    })
                })
                .collect();
            (!pieces.is_empty()).then(|| Leg {
                producer_id: g.producer_id,
                from_province: producer.province_code,
                from_commune: producer.commune_code,
                to_province,
                to_commune,
                parcel: crate::shipping::parcel(&pieces, Vnd::ZERO),
            })
        })
        .collect()
}

/// Puts the carriers' offers on a priced cart: each parcel's fee is its chosen offer's (the one
/// the shopper picked, or the cheapest), or nothing when it ships free; the delivery window is the
/// carrier's. Parcels no carrier quoted keep the flat table.
pub fn apply_offers(
    cart: &mut PricedCart,
    mut offers: BTreeMap<i64, Vec<Offer>>,
    picked: impl Fn(i64) -> Option<String>,
    today: time::Date,
) {
    cart.shipping_total = Vnd::ZERO;
    for g in &mut cart.groups {
        if let Some(list) = offers.remove(&g.producer_id).filter(|l| !l.is_empty()) {
            let chosen = picked(g.producer_id)
                .and_then(|id| list.iter().find(|o| o.id == id))
                .unwrap_or(&list[0])
                .clone();
            if !g.ships_free {
                g.shipping_fee = chosen.fee;
            }
            if let Some((fast, slow)) = chosen.days {
                // a day to pack, then the carrier's days
                let after = |d: u8| today.saturating_add(time::Duration::days(i64::from(d) + 1));
                g.arrives = Some(Window {
                    from: after(fast),
                    to: after(slow),
                });
            }
            g.chosen = Some(chosen.id.clone());
            g.offers = list;
        }
        cart.shipping_total += g.shipping_fee;
    }
    cart.grand_total = cart.goods_total + cart.shipping_total - cart.discount_total;
}

/// Who receives the order and how they pay: parsed and checked at the edge.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub buyer_name: String,
    pub phone: String,
    pub email: Option<String>,
    pub province_code: i16,
    pub commune_code: i32,
    pub street: String,
    pub note: String,
    pub method: PaymentMethod,
    /// a business buyer's request for a VAT invoice in its own name
    pub company: Option<CompanyInvoice>,
}

/// "Xuất hoá đơn công ty": the company an invoice is made out to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyInvoice {
    pub name: String,
    pub tax_code: crate::domain::TaxCode,
    pub address: String,
    /// where the invoice is sent (the order's e-mail when blank)
    pub email: Option<String>,
}

impl CompanyInvoice {
    /// The section's fields (`inv_*`), when `want_invoice` is ticked; each mistake named.
    pub fn parse(f: &BTreeMap<String, String>, e: &mut Errors) -> Option<CompanyInvoice> {
        let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
        if get("want_invoice").is_empty() {
            return None;
        }
        let name = get("inv_company").to_string();
        if !(2..=200).contains(&name.chars().count()) {
            e.insert("inv_company", crate::i18n::tr("error-company-name"));
        }
        let tax_code = crate::domain::TaxCode::parse(get("inv_tax_code"))
            .map_err(|m| e.insert("inv_tax_code", m.into()))
            .ok();
        let address = get("inv_address").to_string();
        if !(5..=300).contains(&address.chars().count()) {
            e.insert("inv_address", crate::i18n::tr("error-company-address"));
        }
        let email = match get("inv_email") {
            "" => None,
            s => match crate::auth::identity::Login::parse(s) {
                Ok(crate::auth::identity::Login::Email(m)) => Some(m),
                _ => {
                    e.insert("inv_email", crate::i18n::tr("error-invoice-email"));
                    None
                }
            },
        };
        Some(CompanyInvoice {
            name,
            tax_code: tax_code?,
            address,
            email,
        })
    }
}

pub type Errors = BTreeMap<&'static str, String>;

/// Who receives a parcel and where: the part of a checkout that an address book keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub buyer_name: String,
    pub phone: String,
    pub province_code: i16,
    pub commune_code: i32,
    pub street: String,
}

impl Recipient {
    /// The name, phone, province, commune and street typed in `f`, each mistake named by field.
    pub fn parse(
        f: &BTreeMap<String, String>,
        admin: &crate::catalog::snapshot::Admin,
    ) -> Result<Recipient, Errors> {
        let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
        let mut e = Errors::new();
        let buyer_name = get("buyer_name").to_string();
        if !(2..=120).contains(&buyer_name.chars().count()) {
            e.insert("buyer_name", crate::i18n::tr("error-buyer-name"));
        }
        let phone = crate::auth::identity::parse_phone(get("phone")).unwrap_or_else(|_| {
            e.insert("phone", crate::i18n::tr("error-phone"));
            String::new()
        });
        let province = get("province")
            .parse::<i16>()
            .ok()
            .filter(|p| admin.province(*p).is_some());
        if province.is_none() {
            e.insert("province", crate::i18n::tr("error-province"));
        }
        let commune = get("commune")
            .parse::<i32>()
            .ok()
            .and_then(|c| admin.commune(c))
            .filter(|c| Some(c.province_code) == province);
        if province.is_some() && commune.is_none() {
            e.insert("commune", crate::i18n::tr("error-commune"));
        }
        let street = get("street").to_string();
        if !(3..=300).contains(&street.chars().count()) {
            e.insert("street", crate::i18n::tr("error-street"));
        }
        match (province, commune) {
            (Some(province_code), Some(commune)) if e.is_empty() => Ok(Recipient {
                buyer_name,
                phone,
                province_code,
                commune_code: commune.code,
                street,
            }),
            _ => Err(e),
        }
    }

    /// The form fields that show this recipient.
    pub fn values(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("buyer_name".to_string(), self.buyer_name.clone()),
            ("phone".to_string(), self.phone.clone()),
            ("province".to_string(), self.province_code.to_string()),
            ("commune".to_string(), self.commune_code.to_string()),
            ("street".to_string(), self.street.clone()),
        ])
    }
}

impl Delivery {
    pub fn parse(
        f: &BTreeMap<String, String>,
        admin: &crate::catalog::snapshot::Admin,
        enabled: &[PaymentMethod],
    ) -> Result<Delivery, Errors> {
        let get = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
        let (recipient, mut e) = match Recipient::parse(f, admin) {
            Ok(r) => (Some(r), Errors::new()),
            Err(e) => (None, e),
        };
        let email = match get("email") {
            "" => None,
            s => match crate::auth::identity::Login::parse(s) {
                Ok(crate::auth::identity::Login::Email(m)) => Some(m),
                _ => {
                    e.insert("email", crate::i18n::tr("error-email"));
                    None
                }
            },
        };
        let note = get("note").to_string();
        if note.chars().count() > 1000 {
            e.insert("note", crate::i18n::tr("error-note"));
        }
        let method = PaymentMethod::from_key(get("payment_method")).filter(|m| enabled.contains(m));
        if method.is_none() {
            e.insert("payment_method", crate::i18n::tr("error-payment-method"));
        }
        let company = CompanyInvoice::parse(f, &mut e);
        match (recipient, method) {
            (Some(r), Some(method)) if e.is_empty() => Ok(Delivery {
                buyer_name: r.buyer_name,
                phone: r.phone,
                email,
                province_code: r.province_code,
                commune_code: r.commune_code,
                street: r.street,
                note,
                method,
                company,
            }),
            _ => Err(e),
        }
    }

    pub fn recipient(&self) -> Recipient {
        Recipient {
            buyer_name: self.buyer_name.clone(),
            phone: self.phone.clone(),
            province_code: self.province_code,
            commune_code: self.commune_code,
            street: self.street.clone(),
        }
    }
}

/// One line as the shopper saw it when they pressed "Đặt hàng".
#[derive(Debug, Clone, Copy)]
pub struct SeenLine {
    pub product_id: i64,
    pub quantity: u32,
    pub price: Vnd,
}

/// The promotions the shopper asked for: the voucher typed, and the discount the page showed
/// (an order never takes less off than the shopper saw).
#[derive(Debug, Clone, Default)]
pub struct Asked {
    pub voucher: Option<crate::promotions::VoucherCode>,
    pub seen: Vnd,
    /// the slot booked for each experience (product → slot); its line's quantity is the guests
    pub slots: BTreeMap<i64, i64>,
}

#[derive(Debug)]
pub struct Placed {
    pub code: String,
    pub order_group_id: i64,
    /// the same checkout had already placed this order (a retry or a double click)
    pub replayed: bool,
    pub ordered_products: Vec<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    #[error("giỏ hàng trống")]
    Empty,
    /// what changed since the shopper looked, one sentence per product
    #[error("giỏ hàng đã thay đổi")]
    Changed(Vec<String>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn order_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let tail: String = bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect();
    format!("OCOP{tail}")
}

/// Places an order group: one transaction that re-checks every line against Postgres (not the
/// in-memory catalog), takes the stock, and writes the group, one order per producer, the lines
/// and the first timeline entry. The checkout token makes it idempotent.
/// `accepted` are the carrier offers the shopper accepted, per producer (checked by the caller
/// to be for this destination and parcel): each such part takes the offer's fee as it was shown
/// (nothing when it ships free, and then the producer bears the carrier's fee).
#[allow(clippy::too_many_arguments)]
pub async fn place_order(
    pool: &PgPool,
    rule: ShippingRule,
    pay_minutes: i64,
    token: &str,
    user_id: Option<i64>,
    delivery: &Delivery,
    seen: &[SeenLine],
    accepted: &BTreeMap<i64, Offer>,
    asked: &Asked,
) -> Result<Placed, PlaceError> {
    if seen.is_empty() {
        return Err(PlaceError::Empty);
    }
    let mut tx = pool.begin().await?;
    // the same token, submitted twice at once, is served one at a time
    sqlx::query!(
        "select pg_advisory_xact_lock(hashtextextended($1, 7))",
        token
    )
    .execute(&mut *tx)
    .await?;
    if let Some(existing) = sqlx::query!(
        "select order_group_id, code from order_group where checkout_token = $1",
        token
    )
    .fetch_optional(&mut *tx)
    .await?
    {
        return Ok(Placed {
            code: existing.code,
            order_group_id: existing.order_group_id,
            replayed: true,
            ordered_products: seen.iter().map(|l| l.product_id).collect(),
        });
    }
    let ids: Vec<i64> = seen.iter().map(|l| l.product_id).collect();
    let today = vn_today();
    // locked in id order, so two checkouts sharing products never wait on each other in a cycle
    let rows = sqlx::query!(
        r#"
        select p.product_id, p.name, p.unit, p.price_vnd, p.stock, p.sector, p.producer_id, pr.province_code,
               l.stars as "stars?", coalesce(l.listed_until > $2, false) as "listed!"
        from product p
        join producer pr using (producer_id)
        join product_listing l using (product_id)
        where p.product_id = any($1)
        order by p.product_id
        for update of p
        "#,
        &ids,
        today
    )
    .fetch_all(&mut *tx)
    .await?;
    // an experience is booked by the slot: its seats are its stock
    let experiences = crate::experiences::among(&mut tx, &ids).await?;
    let mut problems = vec![];
    for line in seen {
        let booked = experiences.contains(&line.product_id);
        match rows.iter().find(|r| r.product_id == line.product_id) {
            None => problems.push("Một sản phẩm trong giỏ không còn tồn tại.".to_string()),
            Some(r) if !r.listed => problems.push(format!(
                "\"{}\" hiện không được bán nữa (đã ẩn hoặc chứng nhận OCOP hết hiệu lực).",
                r.name
            )),
            Some(r) if Vnd::new(r.price_vnd) != line.price => problems.push(format!(
                "Giá của \"{}\" vừa thay đổi từ {} thành {}.",
                r.name,
                line.price,
                crate::domain::Vnd::format(r.price_vnd)
            )),
            Some(r) if booked && !asked.slots.contains_key(&r.product_id) => problems.push(format!(
                "\"{}\" được đặt theo lịch: vui lòng chọn ngày, giờ ở trang đặt chỗ của dịch vụ.",
                r.name
            )),
            Some(_) if booked => {}
            Some(r) if r.stock <= 0 => problems.push(format!("\"{}\" vừa hết hàng.", r.name)),
            Some(r) if (r.stock as u32) < line.quantity => {
                problems.push(format!("\"{}\" chỉ còn {} {}.", r.name, r.stock, r.unit))
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(PlaceError::Changed(problems));
    }
    // the rows are locked, and the condition keeps stock at zero or above whatever else happens
    let lines: Vec<(i64, i32)> = seen
        .iter()
        .filter(|l| !experiences.contains(&l.product_id))
        .map(|l| (l.product_id, l.quantity as i32))
        .collect();
    if !crate::inventory::take(&mut tx, &lines).await? {
        return Err(PlaceError::Changed(vec![
            "Một sản phẩm vừa hết hàng.".into(),
        ]));
    }
    for line in seen.iter().filter(|l| experiences.contains(&l.product_id)) {
        let slot = asked.slots[&line.product_id];
        let name = rows
            .iter()
            .find(|r| r.product_id == line.product_id)
            .map_or("", |r| r.name.as_str());
        let guests = line.quantity as i32;
        if let Err(why) =
            crate::experiences::take_seats(&mut tx, line.product_id, slot, guests, name).await?
        {
            return Err(PlaceError::Changed(vec![why]));
        }
    }
    // one order per producer
    let mut by_producer: BTreeMap<i64, (i16, Vec<(&SeenLine, &str, &str, &str, Option<i16>)>)> =
        BTreeMap::new();
    for line in seen {
        let r = rows
            .iter()
            .find(|r| r.product_id == line.product_id)
            .expect("checked");
        by_producer
            .entry(r.producer_id)
            .or_insert((r.province_code, vec![]))
            .1
            .push((
                line,
                r.name.as_str(),
                r.unit.as_str(),
                r.sector.as_str(),
                r.stars,
            ));
    }
    let mut parts = vec![];
    for (producer, (province, lines)) in &by_producer {
        let quote = quote_part(
            rule,
            *province,
            Some(delivery.province_code),
            // an unknown sector is priced as goods that travel
            lines.iter().map(|(l, _, _, sector, _)| {
                (
                    l.price,
                    l.quantity,
                    Sector::from_key(sector).unwrap_or(Sector::Food),
                )
            }),
        );
        let offer = accepted.get(producer).filter(|_| quote.ships);
        let fee = match offer {
            Some(o) if !rule.ships_free(quote.subtotal) => o.fee,
            _ => quote.shipping_fee,
        };
        let paid_by = if quote.ships && rule.ships_free(quote.subtotal) {
            "producer"
        } else {
            "shopper"
        };
        parts.push((*producer, quote.subtotal, fee, lines, offer, paid_by));
    }
    // the promotions, on the lines in the order they are written (producer by producer)
    let promo_lines: Vec<crate::promotions::Line> = by_producer
        .iter()
        .flat_map(|(producer, (province, lines))| {
            lines
                .iter()
                .map(move |(l, _, _, sector, _)| crate::promotions::Line {
                    product_id: l.product_id,
                    producer_id: *producer,
                    province_code: *province,
                    sector: Sector::from_key(sector).unwrap_or(Sector::Food),
                    total: l.price.times(l.quantity),
                })
        })
        .collect();
    let customer = crate::promotions::customer_key(user_id, &delivery.phone);
    let now = time::OffsetDateTime::now_utc();
    let offer =
        crate::promotions::offer(&mut tx, asked.voucher.as_ref(), Some(&customer), now).await?;
    let (applied, voucher_note) = offer.choose(&promo_lines);
    let line_discounts = crate::promotions::per_line(&applied, promo_lines.len());
    let discount: Vnd = line_discounts.iter().copied().sum();
    if let Some(note) = voucher_note.filter(|_| asked.voucher.is_some()) {
        return Err(PlaceError::Changed(vec![note]));
    }
    if discount < asked.seen {
        return Err(PlaceError::Changed(vec![format!(
            "Khuyến mãi vừa thay đổi: đơn được giảm {discount} thay vì {}.",
            asked.seen
        )]));
    }
    let goods: Vnd = parts.iter().map(|p| p.1).sum();
    let shipping: Vnd = parts.iter().map(|p| p.2).sum();
    let pay_before = delivery
        .method
        .online()
        .then(|| time::OffsetDateTime::now_utc() + time::Duration::minutes(pay_minutes));
    let mut group = None;
    for _ in 0..5 {
        group = sqlx::query!(
            r#"insert into order_group (code, checkout_token, user_id, buyer_name, phone, email, province_code,
                   commune_code, street, note, payment_method, goods_total, shipping_total, grand_total, pay_before,
                   buyer_company, buyer_tax_code, buyer_company_address, invoice_email, discount_total, lang)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
               on conflict (code) do nothing
               returning order_group_id, code"#,
            order_code(),
            token,
            user_id,
            delivery.buyer_name,
            delivery.phone,
            delivery.email,
            delivery.province_code,
            delivery.commune_code,
            delivery.street,
            delivery.note,
            delivery.method.key(),
            goods.amount(),
            shipping.amount(),
            (goods + shipping - discount).amount(),
            pay_before,
            delivery.company.as_ref().map(|c| c.name.as_str()),
            delivery.company.as_ref().map(|c| c.tax_code.as_str()),
            delivery.company.as_ref().map(|c| c.address.as_str()),
            delivery.company.as_ref().and_then(|c| c.email.as_deref()),
            discount.amount(),
            // its mails speak the language it was placed in
            crate::i18n::current().code()
        )
        .fetch_optional(&mut *tx)
        .await?;
        if group.is_some() {
            break;
        }
    }
    let group = group.ok_or_else(|| sqlx::Error::Protocol("no free order code".into()))?;
    // the uses are counted under each promotion's lock; a limit reached meanwhile undoes it all
    if let Err(why) =
        crate::promotions::take(&mut tx, group.order_group_id, &customer, &applied).await?
    {
        return Err(PlaceError::Changed(vec![why]));
    }
    let mut written: Vec<(i64, i64)> = Vec::with_capacity(promo_lines.len());
    let status = if delivery.method.online() {
        crate::orders::Status::PendingPayment
    } else {
        crate::orders::Status::Placed
    }
    .key();
    for (producer, subtotal, fee, lines, offer, paid_by) in parts {
        let part_discount: Vnd = line_discounts[written.len()..written.len() + lines.len()]
            .iter()
            .copied()
            .sum();
        let order_id = sqlx::query_scalar!(
            "insert into shop_order (order_group_id, producer_id, status, goods_total, shipping_fee,
                 ship_carrier, ship_service, ship_quote_id, ship_quote_fee, ship_days_min, ship_days_max, shipping_paid_by,
                 discount_total)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) returning order_id",
            group.order_group_id,
            producer,
            status,
            subtotal.amount(),
            fee.amount(),
            offer.map(|o| o.carrier.key()),
            offer.map(|o| o.service.as_str()),
            offer.map(|o| o.id.as_str()),
            offer.map(|o| o.fee.amount()),
            offer.and_then(|o| o.days).map(|d| i16::from(d.0)),
            offer.and_then(|o| o.days).map(|d| i16::from(d.1)),
            paid_by,
            part_discount.amount()
        )
        .fetch_one(&mut *tx)
        .await?;
        for (line, name, unit, sector, stars) in lines {
            let line_discount = line_discounts[written.len()];
            written.push((order_id, line.product_id));
            sqlx::query!(
                "insert into order_line (order_id, product_id, name, unit, unit_price, quantity, line_total, sector, stars, discount)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                order_id,
                line.product_id,
                *name,
                *unit,
                line.price.amount(),
                line.quantity as i32,
                line.price.times(line.quantity).amount(),
                *sector,
                *stars,
                line_discount.amount()
            )
            .execute(&mut *tx)
            .await?;
            if let Some(slot) = asked
                .slots
                .get(&line.product_id)
                .filter(|_| experiences.contains(&line.product_id))
            {
                crate::experiences::issue(&mut tx, order_id, *slot, line.quantity as i32).await?;
            }
        }
        sqlx::query!(
            "insert into order_event (order_id, to_status, actor) values ($1, $2, 'shopper')",
            order_id,
            status
        )
        .execute(&mut *tx)
        .await?;
    }
    crate::promotions::record_lines(&mut tx, &written, &applied).await?;
    tx.commit().await?;
    Ok(Placed {
        code: group.code,
        order_group_id: group.order_group_id,
        replayed: false,
        ordered_products: ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipping_is_flat_per_producer_and_free_above_the_threshold() {
        let v = Vnd::new;
        let rule = ShippingRule {
            same_province: v(20_000),
            other_province: v(35_000),
            free_from: v(500_000),
        };
        assert_eq!(rule.fee(22, Some(22), v(100_000), true), v(20_000));
        assert_eq!(rule.fee(22, Some(1), v(100_000), true), v(35_000));
        assert_eq!(rule.fee(22, None, v(100_000), true), v(35_000));
        assert_eq!(rule.fee(22, Some(1), v(500_000), true), v(0));
        assert_eq!(
            rule.fee(22, Some(1), v(100_000), false),
            v(0),
            "a tour ships nothing"
        );
    }

    #[test]
    fn a_part_is_priced_once_from_its_lines_with_its_fee() {
        let v = Vnd::new;
        let rule = ShippingRule {
            same_province: v(20_000),
            other_province: v(35_000),
            free_from: v(500_000),
        };
        let q = quote_part(
            rule,
            22,
            Some(1),
            [
                (v(45_000), 2, Sector::Food),
                (v(300_000), 1, Sector::Tourism),
            ],
        );
        assert_eq!(
            (q.subtotal, q.shipping_fee, q.ships),
            (v(390_000), v(35_000), true)
        );
        let tour = quote_part(rule, 22, Some(1), [(v(300_000), 1, Sector::Tourism)]);
        assert_eq!((tour.shipping_fee, tour.ships), (v(0), false));
        let nothing = quote_part(rule, 22, Some(1), []);
        assert_eq!(
            nothing.shipping_fee,
            v(0),
            "an empty part costs nothing to send"
        );
    }

    #[test]
    fn order_codes_fit_a_bank_transfer_memo() {
        for _ in 0..100 {
            let c = order_code();
            assert_eq!(c.len(), 12);
            assert!(
                c.starts_with("OCOP")
                    && c[4..]
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            );
        }
    }
}
