//! Invoices and receipts as pages show them: for the producer, the buyer and staff.

use super::providers::ProviderId;
use crate::domain::Vnd;
use crate::error::AppError;
use crate::state::AppState;
use serde::Serialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// One invoice as the producer, the buyer and staff see it.
#[derive(Serialize, Clone)]
pub struct InvoiceView {
    pub invoice_id: i64,
    /// None: the marketplace's monthly invoice for `month`
    pub order_id: Option<i64>,
    pub month: Option<String>,
    pub kind: &'static str,
    pub state: String,
    pub state_label: &'static str,
    pub provider: &'static str,
    pub number: Option<String>,
    pub pattern: Option<String>,
    pub series: Option<String>,
    pub lookup_code: Option<String>,
    pub pdf_url: Option<String>,
    pub portal: Option<&'static str>,
    pub amount: Vnd,
    pub last_error: Option<String>,
    pub attempts: i32,
    pub issued_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "adjustment" => "Hoá đơn điều chỉnh giảm",
        "commission" => "Hoá đơn phí sàn (hoa hồng, phí thanh toán)",
        _ => "Hoá đơn bán hàng",
    }
}

fn state_label(state: &str, attempts: i32) -> &'static str {
    match state {
        "issued" => "Đã phát hành",
        "void" => "Không phát hành (đơn đã huỷ trước khi xuất)",
        "stuck" => "Chờ chủ thể sửa tài khoản hoá đơn",
        _ if attempts > 0 => "Đang chờ nhà cung cấp, sẽ thử lại",
        _ => "Đang xuất",
    }
}

/// Invoices of some orders (or of a producer), newest first.
pub async fn views(
    state: &AppState,
    orders: Option<&[i64]>,
    producer: Option<i64>,
) -> Result<Vec<InvoiceView>, AppError> {
    let rows = sqlx::query!(
        r#"select invoice_id, order_id, month, kind, state, provider as "provider: ProviderId", number, pattern, series,
                  lookup_code, pdf_url, amount, last_error, attempts, issued_at, created_at
           from invoice
           where ($1::bigint[] is null or order_id = any($1)) and ($2::bigint is null or producer_id = $2)
           order by invoice_id desc limit 200"#,
        orders as Option<&[i64]>,
        producer
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| InvoiceView {
            invoice_id: r.invoice_id,
            order_id: r.order_id,
            month: r
                .month
                .map(|m| format!("{:02}/{}", u8::from(m.month()), m.year())),
            kind: kind_label(&r.kind),
            state_label: state_label(&r.state, r.attempts),
            state: r.state,
            provider: r.provider.name(),
            number: r.number,
            pattern: r.pattern,
            series: r.series,
            lookup_code: r.lookup_code,
            pdf_url: r.pdf_url,
            portal: r.provider.lookup_portal(),
            amount: Vnd::new(r.amount),
            last_error: r.last_error,
            attempts: r.attempts,
            issued_at: r.issued_at,
            created_at: r.created_at,
        })
        .collect())
}

#[derive(Serialize)]
pub struct ReceiptLine {
    name: String,
    unit: String,
    quantity: i32,
    unit_price: Vnd,
    amount: Vnd,
}

#[derive(Serialize)]
pub struct ReceiptPart {
    order_id: i64,
    producer: String,
    producer_type: &'static str,
    address: String,
    tax_code: Option<String>,
    farming_exempt: bool,
    status: &'static str,
    lines: Vec<ReceiptLine>,
    goods_total: Vnd,
    shipping_fee: Vnd,
    /// what promotions took off its goods
    discount: Vnd,
    total: Vnd,
    invoices: Vec<InvoiceView>,
}

#[derive(Serialize)]
pub struct Company {
    name: String,
    tax_code: String,
    address: String,
    email: Option<String>,
}

#[derive(Serialize)]
pub struct Receipt {
    market_name: String,
    market_tax_code: Option<String>,
    market_address: String,
    code: String,
    created_at: OffsetDateTime,
    buyer_name: String,
    phone: String,
    email: Option<String>,
    address: String,
    company: Option<Company>,
    method: &'static str,
    paid: &'static str,
    parts: Vec<ReceiptPart>,
    goods_total: Vnd,
    shipping_total: Vnd,
    discount_total: Vnd,
    grand_total: Vnd,
    /// one producer's sales receipt (phiếu bán hàng) rather than the whole group's
    single: bool,
}

/// The receipt of an order group, or of one producer's part of it.
pub async fn receipt(
    state: &AppState,
    group_id: i64,
    only_order: Option<i64>,
) -> Result<Receipt, AppError> {
    let g = sqlx::query!(
        r#"select g.code, g.created_at, g.buyer_name, g.phone, g.email, g.street, g.payment_method,
                  g.buyer_company, g.buyer_tax_code, g.buyer_company_address, g.invoice_email,
                  g.goods_total, g.shipping_total, g.grand_total, g.discount_total, c.name as commune, pv.name as province
           from order_group g join commune c on c.commune_code = g.commune_code
           join province pv on pv.province_code = g.province_code
           where g.order_group_id = $1"#,
        group_id
    )
    .fetch_one(&state.pool)
    .await?;
    let parts = sqlx::query!(
        r#"select o.order_id, o.status, o.goods_total, o.shipping_fee, o.discount_total, p.name, p.producer_type, p.address,
                  p.tax_code, p.farming_exempt, c.name as commune, pv.name as province
           from shop_order o join producer p using (producer_id)
           join commune c on c.commune_code = p.commune_code join province pv on pv.province_code = p.province_code
           where o.order_group_id = $1 and ($2::bigint is null or o.order_id = $2)
           order by o.order_id"#,
        group_id,
        only_order
    )
    .fetch_all(&state.pool)
    .await?;
    let ids: Vec<i64> = parts.iter().map(|p| p.order_id).collect();
    let mut lines: BTreeMap<i64, Vec<ReceiptLine>> = BTreeMap::new();
    for l in sqlx::query!(
        "select order_id, name, unit, unit_price, quantity, line_total from order_line where order_id = any($1) order by name",
        &ids
    )
    .fetch_all(&state.pool)
    .await?
    {
        lines.entry(l.order_id).or_default().push(ReceiptLine {
            name: l.name,
            unit: l.unit,
            quantity: l.quantity,
            unit_price: Vnd::new(l.unit_price),
            amount: Vnd::new(l.line_total),
        });
    }
    let invoices = views(state, Some(&ids), None).await?;
    let method = crate::checkout::PaymentMethod::from_key(&g.payment_method);
    let all_cancelled = parts.iter().all(|p| p.status == "cancelled");
    let paid = match method {
        _ if all_cancelled => "Đơn đã huỷ",
        Some(crate::checkout::PaymentMethod::Cod) => "Thu tiền mặt khi giao hàng",
        _ if parts.iter().all(|p| p.status == "pending_payment") => "Chưa thanh toán",
        _ => "Đã thanh toán trực tuyến",
    };
    let parts: Vec<ReceiptPart> = parts
        .into_iter()
        .map(|p| ReceiptPart {
            order_id: p.order_id,
            producer_type: crate::domain::ProducerType::from_key(&p.producer_type)
                .map(crate::domain::ProducerType::label)
                .unwrap_or(""),
            producer: p.name,
            address: super::address_line(&[&p.address, &p.commune, &p.province]),
            tax_code: p.tax_code,
            farming_exempt: p.farming_exempt,
            status: crate::orders::Status::from_key(&p.status)
                .map(crate::orders::Status::label)
                .unwrap_or(""),
            lines: lines.remove(&p.order_id).unwrap_or_default(),
            goods_total: Vnd::new(p.goods_total),
            shipping_fee: Vnd::new(p.shipping_fee),
            discount: Vnd::new(p.discount_total),
            total: Vnd::new(p.goods_total + p.shipping_fee - p.discount_total),
            invoices: invoices
                .iter()
                .filter(|i| i.order_id == Some(p.order_id))
                .cloned()
                .collect(),
        })
        .collect();
    let single = only_order.is_some();
    let (goods_total, shipping_total, discount_total, grand_total) = if single {
        let p = &parts[0];
        (p.goods_total, p.shipping_fee, p.discount, p.total)
    } else {
        (
            Vnd::new(g.goods_total),
            Vnd::new(g.shipping_total),
            Vnd::new(g.discount_total),
            Vnd::new(g.grand_total),
        )
    };
    Ok(Receipt {
        market_name: state.config.market_legal_name.clone(),
        market_tax_code: state.config.market_tax_code.clone(),
        market_address: state.config.market_address.clone(),
        // the group's code is the shopper's; a producer's receipt never carries it
        code: if single { String::new() } else { g.code },
        created_at: g.created_at,
        buyer_name: g.buyer_name,
        phone: g.phone,
        email: g.email,
        address: format!("{}, {}, {}", g.street, g.commune, g.province),
        company: match (g.buyer_company, g.buyer_tax_code, g.buyer_company_address) {
            (Some(name), Some(tax_code), Some(address)) => Some(Company {
                name,
                tax_code,
                address,
                email: g.invoice_email,
            }),
            _ => None,
        },
        method: method.map(|m| m.label()).unwrap_or(""),
        paid,
        parts,
        goods_total,
        shipping_total,
        discount_total,
        grand_total,
        single,
    })
}
