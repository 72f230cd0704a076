//! The sandbox carrier (`SHIPPING_SANDBOX=1`, on for the demo): quotes from a fixed table,
//! shipments kept in Redis (shared by every instance), and a page per parcel where a person
//! moves it along (picked up, in transit, delivering, delivered, failed delivery, returning,
//! returned, cash remitted). Each click sends the webhook a carrier would send, through the same
//! path the real carriers reach, and the status query answers from the same state, so a webhook
//! is confirmed by asking like any other.

use super::{
    CarrierError, CarrierId, Created, Event, Label, NewShipment, Parcel, Quote, Refusal, Track,
};
use crate::domain::Vnd;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The table: a base per route and a step per extra half kilogram.
pub fn quote(from_province: i16, to_province: i16, parcel: &Parcel) -> Quote {
    let same = from_province == to_province;
    let (base, step, days) = if same {
        (16_500, 2_500, (1, 2))
    } else {
        (29_000, 5_000, (3, 5))
    };
    let extra_bands = i64::from((parcel.band_g() - 500).max(0) / 500);
    Quote {
        carrier: CarrierId::Sandbox,
        service: if same { "noi-tinh" } else { "lien-tinh" }.into(),
        fee: Vnd::new(base + step * extra_bands),
        days: Some(days),
    }
}

/// What the sandbox carrier knows of a parcel.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Parcelled {
    pub tracking: String,
    pub client_code: String,
    pub track: Track,
    pub at: i64,
    pub cod: i64,
    pub cod_remitted: bool,
}

/// Kept under the marketplace's Redis namespace: parcels of two marketplaces sharing one Redis
/// (or of the test suite's databases) never meet.
fn key(ns: &str, tracking: &str) -> String {
    format!("ocop:{ns}:shipping:sandbox:{tracking}")
}

/// Creating twice with one client code gives the same parcel.
pub async fn create(
    redis: &mut ConnectionManager,
    ns: &str,
    s: &NewShipment,
) -> Result<Created, CarrierError> {
    let digits: String = s.client_code.chars().filter(char::is_ascii_digit).collect();
    let tracking = format!("SBX{digits:0>9}");
    let p = Parcelled {
        tracking: tracking.clone(),
        client_code: s.client_code.clone(),
        track: Track::Created,
        at: OffsetDateTime::now_utc().unix_timestamp(),
        cod: s.parcel.cod.amount(),
        cod_remitted: false,
    };
    let json = serde_json::to_string(&p).map_err(|e| CarrierError::Garbage(e.to_string()))?;
    // NX: a retry keeps the parcel as it is
    let _: Option<String> = redis::cmd("SET")
        .arg(key(ns, &tracking))
        .arg(json)
        .arg("NX")
        .arg("EX")
        .arg(90 * 86_400)
        .query_async(redis)
        .await
        .map_err(|_| CarrierError::Unavailable("Redis".into()))?;
    // the table's price for this route (the sandbox places parties by our province codes)
    let province = |p: &super::Place| p.province_id.unwrap_or(0) as i16;
    let fee = quote(province(&s.from.place), province(&s.to.place), &s.parcel).fee;
    Ok(Created {
        tracking,
        fee: Some(fee),
        expected: Some(OffsetDateTime::now_utc() + time::Duration::days(3)),
    })
}

pub async fn get(
    redis: &mut ConnectionManager,
    ns: &str,
    tracking: &str,
) -> Result<Parcelled, CarrierError> {
    let json: Option<String> = redis::cmd("GET")
        .arg(key(ns, tracking))
        .query_async(redis)
        .await
        .map_err(|_| CarrierError::Unavailable("Redis".into()))?;
    let json = json.ok_or_else(|| CarrierError::Refused("Không có vận đơn này".into()))?;
    serde_json::from_str(&json).map_err(|e| CarrierError::Garbage(e.to_string()))
}

/// Moves a parcel (a person's click on its page) and gives the webhook the carrier sends.
pub async fn advance(
    redis: &mut ConnectionManager,
    ns: &str,
    tracking: &str,
    to: Option<Track>,
    remit: bool,
) -> Result<Vec<u8>, CarrierError> {
    let mut p = get(redis, ns, tracking).await?;
    if let Some(t) = to {
        p.track = t;
    }
    if remit {
        p.cod_remitted = true;
    }
    p.at = OffsetDateTime::now_utc().unix_timestamp();
    let json = serde_json::to_string(&p).map_err(|e| CarrierError::Garbage(e.to_string()))?;
    let _: () = redis::cmd("SET")
        .arg(key(ns, tracking))
        .arg(json)
        .arg("KEEPTTL")
        .query_async(redis)
        .await
        .map_err(|_| CarrierError::Unavailable("Redis".into()))?;
    Ok(webhook_body(&p))
}

pub fn webhook_body(p: &Parcelled) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "tracking": p.tracking,
        "client_code": p.client_code,
        "status": p.track.key(),
        "time": p.at,
        "cod_amount": p.cod,
        "cod_remitted": p.cod_remitted,
    }))
    .unwrap_or_default()
}

fn event_of(p: &Parcelled) -> Event {
    Event {
        tracking: Some(p.tracking.clone()),
        client_code: Some(p.client_code.clone()),
        track: p.track,
        carrier_status: p.track.key().into(),
        note: None,
        at: OffsetDateTime::from_unix_timestamp(p.at).unwrap_or_else(|_| OffsetDateTime::now_utc()),
        cod_remitted: p.cod_remitted,
        cod_amount: Some(Vnd::new(p.cod)),
    }
}

pub fn read_webhook(body: &[u8]) -> Result<Event, Refusal> {
    #[derive(Deserialize)]
    struct Hook {
        tracking: String,
        client_code: String,
        status: String,
        time: i64,
        cod_amount: i64,
        cod_remitted: bool,
    }
    let h: Hook = serde_json::from_slice(body).map_err(|_| Refusal::Unreadable)?;
    let track = Track::from_key(&h.status).ok_or(Refusal::Unreadable)?;
    Ok(event_of(&Parcelled {
        tracking: h.tracking,
        client_code: h.client_code,
        track,
        at: h.time,
        cod: h.cod_amount,
        cod_remitted: h.cod_remitted,
    }))
}

pub async fn status(
    redis: &mut ConnectionManager,
    ns: &str,
    tracking: &str,
) -> Result<Event, CarrierError> {
    Ok(event_of(&get(redis, ns, tracking).await?))
}

pub async fn cancel(
    redis: &mut ConnectionManager,
    ns: &str,
    tracking: &str,
) -> Result<(), CarrierError> {
    let p = get(redis, ns, tracking).await?;
    if p.track != Track::Created {
        return Err(CarrierError::Refused(
            "Đơn đã được lấy, không huỷ được".into(),
        ));
    }
    advance(redis, ns, tracking, Some(Track::Cancelled), false)
        .await
        .map(|_| ())
}

pub fn label(trackings: &[String]) -> Label {
    Label::Url(format!(
        "/sandbox/shipping/labels?codes={}",
        trackings.join(",")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_table_charges_by_route_and_half_kilogram() {
        let p = |g| Parcel {
            weight_g: g,
            length_cm: 10,
            width_cm: 10,
            height_cm: 10,
            value: Vnd::ZERO,
            cod: Vnd::ZERO,
        };
        assert_eq!(quote(22, 22, &p(300)).fee, Vnd::new(16_500));
        assert_eq!(quote(22, 1, &p(300)).fee, Vnd::new(29_000));
        assert_eq!(
            quote(22, 1, &p(1200)).fee,
            Vnd::new(39_000),
            "1.5 kg band: two steps"
        );
        let hook = webhook_body(&Parcelled {
            tracking: "SBX000000042".into(),
            client_code: "OCOP-42".into(),
            track: Track::Delivered,
            at: 1_764_800_000,
            cod: 0,
            cod_remitted: false,
        });
        assert_eq!(read_webhook(&hook).unwrap().track, Track::Delivered);
        assert_eq!(read_webhook(b"{}"), Err(Refusal::Unreadable));
    }
}
