//! GHTK (Giao Hàng Tiết Kiệm), from its public API (`services.giaohangtietkiem.vn`): headers
//! `Token` and `X-Client-Source`, answers `{success, message, …}`. GHTK addresses by names
//! (province, district, ward), not codes. Our order id is GHTK's `partner_id`: creating it again
//! answers `ORDER_ID_EXIST` with the label already made, so a retry is safe. Webhooks are not
//! signed: each is confirmed by asking for the order before it moves anything.

use super::{
    CarrierError, Created, Event, Label, NewShipment, Parcel, Place, Quote, Refusal, Track,
    call_json, parse_time, text_of, vnd_of,
};
use crate::domain::Vnd;
use crate::shipping::config::Ghtk;
use serde_json::{Value, json};

fn names(p: &Place) -> Result<(&str, &str, &str), CarrierError> {
    if p.province_name.is_empty() || p.ward_name.is_empty() {
        return Err(CarrierError::Refused(
            "GHTK chưa có tên địa chỉ cho xã/phường này".into(),
        ));
    }
    Ok((&p.province_name, &p.district_name, &p.ward_name))
}

/// The query string of `GET /services/shipment/fee`.
pub fn fee_query(
    from: &Place,
    to: &Place,
    street: &str,
    parcel: &Parcel,
) -> Result<Vec<(&'static str, String)>, CarrierError> {
    let (pp, pd, pw) = names(from)?;
    let (tp, td, tw) = names(to)?;
    Ok(vec![
        ("pick_province", pp.into()),
        ("pick_district", pd.into()),
        ("pick_ward", pw.into()),
        ("province", tp.into()),
        ("district", td.into()),
        ("ward", tw.into()),
        ("address", street.into()),
        ("weight", parcel.band_g().to_string()),
        ("value", "0".into()),
        ("transport", "road".into()),
        ("deliver_option", "none".into()),
    ])
}

fn refused(body: &Value, status: reqwest::StatusCode) -> CarrierError {
    match body.get("message").and_then(text_of) {
        Some(m) => CarrierError::Refused(format!("GHTK: {m}")),
        None => CarrierError::Garbage(format!("HTTP {}", status.as_u16())),
    }
}

fn ok(body: &Value) -> bool {
    body.get("success").and_then(Value::as_bool) == Some(true)
}

pub fn read_fee(status: reqwest::StatusCode, body: &Value) -> Result<Quote, CarrierError> {
    if !ok(body) {
        return Err(refused(body, status));
    }
    let fee = body
        .get("fee")
        .ok_or_else(|| CarrierError::Garbage("không có phí".into()))?;
    if fee.get("delivery").and_then(Value::as_bool) == Some(false) {
        return Err(CarrierError::Refused(
            "GHTK chưa giao đến địa chỉ này".into(),
        ));
    }
    let amount = fee
        .get("fee")
        .and_then(vnd_of)
        .filter(|f| *f > Vnd::ZERO)
        .ok_or_else(|| CarrierError::Garbage("không có phí".into()))?;
    Ok(Quote {
        carrier: super::CarrierId::Ghtk,
        service: "road".into(),
        fee: amount,
        days: None,
    })
}

pub fn create_request(s: &NewShipment) -> Result<Value, CarrierError> {
    let (pp, pd, pw) = names(&s.from.place)?;
    let (tp, td, tw) = names(&s.to.place)?;
    let products: Vec<Value> = s
        .items
        .iter()
        .map(|i| {
            json!({
                "name": i.name,
                // GHTK weighs products in kilograms
                "weight": f64::from(i.weight_g) / 1000.0,
                "quantity": i.quantity,
                "price": i.price.amount(),
            })
        })
        .collect();
    Ok(json!({
        "products": products,
        "order": {
            "id": s.client_code,
            "pick_name": s.from.name,
            "pick_address": s.from.street,
            "pick_province": pp,
            "pick_district": pd,
            "pick_ward": pw,
            "pick_tel": s.from.phone,
            "name": s.to.name,
            "address": s.to.street,
            "province": tp,
            "district": td,
            "ward": tw,
            "hamlet": "Khác",
            "tel": s.to.phone,
            // the shop pays shipping; the recipient pays only the cash on delivery we set
            "is_freeship": "1",
            "pick_money": s.parcel.cod.amount(),
            "value": s.parcel.value.amount(),
            "note": s.note,
            "transport": "road",
            "pick_option": "cod",
        }
    }))
}

pub fn read_created(status: reqwest::StatusCode, body: &Value) -> Result<Created, CarrierError> {
    if ok(body) {
        let o = body
            .get("order")
            .ok_or_else(|| CarrierError::Garbage("không có đơn".into()))?;
        return Ok(Created {
            tracking: o
                .get("label")
                .and_then(text_of)
                .ok_or_else(|| CarrierError::Garbage("không có mã vận đơn".into()))?,
            fee: o.get("fee").and_then(vnd_of),
            expected: o
                .get("estimated_deliver_time")
                .and_then(Value::as_str)
                .and_then(parse_time),
        });
    }
    // made by an earlier try whose answer we never got: GHTK names its label
    let err = body.get("error");
    if err.and_then(|e| e.get("code")).and_then(Value::as_str) == Some("ORDER_ID_EXIST") {
        if let Some(label) = err.and_then(|e| e.get("ghtk_label")).and_then(text_of) {
            return Ok(Created {
                tracking: label,
                fee: None,
                expected: None,
            });
        }
    }
    Err(refused(body, status))
}

/// GHTK's `status_id`s in our words.
pub fn track_of(status_id: i64) -> Track {
    match status_id {
        -1 => Track::Cancelled,
        1 | 2 | 7 | 8 | 12 | 127 | 128 => Track::Created,
        3 | 123 => Track::PickedUp,
        4 | 10 | 410 => Track::Delivering,
        5 | 6 | 45 => Track::Delivered,
        9 | 49 => Track::DeliveryFailed,
        20 => Track::Returning,
        11 | 21 => Track::Returned,
        _ => Track::Exception,
    }
}

/// GHTK's own words for a status, for the timeline when it sends none.
fn status_text(status_id: i64) -> &'static str {
    match status_id {
        -1 => "Hủy đơn hàng",
        1 => "Chưa tiếp nhận",
        2 => "Đã tiếp nhận",
        3 => "Đã lấy hàng/Đã nhập kho",
        4 => "Đã điều phối giao hàng/Đang giao hàng",
        5 => "Đã giao hàng/Chưa đối soát",
        6 => "Đã đối soát",
        7 => "Không lấy được hàng",
        8 => "Hoãn lấy hàng",
        9 => "Không giao được hàng",
        10 => "Delay giao hàng",
        11 => "Đã đối soát công nợ trả hàng",
        12 => "Đã điều phối lấy hàng/Đang lấy hàng",
        20 => "Đang trả hàng",
        21 => "Đã trả hàng",
        _ => "",
    }
}

fn int_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A webhook: `label_id`, `partner_id`, `status_id`, `action_time`, `reason`, `pick_money`, as
/// JSON or a form.
pub fn read_webhook(body: &[u8]) -> Result<Event, Refusal> {
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|_| {
        Value::Object(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        )
    });
    let status_id = int_of(v.get("status_id")).ok_or(Refusal::Unreadable)?;
    let tracking = v.get("label_id").and_then(text_of);
    let client_code = v.get("partner_id").and_then(text_of);
    if tracking.is_none() && client_code.is_none() {
        return Err(Refusal::Unreadable);
    }
    let at = v
        .get("action_time")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .ok_or(Refusal::Unreadable)?;
    Ok(Event {
        tracking,
        client_code,
        track: track_of(status_id),
        carrier_status: status_id.to_string(),
        note: v
            .get("reason")
            .and_then(text_of)
            .or_else(|| Some(status_text(status_id).to_string()).filter(|s| !s.is_empty())),
        at,
        cod_remitted: status_id == 6,
        cod_amount: v.get("pick_money").and_then(vnd_of),
    })
}

/// `GET /services/shipment/v2/{label}`.
pub fn read_status(status: reqwest::StatusCode, body: &Value) -> Result<Event, CarrierError> {
    if !ok(body) {
        return Err(refused(body, status));
    }
    let o = body
        .get("order")
        .ok_or_else(|| CarrierError::Garbage("không có đơn".into()))?;
    let status_id = int_of(o.get("status"))
        .ok_or_else(|| CarrierError::Garbage("không có trạng thái".into()))?;
    Ok(Event {
        tracking: o.get("label_id").and_then(text_of),
        client_code: o.get("partner_id").and_then(text_of),
        track: track_of(status_id),
        carrier_status: status_id.to_string(),
        note: o.get("status_text").and_then(text_of),
        at: o
            .get("modified")
            .and_then(Value::as_str)
            .and_then(parse_time)
            .unwrap_or_else(time::OffsetDateTime::now_utc),
        cod_remitted: status_id == 6,
        cod_amount: o.get("pick_money").and_then(vnd_of),
    })
}

fn with_auth(c: &Ghtk, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.header("Token", &c.token)
        .header("X-Client-Source", &c.client_source)
}

pub async fn quote(
    c: &Ghtk,
    client: &reqwest::Client,
    from: &Place,
    to: &Place,
    parcel: &Parcel,
) -> Result<Quote, CarrierError> {
    let q = fee_query(from, to, "", parcel)?;
    let req = with_auth(
        c,
        client
            .get(format!("{}/services/shipment/fee", c.url))
            .query(&q),
    );
    let (status, answer) = call_json(req).await?;
    read_fee(status, &answer)
}

pub async fn create(
    c: &Ghtk,
    client: &reqwest::Client,
    s: &NewShipment,
) -> Result<Created, CarrierError> {
    let body = create_request(s)?;
    let req = with_auth(
        c,
        client
            .post(format!("{}/services/shipment/order", c.url))
            .json(&body),
    );
    let (status, answer) = call_json(req).await?;
    read_created(status, &answer)
}

pub async fn cancel(
    c: &Ghtk,
    client: &reqwest::Client,
    tracking: &str,
) -> Result<(), CarrierError> {
    let req = with_auth(
        c,
        client.post(format!("{}/services/shipment/cancel/{tracking}", c.url)),
    );
    let (status, answer) = call_json(req).await?;
    if ok(&answer) {
        Ok(())
    } else {
        Err(refused(&answer, status))
    }
}

pub async fn status(
    c: &Ghtk,
    client: &reqwest::Client,
    tracking: &str,
) -> Result<Event, CarrierError> {
    let req = with_auth(
        c,
        client.get(format!("{}/services/shipment/v2/{tracking}", c.url)),
    );
    let (status, answer) = call_json(req).await?;
    read_status(status, &answer)
}

/// `GET /services/label/{label}` answers the PDF itself.
pub async fn label(
    c: &Ghtk,
    client: &reqwest::Client,
    tracking: &str,
) -> Result<Label, CarrierError> {
    let res = with_auth(
        c,
        client.get(format!("{}/services/label/{tracking}", c.url)),
    )
    .timeout(super::CALL_TIMEOUT)
    .send()
    .await
    .map_err(|e| {
        if e.is_timeout() {
            CarrierError::Timeout
        } else {
            CarrierError::Unavailable("không kết nối được".into())
        }
    })?;
    let status = res.status();
    let pdf = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        == Some("application/pdf");
    let body = res
        .bytes()
        .await
        .map_err(|_| CarrierError::Unavailable("kết nối bị ngắt".into()))?;
    if status.is_success() && (pdf || body.starts_with(b"%PDF")) {
        return Ok(Label::Pdf(body.to_vec()));
    }
    let json: Value = serde_json::from_slice(&body)
        .map_err(|_| CarrierError::Garbage(format!("HTTP {}", status.as_u16())))?;
    Err(refused(&json, status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn a_fee_is_asked_by_names_and_an_address_gthk_does_not_serve_is_refused() {
        let from = Place {
            province_name: "Quảng Ninh".into(),
            district_name: "Ba Chẽ".into(),
            ward_name: "Xã Ba Chẽ".into(),
            ..Place::default()
        };
        let to = Place {
            province_name: "Hà Nội".into(),
            district_name: "".into(),
            ward_name: "Phường Hoàn Kiếm".into(),
            ..Place::default()
        };
        let parcel = Parcel {
            weight_g: 700,
            length_cm: 10,
            width_cm: 10,
            height_cm: 10,
            value: Vnd::new(200_000),
            cod: Vnd::ZERO,
        };
        let q = fee_query(&from, &to, "12 Hàng Bạc", &parcel).unwrap();
        assert!(q.contains(&("weight", "1000".to_string())));
        assert!(q.contains(&("ward", "Phường Hoàn Kiếm".to_string())));
        let answer: Value = serde_json::from_str(
            r#"{"success":true,"message":"","fee":{"name":"area2","fee":32000,"insurance_fee":0,"include_vat":0,"cost_id":0,"delivery_type":"","a":0,"dt":"","extFees":[],"delivery":true}}"#,
        )
        .unwrap();
        assert_eq!(
            read_fee(StatusCode::OK, &answer).unwrap().fee,
            Vnd::new(32_000)
        );
        let nowhere: Value = serde_json::from_str(
            r#"{"success":true,"message":"","fee":{"name":"area3","fee":0,"insurance_fee":0,"delivery":false}}"#,
        )
        .unwrap();
        assert!(matches!(
            read_fee(StatusCode::OK, &nowhere),
            Err(CarrierError::Refused(_))
        ));
    }

    #[test]
    fn creating_twice_finds_the_label_made_the_first_time() {
        let made: Value = serde_json::from_str(
            r#"{"success":true,"message":"Các đơn hàng đã được add vào hệ thống GHTK thành công. Thông tin đơn hàng thành công được trả về trong trường success_orders.","order":{"partner_id":"OCOP-42","label":"S1.A1.17373471","area":"1","fee":"30400","insurance_fee":"0","estimated_pick_time":"Sáng 2026-12-03","estimated_deliver_time":"2026-12-05 17:00:00","products":[],"status_id":2,"tracking_id":17373471,"sorting_code":"SO-C1"}}"#,
        )
        .unwrap();
        let c = read_created(StatusCode::OK, &made).unwrap();
        assert_eq!(c.tracking, "S1.A1.17373471");
        assert_eq!(c.fee, Some(Vnd::new(30_400)));
        assert!(c.expected.is_some());
        let again: Value = serde_json::from_str(
            r#"{"success":false,"message":"Mã đơn hàng OCOP-42 đã tồn tại trên hệ thống","error":{"code":"ORDER_ID_EXIST","partner_id":"OCOP-42","ghtk_label":"S1.A1.17373471","created":"2026-12-02 15:31:08","status":2}}"#,
        )
        .unwrap();
        assert_eq!(
            read_created(StatusCode::OK, &again).unwrap().tracking,
            "S1.A1.17373471"
        );
        let refused: Value =
            serde_json::from_str(r#"{"success":false,"message":"Số điện thoại không hợp lệ"}"#)
                .unwrap();
        assert_eq!(
            read_created(StatusCode::OK, &refused),
            Err(CarrierError::Refused(
                "GHTK: Số điện thoại không hợp lệ".into()
            ))
        );
    }

    #[test]
    fn a_webhook_as_json_or_form_reads_the_same_and_status_6_is_cod_remitted() {
        let json = br#"{"partner_id":"OCOP-42","label_id":"S1.A1.17373471","status_id":5,"action_time":"2026-12-04T10:20:00+07:00","reason_code":"","reason":"","weight":0.7,"fee":30400,"pick_money":515000,"return_part_package":0}"#;
        let e = read_webhook(json).unwrap();
        assert_eq!(e.track, Track::Delivered);
        assert_eq!(e.client_code.as_deref(), Some("OCOP-42"));
        assert!(!e.cod_remitted);
        let form = b"partner_id=OCOP-42&label_id=S1.A1.17373471&status_id=6&action_time=2026-12-06T09%3A00%3A00%2B07%3A00&pick_money=515000";
        let e = read_webhook(form).unwrap();
        assert!(e.cod_remitted);
        assert_eq!(e.note.as_deref(), Some("Đã đối soát"));
        assert_eq!(track_of(9), Track::DeliveryFailed);
        assert_eq!(track_of(21), Track::Returned);
        assert!(read_webhook(b"status_id=5").is_err());
    }

    #[test]
    fn the_status_answer_names_where_the_parcel_is() {
        let answer: Value = serde_json::from_str(
            r#"{"success":true,"message":"","order":{"label_id":"S1.A1.17373471","partner_id":"OCOP-42","status":"4","status_text":"Đã điều phối giao hàng/Đang giao hàng","created":"2026-12-02 15:31:08","modified":"2026-12-04 08:02:11","message":"","pick_date":"2026-12-03","deliver_date":"","customer_fullname":"Nguyễn Văn A","customer_tel":"0912345678","address":"12 Hàng Bạc","storage_day":0,"ship_money":30400,"insurance":0,"value":450000,"weight":700,"pick_money":515000,"is_freeship":1}}"#,
        )
        .unwrap();
        let e = read_status(StatusCode::OK, &answer).unwrap();
        assert_eq!(e.track, Track::Delivering);
        assert_eq!(e.carrier_status, "4");
    }
}
