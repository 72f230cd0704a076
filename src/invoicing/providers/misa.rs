//! MISA meInvoice, from its integration API: `POST /auth/token {appid, taxcode, username,
//! password}` gives a token (`Data`); `POST /invoice {SignType, InvoiceData: [...]}` issues each
//! invoice under our `RefID`; `POST /invoice/status` finds invoices by RefID. Answers are
//! `{Success, ErrorCode, Errors, Data}`, with `Data` a JSON text holding one result per RefID.

use super::{Account, Ctx, Doc, InvoiceError, Issued, send, split_vat};
use serde_json::{Value, json};

fn date(d: time::Date) -> String {
    format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub fn invoice_request(a: &Account, doc: &Doc) -> Value {
    let rate = a.vat_rate;
    let rate_name = match rate {
        Some(r) => format!("{r}%"),
        None => "KCT".to_string(),
    };
    let details: Vec<Value> = doc
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (before, tax) = split_vat(l.amount, rate);
            let (price_before, _) = split_vat(l.unit_price, rate);
            json!({
                "ItemType": 1,
                "SortOrder": i + 1,
                "LineNumber": i + 1,
                "ItemName": l.name,
                "UnitName": l.unit,
                "Quantity": l.quantity,
                "UnitPrice": price_before.amount(),
                "AmountOC": before.amount(),
                "Amount": before.amount(),
                "AmountWithoutVATOC": before.amount(),
                "VATRateName": rate_name,
                "VATAmountOC": tax.amount(),
                "VATAmount": tax.amount(),
            })
        })
        .collect();
    let total = doc.total();
    let (before, tax) = split_vat(total, rate);
    let b = &doc.buyer;
    let mut inv = json!({
        "RefID": doc.key,
        "InvSeries": a.series,
        "InvoiceName": if rate.is_some() { "Hóa đơn giá trị gia tăng" } else { "Hóa đơn bán hàng" },
        "InvDate": date(doc.issued_on),
        "CurrencyCode": "VND",
        "ExchangeRate": 1,
        "PaymentMethodName": "TM/CK",
        "IsSendEmail": b.email.is_some(),
        "ReceiverEmail": b.email.clone().unwrap_or_default(),
        "BuyerLegalName": b.company.clone().unwrap_or_default(),
        "BuyerTaxCode": b.tax_code.clone().unwrap_or_default(),
        "BuyerAddress": b.address,
        "BuyerFullName": b.name,
        "BuyerPhoneNumber": b.phone,
        "BuyerEmail": b.email.clone().unwrap_or_default(),
        "TotalSaleAmountOC": before.amount(),
        "TotalAmountWithoutVATOC": before.amount(),
        "TotalVATAmountOC": tax.amount(),
        "TotalDiscountAmountOC": 0,
        "TotalAmountOC": total.amount(),
        "TotalAmount": total.amount(),
        "TotalAmountInWords": total.in_words(),
        "OriginalInvoiceDetail": details,
        "TaxRateInfo": [{"VATRateName": rate_name, "AmountWithoutVATOC": before.amount(), "VATAmountOC": tax.amount()}],
    });
    if let Some(o) = &doc.adjusts {
        // ReferenceType 2: an invoice adjusting the original, here down by every line
        inv["ReferenceType"] = json!(2);
        inv["IsInvoiceSummary"] = json!(false);
        inv["OrgInvoiceType"] = json!(1);
        inv["OrgInvTemplateNo"] = json!(o.pattern);
        inv["OrgInvSeries"] = json!(o.series);
        inv["OrgInvNo"] = json!(o.number);
        inv["OrgInvDate"] = json!(date(o.issued_on));
        inv["InvoiceNote"] = json!("Điều chỉnh giảm: huỷ/hoàn đơn hàng trên sàn OCOP");
        inv["TypeChangeInvoice"] = json!(2);
    }
    json!({"SignType": 2, "InvoiceData": [inv], "PublishInvoiceData": null})
}

/// `Data` is JSON inside a string; one result per RefID.
fn results(v: &Value) -> Vec<Value> {
    match v.get("Data") {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .ok()
            .and_then(|d| d.as_array().cloned())
            .unwrap_or_default(),
        Some(Value::Array(a)) => a.clone(),
        _ => vec![],
    }
}

fn issued_of(r: &Value) -> Option<Issued> {
    let number = r
        .get("InvNo")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())?;
    Some(Issued {
        number: number.to_string(),
        lookup_code: r
            .get("TransactionID")
            .and_then(Value::as_str)
            .map(str::to_string),
        pdf_url: None,
    })
}

pub fn read_issued(status: reqwest::StatusCode, body: &str) -> Result<Issued, InvoiceError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| InvoiceError::Unavailable(format!("HTTP {}", status.as_u16())))?;
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(InvoiceError::Credentials(
            "MISA meInvoice từ chối phiên đăng nhập.".into(),
        ));
    }
    let top_error = v
        .get("ErrorCode")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty());
    let first = results(&v).into_iter().next();
    let error = first
        .as_ref()
        .and_then(|r| r.get("ErrorCode").and_then(Value::as_str))
        .filter(|e| !e.is_empty())
        .or(top_error);
    if let Some(e) = error {
        if e.contains("Duplicate") {
            return Err(InvoiceError::Duplicate);
        }
        return Err(InvoiceError::Refused(format!("MISA meInvoice: {e}")));
    }
    first
        .as_ref()
        .and_then(issued_of)
        .ok_or_else(|| InvoiceError::Unavailable("MISA: không có số hoá đơn".into()))
}

pub fn read_status(
    status: reqwest::StatusCode,
    body: &str,
) -> Result<Option<Issued>, InvoiceError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| InvoiceError::Unavailable(format!("HTTP {}", status.as_u16())))?;
    if v.get("Success").and_then(Value::as_bool) != Some(true) {
        return Err(InvoiceError::Unavailable(format!(
            "MISA: {}",
            v.get("ErrorCode")
                .and_then(Value::as_str)
                .unwrap_or("không tra được")
        )));
    }
    Ok(results(&v).iter().find_map(issued_of))
}

async fn token(ctx: &Ctx<'_>, a: &Account) -> Result<String, InvoiceError> {
    let c = &a.credentials;
    let (status, body) = send(ctx.http.post(format!("{}/auth/token", a.base())).json(&json!({
        "appid": c.app_id, "taxcode": a.seller_tax_code, "username": c.username, "password": c.password,
    })))
    .await?;
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match (
        v.get("Success").and_then(Value::as_bool),
        v.get("Data").and_then(Value::as_str),
    ) {
        (Some(true), Some(t)) => Ok(t.to_string()),
        (Some(false), _) => Err(InvoiceError::Credentials(format!(
            "MISA meInvoice không nhận tài khoản: {}",
            v.get("ErrorCode")
                .and_then(Value::as_str)
                .unwrap_or("sai thông tin đăng nhập")
        ))),
        _ => Err(InvoiceError::Unavailable(format!(
            "MISA: đăng nhập không được (HTTP {})",
            status.as_u16()
        ))),
    }
}

pub async fn issue(ctx: &Ctx<'_>, a: &Account, doc: &Doc) -> Result<Issued, InvoiceError> {
    let t = token(ctx, a).await?;
    let (status, body) = send(
        ctx.http
            .post(format!("{}/invoice", a.base()))
            .bearer_auth(t)
            .json(&invoice_request(a, doc)),
    )
    .await?;
    read_issued(status, &body)
}

pub async fn find(ctx: &Ctx<'_>, a: &Account, key: &str) -> Result<Option<Issued>, InvoiceError> {
    let t = token(ctx, a).await?;
    let (status, body) = send(
        ctx.http
            .post(format!(
                "{}/invoice/status?invoiceWithCode=true&inputType=1",
                a.base()
            ))
            .bearer_auth(t)
            .json(&json!([key])),
    )
    .await?;
    read_status(status, &body)
}

/// `POST /invoice/download`: one `{TransactionID, Data}` per invoice, `Data` the PDF in base64.
pub fn read_download(status: reqwest::StatusCode, body: &str) -> Result<Vec<u8>, InvoiceError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| InvoiceError::Unavailable(format!("HTTP {}", status.as_u16())))?;
    if v.get("Success").and_then(Value::as_bool) != Some(true) {
        return Err(InvoiceError::Unavailable(
            "MISA: không tải được hoá đơn".into(),
        ));
    }
    let first = results(&v).into_iter().next().unwrap_or_default();
    super::decode_pdf(first.get("Data").and_then(Value::as_str).unwrap_or(""))
}

pub async fn pdf(
    ctx: &Ctx<'_>,
    a: &Account,
    transaction_id: &str,
) -> Result<Vec<u8>, InvoiceError> {
    let t = token(ctx, a).await?;
    let (status, body) = send(
        ctx.http
            .post(format!(
                "{}/invoice/download?invoiceWithCode=true&invoiceCalcu=false&downloadDataType=pdf",
                a.base()
            ))
            .bearer_auth(t)
            .json(&json!([transaction_id])),
    )
    .await?;
    read_download(status, &body)
}

#[cfg(test)]
mod tests {
    use super::super::{ProviderId, fixtures};
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn an_invoice_carries_our_ref_id_the_series_and_the_lines_with_vat() {
        let a = fixtures::account(ProviderId::Misa);
        let req = invoice_request(&a, &fixtures::doc());
        let inv = &req["InvoiceData"][0];
        assert_eq!(inv["RefID"], "5f0e6c2a-9d1b-4c3e-8a7f-0b1c2d3e4f50");
        assert_eq!(inv["InvSeries"], "C26TBL");
        assert_eq!(inv["InvDate"], "2026-12-03");
        assert_eq!(inv["BuyerTaxCode"], "0312345673");
        assert_eq!(inv["TotalAmountOC"], 134_000);
        assert_eq!(inv["OriginalInvoiceDetail"][0]["VATRateName"], "5%");
        assert_eq!(inv["OriginalInvoiceDetail"][0]["AmountOC"], 100_000);
        assert_eq!(req["SignType"], 2);
    }

    #[test]
    fn the_answer_per_ref_id_gives_the_number_or_says_it_exists() {
        // recorded answers of POST /invoice: Data is JSON in a string
        let ok = r#"{"Success":true,"ErrorCode":null,"Errors":[],"Data":"[{\"RefID\":\"5f0e6c2a-9d1b-4c3e-8a7f-0b1c2d3e4f50\",\"TransactionID\":\"B7XQ2RTM4K\",\"InvTemplateNo\":\"1\",\"InvSeries\":\"C26TBL\",\"InvNo\":\"00000031\",\"InvDate\":\"2026-12-03T00:00:00\",\"ErrorCode\":null}]","CustomData":null}"#;
        let issued = read_issued(StatusCode::OK, ok).unwrap();
        assert_eq!(issued.number, "00000031");
        assert_eq!(issued.lookup_code.as_deref(), Some("B7XQ2RTM4K"));
        let dup = r#"{"Success":true,"ErrorCode":null,"Errors":[],"Data":"[{\"RefID\":\"5f0e6c2a\",\"TransactionID\":null,\"InvNo\":null,\"ErrorCode\":\"DuplicateInvoiceRefID\"}]"}"#;
        assert_eq!(
            read_issued(StatusCode::OK, dup),
            Err(InvoiceError::Duplicate)
        );
        let bad = r#"{"Success":false,"ErrorCode":"InvalidInvoiceSeries","Errors":["Ký hiệu không hợp lệ"],"Data":null}"#;
        assert!(matches!(
            read_issued(StatusCode::OK, bad),
            Err(InvoiceError::Refused(_))
        ));
        let status = r#"{"Success":true,"ErrorCode":null,"Data":"[{\"RefID\":\"5f0e6c2a\",\"TransactionID\":\"B7XQ2RTM4K\",\"InvNo\":\"00000031\",\"PublishStatus\":1}]"}"#;
        assert_eq!(
            read_status(StatusCode::OK, status).unwrap().unwrap().number,
            "00000031"
        );
        let none = r#"{"Success":true,"ErrorCode":null,"Data":"[]"}"#;
        assert_eq!(read_status(StatusCode::OK, none).unwrap(), None);
        // recorded answer of /invoice/download
        let file = r#"{"Success":true,"ErrorCode":null,"Data":"[{\"TransactionID\":\"B7XQ2RTM4K\",\"Data\":\"JVBERi0xLjQK\"}]"}"#;
        assert_eq!(read_download(StatusCode::OK, file).unwrap(), b"%PDF-1.4\n");
    }
}
