//! Viettel S-Invoice, from its REST API: `POST /auth/login` gives a bearer token;
//! `…/InvoiceAPI/InvoiceWS/createInvoice/{supplierTaxCode}` issues (`generalInvoiceInfo`,
//! `buyerInfo`, `sellerInfo`, `payments`, `itemInfo`, `summarizeInfo`, `taxBreakdowns`) under our
//! `transactionUuid`; `…/InvoiceWS/searchInvoiceByTransactionUuid` finds it again. Answers carry
//! `errorCode` (null when it went well) and `description`.

use super::{Account, Ctx, Doc, InvoiceError, Issued, send, split_vat, vn_millis};
use serde_json::{Value, json};

const API: &str = "/services/einvoiceapplication/api/InvoiceAPI";

pub fn create_request(a: &Account, doc: &Doc) -> Value {
    let rate = a.vat_rate;
    let tax_pct = match rate {
        Some(r) => i64::from(r),
        // a sales invoice: no VAT (Viettel's -2 is "không kê khai, tính nộp thuế")
        None => -2,
    };
    let sign = doc.adjusts.is_none();
    let items: Vec<Value> = doc
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (before, tax) = split_vat(l.amount, rate);
            let (price_before, _) = split_vat(l.unit_price, rate);
            let mut item = json!({
                "lineNumber": i + 1,
                "selection": 1,
                "itemName": l.name,
                "unitName": l.unit,
                "unitPrice": price_before.amount(),
                "quantity": l.quantity,
                "itemTotalAmountWithoutTax": before.amount(),
                "taxPercentage": tax_pct,
                "taxAmount": tax.amount(),
                "itemDiscount": 0,
            });
            if !sign {
                item["isIncreaseItem"] = json!(false);
            }
            item
        })
        .collect();
    let total = doc.total();
    let (before, tax) = split_vat(total, rate);
    let mut general = json!({
        "invoiceType": if rate.is_some() { "1" } else { "2" },
        "templateCode": a.pattern,
        "invoiceSeries": a.series,
        "currencyCode": "VND",
        "adjustmentType": "1",
        "paymentStatus": true,
        "cusGetInvoiceRight": true,
        "invoiceIssuedDate": vn_millis(doc.issued_on),
        "transactionUuid": doc.key,
    });
    if let Some(o) = &doc.adjusts {
        // an adjusting invoice (5) that reduces the original's money (adjustmentInvoiceType 1)
        general["adjustmentType"] = json!("5");
        general["adjustmentInvoiceType"] = json!("1");
        general["originalInvoiceId"] = json!(format!("{}{}", o.series, o.number));
        general["originalInvoiceIssueDate"] = json!(vn_millis(o.issued_on));
        general["originalTemplateCode"] = json!(o.pattern);
        general["additionalReferenceDesc"] = json!("Huỷ/hoàn đơn hàng trên sàn OCOP");
        general["additionalReferenceDate"] = json!(vn_millis(doc.issued_on));
    }
    let b = &doc.buyer;
    json!({
        "generalInvoiceInfo": general,
        "buyerInfo": {
            "buyerName": b.name,
            "buyerLegalName": b.company.clone().unwrap_or_default(),
            "buyerTaxCode": b.tax_code.clone().unwrap_or_default(),
            "buyerAddressLine": b.address,
            "buyerPhoneNumber": b.phone,
            "buyerEmail": b.email.clone().unwrap_or_default(),
            "buyerNotGetInvoice": 0,
        },
        "sellerInfo": {
            "sellerLegalName": doc.seller.name,
            "sellerTaxCode": a.seller_tax_code,
            "sellerAddressLine": doc.seller.address,
            "sellerPhoneNumber": doc.seller.phone.clone().unwrap_or_default(),
        },
        "payments": [{"paymentMethodName": "TM/CK"}],
        "itemInfo": items,
        "summarizeInfo": {
            "sumOfTotalLineAmountWithoutTax": before.amount(),
            "totalAmountWithoutTax": before.amount(),
            "totalTaxAmount": tax.amount(),
            "totalAmountWithTax": total.amount(),
            "totalAmountWithTaxInWords": total.in_words(),
            "discountAmount": 0,
        },
        "taxBreakdowns": [{
            "taxPercentage": tax_pct,
            "taxableAmount": before.amount(),
            "taxAmount": tax.amount(),
        }],
    })
}

fn error_of(body: &Value) -> Option<String> {
    let code = body.get("errorCode").filter(|c| !c.is_null())?;
    let code = code
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| code.to_string());
    let description = body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    Some(format!("{code} {description}").trim().to_string())
}

/// The answer to `createInvoice`.
pub fn read_created(status: reqwest::StatusCode, body: &str) -> Result<Issued, InvoiceError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| InvoiceError::Unavailable(format!("HTTP {}", status.as_u16())))?;
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(InvoiceError::Credentials(
            "Viettel S-Invoice từ chối tài khoản (đăng nhập hết hạn hoặc sai).".into(),
        ));
    }
    if let Some(e) = error_of(&v) {
        let lower = e.to_lowercase();
        if lower.contains("transactionuuid") || lower.contains("đã tồn tại") {
            return Err(InvoiceError::Duplicate);
        }
        return Err(InvoiceError::Refused(format!("Viettel S-Invoice: {e}")));
    }
    let r = v
        .get("result")
        .filter(|r| !r.is_null())
        .ok_or_else(|| InvoiceError::Unavailable("Viettel: không có kết quả".into()))?;
    let number = r
        .get("invoiceNo")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| InvoiceError::Unavailable("Viettel: không có số hoá đơn".into()))?;
    Ok(Issued {
        number: number.to_string(),
        lookup_code: r
            .get("reservationCode")
            .and_then(Value::as_str)
            .map(str::to_string),
        pdf_url: None,
    })
}

/// The answer to `searchInvoiceByTransactionUuid`: the invoice, or none under that key.
pub fn read_search(
    status: reqwest::StatusCode,
    body: &str,
) -> Result<Option<Issued>, InvoiceError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| InvoiceError::Unavailable(format!("HTTP {}", status.as_u16())))?;
    if let Some(e) = error_of(&v) {
        return Err(InvoiceError::Unavailable(format!("Viettel S-Invoice: {e}")));
    }
    let found = v
        .get("result")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| {
            Some(Issued {
                number: r.get("invoiceNo")?.as_str()?.to_string(),
                lookup_code: r
                    .get("reservationCode")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                pdf_url: None,
            })
        });
    Ok(found)
}

async fn login(ctx: &Ctx<'_>, a: &Account) -> Result<String, InvoiceError> {
    let (status, body) = send(
        ctx.http
            .post(format!("{}/auth/login", a.base()))
            .json(&json!({
                "username": a.credentials.username,
                "password": a.credentials.password,
            })),
    )
    .await?;
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match v.get("access_token").and_then(Value::as_str) {
        Some(t) if status.is_success() => Ok(t.to_string()),
        _ if status.is_client_error() => Err(InvoiceError::Credentials(
            "Viettel S-Invoice không nhận tên đăng nhập hoặc mật khẩu.".into(),
        )),
        _ => Err(InvoiceError::Unavailable(format!(
            "Viettel: đăng nhập không được (HTTP {})",
            status.as_u16()
        ))),
    }
}

pub async fn issue(ctx: &Ctx<'_>, a: &Account, doc: &Doc) -> Result<Issued, InvoiceError> {
    let token = login(ctx, a).await?;
    let (status, body) = send(
        ctx.http
            .post(format!(
                "{}{API}/InvoiceWS/createInvoice/{}",
                a.base(),
                a.seller_tax_code
            ))
            .bearer_auth(token)
            .json(&create_request(a, doc)),
    )
    .await?;
    read_created(status, &body)
}

pub async fn find(ctx: &Ctx<'_>, a: &Account, key: &str) -> Result<Option<Issued>, InvoiceError> {
    let token = login(ctx, a).await?;
    let form = [
        ("supplierTaxCode", a.seller_tax_code.as_str()),
        ("transactionUuid", key),
    ];
    let (status, body) = send(
        ctx.http
            .post(format!(
                "{}{API}/InvoiceWS/searchInvoiceByTransactionUuid",
                a.base()
            ))
            .bearer_auth(token)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap_or_default()),
    )
    .await?;
    read_search(status, &body)
}

/// `InvoiceUtilsWS/getInvoiceRepresentationFile`: `{fileToBytes}` in base64.
pub fn read_file(status: reqwest::StatusCode, body: &str) -> Result<Vec<u8>, InvoiceError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|_| InvoiceError::Unavailable(format!("HTTP {}", status.as_u16())))?;
    if let Some(e) = error_of(&v).filter(|e| e != "0") {
        return Err(InvoiceError::Unavailable(format!("Viettel S-Invoice: {e}")));
    }
    super::decode_pdf(v.get("fileToBytes").and_then(Value::as_str).unwrap_or(""))
}

pub async fn pdf(
    ctx: &Ctx<'_>,
    a: &Account,
    key: &str,
    number: &str,
) -> Result<Vec<u8>, InvoiceError> {
    let token = login(ctx, a).await?;
    let (status, body) = send(
        ctx.http
            .post(format!(
                "{}{API}/InvoiceUtilsWS/getInvoiceRepresentationFile",
                a.base()
            ))
            .bearer_auth(token)
            .json(&json!({
                "supplierTaxCode": a.seller_tax_code,
                "invoiceNo": number,
                "templateCode": a.pattern,
                "transactionUuid": key,
                "fileType": "PDF",
            })),
    )
    .await?;
    read_file(status, &body)
}

#[cfg(test)]
mod tests {
    use super::super::{Original, ProviderId, fixtures};
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn an_invoice_is_asked_with_our_key_the_buyers_company_and_vat_split_out() {
        let a = fixtures::account(ProviderId::Viettel);
        let req = create_request(&a, &fixtures::doc());
        let g = &req["generalInvoiceInfo"];
        assert_eq!(g["transactionUuid"], "5f0e6c2a-9d1b-4c3e-8a7f-0b1c2d3e4f50");
        assert_eq!(g["templateCode"], "1/001");
        assert_eq!(g["invoiceSeries"], "C26TBL");
        assert_eq!(
            g["invoiceIssuedDate"], 1_796_230_800_000i64,
            "3 Dec 2026, 00:00 in Vietnam"
        );
        assert_eq!(req["buyerInfo"]["buyerTaxCode"], "0312345673");
        assert_eq!(
            req["buyerInfo"]["buyerLegalName"],
            "Công ty TNHH Quà Tặng Việt"
        );
        assert_eq!(req["itemInfo"][0]["itemTotalAmountWithoutTax"], 100_000);
        assert_eq!(req["itemInfo"][0]["taxAmount"], 5_000);
        let s = &req["summarizeInfo"];
        assert_eq!(s["totalAmountWithTax"], 134_000);
        assert_eq!(
            s["totalAmountWithoutTax"].as_i64().unwrap() + s["totalTaxAmount"].as_i64().unwrap(),
            134_000
        );
        assert_eq!(
            s["totalAmountWithTaxInWords"],
            "Một trăm ba mươi tư nghìn đồng"
        );
    }

    #[test]
    fn an_adjusting_invoice_names_the_original_and_reduces_every_line() {
        let a = fixtures::account(ProviderId::Viettel);
        let mut doc = fixtures::doc();
        doc.adjusts = Some(Original {
            number: "0000012".into(),
            pattern: "1/001".into(),
            series: "C26TBL".into(),
            issued_on: time::macros::date!(2026 - 12 - 01),
            key: "k".into(),
        });
        let req = create_request(&a, &doc);
        assert_eq!(req["generalInvoiceInfo"]["adjustmentType"], "5");
        assert_eq!(
            req["generalInvoiceInfo"]["originalInvoiceId"],
            "C26TBL0000012"
        );
        assert_eq!(req["itemInfo"][1]["isIncreaseItem"], false);
    }

    #[test]
    fn the_answers_give_the_number_a_duplicate_or_the_providers_refusal() {
        // recorded answers of createInvoice
        let ok = r#"{"errorCode":null,"description":null,"result":{"supplierTaxCode":"0200000014","invoiceNo":"C26TBL12","transactionID":"165473538452795489","reservationCode":"TJ9X1KDPW3H","codeOfTax":"M1-26-QXV8T-00000000012"}}"#;
        assert_eq!(
            read_created(StatusCode::OK, ok).unwrap(),
            Issued {
                number: "C26TBL12".into(),
                lookup_code: Some("TJ9X1KDPW3H".into()),
                pdf_url: None
            }
        );
        let dup = r#"{"errorCode":"TRANSACTIONUUID_EXISTED","description":"transactionUuid đã tồn tại trong hệ thống","result":null}"#;
        assert_eq!(
            read_created(StatusCode::OK, dup),
            Err(InvoiceError::Duplicate)
        );
        let bad = r#"{"errorCode":"INVOICE_SERIES_NOT_FOUND","description":"Ký hiệu hoá đơn không tồn tại","result":null}"#;
        assert!(matches!(
            read_created(StatusCode::INTERNAL_SERVER_ERROR, bad),
            Err(InvoiceError::Refused(m)) if m.contains("Ký hiệu")
        ));
        // recorded answers of searchInvoiceByTransactionUuid
        let found = r#"{"transactionUuid":"5f0e6c2a","errorCode":null,"description":null,"result":[{"supplierTaxCode":"0200000014","invoiceNo":"C26TBL12","reservationCode":"TJ9X1KDPW3H","issueDate":1796230800000,"status":"Đã phát hành"}]}"#;
        assert_eq!(
            read_search(StatusCode::OK, found).unwrap().unwrap().number,
            "C26TBL12"
        );
        let none =
            r#"{"transactionUuid":"5f0e6c2a","errorCode":null,"description":null,"result":null}"#;
        assert_eq!(read_search(StatusCode::OK, none).unwrap(), None);
    }
}
