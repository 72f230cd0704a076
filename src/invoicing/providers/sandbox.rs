//! The sandbox provider: behaves like the real ones, offline. It keeps what it issued in its own
//! table under the caller's key, answers a reused key as a duplicate, and takes its behaviour from
//! the account's user name, so each fault can be tried by hand:
//! `cham` (slow: it issues, then the answer is lost, as after a timeout), `loi` (down: HTTP 503),
//! `tuchoi` (refuses the series); any password but `sandbox` is refused as wrong credentials.
//! Its invoices print at `/sandbox/einvoice/{lookup code}`.

use super::{Account, Ctx, Doc, InvoiceError, Issued};

pub const PASSWORD: &str = "sandbox";

fn db(_: sqlx::Error) -> InvoiceError {
    InvoiceError::Unavailable("sandbox: lỗi cơ sở dữ liệu".into())
}

fn lookup_code() -> String {
    let hex = crate::crypto::random_token().to_uppercase();
    hex[..10].to_string()
}

fn issued(number: String, lookup: String) -> Issued {
    Issued {
        number,
        pdf_url: Some(format!("/sandbox/einvoice/{lookup}")),
        lookup_code: Some(lookup),
    }
}

pub async fn issue(ctx: &Ctx<'_>, a: &Account, doc: &Doc) -> Result<Issued, InvoiceError> {
    if a.credentials.password != PASSWORD {
        return Err(InvoiceError::Credentials(
            "Nhà cung cấp thử nghiệm: sai tên đăng nhập hoặc mật khẩu (401).".into(),
        ));
    }
    match a.credentials.username.as_str() {
        "loi" => return Err(InvoiceError::Unavailable("HTTP 503".into())),
        "tuchoi" => {
            return Err(InvoiceError::Refused(format!(
                "Nhà cung cấp thử nghiệm: INVOICE_SERIES_NOT_FOUND Ký hiệu {} không tồn tại",
                a.series
            )));
        }
        _ => {}
    }
    let body = serde_json::to_value(doc).unwrap_or_default();
    let row = sqlx::query!(
        r#"insert into sandbox_invoice (provider_key, seller_tax_code, number, lookup_code, body)
           values ($1, $2, lpad(nextval('sandbox_invoice_no')::text, 7, '0'), $3, $4)
           on conflict (provider_key) do nothing
           returning number, lookup_code"#,
        doc.key,
        a.seller_tax_code,
        lookup_code(),
        body
    )
    .fetch_optional(ctx.pool)
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Err(InvoiceError::Duplicate);
    };
    if a.credentials.username == "cham" {
        // issued, but the answer never arrives in time
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        return Err(InvoiceError::Unavailable(
            "nhà cung cấp không trả lời kịp".into(),
        ));
    }
    Ok(issued(row.number, row.lookup_code))
}

pub async fn find(ctx: &Ctx<'_>, a: &Account, key: &str) -> Result<Option<Issued>, InvoiceError> {
    if a.credentials.password != PASSWORD {
        return Err(InvoiceError::Credentials(
            "Nhà cung cấp thử nghiệm: sai tên đăng nhập hoặc mật khẩu (401).".into(),
        ));
    }
    if a.credentials.username == "loi" {
        return Err(InvoiceError::Unavailable("HTTP 503".into()));
    }
    let row = sqlx::query!(
        "select number, lookup_code from sandbox_invoice where provider_key = $1",
        key
    )
    .fetch_optional(ctx.pool)
    .await
    .map_err(db)?;
    Ok(row.map(|r| issued(r.number, r.lookup_code)))
}
