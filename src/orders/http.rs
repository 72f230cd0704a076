//! Order pages: the shopper's (by code with the phone number, or in their account) and the
//! producer's queue in the portal (`/producer/orders`), where each producer sees only its own
//! part of an order group.

use super::{Actor, Details, Status, TransitionError, transition};
use crate::auth::{CurrentUser, ProducerMember, Session};
use crate::checkout::PaymentMethod;
use crate::domain::Vnd;
use crate::error::AppError;
use crate::forms::{CheckedForm, Id};
use crate::i18n::{tr, tr_with};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders/lookup", get(lookup_page).post(lookup))
        .route("/orders/{code}", get(order_page))
        .route("/orders/{code}/cancel", post(shopper_cancel))
        .route("/orders/{code}/receipt", get(receipt_page))
        .route("/orders/{code}/invoices/{id}", get(invoice_pdf))
        .route("/account/orders", get(my_orders))
        .route("/producer/orders", get(producer_orders))
        .route("/producer/orders/{id}", get(producer_order))
        .route("/producer/orders/{id}/action", post(producer_action))
        .route("/producer/orders/{id}/label", get(producer_label))
        .route("/producer/labels", get(producer_labels))
}

impl From<TransitionError> for AppError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::NotFound => AppError::NotFound,
            TransitionError::Database(e) => AppError::Database(e),
            other => AppError::bad(
                "invalid_transition",
                format!("{other} Chưa có gì thay đổi."),
            ),
        }
    }
}

struct Group {
    id: i64,
    code: String,
    user_id: Option<i64>,
    page: OrderPage,
}

/// The shopper's order page.
#[derive(Serialize)]
struct OrderPage {
    /// every part waits for an online payment (and none of the money is held for staff)
    waiting: bool,
    method_key: PaymentMethod,
    code: String,
    buyer_name: String,
    phone: String,
    address: String,
    note: String,
    method: String,
    /// how the payment stands, in words
    payment: String,
    goods_total: Vnd,
    shipping_total: Vnd,
    discount_total: Vnd,
    grand_total: Vnd,
    created_at: time::OffsetDateTime,
    orders: Vec<super::views::OrderView>,
    csrf: String,
    placed: bool,
    confirm_cancel: Option<i64>,
    held: Option<Held>,
    pay: Option<PayPanel>,
    /// the e-invoices of the group's parts
    invoices: Vec<crate::invoicing::views::InvoiceView>,
    company: Option<String>,
    /// each line's review, or the invitation to write one
    reviews: Vec<crate::reviews::LineReview>,
    /// what became of the review just sent: "saved", or a message key of locales/
    review_outcome: Option<(String, String)>,
}

/// Money that arrived but waits for staff (too little, say).
#[derive(Serialize)]
struct Held {
    arrived: Vnd,
    missing: Vnd,
    too_low: bool,
}

/// What a shopper needs to pay an order that waits for it.
#[derive(Serialize)]
struct PayPanel {
    qr: Option<Qr>,
    /// the other online methods, to switch to
    methods: Vec<MethodChoice>,
    sandbox: bool,
    amount: Vnd,
    method: PaymentMethod,
}

#[derive(Serialize)]
struct Qr {
    svg: String,
    payload: String,
    bank: crate::payments::BankAccount,
    brand: Option<&'static str>,
}

#[derive(Serialize)]
struct MethodChoice {
    key: &'static str,
    label: String,
}

async fn load_group(state: &AppState, code: &str) -> Result<Option<Group>, AppError> {
    let Some(g) = sqlx::query!(
        r#"select g.order_group_id, g.code, g.user_id, g.buyer_name, g.phone, g.street, g.note,
                  g.payment_method as "payment_method: PaymentMethod",
                  g.goods_total as "goods_total: Vnd", g.shipping_total as "shipping_total: Vnd",
                  g.grand_total as "grand_total: Vnd", g.pay_before, g.created_at,
                  g.discount_total as "discount_total: Vnd",
                  c.name as commune_name, pv.name as province_name, g.buyer_company, g.buyer_tax_code
           from order_group g join commune c on c.commune_code = g.commune_code
           join province pv on pv.province_code = g.province_code
           where g.code = $1"#,
        code
    )
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(None);
    };
    let orders = super::views::order_views(state, g.order_group_id, None).await?;
    let method = g.payment_method;
    let waiting = !orders.is_empty() && orders.iter().all(|o| o.status == Status::PendingPayment);
    let payment = match (method, waiting) {
        (PaymentMethod::Cod, _) => tr("payment-cod"),
        (_, true) => match g.pay_before {
            Some(t) => tr_with(
                "payment-waiting-until",
                &[("until", crate::render::format_vn_time(t).into())],
            ),
            None => tr("payment-waiting"),
        },
        _ if orders.iter().all(|o| o.status == Status::Cancelled) => tr("payment-cancelled"),
        _ => tr("payment-paid"),
    };
    let page = OrderPage {
        waiting,
        method_key: method,
        code: g.code.clone(),
        buyer_name: g.buyer_name,
        phone: g.phone,
        address: format!("{}, {}, {}", g.street, g.commune_name, g.province_name),
        note: g.note,
        method: crate::i18n::label("method", method.key(), method.label()),
        payment,
        goods_total: g.goods_total,
        shipping_total: g.shipping_total,
        discount_total: g.discount_total,
        grand_total: g.grand_total,
        created_at: g.created_at,
        orders,
        csrf: String::new(),
        placed: false,
        confirm_cancel: None,
        held: None,
        pay: None,
        invoices: vec![],
        reviews: vec![],
        review_outcome: None,
        company: g
            .buyer_company
            .map(|c| format!("{c} · MST {}", g.buyer_tax_code.unwrap_or_default())),
    };
    Ok(Some(Group {
        id: g.order_group_id,
        code: g.code,
        user_id: g.user_id,
        page,
    }))
}

/// Whether this visitor is the shopper of the order group (see `super::is_shopper`).
async fn is_shopper(state: &AppState, session: &Session, group: &Group) -> Result<bool, AppError> {
    Ok(super::is_shopper(&state.pool, session, group.id, group.user_id, &group.code).await?)
}

#[derive(Deserialize, Default)]
struct PageQuery {
    placed: Option<String>,
    status: Option<String>,
    /// the part the shopper asked to cancel: the page asks them to confirm it
    cancel: Option<i64>,
    /// after a review was sent: what became of it, and which line ("order-product")
    review: Option<String>,
    line: Option<String>,
}

async fn order_page(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let group = load_group(&state, &code).await?.ok_or(AppError::NotFound)?;
    if !is_shopper(&state, &session, &group).await? {
        return Ok(Redirect::to("/orders/lookup").into_response());
    }
    let mut page = group.page;
    let ids: Vec<i64> = page.orders.iter().map(|o| o.order_id).collect();
    page.invoices = crate::invoicing::views::views(&state, Some(&ids), None).await?;
    page.csrf = session.data.csrf.clone();
    page.placed = q.placed.is_some();
    page.confirm_cancel = q.cancel;
    page.reviews = crate::reviews::for_group(&state.pool, group.id).await?;
    // only known outcomes are echoed: the key picks a message, it is never shown as typed
    page.review_outcome = match (q.review, q.line) {
        (Some(key), Some(line))
            if key == "saved"
                || (key.starts_with("review-error-") && crate::i18n::current().has(&key)) =>
        {
            Some((key, line))
        }
        _ => None,
    };
    // money that arrived but could not be applied (too little, say) waits for staff: the shopper
    // sees what arrived and what is missing, and is not invited to pay the whole again
    let held = sqlx::query!(
        r#"select coalesce(sum(amount), 0)::bigint as "arrived!: Vnd", count(*) as "events!",
                  coalesce(bool_or(review_reason = 'amount_too_low'), false) as "too_low!"
           from payment_event
           where order_group_id = $1 and outcome = 'review' and resolved_at is null and amount > 0"#,
        group.id
    )
    .fetch_one(&state.pool)
    .await?;
    if held.events > 0 && page.waiting {
        page.held = Some(Held {
            arrived: held.arrived,
            missing: page.grand_total.saturating_sub(held.arrived),
            too_low: held.too_low,
        });
        page.waiting = false;
    }
    if page.waiting {
        page.pay = Some(payment_panel(
            &state,
            &group.code,
            page.grand_total,
            page.method_key,
        )?);
    }
    Ok(render_page("orders/order.html", &page))
}

/// The printable receipt of the whole group, for the shopper.
async fn receipt_page(
    State(state): State<AppState>,
    session: Session,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let group = load_group(&state, &code).await?.ok_or(AppError::NotFound)?;
    if !is_shopper(&state, &session, &group).await? {
        return Ok(Redirect::to("/orders/lookup").into_response());
    }
    let r = crate::invoicing::views::receipt(&state, group.id, None).await?;
    Ok(render_page("invoices/receipt.html", &r).into_response())
}

/// One invoice of the group's parts, as its provider's PDF, for the shopper.
async fn invoice_pdf(
    State(state): State<AppState>,
    session: Session,
    Path((code, id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    let group = load_group(&state, &code).await?.ok_or(AppError::NotFound)?;
    if !is_shopper(&state, &session, &group).await? {
        return Ok(Redirect::to("/orders/lookup").into_response());
    }
    crate::invoicing::pdf(
        &state,
        id,
        crate::invoicing::Whose::Shopper { group: group.id },
    )
    .await
}

/// What a shopper needs to pay an order that waits for it: the VietQR with the account, amount
/// and memo in words for people who type, and the other online methods.
fn payment_panel(
    state: &AppState,
    code: &str,
    amount: Vnd,
    method: PaymentMethod,
) -> Result<PayPanel, AppError> {
    let p = &state.payments;
    let qr = match &p.bank {
        Some(bank) if method == PaymentMethod::Vietqr => {
            let payload = crate::payments::gateways::bank::vietqr_payload(
                &bank.bin,
                &bank.number,
                amount,
                code,
            );
            let svg =
                qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
                    .map_err(|e| AppError::Internal(format!("qr: {e}")))?
                    .render::<qrcode::render::svg::Color>()
                    .min_dimensions(240, 240)
                    .quiet_zone(true)
                    .build();
            Some(Qr {
                svg,
                payload,
                bank: bank.clone(),
                brand: crate::payments::bank_brand(&bank.bin),
            })
        }
        _ => None,
    };
    let methods = p
        .enabled()
        .into_iter()
        .filter(|m| m.online() && *m != method)
        .chain(Some(method).filter(|m| m.online() && *m != PaymentMethod::Vietqr))
        .map(|m| MethodChoice {
            key: m.key(),
            label: crate::i18n::label("method", m.key(), m.label()),
        })
        .collect();
    Ok(PayPanel {
        qr,
        methods,
        sandbox: p.sandbox,
        amount,
        method,
    })
}

async fn lookup_page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, AppError> {
    let page = LookupPage {
        csrf: &session.data.csrf,
        values: &LookupForm::default(),
        errors: BTreeMap::new(),
        problem: None,
    };
    let mut response = render_page("orders/lookup.html", &page);
    if session.is_new {
        response
            .headers_mut()
            .insert(axum::http::header::SET_COOKIE, session.cookie(&state));
    }
    Ok(response)
}

/// Finding an order by its code and the recipient's phone.
#[derive(Serialize)]
struct LookupPage<'a> {
    csrf: &'a str,
    values: &'a LookupForm,
    errors: BTreeMap<&'static str, String>,
    /// a well-formed pair that matches nothing, said about the pair
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

#[derive(Deserialize, Serialize, Default)]
struct LookupForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    phone: String,
}

async fn lookup(
    State(state): State<AppState>,
    crate::auth::ClientIp(ip): crate::auth::ClientIp,
    CheckedForm { form, mut session }: CheckedForm<LookupForm>,
) -> Result<Response, AppError> {
    if let Some(wait) =
        crate::auth::session::rate_limit(&state, &format!("lookup:ip:{ip}"), 30, 15 * 60).await?
    {
        return Err(AppError::TooManyAttempts {
            retry_after_secs: wait,
        });
    }
    let code = form.code.trim().to_uppercase().replace(' ', "");
    let phone = crate::auth::identity::parse_phone(&form.phone).unwrap_or_default();
    // each field's own mistake beside it; a well-formed pair that matches nothing is said once,
    // about the pair, without telling which half was wrong
    let mut errors = BTreeMap::new();
    if !(code.len() == 12
        && code.starts_with("OCOP")
        && code.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        errors.insert("code", tr("lookup-error-code"));
    }
    if phone.is_empty() {
        errors.insert("phone", tr("lookup-error-phone"));
    }
    if !errors.is_empty() {
        let page = LookupPage {
            csrf: &session.data.csrf,
            values: &form,
            errors,
            problem: None,
        };
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_page("orders/lookup.html", &page),
        )
            .into_response());
    }
    let mut group = load_group(&state, &code)
        .await?
        .filter(|g| !phone.is_empty() && g.page.phone == phone);
    // a producer or staff member who learnt code and phone from their side is not the shopper
    if let (Some(g), Some(uid)) = (&group, session.data.user_id) {
        if g.user_id != Some(uid) && super::insider(&state.pool, uid, g.id).await? {
            group = None;
        }
    }
    let Some(group) = group else {
        let page = LookupPage {
            csrf: &session.data.csrf,
            values: &form,
            errors: BTreeMap::new(),
            problem: Some(tr("lookup-not-found")),
        };
        return Ok((
            StatusCode::NOT_FOUND,
            render_page("orders/lookup.html", &page),
        )
            .into_response());
    };
    if session.data.remember_order(&group.code) {
        session.save(&state).await?;
    }
    Ok(Redirect::to(&format!("/orders/{}", group.code)).into_response())
}

#[derive(Deserialize)]
struct CancelForm {
    order_id: i64,
    #[serde(default)]
    reason: String,
    /// "yes" from the confirmation step; anything else only asks
    #[serde(default)]
    confirmed: String,
}

async fn shopper_cancel(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CheckedForm { form, session }: CheckedForm<CancelForm>,
) -> Result<Response, AppError> {
    let group = load_group(&state, &code).await?.ok_or(AppError::NotFound)?;
    if !is_shopper(&state, &session, &group).await? {
        return Err(AppError::NotFound);
    }
    let belongs = sqlx::query_scalar!(
        "select exists(select 1 from shop_order where order_id = $1 and order_group_id = $2) as \"e!\"",
        form.order_id,
        group.id
    )
    .fetch_one(&state.pool)
    .await?;
    if !belongs {
        return Err(AppError::NotFound);
    }
    // cancelling cannot be undone: without the confirmation step, only ask
    if form.confirmed != "yes" {
        return Ok(Redirect::to(&format!(
            "/orders/{code}?cancel={}#cancel-{}",
            form.order_id, form.order_id
        ))
        .into_response());
    }
    // a carrier booked for it is called off first (or the cancellation stops here)
    if let Err(message) = crate::shipping::shipments::withdraw(&state, form.order_id).await? {
        return Err(AppError::bad("carrier_has_it", message));
    }
    let mut tx = state.pool.begin().await?;
    let reason = Some(form.reason.trim().to_string()).filter(|r| !r.is_empty());
    transition(
        &mut tx,
        form.order_id,
        Status::Cancelled,
        Actor::Shopper,
        &Details {
            reason,
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    refresh_products_of(&state, form.order_id).await;
    super::notify::change(&state, form.order_id, Status::Cancelled).await;
    Ok(Redirect::to(&format!("/orders/{code}")).into_response())
}

async fn my_orders(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    let groups: Vec<MyOrder> = sqlx::query!(
        r#"select g.code, g.created_at, g.grand_total as "grand_total: Vnd",
                  (select string_agg(distinct o.status, ',') from shop_order o where o.order_group_id = g.order_group_id) as statuses
           from order_group g where g.user_id = $1 order by g.created_at desc limit 100"#,
        user.user_id
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|g| {
        let labels: Vec<&str> = g
            .statuses
            .unwrap_or_default()
            .split(',')
            .filter_map(Status::from_key)
            .map(Status::label)
            .collect();
        MyOrder {
            code: g.code,
            created_at: g.created_at,
            grand_total: g.grand_total,
            status: labels.join(" · "),
        }
    })
    .collect();
    Ok(render_page("orders/mine.html", &MyOrders { groups, user }))
}

/// The shopper's orders in their account.
#[derive(Serialize)]
struct MyOrders {
    groups: Vec<MyOrder>,
    user: CurrentUser,
}

#[derive(Serialize)]
struct MyOrder {
    code: String,
    created_at: time::OffsetDateTime,
    grand_total: Vnd,
    /// the states of its parts, in words
    status: String,
}

// ---------- the producer's queue ----------

async fn producer_orders(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let status = q.status.as_deref().and_then(Status::from_key);
    let orders: Vec<QueueRow> = sqlx::query!(
        r#"select o.order_id, o.status as "status: Status", o.goods_total as "goods_total: Vnd",
                  o.shipping_fee as "shipping_fee: Vnd", o.created_at, g.code, g.buyer_name,
                  pv.name as province_name,
                  (select count(*) from order_line l where l.order_id = o.order_id) as "lines!"
           from shop_order o join order_group g using (order_group_id)
           join province pv on pv.province_code = g.province_code
           where o.producer_id = $1 and ($2::text is null or o.status = $2)
           order by o.created_at desc limit 200"#,
        member.producer_id,
        status.map(Status::key)
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|o| QueueRow {
        order_id: o.order_id,
        buyer_name: o.buyer_name,
        province: o.province_name,
        status_label: o.status.label(),
        status: o.status,
        goods_total: o.goods_total,
        shipping_fee: o.shipping_fee,
        created_at: o.created_at,
        lines: o.lines,
    })
    .collect();
    let filters = crate::orders::views::status_filters(status);
    let to_print = sqlx::query_scalar!(
        r#"select count(*) as "n!" from shipment s join shop_order o using (order_id)
           where o.producer_id = $1 and s.state = 'active' and s.track = 'created'"#,
        member.producer_id
    )
    .fetch_one(&state.pool)
    .await?;
    let page = QueuePage {
        to_print,
        member,
        orders,
        filters,
        csrf: session.data.csrf,
        any: status.is_none(),
    };
    Ok(render_page("producer/orders.html", &page))
}

/// The producer's order queue.
#[derive(Serialize)]
struct QueuePage {
    member: ProducerMember,
    orders: Vec<QueueRow>,
    filters: Vec<crate::orders::views::StatusFilter>,
    csrf: String,
    /// no state filter is chosen
    any: bool,
    /// parcels booked and waiting for their pickup (their labels print together)
    to_print: i64,
}

#[derive(Serialize)]
struct QueueRow {
    order_id: i64,
    buyer_name: String,
    province: String,
    status: Status,
    status_label: &'static str,
    goods_total: Vnd,
    shipping_fee: Vnd,
    created_at: time::OffsetDateTime,
    lines: i64,
}

async fn producer_order(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Id(id): Id,
) -> Result<Response, AppError> {
    producer_order_page(&state, &member, &session, id, None).await
}

/// One order part on the producer's page; the group's code is the shopper's, so a producer
/// sees its own part by its own number.
#[derive(Serialize)]
struct ProducerOrderPage<'a> {
    member: &'a ProducerMember,
    csrf: &'a str,
    order: super::views::OrderView,
    buyer_name: String,
    phone: String,
    note: String,
    created_at: time::OffsetDateTime,
    address: String,
    method: &'static str,
    can_confirm: bool,
    can_ship: bool,
    can_deliver: bool,
    can_cancel: bool,
    /// the parcel came back and the carrier has not said so (or it was sent by hand)
    can_mark_returned: bool,
    /// the carrier's shipment, with what it said
    shipment: Option<crate::shipping::shipments::View>,
    /// the carriers this producer's province offers, the shopper's pick first
    carriers: Vec<CarrierChoice>,
    mistake: Option<MistakeView<'a>>,
    /// the company a business buyer wants the invoice made out to
    company: Option<String>,
    invoices: Vec<crate::invoicing::views::InvoiceView>,
}

#[derive(Serialize)]
struct CarrierChoice {
    key: &'static str,
    name: &'static str,
    /// the shopper picked it (and paid its quote)
    chosen: bool,
    /// it knows the producer's own commune (from its master data); otherwise it cannot pick up
    placed: bool,
}

/// What was typed in the form that came back, and what is wrong with it.
#[derive(Serialize)]
struct MistakeView<'a> {
    action: &'a str,
    message: &'a str,
    carrier: &'a str,
    tracking_number: &'a str,
    reason: &'a str,
}

/// A form of the order page that came back: which one, what was typed, and what is wrong.
struct Mistake<'a> {
    action: &'a str,
    form: &'a ActionForm,
    message: &'a str,
}

async fn producer_order_page(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    id: i64,
    mistake: Option<Mistake<'_>>,
) -> Result<Response, AppError> {
    let o = sqlx::query!(
        r#"select o.order_group_id, g.code, g.buyer_name, g.phone, g.street, g.note,
                  g.payment_method as "payment_method: PaymentMethod", g.created_at,
                  c.name as commune_name, pv.name as province_name,
                  o.ship_carrier as "ship_carrier: crate::shipping::CarrierId",
                  g.buyer_company, g.buyer_tax_code, g.buyer_company_address, g.invoice_email
           from shop_order o join order_group g using (order_group_id)
           join commune c on c.commune_code = g.commune_code join province pv on pv.province_code = g.province_code
           where o.order_id = $1 and o.producer_id = $2"#,
        id,
        member.producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    // only this producer's part of the group
    let order = super::views::order_views(state, o.order_group_id, Some(member.producer_id))
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)?;
    let status = order.status;
    let shipment = crate::shipping::shipments::for_order(&state.pool, id).await?;
    let carriers =
        if status == Status::Confirmed && shipment.as_ref().is_none_or(|s| s.state == "failed") {
            let chosen = o.ship_carrier;
            // the carriers whose master data has the producer's own commune (the sandbox has all)
            let placed: Vec<String> = sqlx::query_scalar!(
                "select cp.carrier from carrier_place cp join producer p using (commune_code)
             where p.producer_id = $1",
                member.producer_id
            )
            .fetch_all(&state.pool)
            .await?;
            let mut list: Vec<CarrierChoice> =
                crate::shipping::quotes::enabled(state, member.province_code)
                    .await?
                    .into_iter()
                    .map(|c| CarrierChoice {
                        key: c.key(),
                        name: c.name(),
                        chosen: Some(c) == chosen,
                        placed: c == crate::shipping::CarrierId::Sandbox
                            || placed.iter().any(|k| k == c.key()),
                    })
                    .collect();
            list.sort_by_key(|c| (!c.placed, !c.chosen));
            list
        } else {
            vec![]
        };
    let shipment_active = shipment
        .as_ref()
        .is_some_and(|s| s.state == "active" || s.state == "done");
    // the group's code is the shopper's: a producer sees its own part by its own number
    let page = ProducerOrderPage {
        can_mark_returned: status.allows(Status::Returned, Actor::Producer),
        shipment,
        carriers,
        member,
        csrf: &session.data.csrf,
        buyer_name: o.buyer_name,
        phone: o.phone,
        note: o.note,
        created_at: o.created_at,
        address: format!("{}, {}, {}", o.street, o.commune_name, o.province_name),
        method: o.payment_method.label(),
        can_confirm: status.allows(Status::Confirmed, Actor::Producer),
        // sent by hand, unless a carrier has the parcel
        can_ship: status.allows(Status::Shipped, Actor::Producer) && !shipment_active,
        can_deliver: status.allows(Status::Delivered, Actor::Producer),
        can_cancel: status.allows(Status::Cancelled, Actor::Producer),
        company: match (o.buyer_company, o.buyer_tax_code, o.buyer_company_address) {
            (Some(n), Some(t), Some(a)) => Some(format!(
                "{n} · MST {t} · {a}{}",
                o.invoice_email
                    .map(|e| format!(" · gửi hoá đơn tới {e}"))
                    .unwrap_or_default()
            )),
            _ => None,
        },
        invoices: crate::invoicing::views::views(state, Some(&[id]), Some(member.producer_id))
            .await?,
        order,
        mistake: mistake.map(|m| MistakeView {
            action: m.action,
            message: m.message,
            carrier: m.form.carrier.as_deref().unwrap_or("").trim(),
            tracking_number: m.form.tracking_number.as_deref().unwrap_or("").trim(),
            reason: m.form.reason.as_deref().unwrap_or(""),
        }),
    };
    let status = if page.mistake.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, render_page("producer/order.html", &page)).into_response())
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    action: String,
    carrier: Option<String>,
    tracking_number: Option<String>,
    reason: Option<String>,
}

async fn producer_action(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { form, session }: CheckedForm<ActionForm>,
) -> Result<Response, AppError> {
    if form.action == "book" {
        return book(&state, &member, &session, id, &form).await;
    }
    let to = match form.action.as_str() {
        "confirm" => Status::Confirmed,
        "ship" => Status::Shipped,
        "deliver" => Status::Delivered,
        "returned" => Status::Returned,
        "cancel" => Status::Cancelled,
        _ => return Err(AppError::bad("bad_action", "Thao tác không hợp lệ.")),
    };
    let mine = sqlx::query_scalar!(
        "select exists(select 1 from shop_order where order_id = $1 and producer_id = $2) as \"e!\"",
        id,
        member.producer_id
    )
    .fetch_one(&state.pool)
    .await?;
    if !mine {
        return Err(AppError::NotFound);
    }
    if to == Status::Cancelled
        && status_allows(&state, id, to).await?
        && form.reason.as_deref().is_some_and(|r| r.trim().len() >= 3)
    {
        // a carrier booked for it is called off first (or the cancellation stops here)
        if let Err(message) = crate::shipping::shipments::withdraw(&state, id).await? {
            let mistake = Mistake {
                action: &form.action,
                form: &form,
                message: &message,
            };
            return producer_order_page(&state, &member, &session, id, Some(mistake)).await;
        }
    }
    let action = format!("order.{}", form.action);
    let mut tx = crate::audit::begin(
        &state.pool,
        member.user.user_id,
        &action,
        form.reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty()),
    )
    .await?;
    let details = Details {
        reason: form.reason.clone(),
        carrier: form.carrier.clone(),
        tracking_number: form.tracking_number.clone(),
    };
    match transition(&mut tx, id, to, Actor::Producer, &details).await {
        Ok(_) => {}
        // a mistake in the form: the same page, the message beside that form, what was typed kept
        Err(crate::orders::TransitionError::Invalid(message)) => {
            drop(tx);
            let mistake = Mistake {
                action: &form.action,
                form: &form,
                message,
            };
            return producer_order_page(&state, &member, &session, id, Some(mistake)).await;
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    if matches!(to, Status::Cancelled | Status::Returned) {
        refresh_products_of(&state, id).await;
    }
    super::notify::change(&state, id, to).await;
    if to == Status::Confirmed {
        // confirming books the carrier the shopper picked, if the province still offers it; a
        // refusal is shown beside the booking form, the order confirmed all the same
        let picked = sqlx::query_scalar!(
            r#"select ship_carrier as "c: crate::shipping::CarrierId" from shop_order where order_id = $1"#,
            id
        )
        .fetch_one(&state.pool)
        .await?;
        let offered = crate::shipping::quotes::enabled(&state, member.province_code).await?;
        if let Some(carrier) = picked.filter(|c| offered.contains(c)) {
            let booking = ActionForm {
                action: "book".into(),
                carrier: Some(carrier.key().into()),
                tracking_number: None,
                reason: None,
            };
            return book(&state, &member, &session, id, &booking).await;
        }
    }
    Ok(Redirect::to(&format!("/producer/orders/{id}")).into_response())
}

/// Books the carrier the producer chose for a confirmed order. A refusal or a carrier that does
/// not answer comes back beside the form, with nothing made twice on a retry.
async fn book(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    id: i64,
    form: &ActionForm,
) -> Result<Response, AppError> {
    use crate::shipping::shipments::{Made, create};
    let carrier = form
        .carrier
        .as_deref()
        .and_then(crate::shipping::CarrierId::from_key);
    let offered = crate::shipping::quotes::enabled(state, member.province_code).await?;
    let Some(carrier) = carrier.filter(|c| offered.contains(c)) else {
        let mistake = Mistake {
            action: "book",
            form,
            message: "Vui lòng chọn một đơn vị vận chuyển trong danh sách.",
        };
        return producer_order_page(state, member, session, id, Some(mistake)).await;
    };
    let made = create(
        state,
        member.producer_id,
        id,
        carrier,
        Some(member.user.user_id),
    )
    .await?;
    match made {
        Made::Active { .. } | Made::InProgress => {
            Ok(Redirect::to(&format!("/producer/orders/{id}")).into_response())
        }
        Made::Failed { message, retryable } => {
            let message = if retryable {
                format!(
                    "Chưa tạo được vận đơn: {message}. Bạn có thể thử lại; vận đơn sẽ không bị tạo hai lần."
                )
            } else {
                format!("Chưa tạo được vận đơn: {message}")
            };
            let mistake = Mistake {
                action: "book",
                form,
                message: &message,
            };
            producer_order_page(state, member, session, id, Some(mistake)).await
        }
    }
}

/// The shipping label: the carrier's print page, or its PDF.
async fn producer_label(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
) -> Result<Response, AppError> {
    let s = sqlx::query!(
        r#"select s.carrier as "carrier: crate::shipping::CarrierId", s.tracking as "tracking!"
           from shipment s join shop_order o using (order_id)
           where s.order_id = $1 and o.producer_id = $2 and s.state in ('active', 'done')"#,
        id,
        member.producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    match crate::shipping::shipments::labels(&state, s.carrier, &[s.tracking]).await {
        Ok(mut labels) => match labels.pop() {
            Some(crate::shipping::carriers::Label::Url(url)) => {
                Ok(Redirect::to(&url).into_response())
            }
            Some(crate::shipping::carriers::Label::Pdf(pdf)) => Ok((
                [
                    (
                        axum::http::header::CONTENT_TYPE,
                        "application/pdf".to_string(),
                    ),
                    (
                        axum::http::header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"nhan-don-{id}.pdf\""),
                    ),
                ],
                pdf,
            )
                .into_response()),
            None => Err(AppError::NotFound),
        },
        Err(e) => Err(AppError::Unavailable(format!(
            "Chưa lấy được nhãn: {e}. Vui lòng thử lại."
        ))),
    }
}

/// Every label waiting for its pickup, printed together: one print page per carrier (GHTK's one
/// PDF per parcel), straight to it when there is one.
async fn producer_labels(
    State(state): State<AppState>,
    member: ProducerMember,
) -> Result<Response, AppError> {
    let rows = sqlx::query!(
        r#"select s.carrier as "carrier: crate::shipping::CarrierId", s.tracking as "tracking!", s.order_id
           from shipment s join shop_order o using (order_id)
           where o.producer_id = $1 and s.state = 'active' and s.track = 'created'
           order by s.carrier, s.order_id"#,
        member.producer_id
    )
    .fetch_all(&state.pool)
    .await?;
    let mut by_carrier: BTreeMap<crate::shipping::CarrierId, Vec<(String, i64)>> = BTreeMap::new();
    for r in rows {
        by_carrier
            .entry(r.carrier)
            .or_default()
            .push((r.tracking, r.order_id));
    }
    let mut links = vec![];
    for (carrier, parcels) in by_carrier {
        let trackings: Vec<String> = parcels.iter().map(|p| p.0.clone()).collect();
        match crate::shipping::shipments::labels(&state, carrier, &trackings).await {
            Ok(labels) => {
                for (i, label) in labels.into_iter().enumerate() {
                    let href = match label {
                        crate::shipping::carriers::Label::Url(url) => url,
                        // a PDF is served from the order's own label link
                        crate::shipping::carriers::Label::Pdf(_) => {
                            format!("/producer/orders/{}/label", parcels[i].1)
                        }
                    };
                    links.push(serde_json::json!({"carrier": carrier.name(), "href": href, "count": if carrier == crate::shipping::CarrierId::Ghtk { 1 } else { parcels.len() }}));
                }
            }
            Err(e) => {
                links.push(serde_json::json!({"carrier": carrier.name(), "error": e.to_string()}))
            }
        }
    }
    if links.len() == 1 && links[0].get("href").is_some() {
        let href = links[0]["href"]
            .as_str()
            .unwrap_or("/producer/orders")
            .to_string();
        return Ok(Redirect::to(&href).into_response());
    }
    Ok(render_page(
        "producer/labels.html",
        &serde_json::json!({"member": member, "links": links}),
    )
    .into_response())
}

/// Whether the order's state lets a producer move it to `to` (checked again, locked, when it moves).
async fn status_allows(state: &AppState, id: i64, to: Status) -> Result<bool, AppError> {
    let now = sqlx::query_scalar!(
        r#"select status as "s: Status" from shop_order where order_id = $1"#,
        id
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(now.allows(to, Actor::Producer))
}

/// This instance shows returned stock at once; the others follow the change notification.
async fn refresh_products_of(state: &AppState, order_id: i64) {
    if let Ok(ids) = sqlx::query_scalar!(
        "select product_id from order_line where order_id = $1",
        order_id
    )
    .fetch_all(&state.pool)
    .await
    {
        let ids = ids.into_iter().collect();
        state.catalog.refresh(&ids, &Default::default()).await.ok();
    }
}
