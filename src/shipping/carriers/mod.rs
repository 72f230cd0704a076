//! The carriers behind one shape, like the payment gateways: quote a parcel, create a shipment
//! (idempotent on our producer order), cancel it, get its label, ask its status, and read a
//! webhook into normalised tracking events. One file per carrier, built from its documented
//! requests and answers: GHN, GHTK, Viettel Post, and the sandbox a person clicks through
//! offline.
//!
//! Each carrier splits into pure parts (the request it sends, the reading of the answer), which
//! the tests feed recorded bodies, and the calls, which only send and receive.

pub mod ghn;
pub mod ghtk;
pub mod sandbox;
pub mod vtp;

use crate::domain::Vnd;
use serde::Serialize;
use std::time::Duration;
use time::OffsetDateTime;

/// A carrier we can hand parcels to. Stored as text (`shipment.carrier`, `carrier_setting`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CarrierId {
    Ghn,
    Ghtk,
    Viettelpost,
    Sandbox,
}

impl CarrierId {
    pub const ALL: [CarrierId; 4] = [
        CarrierId::Ghn,
        CarrierId::Ghtk,
        CarrierId::Viettelpost,
        CarrierId::Sandbox,
    ];

    pub fn key(self) -> &'static str {
        match self {
            CarrierId::Ghn => "ghn",
            CarrierId::Ghtk => "ghtk",
            CarrierId::Viettelpost => "viettelpost",
            CarrierId::Sandbox => "sandbox",
        }
    }

    pub fn from_key(k: &str) -> Option<CarrierId> {
        CarrierId::ALL.into_iter().find(|c| c.key() == k)
    }

    /// As shoppers know it.
    pub fn name(self) -> &'static str {
        match self {
            CarrierId::Ghn => "Giao Hàng Nhanh (GHN)",
            CarrierId::Ghtk => "Giao Hàng Tiết Kiệm (GHTK)",
            CarrierId::Viettelpost => "Viettel Post",
            CarrierId::Sandbox => "Vận chuyển thử nghiệm",
        }
    }
}

/// What a parcel weighs and measures, and the money on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Parcel {
    pub weight_g: i32,
    pub length_cm: i32,
    pub width_cm: i32,
    pub height_cm: i32,
    /// the goods' value (declared for insurance on creation)
    pub value: Vnd,
    /// what the carrier collects from the recipient (cash on delivery), zero when paid online
    pub cod: Vnd,
}

impl Parcel {
    /// Quotes are cached per weight band: the band's upper bound is what is quoted.
    pub fn band_g(&self) -> i32 {
        const BAND: i32 = 500;
        (self.weight_g.max(1) + BAND - 1) / BAND * BAND
    }
}

/// A place as one carrier keys it (from the mapping its master data filled): GHN and Viettel
/// Post by their ids, GHTK by names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Place {
    pub province_id: Option<i64>,
    pub district_id: Option<i64>,
    pub ward_id: Option<i64>,
    pub ward_code: Option<String>,
    pub province_name: String,
    pub district_name: String,
    pub ward_name: String,
}

/// One end of a shipment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Party {
    pub name: String,
    pub phone: String,
    pub street: String,
    pub place: Place,
}

/// A carrier's price for a parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Quote {
    pub carrier: CarrierId,
    /// the carrier's service code (GHN service type, Viettel Post's `MA_DV_CHINH`)
    pub service: String,
    pub fee: Vnd,
    /// working days to deliver, as the carrier says (None: it did not say)
    pub days: Option<(u8, u8)>,
}

/// A shipment to create.
#[derive(Debug, Clone, Serialize)]
pub struct NewShipment {
    /// our reference, the same on every retry (`OCOP-<producer order id>`)
    pub client_code: String,
    pub from: Party,
    pub to: Party,
    pub parcel: Parcel,
    pub service: String,
    pub items: Vec<Item>,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub name: String,
    pub quantity: i32,
    pub weight_g: i32,
    pub price: Vnd,
}

/// What the carrier made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub tracking: String,
    pub fee: Option<Vnd>,
    pub expected: Option<OffsetDateTime>,
}

/// Where the label is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Label {
    /// the carrier's print page
    Url(String),
    /// a PDF the carrier sent
    Pdf(Vec<u8>),
}

/// A shipment's progress, the same words for every carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Track {
    /// created, waiting for the pickup
    Created,
    PickedUp,
    InTransit,
    Delivering,
    Delivered,
    DeliveryFailed,
    Returning,
    Returned,
    Cancelled,
    /// lost, damaged, or anything staff must look at
    Exception,
}

impl Track {
    pub const ALL: [Track; 10] = [
        Track::Created,
        Track::PickedUp,
        Track::InTransit,
        Track::Delivering,
        Track::Delivered,
        Track::DeliveryFailed,
        Track::Returning,
        Track::Returned,
        Track::Cancelled,
        Track::Exception,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Track::Created => "created",
            Track::PickedUp => "picked_up",
            Track::InTransit => "in_transit",
            Track::Delivering => "delivering",
            Track::Delivered => "delivered",
            Track::DeliveryFailed => "delivery_failed",
            Track::Returning => "returning",
            Track::Returned => "returned",
            Track::Cancelled => "cancelled",
            Track::Exception => "exception",
        }
    }

    pub fn from_key(k: &str) -> Option<Track> {
        Track::ALL.into_iter().find(|t| t.key() == k)
    }

    /// As the order page says it.
    pub fn label(self) -> &'static str {
        match self {
            Track::Created => "Đã tạo vận đơn, chờ lấy hàng",
            Track::PickedUp => "Đã lấy hàng",
            Track::InTransit => "Đang vận chuyển",
            Track::Delivering => "Đang giao hàng",
            Track::Delivered => "Đã giao hàng",
            Track::DeliveryFailed => "Giao không thành công",
            Track::Returning => "Đang hoàn hàng về người bán",
            Track::Returned => "Đã hoàn hàng về người bán",
            Track::Cancelled => "Vận đơn đã huỷ",
            Track::Exception => "Có sự cố, đang xử lý",
        }
    }

    /// How far along a parcel is: a later event with a lower rank does not move the order back.
    /// Failed delivery and returns are their own branch, after delivery attempts.
    pub fn rank(self) -> u8 {
        match self {
            Track::Created => 0,
            Track::PickedUp => 1,
            Track::InTransit => 2,
            Track::Delivering => 3,
            Track::DeliveryFailed => 4,
            Track::Returning => 5,
            Track::Exception => 5,
            Track::Delivered => 6,
            Track::Returned => 6,
            Track::Cancelled => 6,
        }
    }

    /// The parcel's journey is over.
    pub fn is_final(self) -> bool {
        matches!(self, Track::Delivered | Track::Returned | Track::Cancelled)
    }
}

/// One thing a carrier said about a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// the carrier's tracking code
    pub tracking: Option<String>,
    /// ours, when the carrier echoes it
    pub client_code: Option<String>,
    pub track: Track,
    /// the carrier's own status, kept as it said it
    pub carrier_status: String,
    /// the carrier's words, when it gave some
    pub note: Option<String>,
    pub at: OffsetDateTime,
    /// the carrier says it paid us the cash it collected (GHN `CODTransferDate`, GHTK status 6)
    pub cod_remitted: bool,
    /// the cash on delivery the carrier reports collecting
    pub cod_amount: Option<Vnd>,
}

/// Why a call to a carrier did not give an answer to act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    #[error("chưa cấu hình đơn vị vận chuyển này")]
    NotConfigured,
    #[error("đơn vị vận chuyển không trả lời kịp")]
    Timeout,
    #[error("đơn vị vận chuyển đang gặp sự cố ({0})")]
    Unavailable(String),
    /// the carrier refused, in its words
    #[error("{0}")]
    Refused(String),
    #[error("đơn vị vận chuyển trả lời không đọc được ({0})")]
    Garbage(String),
    #[error("đơn vị vận chuyển này không hỗ trợ việc này")]
    Unsupported,
}

impl CarrierError {
    /// Worth trying again later (the carrier was down or slow), as opposed to refused.
    pub fn retryable(&self) -> bool {
        matches!(self, CarrierError::Timeout | CarrierError::Unavailable(_))
    }
}

/// Why a webhook was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotConfigured,
    BadToken,
    Unreadable,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotConfigured => "carrier not configured",
            Refusal::BadToken => "bad token",
            Refusal::Unreadable => "unreadable body",
        }
    }
}

/// Every call to a carrier has this long at most (quotes have their own, shorter budget).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends a JSON request and reads the JSON answer: times out, and tells a carrier that is down
/// (5xx, no connection) from one that refused (4xx with its message, read by the caller).
pub(crate) async fn call_json(
    req: reqwest::RequestBuilder,
) -> Result<(reqwest::StatusCode, serde_json::Value), CarrierError> {
    let res = req.timeout(CALL_TIMEOUT).send().await.map_err(|e| {
        if e.is_timeout() {
            CarrierError::Timeout
        } else {
            CarrierError::Unavailable("không kết nối được".into())
        }
    })?;
    let status = res.status();
    if status.is_server_error() {
        return Err(CarrierError::Unavailable(format!(
            "HTTP {}",
            status.as_u16()
        )));
    }
    let body = res.bytes().await.map_err(|e| {
        if e.is_timeout() {
            CarrierError::Timeout
        } else {
            CarrierError::Unavailable("kết nối bị ngắt".into())
        }
    })?;
    let json = serde_json::from_slice(&body)
        .map_err(|_| CarrierError::Garbage(format!("HTTP {}", status.as_u16())))?;
    Ok((status, json))
}

/// A JSON number or numeric string as đồng (carriers send both).
pub(crate) fn vnd_of(v: &serde_json::Value) -> Option<Vnd> {
    match v {
        serde_json::Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.round() as i64))
            .map(Vnd::new),
        serde_json::Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .map(|f| Vnd::new(f.round() as i64)),
        _ => None,
    }
}

pub(crate) fn text_of(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Vietnam's clock, where carriers write local times without an offset.
pub(crate) const VN: time::UtcOffset = crate::domain::VN_OFFSET;

/// "2026-11-30T10:15:00Z", "2026-11-30T17:15:00+07:00", "2026-11-30 17:15:00" (local) or
/// "30/11/2026 17:15:00" (local, Viettel Post).
pub(crate) fn parse_time(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let local = [
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[day]/[month]/[year] [hour]:[minute]:[second]"),
        format_description!("[day]/[month]/[year] [hour]:[minute]"),
    ];
    let s = s.split('.').next().unwrap_or(s);
    local.iter().find_map(|f| {
        time::PrimitiveDateTime::parse(s, f)
            .ok()
            .map(|t| t.assume_offset(VN))
    })
}
