//! GHN (Giao Hàng Nhanh), from its public API (`/shiip/public-api`): headers `Token` and
//! `ShopId`, answers wrapped as `{code, message, data}`. Addresses are GHN's `district_id` and
//! `ward_code`. Service type 2 is the e-commerce parcel service. Webhooks are not signed: each
//! is confirmed by asking for the order's detail before it moves anything.

use super::{
    CarrierError, Created, Event, Label, NewShipment, Parcel, Place, Quote, Track, call_json,
    parse_time, text_of, vnd_of,
};
use crate::domain::Vnd;
use crate::shipping::config::Ghn;
use serde_json::{Value, json};

/// E-commerce parcels ("hàng nhẹ").
pub const SERVICE_TYPE: i64 = 2;

fn ids(p: &Place) -> Result<(i64, &str), CarrierError> {
    match (p.district_id, p.ward_code.as_deref()) {
        (Some(d), Some(w)) => Ok((d, w)),
        _ => Err(CarrierError::Refused(
            "GHN chưa có mã địa chỉ cho xã/phường này".into(),
        )),
    }
}

pub fn fee_request(from: &Place, to: &Place, parcel: &Parcel) -> Result<Value, CarrierError> {
    let (fd, fw) = ids(from)?;
    let (td, tw) = ids(to)?;
    Ok(json!({
        "service_type_id": SERVICE_TYPE,
        "from_district_id": fd,
        "from_ward_code": fw,
        "to_district_id": td,
        "to_ward_code": tw,
        "weight": parcel.band_g(),
        "length": parcel.length_cm,
        "width": parcel.width_cm,
        "height": parcel.height_cm,
        "insurance_value": 0,
        "cod_value": 0,
    }))
}

/// The envelope's `data`, or the carrier's refusal in its words.
fn data(status: reqwest::StatusCode, body: &Value) -> Result<&Value, CarrierError> {
    let code = body.get("code").and_then(Value::as_i64);
    if code == Some(200) && status.is_success() {
        return body
            .get("data")
            .filter(|d| !d.is_null())
            .ok_or_else(|| CarrierError::Garbage("không có data".into()));
    }
    match body.get("message").and_then(text_of) {
        Some(m) if code.is_some() => Err(CarrierError::Refused(format!("GHN: {m}"))),
        _ => Err(CarrierError::Garbage(format!("HTTP {}", status.as_u16()))),
    }
}

pub fn read_fee(status: reqwest::StatusCode, body: &Value) -> Result<Quote, CarrierError> {
    let d = data(status, body)?;
    let fee = d
        .get("total")
        .and_then(vnd_of)
        .filter(|f| *f > Vnd::ZERO)
        .ok_or_else(|| CarrierError::Garbage("không có phí".into()))?;
    Ok(Quote {
        carrier: super::CarrierId::Ghn,
        service: SERVICE_TYPE.to_string(),
        fee,
        days: None,
    })
}

pub fn create_request(s: &NewShipment) -> Result<Value, CarrierError> {
    let (td, tw) = ids(&s.to.place)?;
    let (fd, fw) = ids(&s.from.place)?;
    let items: Vec<Value> = s
        .items
        .iter()
        .map(|i| json!({"name": i.name, "quantity": i.quantity, "weight": i.weight_g, "price": i.price.amount()}))
        .collect();
    Ok(json!({
        // the shop pays GHN; what the recipient pays is the cash on delivery we set
        "payment_type_id": 1,
        "required_note": "CHOXEMHANGKHONGTHU",
        "client_order_code": s.client_code,
        "from_name": s.from.name,
        "from_phone": s.from.phone,
        "from_address": s.from.street,
        "from_ward_code": fw,
        "from_district_id": fd,
        "return_phone": s.from.phone,
        "return_address": s.from.street,
        "return_district_id": fd,
        "return_ward_code": fw,
        "to_name": s.to.name,
        "to_phone": s.to.phone,
        "to_address": s.to.street,
        "to_ward_code": tw,
        "to_district_id": td,
        "cod_amount": s.parcel.cod.amount(),
        "content": s.items.iter().map(|i| format!("{} x{}", i.name, i.quantity)).collect::<Vec<_>>().join(", "),
        "weight": s.parcel.weight_g,
        "length": s.parcel.length_cm,
        "width": s.parcel.width_cm,
        "height": s.parcel.height_cm,
        "insurance_value": s.parcel.value.amount().min(5_000_000),
        "service_type_id": SERVICE_TYPE,
        "note": s.note,
        "items": items,
    }))
}

pub fn read_created(status: reqwest::StatusCode, body: &Value) -> Result<Created, CarrierError> {
    let d = data(status, body)?;
    let tracking = d
        .get("order_code")
        .and_then(text_of)
        .ok_or_else(|| CarrierError::Garbage("không có mã vận đơn".into()))?;
    Ok(Created {
        tracking,
        fee: d.get("total_fee").and_then(vnd_of),
        expected: d
            .get("expected_delivery_time")
            .and_then(Value::as_str)
            .and_then(parse_time),
    })
}

/// GHN's order statuses in our words.
pub fn track_of(status: &str) -> Track {
    match status {
        "ready_to_pick" | "picking" | "money_collect_picking" => Track::Created,
        "picked" => Track::PickedUp,
        "storing" | "transporting" | "sorting" => Track::InTransit,
        "delivering" | "money_collect_delivering" => Track::Delivering,
        "delivered" => Track::Delivered,
        "delivery_fail" => Track::DeliveryFailed,
        "waiting_to_return"
        | "return"
        | "return_transporting"
        | "return_sorting"
        | "returning"
        | "return_fail" => Track::Returning,
        "returned" => Track::Returned,
        "cancel" => Track::Cancelled,
        _ => Track::Exception,
    }
}

/// A webhook: `{OrderCode, ClientOrderCode, Status, Type, Time, CODAmount, CODTransferDate, …}`.
pub fn read_webhook(body: &[u8]) -> Result<Event, super::Refusal> {
    let v: Value = serde_json::from_slice(body).map_err(|_| super::Refusal::Unreadable)?;
    let status = v
        .get("Status")
        .and_then(Value::as_str)
        .ok_or(super::Refusal::Unreadable)?
        .to_string();
    let tracking = v.get("OrderCode").and_then(text_of);
    let client_code = v.get("ClientOrderCode").and_then(text_of);
    if tracking.is_none() && client_code.is_none() {
        return Err(super::Refusal::Unreadable);
    }
    let at = v
        .get("Time")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .ok_or(super::Refusal::Unreadable)?;
    Ok(Event {
        tracking,
        client_code,
        track: track_of(&status),
        note: v.get("Reason").and_then(text_of),
        carrier_status: status,
        at,
        cod_remitted: v.get("CODTransferDate").and_then(text_of).is_some(),
        cod_amount: v.get("CODAmount").and_then(vnd_of),
    })
}

/// The order's detail (`/v2/shipping-order/detail`): where it is now, as an event.
pub fn read_detail(status: reqwest::StatusCode, body: &Value) -> Result<Event, CarrierError> {
    let d = data(status, body)?;
    let st = d
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| CarrierError::Garbage("không có trạng thái".into()))?;
    // the latest log entry dates the status; the order's update time otherwise
    let at = d
        .get("log")
        .and_then(Value::as_array)
        .and_then(|l| l.last())
        .and_then(|l| l.get("updated_date"))
        .or_else(|| d.get("updated_date"))
        .and_then(Value::as_str)
        .and_then(parse_time)
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    Ok(Event {
        tracking: d.get("order_code").and_then(text_of),
        client_code: d.get("client_order_code").and_then(text_of),
        track: track_of(st),
        carrier_status: st.to_string(),
        note: None,
        at,
        cod_remitted: d.get("cod_transfer_date").and_then(text_of).is_some(),
        cod_amount: d.get("cod_amount").and_then(vnd_of),
    })
}

fn post(c: &Ghn, client: &reqwest::Client, path: &str, body: &Value) -> reqwest::RequestBuilder {
    client
        .post(format!("{}{path}", c.url))
        .header("Token", &c.token)
        .header("ShopId", &c.shop_id)
        .json(body)
}

pub async fn quote(
    c: &Ghn,
    client: &reqwest::Client,
    from: &Place,
    to: &Place,
    parcel: &Parcel,
) -> Result<Quote, CarrierError> {
    let body = fee_request(from, to, parcel)?;
    // the fee and the delivery date are separate calls; asked together, and a date GHN
    // cannot give leaves the fee standing (the checkout then shows the flat window)
    let fee = async {
        let (status, answer) = call_json(post(c, client, "/v2/shipping-order/fee", &body)).await?;
        read_fee(status, &answer)
    };
    let (fee, days) = tokio::join!(fee, leadtime(c, client, from, to));
    let mut q = fee?;
    q.days = days.ok().flatten();
    Ok(q)
}

/// `/v2/shipping-order/available-services` names the e-commerce service's id for the route,
/// `/v2/shipping-order/leadtime` gives its expected delivery time (unix seconds).
async fn leadtime(
    c: &Ghn,
    client: &reqwest::Client,
    from: &Place,
    to: &Place,
) -> Result<Option<(u8, u8)>, CarrierError> {
    let (fd, fw) = ids(from)?;
    let (td, tw) = ids(to)?;
    let shop: i64 = c.shop_id.trim().parse().unwrap_or_default();
    let (status, answer) = call_json(post(
        c,
        client,
        "/v2/shipping-order/available-services",
        &json!({"shop_id": shop, "from_district": fd, "to_district": td}),
    ))
    .await?;
    let Some(service) = read_service(status, &answer)? else {
        return Ok(None);
    };
    let (status, answer) = call_json(post(
        c,
        client,
        "/v2/shipping-order/leadtime",
        &json!({"from_district_id": fd, "from_ward_code": fw, "to_district_id": td,
                "to_ward_code": tw, "service_id": service}),
    ))
    .await?;
    read_leadtime(
        status,
        &answer,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
}

/// The id of the e-commerce parcel service (type 2) on this route, if GHN offers one.
pub fn read_service(
    status: reqwest::StatusCode,
    body: &Value,
) -> Result<Option<i64>, CarrierError> {
    let d = data(status, body)?;
    Ok(d.as_array().and_then(|services| {
        services
            .iter()
            .find(|s| s.get("service_type_id").and_then(Value::as_i64) == Some(SERVICE_TYPE))
            .and_then(|s| s.get("service_id").and_then(Value::as_i64))
    }))
}

/// Whole days from `now` to GHN's expected delivery time, at least one.
pub fn read_leadtime(
    status: reqwest::StatusCode,
    body: &Value,
    now: i64,
) -> Result<Option<(u8, u8)>, CarrierError> {
    let d = data(status, body)?;
    Ok(d.get("leadtime").and_then(Value::as_i64).map(|at| {
        let days = ((at - now + 86_399) / 86_400).clamp(1, 30) as u8;
        (days, days)
    }))
}

pub async fn create(
    c: &Ghn,
    client: &reqwest::Client,
    s: &NewShipment,
) -> Result<Created, CarrierError> {
    let body = create_request(s)?;
    let (status, answer) = call_json(post(c, client, "/v2/shipping-order/create", &body)).await?;
    match read_created(status, &answer) {
        Ok(c) => Ok(c),
        // a retry after an answer we never got: GHN knows the order by our code
        Err(CarrierError::Refused(m)) if m.to_lowercase().contains("client_order_code") => {
            let (status, answer) = call_json(post(
                c,
                client,
                "/v2/shipping-order/detail-by-client-code",
                &json!({"client_order_code": s.client_code}),
            ))
            .await?;
            let e = read_detail(status, &answer)?;
            Ok(Created {
                tracking: e
                    .tracking
                    .ok_or_else(|| CarrierError::Garbage("không có mã vận đơn".into()))?,
                fee: None,
                expected: None,
            })
        }
        Err(e) => Err(e),
    }
}

pub async fn cancel(c: &Ghn, client: &reqwest::Client, tracking: &str) -> Result<(), CarrierError> {
    let (status, answer) = call_json(post(
        c,
        client,
        "/v2/switch-status/cancel",
        &json!({"order_codes": [tracking]}),
    ))
    .await?;
    data(status, &answer).map(|_| ())
}

pub async fn status(
    c: &Ghn,
    client: &reqwest::Client,
    tracking: &str,
) -> Result<Event, CarrierError> {
    let (status, answer) = call_json(post(
        c,
        client,
        "/v2/shipping-order/detail",
        &json!({"order_code": tracking}),
    ))
    .await?;
    read_detail(status, &answer)
}

/// A print token (`/v2/a5/gen-token`) opens GHN's A5 label page for several orders at once.
pub async fn label(
    c: &Ghn,
    client: &reqwest::Client,
    trackings: &[String],
) -> Result<Label, CarrierError> {
    let (status, answer) = call_json(post(
        c,
        client,
        "/v2/a5/gen-token",
        &json!({"order_codes": trackings}),
    ))
    .await?;
    let token = data(status, &answer)?
        .get("token")
        .and_then(text_of)
        .ok_or_else(|| CarrierError::Garbage("không có mã in".into()))?;
    let print = c.url.replace("/shiip/public-api", "/a5/public-api/printA5");
    Ok(Label::Url(format!("{print}?token={token}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn place(d: i64, w: &str) -> Place {
        Place {
            district_id: Some(d),
            ward_code: Some(w.into()),
            ..Place::default()
        }
    }

    #[test]
    fn the_delivery_date_is_read_from_the_e_commerce_service_leadtime() {
        // recorded answers of /v2/shipping-order/available-services and /leadtime
        let services: Value = serde_json::from_str(
            r#"{"code":200,"message":"Success","data":[{"service_id":53321,"short_name":"Hàng nhẹ","service_type_id":2,"config_fee_id":"","extra_cost_id":"","standard_config_fee_id":"","standard_extra_cost_id":""},{"service_id":100039,"short_name":"Hàng nặng","service_type_id":5,"config_fee_id":"","extra_cost_id":"","standard_config_fee_id":"","standard_extra_cost_id":""}]}"#,
        )
        .unwrap();
        assert_eq!(
            read_service(StatusCode::OK, &services).unwrap(),
            Some(53321)
        );
        let lead: Value = serde_json::from_str(
            r#"{"code":200,"message":"Success","data":{"leadtime":1733356799,"order_date":1733097600,"leadtime_order":{"from_estimate_date":"2024-12-04T00:00:00Z","to_estimate_date":"2024-12-04T23:59:59Z"}}}"#,
        )
        .unwrap();
        assert_eq!(
            read_leadtime(StatusCode::OK, &lead, 1733097600).unwrap(),
            Some((3, 3)),
            "2 Dec 00:00 to 4 Dec 23:59 is three days"
        );
        let none: Value =
            serde_json::from_str(r#"{"code":400,"message":"route not supported","data":null}"#)
                .unwrap();
        assert!(read_leadtime(StatusCode::BAD_REQUEST, &none, 0).is_err());
    }

    #[test]
    fn a_fee_is_asked_for_the_weight_band_and_read_from_the_total() {
        let parcel = Parcel {
            weight_g: 1200,
            length_cm: 20,
            width_cm: 15,
            height_cm: 10,
            value: Vnd::new(450_000),
            cod: Vnd::ZERO,
        };
        let req = fee_request(&place(1542, "1B2128"), &place(1454, "21211"), &parcel).unwrap();
        assert_eq!(req["weight"], 1500, "quoted at the band's upper bound");
        assert_eq!(req["to_ward_code"], "21211");
        assert_eq!(req["service_type_id"], 2);
        // recorded answer of /v2/shipping-order/fee
        let answer: Value = serde_json::from_str(
            r#"{"code":200,"message":"Success","data":{"total":36300,"service_fee":36300,"insurance_fee":0,"pick_station_fee":0,"coupon_value":0,"r2s_fee":0,"return_again":0,"document_return":0,"double_check":0,"cod_fee":0,"pick_remote_areas_fee":0,"deliver_remote_areas_fee":0,"cod_failed_fee":0}}"#,
        )
        .unwrap();
        let q = read_fee(StatusCode::OK, &answer).unwrap();
        assert_eq!(q.fee, Vnd::new(36_300));
        let unmapped = Place::default();
        assert!(matches!(
            fee_request(&unmapped, &place(1, "1"), &parcel),
            Err(CarrierError::Refused(_))
        ));
    }

    #[test]
    fn a_refusal_keeps_ghns_words_and_garbage_is_told_apart() {
        let refused: Value = serde_json::from_str(
            r#"{"code":400,"message":"Số điện thoại người nhận không hợp lệ","data":null,"code_message":"PHONE_INVALID"}"#,
        )
        .unwrap();
        assert_eq!(
            read_created(StatusCode::BAD_REQUEST, &refused),
            Err(CarrierError::Refused(
                "GHN: Số điện thoại người nhận không hợp lệ".into()
            ))
        );
        let garbage: Value = serde_json::from_str(r#"{"hello":"world"}"#).unwrap();
        assert!(matches!(
            read_created(StatusCode::OK, &garbage),
            Err(CarrierError::Garbage(_))
        ));
    }

    #[test]
    fn a_created_order_gives_its_tracking_code_fee_and_expected_time() {
        let answer: Value = serde_json::from_str(
            r#"{"code":200,"message":"Success","data":{"order_code":"GANVX8UL","sort_code":"190-G-01-A8","trans_type":"truck","ward_encode":"","district_encode":"","fee":{"main_service":36300,"insurance":2250,"station_do":0,"station_pu":0,"return":0,"r2s":0,"coupon":0},"total_fee":38550,"expected_delivery_time":"2026-12-03T16:59:59Z"}}"#,
        )
        .unwrap();
        let c = read_created(StatusCode::OK, &answer).unwrap();
        assert_eq!(c.tracking, "GANVX8UL");
        assert_eq!(c.fee, Some(Vnd::new(38_550)));
        assert_eq!(
            c.expected.unwrap().unix_timestamp(),
            time::macros::datetime!(2026-12-03 16:59:59 UTC).unix_timestamp()
        );
    }

    #[test]
    fn a_webhook_reads_status_time_and_cod_remittance() {
        let body = br#"{"CODAmount":515000,"CODTransferDate":null,"ClientOrderCode":"OCOP-42","ConvertedWeight":1500,"Description":"Giao hang thanh cong","Fee":{"CODFee":0,"Coupon":0,"DeliverRemoteAreasFee":0,"DocumentReturn":0,"DoubleCheck":0,"Insurance":2250,"MainService":36300,"PickRemoteAreasFee":0,"R2S":0,"Return":0,"StationDO":0,"StationPU":0,"Total":38550},"Height":10,"IsPartialReturn":false,"Length":20,"OrderCode":"GANVX8UL","PartialReturnCode":"","PaymentType":1,"Reason":"","ReasonCode":"","ShopID":885,"Status":"delivered","Time":"2026-12-02T09:12:44.237Z","TotalFee":38550,"Type":"switch_status","Warehouse":"Buu cuc Ba Che","Weight":1200,"Width":15}"#;
        let e = read_webhook(body).unwrap();
        assert_eq!(e.tracking.as_deref(), Some("GANVX8UL"));
        assert_eq!(e.client_code.as_deref(), Some("OCOP-42"));
        assert_eq!(e.track, Track::Delivered);
        assert!(!e.cod_remitted);
        assert_eq!(e.cod_amount, Some(Vnd::new(515_000)));
        let remitted = String::from_utf8_lossy(body).replace(
            r#""CODTransferDate":null"#,
            r#""CODTransferDate":"2026-12-05T03:00:00Z""#,
        );
        assert!(read_webhook(remitted.as_bytes()).unwrap().cod_remitted);
        assert!(
            read_webhook(b"{\"Status\":\"delivered\"}").is_err(),
            "no order named"
        );
        assert!(read_webhook(b"<html>").is_err());
    }

    #[test]
    fn every_ghn_status_has_a_place_in_ours() {
        assert_eq!(track_of("ready_to_pick"), Track::Created);
        assert_eq!(track_of("picked"), Track::PickedUp);
        assert_eq!(track_of("transporting"), Track::InTransit);
        assert_eq!(track_of("delivering"), Track::Delivering);
        assert_eq!(track_of("delivery_fail"), Track::DeliveryFailed);
        assert_eq!(track_of("waiting_to_return"), Track::Returning);
        assert_eq!(track_of("returned"), Track::Returned);
        assert_eq!(track_of("cancel"), Track::Cancelled);
        assert_eq!(track_of("lost"), Track::Exception);
    }
}
