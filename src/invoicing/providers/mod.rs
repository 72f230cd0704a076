//! E-invoice providers behind one shape, like the payment gateways and the carriers: issue an
//! invoice under our retry key, find one by that key (after a timeout, before issuing again).
//! VNPT (SOAP), Viettel S-Invoice and MISA meInvoice (REST) are written from their documented
//! requests and answers; the sandbox behaves like them offline. BKAV (encrypted SOAP) is not yet
//! supported.

pub mod misa;
pub mod sandbox;
pub mod viettel;
pub mod vnpt;

use crate::domain::Vnd;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One call to a provider never waits longer than this: the job retries later.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum ProviderId {
    Vnpt,
    Viettel,
    Misa,
    Sandbox,
}

impl ProviderId {
    pub const ALL: [ProviderId; 4] = [
        ProviderId::Viettel,
        ProviderId::Misa,
        ProviderId::Vnpt,
        ProviderId::Sandbox,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ProviderId::Vnpt => "vnpt",
            ProviderId::Viettel => "viettel",
            ProviderId::Misa => "misa",
            ProviderId::Sandbox => "sandbox",
        }
    }

    pub fn from_key(k: &str) -> Option<ProviderId> {
        ProviderId::ALL.into_iter().find(|p| p.key() == k)
    }

    pub fn name(self) -> &'static str {
        match self {
            ProviderId::Vnpt => "VNPT Invoice",
            ProviderId::Viettel => "Viettel S-Invoice",
            ProviderId::Misa => "MISA meInvoice",
            ProviderId::Sandbox => "Nhà cung cấp thử nghiệm (sandbox)",
        }
    }

    /// Where a buyer looks an invoice up by its lookup code.
    pub fn lookup_portal(self) -> Option<&'static str> {
        match self {
            ProviderId::Viettel => Some("https://vinvoice.viettel.vn/utilities/invoice-search"),
            ProviderId::Misa => Some("https://www.meinvoice.vn/tra-cuu"),
            ProviderId::Vnpt | ProviderId::Sandbox => None,
        }
    }

    /// The provider's own address when the account does not name one.
    pub fn default_url(self) -> &'static str {
        match self {
            ProviderId::Viettel => "https://api-vinvoice.viettel.vn",
            ProviderId::Misa => "https://api.meinvoice.vn/api/integration",
            // VNPT gives every seller its own address (https://<mst>-tt78admindemo.vnpt-invoice.com.vn)
            ProviderId::Vnpt | ProviderId::Sandbox => "",
        }
    }
}

/// The secret half of an account: sealed in the database, never shown back, never logged.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// MISA's application id
    #[serde(default)]
    pub app_id: String,
    /// VNPT's web-service account and its password (besides the user)
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub account_password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(…)")
    }
}

/// A seller's account at a provider.
#[derive(Debug, Clone)]
pub struct Account {
    pub provider: ProviderId,
    pub url: String,
    pub pattern: String,
    pub series: String,
    pub seller_tax_code: String,
    /// None: a sales invoice without VAT (households)
    pub vat_rate: Option<u8>,
    /// invoices generated from a cash register (VNPT publishes them with its `…MTT` call)
    pub cash_register: bool,
    pub credentials: Credentials,
}

impl Account {
    pub fn base(&self) -> &str {
        let url = if self.url.trim().is_empty() {
            self.provider.default_url()
        } else {
            self.url.trim()
        };
        url.trim_end_matches('/')
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Party {
    pub name: String,
    pub tax_code: Option<String>,
    pub address: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// The buyer: a person, or a company that asked for an invoice in its name.
#[derive(Debug, Clone, Serialize)]
pub struct Buyer {
    /// the person's name (người mua hàng)
    pub name: String,
    pub company: Option<String>,
    pub tax_code: Option<String>,
    pub address: String,
    pub email: Option<String>,
    pub phone: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub name: String,
    pub unit: String,
    pub quantity: i64,
    pub unit_price: Vnd,
    /// what the buyer pays for the line, VAT included
    pub amount: Vnd,
}

/// What an adjusting invoice adjusts.
#[derive(Debug, Clone, Serialize)]
pub struct Original {
    pub number: String,
    pub pattern: String,
    pub series: String,
    pub issued_on: time::Date,
    /// the original's provider key (VNPT adjusts by it)
    pub key: String,
}

/// One invoice to issue. Prices include VAT; the provider's fields are derived from them.
#[derive(Debug, Clone, Serialize)]
pub struct Doc {
    pub key: String,
    pub issued_on: time::Date,
    pub seller: Party,
    pub buyer: Buyer,
    pub lines: Vec<Line>,
    /// cash on delivery or paid online ("TM/CK" on the invoice either way)
    pub paid_online: bool,
    /// Some: this invoice reduces `original` by every line (a cancelled or refunded part)
    pub adjusts: Option<Original>,
}

impl Doc {
    pub fn total(&self) -> Vnd {
        self.lines.iter().map(|l| l.amount).sum()
    }
}

/// VAT split out of an amount that includes it, rounded to the đồng.
pub fn split_vat(amount: Vnd, rate: Option<u8>) -> (Vnd, Vnd) {
    match rate {
        None | Some(0) => (amount, Vnd::ZERO),
        Some(r) => {
            let r = i64::from(r);
            // rounded the same way on either side of zero: a negative (discount) line splits as
            // the mirror of a positive one
            let a = amount.amount();
            let before = a.signum() * ((a.abs() * 100 + (100 + r) / 2) / (100 + r));
            (Vnd::new(before), Vnd::new(a - before))
        }
    }
}

/// What the provider gave back for an issued invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issued {
    pub number: String,
    /// the code a buyer looks the invoice up with (Viettel's reservation code, MISA's
    /// transaction id, VNPT's Fkey)
    pub lookup_code: Option<String>,
    pub pdf_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    /// The provider refused the account's credentials: retrying will not help.
    #[error("{0}")]
    Credentials(String),
    /// The key was used before: the invoice exists, find it.
    #[error("đã có hoá đơn với khoá này")]
    Duplicate,
    /// The provider refused the invoice, in its words (a wrong series, say).
    #[error("{0}")]
    Refused(String),
    /// No answer, a 5xx, or an answer we cannot read: retried later.
    #[error("{0}")]
    Unavailable(String),
}

/// What a provider call needs besides the account.
pub struct Ctx<'a> {
    pub http: &'a reqwest::Client,
    pub pool: &'a sqlx::PgPool,
    pub public_url: &'a str,
}

pub async fn issue(ctx: &Ctx<'_>, account: &Account, doc: &Doc) -> Result<Issued, InvoiceError> {
    match account.provider {
        ProviderId::Viettel => viettel::issue(ctx, account, doc).await,
        ProviderId::Misa => misa::issue(ctx, account, doc).await,
        ProviderId::Vnpt => vnpt::issue(ctx, account, doc).await,
        ProviderId::Sandbox => sandbox::issue(ctx, account, doc).await,
    }
}

pub async fn find(
    ctx: &Ctx<'_>,
    account: &Account,
    key: &str,
    issued_on: time::Date,
) -> Result<Option<Issued>, InvoiceError> {
    match account.provider {
        ProviderId::Viettel => viettel::find(ctx, account, key).await,
        ProviderId::Misa => misa::find(ctx, account, key).await,
        ProviderId::Vnpt => vnpt::find(ctx, account, key, issued_on).await,
        ProviderId::Sandbox => sandbox::find(ctx, account, key).await,
    }
}

/// The invoice's PDF as the provider renders it (the sandbox prints its own page instead).
pub async fn pdf(
    ctx: &Ctx<'_>,
    account: &Account,
    key: &str,
    number: &str,
    lookup: Option<&str>,
) -> Result<Vec<u8>, InvoiceError> {
    match account.provider {
        ProviderId::Viettel => viettel::pdf(ctx, account, key, number).await,
        ProviderId::Misa => misa::pdf(ctx, account, lookup.unwrap_or_default()).await,
        ProviderId::Vnpt => vnpt::pdf(ctx, account, key).await,
        ProviderId::Sandbox => Err(InvoiceError::Refused("sandbox: xem trang in".into())),
    }
}

/// Base64 text from an answer, decoded and checked to be a PDF.
pub(crate) fn decode_pdf(b64: &str) -> Result<Vec<u8>, InvoiceError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| InvoiceError::Unavailable("tệp hoá đơn không đọc được".into()))?;
    if !bytes.starts_with(b"%PDF") {
        return Err(InvoiceError::Unavailable(
            "tệp hoá đơn không phải PDF".into(),
        ));
    }
    Ok(bytes)
}

/// Sends a request and reads its body, sorting failures the way the job needs them.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, String), InvoiceError> {
    let res = req.timeout(CALL_TIMEOUT).send().await.map_err(|e| {
        InvoiceError::Unavailable(if e.is_timeout() {
            "nhà cung cấp không trả lời kịp".into()
        } else {
            "không kết nối được nhà cung cấp".into()
        })
    })?;
    let status = res.status();
    let body = res
        .text()
        .await
        .map_err(|_| InvoiceError::Unavailable("kết nối bị ngắt".into()))?;
    if status.is_server_error() && !body.trim_start().starts_with(['{', '<']) {
        return Err(InvoiceError::Unavailable(format!(
            "HTTP {}",
            status.as_u16()
        )));
    }
    Ok((status, body))
}

/// `dd/MM/yyyy`, as VNPT and Viettel's look-ups take dates.
pub(crate) fn dmy(d: time::Date) -> String {
    format!("{:02}/{:02}/{}", d.day(), u8::from(d.month()), d.year())
}

/// Midnight of `d` in Vietnam, in milliseconds since the epoch (Viettel's dates).
pub(crate) fn vn_millis(d: time::Date) -> i64 {
    d.midnight()
        .assume_offset(time::macros::offset!(+7))
        .unix_timestamp()
        * 1000
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn doc() -> Doc {
        Doc {
            key: "5f0e6c2a-9d1b-4c3e-8a7f-0b1c2d3e4f50".into(),
            issued_on: time::macros::date!(2026 - 12 - 03),
            seller: Party {
                name: "HTX Nông sản Bình Liêu".into(),
                tax_code: Some("0200000014".into()),
                address: "Thôn Nà Ếch, Xã Bình Liêu, Tỉnh Quảng Ninh".into(),
                email: None,
                phone: Some("0912345678".into()),
            },
            buyer: Buyer {
                name: "Nguyễn Văn An".into(),
                company: Some("Công ty TNHH Quà Tặng Việt".into()),
                tax_code: Some("0312345673".into()),
                address: "12 Tràng Tiền, Phường Hoàn Kiếm, Thành phố Hà Nội".into(),
                email: Some("ketoan@quatang.vn".into()),
                phone: "0987654321".into(),
            },
            lines: vec![
                Line {
                    name: "Miến dong Bình Liêu".into(),
                    unit: "gói".into(),
                    quantity: 2,
                    unit_price: Vnd::new(52_500),
                    amount: Vnd::new(105_000),
                },
                Line {
                    name: "Phí vận chuyển".into(),
                    unit: "lần".into(),
                    quantity: 1,
                    unit_price: Vnd::new(29_000),
                    amount: Vnd::new(29_000),
                },
            ],
            paid_online: true,
            adjusts: None,
        }
    }

    pub fn account(provider: ProviderId) -> Account {
        Account {
            provider,
            url: String::new(),
            pattern: "1/001".into(),
            series: "C26TBL".into(),
            seller_tax_code: "0200000014".into(),
            vat_rate: Some(5),
            cash_register: false,
            credentials: Credentials {
                username: "0200000014".into(),
                password: "mat-khau".into(),
                app_id: "app-ocop".into(),
                account: "binhlieuadmin".into(),
                account_password: "ac-pass".into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vat_is_split_out_of_a_price_that_includes_it() {
        assert_eq!(
            split_vat(Vnd::new(105_000), Some(5)),
            (Vnd::new(100_000), Vnd::new(5_000))
        );
        assert_eq!(
            split_vat(Vnd::new(29_000), Some(8)),
            (Vnd::new(26_852), Vnd::new(2_148))
        );
        assert_eq!(
            split_vat(Vnd::new(29_000), None),
            (Vnd::new(29_000), Vnd::ZERO)
        );
        assert_eq!(
            split_vat(Vnd::new(-29_000), Some(8)),
            (Vnd::new(-26_852), Vnd::new(-2_148)),
            "a trade-discount line is the mirror of a sale"
        );
    }
}
