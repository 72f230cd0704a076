//! VNPT Invoice, from its SOAP web services (each seller has its own address):
//! `PublishService.asmx` `ImportAndPublishInv(Account, ACpass, xmlInvData, username, password,
//! pattern, serial, convert)` issues the invoices in `xmlInvData`, each under our `key` (Fkey),
//! answering `OK:pattern;serial-fkey_number` or `ERR:n`; `AdjustInvoiceAction` issues an
//! adjusting invoice against the original's Fkey; `PortalService.asmx` `listInvByCusFkey` finds
//! invoices by Fkey.

use super::{Account, Ctx, Doc, InvoiceError, Issued, dmy, send, split_vat};

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The invoice XML VNPT reads (`Invoices/Inv/key` + `Invoice`), or `AdjustInv` for an adjustment.
pub fn invoice_xml(a: &Account, doc: &Doc) -> String {
    let rate = a.vat_rate;
    let mut products = String::new();
    for l in &doc.lines {
        let (before, tax) = split_vat(l.amount, rate);
        let (price, _) = split_vat(l.unit_price, rate);
        products.push_str(&format!(
            "<Product><ProdName>{}</ProdName><ProdUnit>{}</ProdUnit><ProdQuantity>{}</ProdQuantity><ProdPrice>{}</ProdPrice><Amount>{}</Amount><VATRate>{}</VATRate><VATAmount>{}</VATAmount><Total>{}</Total><IsSum>{}</IsSum></Product>",
            escape(&l.name),
            escape(&l.unit),
            l.quantity,
            price.amount(),
            before.amount(),
            rate.map(i64::from).unwrap_or(-1),
            tax.amount(),
            l.amount.amount(),
            if doc.adjusts.is_some() { 2 } else { 0 },
        ));
    }
    let total = doc.total();
    let (before, tax) = split_vat(total, rate);
    let b = &doc.buyer;
    let body = format!(
        "<CusCode>{}</CusCode><Buyer>{}</Buyer><CusName>{}</CusName><CusAddress>{}</CusAddress><CusPhone>{}</CusPhone><CusTaxCode>{}</CusTaxCode><EmailDeliver>{}</EmailDeliver><PaymentMethod>TM/CK</PaymentMethod><ArisingDate>{}</ArisingDate><CurrencyUnit>VND</CurrencyUnit><Products>{products}</Products><Total>{}</Total><VATRate>{}</VATRate><VATAmount>{}</VATAmount><Amount>{}</Amount><AmountInWords>{}</AmountInWords>",
        escape(b.tax_code.as_deref().unwrap_or(&b.phone)),
        escape(&b.name),
        escape(b.company.as_deref().unwrap_or(&b.name)),
        escape(&b.address),
        escape(&b.phone),
        escape(b.tax_code.as_deref().unwrap_or("")),
        escape(b.email.as_deref().unwrap_or("")),
        dmy(doc.issued_on),
        before.amount(),
        rate.map(i64::from).unwrap_or(-1),
        tax.amount(),
        total.amount(),
        escape(&total.in_words()),
    );
    match &doc.adjusts {
        // Type 3: an adjustment that reduces
        Some(_) => format!(
            "<AdjustInv><key>{}</key>{body}<Type>3</Type></AdjustInv>",
            escape(&doc.key)
        ),
        None => format!(
            "<Invoices><Inv><key>{}</key><Invoice>{body}</Invoice></Inv></Invoices>",
            escape(&doc.key)
        ),
    }
}

fn envelope(action: &str, fields: &[(&str, &str)]) -> String {
    let mut inner = String::new();
    for (k, v) in fields {
        if *k == "xmlInvData" {
            // the invoice XML travels as text in CDATA
            inner.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
        } else {
            inner.push_str(&format!("<{k}>{}</{k}>", escape(v)));
        }
    }
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><{action} xmlns="http://tempuri.org/">{inner}</{action}></soap:Body></soap:Envelope>"#
    )
}

pub fn publish_request(a: &Account, doc: &Doc) -> (String, String) {
    let c = &a.credentials;
    let xml = invoice_xml(a, doc);
    match &doc.adjusts {
        Some(o) => (
            "AdjustInvoiceAction".into(),
            envelope(
                "AdjustInvoiceAction",
                &[
                    ("Account", &c.account),
                    ("ACpass", &c.account_password),
                    ("xmlInvData", &xml),
                    ("username", &c.username),
                    ("pass", &c.password),
                    ("fkey", &o.key),
                    ("AttachFile", ""),
                    ("convert", "0"),
                    ("pattern", &a.pattern),
                    ("serial", &a.series),
                ],
            ),
        ),
        None => {
            let action = if a.cash_register {
                "ImportAndPublishInvMTT"
            } else {
                "ImportAndPublishInv"
            };
            (
                action.into(),
                envelope(
                    action,
                    &[
                        ("Account", &c.account),
                        ("ACpass", &c.account_password),
                        ("xmlInvData", &xml),
                        ("username", &c.username),
                        ("password", &c.password),
                        ("pattern", &a.pattern),
                        ("serial", &a.series),
                        ("convert", "0"),
                    ],
                ),
            )
        }
    }
}

/// The text of the first `<tag>` in `xml`, unescaped.
fn text_in<'a>(xml: &'a str, tag: &str) -> Option<std::borrow::Cow<'a, str>> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    let raw = &xml[start..end];
    Some(if raw.contains('&') {
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
            .into()
    } else {
        raw.into()
    })
}

/// `OK:1/001;C26TBL-<fkey>_<number>` or `ERR:n`.
pub fn read_publish(
    status: reqwest::StatusCode,
    body: &str,
    action: &str,
) -> Result<Issued, InvoiceError> {
    let result = text_in(body, &format!("{action}Result"))
        .ok_or_else(|| InvoiceError::Unavailable(format!("VNPT: HTTP {}", status.as_u16())))?;
    let result = result.trim();
    if let Some(rest) = result.strip_prefix("OK:") {
        // several invoices are comma-separated; ours is alone
        let first = rest.split(',').next().unwrap_or(rest);
        let (_, after_serial) = first.split_once(';').unwrap_or(("", first));
        let (key_part, number) = after_serial
            .rsplit_once('_')
            .ok_or_else(|| InvoiceError::Unavailable(format!("VNPT: {result}")))?;
        let fkey = key_part.split_once('-').map(|(_, k)| k).unwrap_or(key_part);
        return Ok(Issued {
            number: number.to_string(),
            lookup_code: Some(fkey.to_string()),
            pdf_url: None,
        });
    }
    Err(match result {
        // ERR:1: the account or user is wrong
        "ERR:1" => InvoiceError::Credentials(
            "VNPT Invoice không nhận tài khoản hoặc mật khẩu (ERR:1).".into(),
        ),
        // ERR:13: an invoice with this Fkey exists
        "ERR:13" => InvoiceError::Duplicate,
        "ERR:20" => InvoiceError::Refused(
            "VNPT Invoice: mẫu số hoặc ký hiệu không đúng với tài khoản (ERR:20).".into(),
        ),
        "ERR:3" => {
            InvoiceError::Refused("VNPT Invoice: dữ liệu hoá đơn không hợp lệ (ERR:3).".into())
        }
        other => InvoiceError::Refused(format!("VNPT Invoice: {other}")),
    })
}

/// `listInvByCusFkey`'s answer: `<Data><Item>…<invToken>pattern;serial;number</invToken>…`.
pub fn read_list(status: reqwest::StatusCode, body: &str) -> Result<Option<Issued>, InvoiceError> {
    let result = text_in(body, "listInvByCusFkeyResult")
        .ok_or_else(|| InvoiceError::Unavailable(format!("VNPT: HTTP {}", status.as_u16())))?;
    let result = result.trim();
    if result == "ERR:1" {
        return Err(InvoiceError::Credentials(
            "VNPT Invoice không nhận tài khoản hoặc mật khẩu (ERR:1).".into(),
        ));
    }
    if result.starts_with("ERR:") {
        return Err(InvoiceError::Unavailable(format!("VNPT: {result}")));
    }
    Ok(text_in(result, "invToken").and_then(|t| {
        let number = t.rsplit(';').next()?.trim().to_string();
        (!number.is_empty()).then(|| Issued {
            number,
            lookup_code: text_in(result, "fkey").map(|k| k.into_owned()),
            pdf_url: None,
        })
    }))
}

pub async fn issue(ctx: &Ctx<'_>, a: &Account, doc: &Doc) -> Result<Issued, InvoiceError> {
    let (action, envelope) = publish_request(a, doc);
    let (status, body) = send(
        ctx.http
            .post(format!("{}/PublishService.asmx", a.base()))
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", format!("\"http://tempuri.org/{action}\""))
            .body(envelope),
    )
    .await?;
    read_publish(status, &body, &action)
}

pub async fn find(
    ctx: &Ctx<'_>,
    a: &Account,
    key: &str,
    issued_on: time::Date,
) -> Result<Option<Issued>, InvoiceError> {
    let c = &a.credentials;
    let from = dmy(issued_on - time::Duration::days(7));
    let to = dmy(issued_on + time::Duration::days(7));
    let envelope = envelope(
        "listInvByCusFkey",
        &[
            ("key", key),
            ("fromDate", &from),
            ("toDate", &to),
            ("userName", &c.username),
            ("userPass", &c.password),
        ],
    );
    let (status, body) = send(
        ctx.http
            .post(format!("{}/PortalService.asmx", a.base()))
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", "\"http://tempuri.org/listInvByCusFkey\"")
            .body(envelope),
    )
    .await?;
    read_list(status, &body)
}

/// `downloadInvPDFFkeyNoPay`: the PDF in base64, or `ERR:n`.
pub fn read_pdf(status: reqwest::StatusCode, body: &str) -> Result<Vec<u8>, InvoiceError> {
    let result = text_in(body, "downloadInvPDFFkeyNoPayResult")
        .ok_or_else(|| InvoiceError::Unavailable(format!("VNPT: HTTP {}", status.as_u16())))?;
    if result.trim().starts_with("ERR:") {
        return Err(InvoiceError::Unavailable(format!(
            "VNPT: {}",
            result.trim()
        )));
    }
    super::decode_pdf(&result)
}

pub async fn pdf(ctx: &Ctx<'_>, a: &Account, key: &str) -> Result<Vec<u8>, InvoiceError> {
    let c = &a.credentials;
    let envelope = envelope(
        "downloadInvPDFFkeyNoPay",
        &[
            ("fkey", key),
            ("userName", &c.username),
            ("userPass", &c.password),
        ],
    );
    let (status, body) = send(
        ctx.http
            .post(format!("{}/PortalService.asmx", a.base()))
            .header("Content-Type", "text/xml; charset=utf-8")
            .header(
                "SOAPAction",
                "\"http://tempuri.org/downloadInvPDFFkeyNoPay\"",
            )
            .body(envelope),
    )
    .await?;
    read_pdf(status, &body)
}

#[cfg(test)]
mod tests {
    use super::super::{ProviderId, fixtures};
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn the_invoice_travels_in_cdata_under_our_fkey_with_the_pattern_and_series() {
        let a = fixtures::account(ProviderId::Vnpt);
        let mut doc = fixtures::doc();
        doc.buyer.company = Some("Công ty <Quà & Tặng>".into());
        let (action, env) = publish_request(&a, &doc);
        assert_eq!(action, "ImportAndPublishInv");
        assert!(env.contains("<Account>binhlieuadmin</Account><ACpass>ac-pass</ACpass>"));
        assert!(env.contains("<pattern>1/001</pattern><serial>C26TBL</serial>"));
        assert!(
            env.contains("<![CDATA[<Invoices><Inv><key>5f0e6c2a-9d1b-4c3e-8a7f-0b1c2d3e4f50</key>")
        );
        assert!(
            env.contains("<CusName>Công ty &lt;Quà &amp; Tặng&gt;</CusName>"),
            "escaped"
        );
        assert!(env.contains("<Amount>134000</Amount>"));
        assert!(env.contains("<ArisingDate>03/12/2026</ArisingDate>"));
        // a cash-register invoice goes through the MTT call
        let mut register = a.clone();
        register.cash_register = true;
        let (action, env) = publish_request(&register, &fixtures::doc());
        assert_eq!(action, "ImportAndPublishInvMTT");
        assert!(env.contains("<ImportAndPublishInvMTT xmlns=\"http://tempuri.org/\">"));
    }

    #[test]
    fn the_soap_answers_give_the_number_a_duplicate_or_a_wrong_account() {
        // recorded answers of ImportAndPublishInv
        let ok = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><ImportAndPublishInvResponse xmlns="http://tempuri.org/"><ImportAndPublishInvResult>OK:1/001;C26TBL-5f0e6c2a-9d1b-4c3e-8a7f-0b1c2d3e4f50_0000045</ImportAndPublishInvResult></ImportAndPublishInvResponse></soap:Body></soap:Envelope>"#;
        let issued = read_publish(StatusCode::OK, ok, "ImportAndPublishInv").unwrap();
        assert_eq!(issued.number, "0000045");
        assert_eq!(
            issued.lookup_code.as_deref(),
            Some("5f0e6c2a-9d1b-4c3e-8a7f-0b1c2d3e4f50")
        );
        let answer = |r: &str| {
            format!(
                "<soap:Envelope><soap:Body><ImportAndPublishInvResponse xmlns=\"http://tempuri.org/\"><ImportAndPublishInvResult>{r}</ImportAndPublishInvResult></ImportAndPublishInvResponse></soap:Body></soap:Envelope>"
            )
        };
        assert!(matches!(
            read_publish(StatusCode::OK, &answer("ERR:1"), "ImportAndPublishInv"),
            Err(InvoiceError::Credentials(_))
        ));
        assert_eq!(
            read_publish(StatusCode::OK, &answer("ERR:13"), "ImportAndPublishInv"),
            Err(InvoiceError::Duplicate)
        );
        // recorded answer of listInvByCusFkey
        let list = r#"<soap:Envelope><soap:Body><listInvByCusFkeyResponse xmlns="http://tempuri.org/"><listInvByCusFkeyResult>&lt;Data&gt;&lt;Item&gt;&lt;index&gt;1&lt;/index&gt;&lt;invToken&gt;1/001;C26TBL;0000045&lt;/invToken&gt;&lt;fkey&gt;5f0e6c2a&lt;/fkey&gt;&lt;status&gt;1&lt;/status&gt;&lt;/Item&gt;&lt;/Data&gt;</listInvByCusFkeyResult></listInvByCusFkeyResponse></soap:Body></soap:Envelope>"#;
        assert_eq!(
            read_list(StatusCode::OK, list).unwrap().unwrap().number,
            "0000045"
        );
        let empty = r#"<soap:Envelope><soap:Body><listInvByCusFkeyResponse xmlns="http://tempuri.org/"><listInvByCusFkeyResult>&lt;Data&gt;&lt;/Data&gt;</listInvByCusFkeyResult></listInvByCusFkeyResponse></soap:Body></soap:Envelope>"#;
        assert_eq!(read_list(StatusCode::OK, empty).unwrap(), None);
        // recorded answer of downloadInvPDFFkeyNoPay
        let pdf = r#"<soap:Envelope><soap:Body><downloadInvPDFFkeyNoPayResponse xmlns="http://tempuri.org/"><downloadInvPDFFkeyNoPayResult>JVBERi0xLjQK</downloadInvPDFFkeyNoPayResult></downloadInvPDFFkeyNoPayResponse></soap:Body></soap:Envelope>"#;
        assert_eq!(read_pdf(StatusCode::OK, pdf).unwrap(), b"%PDF-1.4\n");
        let err = r#"<soap:Envelope><soap:Body><downloadInvPDFFkeyNoPayResponse xmlns="http://tempuri.org/"><downloadInvPDFFkeyNoPayResult>ERR:6</downloadInvPDFFkeyNoPayResult></downloadInvPDFFkeyNoPayResponse></soap:Body></soap:Envelope>"#;
        assert!(read_pdf(StatusCode::OK, err).is_err());
    }
}
