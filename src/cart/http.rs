//! `/cart`: the cart page, and add / change / remove. Each answers JSON to the page script
//! (partial update, no reload) and a redirect to plain forms (works without JavaScript).

use super::{Budget, Cart, MAX_LINE, count_cookie};
use crate::auth::ClientIp;
use crate::checkout::{ShippingRule, price_cart};
use crate::error::AppError;
use crate::forms::SameSiteForm;
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cart", get(cart_page))
        .route("/cart/add", post(add))
        .route("/cart/update", post(update))
        .route("/cart/remove", post(remove))
}

#[derive(Deserialize, Default)]
struct CartQuery {
    /// the destination province, for exact shipping fees
    to: Option<i16>,
    msg: Option<String>,
}

fn message(key: Option<&str>) -> Option<String> {
    let key = key?;
    const KNOWN: [&str; 8] = [
        "added",
        "capped",
        "out",
        "unavailable",
        "updated",
        "removed",
        "bad_quantity_add",
        "bad_quantity_update",
    ];
    KNOWN
        .contains(&key)
        .then(|| crate::i18n::tr(&format!("cart-msg-{}", key.replace('_', "-"))))
}

/// Adds the cookies a cart answer carries: the cart's own when it is new, and the item count.
fn with_cookies(mut response: Response, cart: &Cart, count: u32) -> Response {
    if let Some(c) = &cart.new_cookie {
        response.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    response
        .headers_mut()
        .append(header::SET_COOKIE, count_cookie(count));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

async fn cart_page(
    State(state): State<AppState>,
    cart: Cart,
    Query(q): Query<CartQuery>,
) -> Result<Response, AppError> {
    let lines = cart.lines(&state).await?;
    let snapshot = state.catalog.snapshot();
    let to = q.to.filter(|p| snapshot.admin.province(*p).is_some());
    let priced = price_cart(
        &snapshot,
        &lines,
        to,
        ShippingRule::from_config(&state.config),
    );
    let provinces = snapshot
        .admin
        .provinces
        .iter()
        .map(|p| ProvinceChoice {
            code: p.code,
            name: &p.name,
            selected: Some(p.code) == to,
        })
        .collect();
    let page = CartPage {
        cart: &priced,
        provinces,
        to,
        message: message(q.msg.as_deref()),
        max_line: MAX_LINE,
    };
    Ok(with_cookies(
        render_page("cart/cart.html", &page),
        &cart,
        priced.count,
    ))
}

/// The cart page: each producer's part priced for the province it goes to.
#[derive(Serialize)]
struct CartPage<'a> {
    cart: &'a crate::checkout::PricedCart,
    /// where the parcel goes, for the shipping fee
    provinces: Vec<ProvinceChoice<'a>>,
    to: Option<i16>,
    message: Option<String>,
    max_line: u32,
}

#[derive(Serialize)]
struct ProvinceChoice<'a> {
    code: i16,
    name: &'a str,
    selected: bool,
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    qty: Option<String>,
}

/// Each client's cart writes count against CART_WRITES_PER_MINUTE.
fn budget<'a>(state: &AppState, ip: &'a str) -> Budget<'a> {
    Budget {
        client: ip,
        per_minute: state.config.cart_writes_per_minute,
    }
}

async fn add(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    cart: Cart,
    SameSiteForm(form): SameSiteForm<AddForm>,
) -> Result<Response, AppError> {
    let qty = form
        .qty
        .as_deref()
        .map(|q| q.trim().parse::<i64>())
        .unwrap_or(Ok(1))
        .ok()
        .filter(|q| (1..=MAX_LINE as i64).contains(q));
    let Some(qty) = qty else {
        return bad_quantity(
            &headers,
            "add",
            format!("Số lượng phải từ 1 đến {MAX_LINE}."),
        );
    };
    let snapshot = state.catalog.snapshot();
    let product = snapshot
        .product_by_slug(&form.slug)
        .map(|(p, _)| p.clone())
        .ok_or(AppError::NotFound)?;
    let (outcome, quantity, count) = if !snapshot.row_of.contains_key(&product.id) {
        ("unavailable", 0, None)
    } else if product.stock <= 0 {
        ("out", 0, None)
    } else {
        let cap = (product.stock as u32).min(MAX_LINE);
        let added = cart
            .add(&state, budget(&state, &ip), product.id, qty, cap)
            .await?;
        let outcome = if added.after < added.before + qty as u32 {
            "capped"
        } else {
            "added"
        };
        (outcome, added.after, Some(added.count))
    };
    respond(
        &state,
        &headers,
        &cart,
        outcome,
        count,
        json!({ "quantity": quantity }),
    )
    .await
}

/// A quantity that cannot be used: scripts get the message; a page comes back to the cart with
/// it, nothing changed (never a dead-end error page).
fn bad_quantity(headers: &HeaderMap, what: &str, message: String) -> Result<Response, AppError> {
    if wants_json(headers) {
        return Err(AppError::bad("bad_quantity", message));
    }
    Ok(Redirect::to(&format!("/cart?msg=bad_quantity_{what}")).into_response())
}

async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    cart: &Cart,
    outcome: &'static str,
    count: Option<u32>,
    extra: serde_json::Value,
) -> Result<Response, AppError> {
    let count = match count {
        Some(c) => c,
        None => Cart::count(&cart.lines(state).await?),
    };
    let status = match outcome {
        "out" | "unavailable" => StatusCode::CONFLICT,
        _ => StatusCode::OK,
    };
    let response = if wants_json(headers) {
        let mut body =
            json!({ "count": count, "outcome": outcome, "message": message(Some(outcome)) });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        (status, axum::Json(body)).into_response()
    } else {
        Redirect::to(&format!("/cart?msg={outcome}")).into_response()
    };
    Ok(with_cookies(response, cart, count))
}

#[derive(Deserialize)]
struct LineForm {
    product: i64,
    #[serde(default)]
    qty: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    cart: Cart,
    SameSiteForm(form): SameSiteForm<LineForm>,
) -> Result<Response, AppError> {
    let qty = form
        .qty
        .as_deref()
        .and_then(|q| q.trim().parse::<u32>().ok())
        .filter(|q| *q <= MAX_LINE);
    let Some(qty) = qty else {
        return bad_quantity(
            &headers,
            "update",
            format!("Số lượng phải từ 0 đến {MAX_LINE}."),
        );
    };
    let snapshot = state.catalog.snapshot();
    // only listed products enter a cart (a made-up id would be a line of nothing)
    let listed = snapshot.row_of.contains_key(&form.product);
    if qty > 0 && !listed {
        return respond(
            &state,
            &headers,
            &cart,
            "unavailable",
            None,
            json!({ "quantity": 0 }),
        )
        .await;
    }
    let stock = snapshot
        .products
        .get(&form.product)
        .map(|p| p.stock.max(0) as u32);
    // more than is in stock is kept at what there is; the cart page says so
    let qty = match stock {
        Some(s) if s > 0 => qty.min(s),
        _ => qty,
    };
    cart.set(&state, budget(&state, &ip), form.product, qty)
        .await?;
    let outcome = if qty == 0 { "removed" } else { "updated" };
    respond(
        &state,
        &headers,
        &cart,
        outcome,
        None,
        json!({ "quantity": qty }),
    )
    .await
}

async fn remove(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    cart: Cart,
    SameSiteForm(form): SameSiteForm<LineForm>,
) -> Result<Response, AppError> {
    cart.set(&state, budget(&state, &ip), form.product, 0)
        .await?;
    respond(
        &state,
        &headers,
        &cart,
        "removed",
        None,
        json!({ "quantity": 0 }),
    )
    .await
}
