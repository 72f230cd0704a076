//! `/checkout`: the address, the payment method, the totals, and placing the order.

use super::{
    Delivery, Errors, PaymentMethod, PlaceError, SeenLine, ShippingRule, place_order, price_cart,
};
use crate::auth::{Session, load_user};
use crate::cart::Cart;
use crate::error::AppError;
use crate::forms::CheckedForm;
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};

pub fn router() -> Router<AppState> {
    Router::new().route("/checkout", get(checkout_page).post(place))
}

/// The lines as shown, "id:qty:price" joined by commas: what the shopper agreed to.
fn seen_field(cart: &super::PricedCart) -> String {
    cart.groups
        .iter()
        .flat_map(|g| g.lines.iter())
        .filter(|l| l.problem.is_none())
        .map(|l| format!("{}:{}:{}", l.product_id, l.quantity, l.price.amount()))
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_seen(s: &str) -> Option<Vec<SeenLine>> {
    let mut out = vec![];
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let mut it = part.split(':');
        let line = SeenLine {
            product_id: it.next()?.parse().ok()?,
            quantity: it
                .next()?
                .parse()
                .ok()
                .filter(|q| (1..=crate::cart::MAX_LINE).contains(q))?,
            price: it
                .next()?
                .parse()
                .ok()
                .and_then(crate::domain::Vnd::price)?,
        };
        if it.next().is_some()
            || out
                .iter()
                .any(|l: &SeenLine| l.product_id == line.product_id)
        {
            return None;
        }
        out.push(line);
    }
    (out.len() <= 100).then_some(out)
}

/// The checkout page, with a notice above the form when something needs the shopper's eye.
#[allow(clippy::too_many_arguments)]
async fn render_checkout(
    state: &AppState,
    session: &Session,
    cart: &Cart,
    values: &BTreeMap<String, String>,
    errors: &Errors,
    problems: &[String],
    notice: Option<&str>,
    token: &str,
    status: StatusCode,
) -> Result<Response, AppError> {
    let lines = cart.lines(state).await?;
    let snapshot = state.catalog.snapshot();
    let addresses = match cart.user_id {
        Some(uid) => crate::addresses::list(&state.pool, &snapshot.admin, uid).await?,
        None => vec![],
    };
    // a checkout just opened (no street field sent yet) starts from the default address
    let with_default;
    let values = match addresses.iter().find(|a| a.is_default) {
        Some(a) if !values.contains_key("street") => {
            with_default = values.clone().into_iter().chain(a.values()).collect();
            &with_default
        }
        _ => values,
    };
    let to = values
        .get("province")
        .and_then(|p| p.parse::<i16>().ok())
        .filter(|p| snapshot.admin.province(*p).is_some());
    let mut priced = price_cart(
        &snapshot,
        &lines,
        to,
        ShippingRule::from_config(&state.config),
    );
    // with the commune known, the carriers quote each parcel (within their time budget)
    let commune = to.and_then(|p| {
        values
            .get("commune")
            .and_then(|c| c.parse::<i32>().ok())
            .filter(|c| {
                snapshot
                    .admin
                    .commune(*c)
                    .is_some_and(|c| c.province_code == p)
            })
            .map(|c| (p, c))
    });
    if let Some((province, commune)) = commune {
        let legs = super::legs(&snapshot, &priced, province, commune);
        if !legs.is_empty() {
            let offers = crate::shipping::quotes::offers(state, &legs).await;
            super::apply_offers(
                &mut priced,
                offers,
                |producer| values.get(&format!("ship_{producer}")).cloned(),
                snapshot.day,
            );
        }
    }
    if priced.count == 0 && problems.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    // the promotions running and the voucher typed (one that is not a code is said so)
    let mut errors = errors.clone();
    let voucher = match asked(values) {
        Ok(a) => a.voucher,
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    let phone = values
        .get("phone")
        .and_then(|p| crate::auth::identity::parse_phone(p).ok());
    let customer = (cart.user_id.is_some() || phone.is_some())
        .then(|| crate::promotions::customer_key(cart.user_id, phone.as_deref().unwrap_or("")));
    let offer = {
        let mut conn = state.pool.acquire().await?;
        crate::promotions::offer(
            &mut conn,
            voucher.as_ref(),
            customer.as_deref(),
            time::OffsetDateTime::now_utc(),
        )
        .await?
    };
    let promo_lines = super::promotion_lines(&snapshot, &priced);
    let (applied, note) = offer.choose(&promo_lines);
    super::apply_promotions(&mut priced, &promo_lines, &applied, note);
    let enabled = state.payments.enabled();
    let methods: Vec<Value> = PaymentMethod::ALL
        .iter()
        .map(|m| json!({ "key": m.key(), "label": crate::i18n::label("method", m.key(), m.label()), "available": enabled.contains(m) }))
        .collect();
    let page = json!({
        "csrf": session.data.csrf,
        "token": token,
        "cart": priced,
        "seen": seen_field(&priced),
        "values": values,
        "errors": errors,
        "seen_discount": priced.discount_total.amount(),
        "problems": problems,
        "addresses": addresses,
        "methods": methods,
        "destination_known": to.is_some(),
        "quoted_for": commune.map(|c| c.1),
        "notice": notice,
    });
    let mut page = page;
    if let (Some(page), Value::Object(picker)) = (page.as_object_mut(), snapshot.admin.picker(to)) {
        page.extend(picker);
    }
    let mut response = (status, render_page("checkout/checkout.html", &page)).into_response();
    if session.is_new {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, session.cookie(state));
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("valid"));
    Ok(response)
}

// the cart is read first: without Redis the shopper is told the cart is unavailable
async fn checkout_page(
    State(state): State<AppState>,
    cart: Cart,
    session: Session,
) -> Result<Response, AppError> {
    let mut values = BTreeMap::new();
    values.insert("payment_method".to_string(), "cod".to_string());
    if let Some(uid) = cart.user_id {
        if let Some(user) = load_user(&state, uid).await? {
            values.insert("buyer_name".into(), user.display_name);
            if let Some(p) = user.phone {
                values.insert("phone".into(), p);
            }
            if let Some(e) = user.email {
                values.insert("email".into(), e);
            }
        }
    }
    // a fresh idempotency key for this checkout: submitting it again finds the same order
    let token = crate::crypto::random_token();
    render_checkout(
        &state,
        &session,
        &cart,
        &values,
        &Errors::new(),
        &[],
        None,
        &token,
        StatusCode::OK,
    )
    .await
}

async fn place(
    State(state): State<AppState>,
    cart: Cart,
    CheckedForm { form, mut session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let token = form.get("token").cloned().unwrap_or_default();
    if !(32..=128).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::bad(
            "bad_token",
            "Phiên đặt hàng không hợp lệ. Vui lòng tải lại trang thanh toán.",
        ));
    }
    let mut values: BTreeMap<String, String> =
        form.into_iter().filter(|(k, _)| k != "csrf").collect();
    // a saved address chosen: its fields are filled in and the form shown again (no JavaScript)
    if let Some(id) = values
        .get("use_address")
        .and_then(|id| id.parse::<i64>().ok())
    {
        let saved = match cart.user_id {
            Some(uid) => crate::addresses::find(&state.pool, uid, id).await?,
            None => None,
        };
        if let Some(r) = saved {
            values.extend(r.values());
        }
        values.remove("use_address");
        values.insert("step".into(), "province".into());
    }
    if matches!(
        values.get("step").map(String::as_str),
        Some("province" | "voucher")
    ) {
        return render_checkout(
            &state,
            &session,
            &cart,
            &values,
            &Errors::new(),
            &[],
            None,
            &token,
            StatusCode::OK,
        )
        .await;
    }
    let admin = state.catalog.snapshot().admin.clone();
    let delivery = match Delivery::parse(&values, &admin, &state.payments.enabled()) {
        Ok(d) => d,
        Err(errors) => {
            return render_checkout(
                &state,
                &session,
                &cart,
                &values,
                &errors,
                &[],
                None,
                &token,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let seen =
        parse_seen(values.get("seen").map(String::as_str).unwrap_or("")).ok_or_else(|| {
            AppError::bad(
                "bad_cart",
                "Giỏ hàng gửi lên không hợp lệ. Vui lòng tải lại trang thanh toán.",
            )
        })?;
    // fees for a commune the shopper has not seen quoted are shown before anything is placed
    let quoted_for = values.get("quoted_for").and_then(|c| c.parse::<i32>().ok());
    if !state.carriers.available().is_empty() && quoted_for != Some(delivery.commune_code) {
        return render_checkout(
            &state,
            &session,
            &cart,
            &values,
            &Errors::new(),
            &[],
            Some("Phí giao hàng đã được tính cho địa chỉ này. Vui lòng chọn đơn vị vận chuyển rồi bấm Đặt hàng."),
            &token,
            StatusCode::OK,
        )
        .await;
    }
    let asked = match asked(&values) {
        Ok(a) => a,
        Err(errors) => {
            return render_checkout(
                &state,
                &session,
                &cart,
                &values,
                &errors,
                &[],
                None,
                &token,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let rule = ShippingRule::from_config(&state.config);
    let accepted = match accepted_offers(&state, &values, &delivery, &seen).await {
        Ok(a) => a,
        Err(problem) => {
            for (k, _) in values
                .clone()
                .iter()
                .filter(|(k, _)| k.starts_with("ship_"))
            {
                values.remove(k);
            }
            return render_checkout(
                &state,
                &session,
                &cart,
                &values,
                &Errors::new(),
                &[problem],
                None,
                &token,
                StatusCode::CONFLICT,
            )
            .await;
        }
    };
    match place_order(
        &state.pool,
        rule,
        state.config.order_payment_minutes,
        &token,
        cart.user_id,
        &delivery,
        &seen,
        &accepted,
        &asked,
    )
    .await
    {
        Ok(placed) => {
            // the cart is emptied only now that the order is committed
            cart.remove(&state, &placed.ordered_products).await.ok();
            if session.data.remember_order(&placed.code) {
                session.save(&state).await?;
            }
            if !placed.replayed {
                if let Some(uid) = cart.user_id {
                    // an order to a new address joins the book (a full book stays as it is)
                    crate::addresses::insert(&state.pool, uid, &delivery.recipient()).await?;
                }
                if delivery.method == crate::checkout::PaymentMethod::Vietqr {
                    // the transfer's memo is the order code: the attempt is ready before it arrives
                    crate::payments::start_attempt(&state.pool, &placed.code, delivery.method)
                        .await?;
                }
                crate::orders::notify::placed(&state, placed.order_group_id).await;
            }
            let mut response =
                Redirect::to(&format!("/orders/{}?placed=1", placed.code)).into_response();
            let count = Cart::count(&cart.lines(&state).await.unwrap_or_default());
            response
                .headers_mut()
                .append(header::SET_COOKIE, crate::cart::count_cookie(count));
            Ok(response)
        }
        Err(PlaceError::Changed(problems)) => {
            // show the cart as it is now: refresh those products and keep quantities within stock
            let ids: HashSet<i64> = seen.iter().map(|l| l.product_id).collect();
            state.catalog.refresh(&ids, &HashSet::new()).await.ok();
            let snapshot = state.catalog.snapshot();
            for line in &seen {
                if let Some(p) = snapshot.products.get(&line.product_id) {
                    let stock = p.stock.max(0) as u32;
                    if stock > 0 && stock < line.quantity {
                        cart.clamp(&state, line.product_id, stock).await?;
                    }
                }
            }
            // a new key: what is placed next is a different order
            let token = crate::crypto::random_token();
            session.is_new = false;
            render_checkout(
                &state,
                &session,
                &cart,
                &values,
                &Errors::new(),
                &problems,
                None,
                &token,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(PlaceError::Empty) => Ok(Redirect::to("/cart").into_response()),
        Err(PlaceError::Database(e)) => Err(e.into()),
    }
}

/// The voucher typed and the discount the page showed.
fn asked(values: &BTreeMap<String, String>) -> Result<super::Asked, Errors> {
    let voucher = match values.get("voucher").map(|v| v.trim()) {
        None | Some("") => None,
        Some(v) => Some(
            crate::promotions::VoucherCode::parse(v)
                .map_err(|m| Errors::from([("voucher", m.to_string())]))?,
        ),
    };
    let seen = values
        .get("seen_discount")
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|d| *d >= 0)
        .map(crate::domain::Vnd::new)
        .unwrap_or_default();
    Ok(super::Asked {
        voucher,
        seen,
        ..Default::default()
    })
}

/// The carrier offers the form names (`ship_<producer>`), each checked to be one shown for this
/// producer, this commune and this parcel, and still kept. Anything else is refused with a
/// sentence for the shopper: the page shows the fees as they are now.
async fn accepted_offers(
    state: &AppState,
    values: &BTreeMap<String, String>,
    delivery: &Delivery,
    seen: &[SeenLine],
) -> Result<BTreeMap<i64, crate::shipping::quotes::Offer>, String> {
    const STALE: &str = "Phí giao hàng vừa được tính lại (báo giá cũ đã hết hạn hoặc giỏ hàng đã đổi). Vui lòng xem phí mới rồi bấm Đặt hàng.";
    let snapshot = state.catalog.snapshot();
    // the parcels as the seen lines make them
    let lines: Vec<(i64, u32)> = seen.iter().map(|l| (l.product_id, l.quantity)).collect();
    let rule = ShippingRule::from_config(&state.config);
    let priced = price_cart(&snapshot, &lines, Some(delivery.province_code), rule);
    let legs = super::legs(
        &snapshot,
        &priced,
        delivery.province_code,
        delivery.commune_code,
    );
    let mut out = BTreeMap::new();
    for (key, id) in values {
        let Some(producer) = key
            .strip_prefix("ship_")
            .and_then(|p| p.parse::<i64>().ok())
        else {
            continue;
        };
        let offer = crate::shipping::quotes::accepted(state, id)
            .await
            .ok_or_else(|| STALE.to_string())?;
        let leg = legs.iter().find(|l| l.producer_id == producer);
        let fits = offer.producer_id == producer
            && offer.to_commune == delivery.commune_code
            && leg.is_some_and(|l| l.parcel.band_g() == offer.band_g);
        if !fits {
            return Err(STALE.to_string());
        }
        out.insert(producer, offer);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_seen_lines_are_read_strictly() {
        let lines = super::parse_seen("12:2:50000,7:1:120000").unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].product_id, lines[0].quantity, lines[0].price),
            (12, 2, crate::domain::Vnd::new(50_000))
        );
        for bad in [
            "12:0:5",
            "12:2",
            "12:2:-5",
            "12:2:5:9",
            "x:1:1",
            "12:1:5,12:1:5",
            "12:51:5",
        ] {
            assert!(super::parse_seen(bad).is_none(), "{bad}");
        }
    }
}
