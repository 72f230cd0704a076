//! Viettel Post, from its partner API (`partner.viettelpost.vn/v2`): a login (`/user/Login`)
//! gives a token that expires, sent as the `Token` header; it is kept in Redis for every instance
//! and fetched again when it runs out or is refused. Addresses are Viettel Post's province,
//! district and ward ids. Its webhook carries a fixed shared secret in the body (`TOKEN`), with no
//! signature and no timestamp: it is compared in constant time, and the event is deduplicated.
//! Viettel Post publishes no status query for partners, so its shipments move by webhook only.

use super::{
    CarrierError, Created, Event, Label, NewShipment, Parcel, Place, Quote, Refusal, Track,
    call_json, parse_time, text_of, vnd_of,
};
use crate::domain::Vnd;
use crate::shipping::config::Vtp;
use serde_json::{Value, json};

fn ids(p: &Place) -> Result<(i64, i64, i64), CarrierError> {
    match (p.province_id, p.district_id, p.ward_id) {
        (Some(pr), Some(d), Some(w)) => Ok((pr, d, w)),
        _ => Err(CarrierError::Refused(
            "Viettel Post chưa có mã địa chỉ cho xã/phường này".into(),
        )),
    }
}

pub fn login_request(c: &Vtp) -> Value {
    json!({"USERNAME": c.username, "PASSWORD": c.password})
}

/// The token and how long it lives (seconds; a day when the answer does not say).
pub fn read_login(body: &Value) -> Result<(String, u64), CarrierError> {
    if body.get("error").and_then(Value::as_bool) == Some(true) {
        return Err(CarrierError::Refused(format!(
            "Viettel Post: {}",
            body.get("message").and_then(text_of).unwrap_or_default()
        )));
    }
    let d = body
        .get("data")
        .ok_or_else(|| CarrierError::Garbage("không có data".into()))?;
    let token = d
        .get("token")
        .and_then(text_of)
        .ok_or_else(|| CarrierError::Garbage("không có token".into()))?;
    // `expired` is milliseconds since the epoch
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ttl = d
        .get("expired")
        .and_then(Value::as_i64)
        .map(|ms| (ms / 1000 - now).max(60) as u64)
        .unwrap_or(86_400);
    Ok((token, ttl))
}

pub fn fee_request(from: &Place, to: &Place, parcel: &Parcel) -> Result<Value, CarrierError> {
    let (fp, fd, _) = ids(from)?;
    let (tp, td, _) = ids(to)?;
    Ok(json!({
        "SENDER_PROVINCE": fp,
        "SENDER_DISTRICT": fd,
        "RECEIVER_PROVINCE": tp,
        "RECEIVER_DISTRICT": td,
        "PRODUCT_TYPE": "HH",
        "PRODUCT_WEIGHT": parcel.band_g(),
        "PRODUCT_PRICE": 0,
        "MONEY_COLLECTION": 0,
        "PRODUCT_LENGTH": parcel.length_cm,
        "PRODUCT_WIDTH": parcel.width_cm,
        "PRODUCT_HEIGHT": parcel.height_cm,
        "TYPE": 1,
    }))
}

/// "24 giờ", "48h", "Khoảng 3 ngày" → working days.
fn days_of(s: &str) -> Option<(u8, u8)> {
    let lower = s.to_lowercase();
    let n: u32 = lower
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    let days = if lower.contains("ngày") {
        n
    } else {
        n.div_ceil(24)
    };
    let d = days.clamp(1, 30) as u8;
    Some((d, d + 1))
}

/// `getPriceAll` lists every service with its price: the cheapest is the quote.
pub fn read_fee(status: reqwest::StatusCode, body: &Value) -> Result<Quote, CarrierError> {
    let list = body
        .as_array()
        .or_else(|| body.get("data").and_then(Value::as_array))
        .ok_or_else(|| match body.get("message").and_then(text_of) {
            Some(m) => CarrierError::Refused(format!("Viettel Post: {m}")),
            None => CarrierError::Garbage(format!("HTTP {}", status.as_u16())),
        })?;
    list.iter()
        .filter_map(|s| {
            Some(Quote {
                carrier: super::CarrierId::Viettelpost,
                service: s.get("MA_DV_CHINH").and_then(text_of)?,
                fee: s
                    .get("GIA_CUOC")
                    .and_then(vnd_of)
                    .filter(|f| *f > Vnd::ZERO)?,
                days: s.get("THOI_GIAN").and_then(Value::as_str).and_then(days_of),
            })
        })
        .min_by_key(|q| q.fee)
        .ok_or_else(|| CarrierError::Refused("Viettel Post không có dịch vụ cho tuyến này".into()))
}

pub fn create_request(s: &NewShipment) -> Result<Value, CarrierError> {
    let (fp, fd, fw) = ids(&s.from.place)?;
    let (tp, td, tw) = ids(&s.to.place)?;
    let items: Vec<Value> = s
        .items
        .iter()
        .map(|i| {
            json!({
                "PRODUCT_NAME": i.name,
                "PRODUCT_PRICE": i.price.amount(),
                "PRODUCT_WEIGHT": i.weight_g,
                "PRODUCT_QUANTITY": i.quantity,
            })
        })
        .collect();
    let names: Vec<String> = s
        .items
        .iter()
        .map(|i| format!("{} x{}", i.name, i.quantity))
        .collect();
    Ok(json!({
        "ORDER_NUMBER": s.client_code,
        "GROUPADDRESS_ID": 0,
        "CUS_ID": 0,
        "SENDER_FULLNAME": s.from.name,
        "SENDER_ADDRESS": s.from.street,
        "SENDER_PHONE": s.from.phone,
        "SENDER_WARD": fw,
        "SENDER_DISTRICT": fd,
        "SENDER_PROVINCE": fp,
        "RECEIVER_FULLNAME": s.to.name,
        "RECEIVER_ADDRESS": s.to.street,
        "RECEIVER_PHONE": s.to.phone,
        "RECEIVER_WARD": tw,
        "RECEIVER_DISTRICT": td,
        "RECEIVER_PROVINCE": tp,
        "PRODUCT_NAME": names.join(", "),
        "PRODUCT_QUANTITY": s.items.iter().map(|i| i.quantity).sum::<i32>(),
        "PRODUCT_PRICE": s.parcel.value.amount(),
        "PRODUCT_WEIGHT": s.parcel.weight_g,
        "PRODUCT_LENGTH": s.parcel.length_cm,
        "PRODUCT_WIDTH": s.parcel.width_cm,
        "PRODUCT_HEIGHT": s.parcel.height_cm,
        "PRODUCT_TYPE": "HH",
        // 3: the sender pays shipping and the recipient the cash on delivery; 1: nothing to collect
        "ORDER_PAYMENT": if s.parcel.cod > Vnd::ZERO { 3 } else { 1 },
        "ORDER_SERVICE": s.service,
        "ORDER_SERVICE_ADD": "",
        "ORDER_NOTE": s.note,
        "MONEY_COLLECTION": s.parcel.cod.amount(),
        "LIST_ITEM": items,
    }))
}

pub fn read_created(status: reqwest::StatusCode, body: &Value) -> Result<Created, CarrierError> {
    let failed = body.get("error").and_then(Value::as_bool) != Some(false)
        || body.get("status").and_then(Value::as_i64) != Some(200);
    if failed {
        return Err(match body.get("message").and_then(text_of) {
            Some(m) => CarrierError::Refused(format!("Viettel Post: {m}")),
            None => CarrierError::Garbage(format!("HTTP {}", status.as_u16())),
        });
    }
    let d = body
        .get("data")
        .ok_or_else(|| CarrierError::Garbage("không có data".into()))?;
    let hours = d.get("KPI_HT").and_then(vnd_of).map(|v| v.amount());
    Ok(Created {
        tracking: d
            .get("ORDER_NUMBER")
            .and_then(text_of)
            .ok_or_else(|| CarrierError::Garbage("không có mã vận đơn".into()))?,
        fee: d.get("MONEY_TOTAL").and_then(vnd_of),
        expected: hours
            .filter(|h| *h > 0)
            .map(|h| time::OffsetDateTime::now_utc() + time::Duration::hours(h)),
    })
}

/// Viettel Post's status codes in our words.
pub fn track_of(code: i64) -> Track {
    match code {
        -100 | -108 | -109 | -110 | 100 | 102 | 103 | 104 => Track::Created,
        105 | 200 | 202 => Track::PickedUp,
        300..=499 => Track::InTransit,
        500 | 508 | 509 | 550 => Track::Delivering,
        501 => Track::Delivered,
        506 | 507 => Track::DeliveryFailed,
        502 | 505 | 515 => Track::Returning,
        504 => Track::Returned,
        101 | 107 | 201 | 503 => Track::Cancelled,
        _ => Track::Exception,
    }
}

/// `{"DATA": {ORDER_NUMBER, ORDER_REFERENCE, ORDER_STATUS, ORDER_STATUSDATE, STATUS_NAME, NOTE,
/// MONEY_COLLECTION, …}, "TOKEN": "…"}`; the token must be ours (compared in constant time).
pub fn read_webhook(c: Option<&Vtp>, body: &[u8]) -> Result<Event, Refusal> {
    let secret = c
        .and_then(|c| c.webhook_token.as_deref())
        .ok_or(Refusal::NotConfigured)?;
    let v: Value = serde_json::from_slice(body).map_err(|_| Refusal::Unreadable)?;
    let token = v.get("TOKEN").and_then(Value::as_str).unwrap_or("");
    if !crate::crypto::same(token.as_bytes(), secret.as_bytes()) {
        return Err(Refusal::BadToken);
    }
    let d = v.get("DATA").ok_or(Refusal::Unreadable)?;
    let code = match d.get("ORDER_STATUS") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or(Refusal::Unreadable)?;
    let tracking = d.get("ORDER_NUMBER").and_then(text_of);
    let client_code = d.get("ORDER_REFERENCE").and_then(text_of);
    if tracking.is_none() && client_code.is_none() {
        return Err(Refusal::Unreadable);
    }
    let at = d
        .get("ORDER_STATUSDATE")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .ok_or(Refusal::Unreadable)?;
    let note = [d.get("STATUS_NAME"), d.get("NOTE")]
        .into_iter()
        .flatten()
        .filter_map(text_of)
        .collect::<Vec<_>>()
        .join(" · ");
    Ok(Event {
        tracking,
        client_code,
        track: track_of(code),
        carrier_status: code.to_string(),
        note: Some(note).filter(|n| !n.is_empty()),
        at,
        cod_remitted: false,
        cod_amount: d.get("MONEY_COLLECTION").and_then(vnd_of),
    })
}

/// A token from Redis, or a fresh login kept there for the others.
pub async fn token(
    c: &Vtp,
    client: &reqwest::Client,
    redis: &mut redis::aio::ConnectionManager,
    fresh: bool,
) -> Result<String, CarrierError> {
    // one per account: marketplaces sharing a Redis with other accounts never swap tokens
    let key = format!(
        "ocop:shipping:viettelpost:token:{}",
        &crate::crypto::sha256_hex(format!("{}|{}", c.url, c.username).as_bytes())[..12]
    );
    if !fresh {
        if let Ok(Some(t)) = redis::cmd("GET")
            .arg(&key)
            .query_async::<Option<String>>(redis)
            .await
        {
            return Ok(t);
        }
    }
    let (_, answer) = call_json(
        client
            .post(format!("{}/v2/user/Login", c.url))
            .json(&login_request(c)),
    )
    .await?;
    let (token, ttl) = read_login(&answer)?;
    // an hour before it expires, the next call logs in again
    let keep = ttl.saturating_sub(3600).max(60);
    let _ = redis::cmd("SET")
        .arg(&key)
        .arg(&token)
        .arg("EX")
        .arg(keep)
        .query_async::<()>(redis)
        .await;
    Ok(token)
}

/// Posts with the kept token, and once more with a fresh one when Viettel Post refuses it.
async fn post(
    c: &Vtp,
    client: &reqwest::Client,
    redis: &mut redis::aio::ConnectionManager,
    path: &str,
    body: &Value,
) -> Result<(reqwest::StatusCode, Value), CarrierError> {
    let mut fresh = false;
    loop {
        let t = token(c, client, redis, fresh).await?;
        let (status, answer) = call_json(
            client
                .post(format!("{}{path}", c.url))
                .header("Token", t)
                .json(body),
        )
        .await?;
        let expired = status == reqwest::StatusCode::UNAUTHORIZED
            || answer.get("status").and_then(Value::as_i64) == Some(401);
        if expired && !fresh {
            fresh = true;
            continue;
        }
        return Ok((status, answer));
    }
}

pub async fn quote(
    c: &Vtp,
    client: &reqwest::Client,
    redis: &mut redis::aio::ConnectionManager,
    from: &Place,
    to: &Place,
    parcel: &Parcel,
) -> Result<Quote, CarrierError> {
    let body = fee_request(from, to, parcel)?;
    let (status, answer) = post(c, client, redis, "/v2/order/getPriceAll", &body).await?;
    read_fee(status, &answer)
}

pub async fn create(
    c: &Vtp,
    client: &reqwest::Client,
    redis: &mut redis::aio::ConnectionManager,
    s: &NewShipment,
) -> Result<Created, CarrierError> {
    let body = create_request(s)?;
    let (status, answer) = post(c, client, redis, "/v2/order/createOrder", &body).await?;
    read_created(status, &answer)
}

pub async fn cancel(
    c: &Vtp,
    client: &reqwest::Client,
    redis: &mut redis::aio::ConnectionManager,
    tracking: &str,
) -> Result<(), CarrierError> {
    // TYPE 4: cancel the order
    let (status, answer) = post(
        c,
        client,
        redis,
        "/v2/order/UpdateOrder",
        &json!({"TYPE": 4, "ORDER_NUMBER": tracking, "NOTE": "Người bán huỷ đơn"}),
    )
    .await?;
    if answer.get("error").and_then(Value::as_bool) == Some(false) {
        Ok(())
    } else {
        Err(match answer.get("message").and_then(text_of) {
            Some(m) => CarrierError::Refused(format!("Viettel Post: {m}")),
            None => CarrierError::Garbage(format!("HTTP {}", status.as_u16())),
        })
    }
}

/// A printing code for several orders opens Viettel Post's label page.
pub async fn label(
    c: &Vtp,
    client: &reqwest::Client,
    redis: &mut redis::aio::ConnectionManager,
    trackings: &[String],
) -> Result<Label, CarrierError> {
    let expiry =
        (time::OffsetDateTime::now_utc() + time::Duration::hours(1)).unix_timestamp() * 1000;
    let (status, answer) = post(
        c,
        client,
        redis,
        "/v2/order/printing-code",
        &json!({"EXPIRY_TIME": expiry, "ORDER_ARRAY": trackings}),
    )
    .await?;
    if answer.get("error").and_then(Value::as_bool) != Some(false) {
        return Err(CarrierError::Garbage(format!("HTTP {}", status.as_u16())));
    }
    let code = answer
        .get("message")
        .and_then(text_of)
        .ok_or_else(|| CarrierError::Garbage("không có mã in".into()))?;
    Ok(Label::Url(format!(
        "{}?type=1&bill={code}&showPostage=1",
        c.print_url
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn cfg() -> Vtp {
        Vtp {
            username: "u".into(),
            password: "p".into(),
            url: "http://vtp".into(),
            print_url: "http://print".into(),
            webhook_token: Some("bí-mật-chung".into()),
        }
    }

    #[test]
    fn the_cheapest_service_is_the_quote_with_its_delivery_time() {
        let answer: Value = serde_json::from_str(
            r#"[{"MA_DV_CHINH":"VCN","TEN_DICHVU":"Chuyển phát nhanh - Chuyển phát nhanh","GIA_CUOC":41800,"THOI_GIAN":"24 giờ","EXCHANGE_WEIGHT":1500,"EXTRA_SERVICE":[]},{"MA_DV_CHINH":"VHT","TEN_DICHVU":"Chuyển phát tiêu chuẩn","GIA_CUOC":33000,"THOI_GIAN":"72 giờ","EXCHANGE_WEIGHT":1500,"EXTRA_SERVICE":[]},{"MA_DV_CHINH":"VBS","TEN_DICHVU":"Nhanh theo hộp","GIA_CUOC":0,"THOI_GIAN":"","EXCHANGE_WEIGHT":1500}]"#,
        )
        .unwrap();
        let q = read_fee(StatusCode::OK, &answer).unwrap();
        assert_eq!((q.service.as_str(), q.fee), ("VHT", Vnd::new(33_000)));
        assert_eq!(q.days, Some((3, 4)));
        let refused: Value = serde_json::from_str(
            r#"{"status":204,"error":true,"message":"Không tìm thấy bảng giá"}"#,
        )
        .unwrap();
        assert!(matches!(
            read_fee(StatusCode::OK, &refused),
            Err(CarrierError::Refused(_))
        ));
    }

    #[test]
    fn a_created_order_and_a_login_read_as_viettel_post_writes_them() {
        let made: Value = serde_json::from_str(
            r#"{"status":200,"error":false,"message":"OK","data":{"ORDER_NUMBER":"1762143511234","MONEY_COLLECTION":515000,"EXCHANGE_WEIGHT":1500,"MONEY_TOTAL":35640,"MONEY_TOTAL_FEE":33000,"MONEY_FEE":33000,"MONEY_COLLECTION_FEE":0,"MONEY_FEE_VAT":2640,"KPI_HT":72.0}}"#,
        )
        .unwrap();
        let c = read_created(StatusCode::OK, &made).unwrap();
        assert_eq!(c.tracking, "1762143511234");
        assert_eq!(c.fee, Some(Vnd::new(35_640)));
        let refused: Value = serde_json::from_str(
            r#"{"status":205,"error":true,"message":"Mã đơn hàng đã tồn tại","data":null}"#,
        )
        .unwrap();
        assert!(matches!(
            read_created(StatusCode::OK, &refused),
            Err(CarrierError::Refused(_))
        ));
        let login: Value = serde_json::from_str(
            r#"{"status":200,"error":false,"message":"OK","data":{"userId":7411092,"token":"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIwOTEyMzQ1Njc4In0.sig","partner":7411092,"phone":"0912345678","expired":4102444800000,"encrypted":null,"source":-1}}"#,
        )
        .unwrap();
        let (token, ttl) = read_login(&login).unwrap();
        assert!(token.starts_with("eyJ"));
        assert!(ttl > 86_400);
    }

    #[test]
    fn a_webhook_with_another_token_is_refused_and_ours_reads() {
        let body = r#"{"DATA":{"ORDER_NUMBER":"1762143511234","ORDER_REFERENCE":"OCOP-42","ORDER_STATUSDATE":"04/12/2026 10:21:31","ORDER_STATUS":501,"STATUS_NAME":"Phát thành công","LOCALION_CURRENTLY":"HNI, Bưu cục Hoàn Kiếm","NOTE":"","MONEY_COLLECTION":515000,"MONEY_FEECOD":0,"MONEY_TOTALFEE":33000,"MONEY_TOTAL":35640,"EXPECTED_DELIVERY":"Khoảng 3 ngày","PRODUCT_WEIGHT":1500,"ORDER_SERVICE":"VHT"},"TOKEN":"bí-mật-chung"}"#;
        let e = read_webhook(Some(&cfg()), body.as_bytes()).unwrap();
        assert_eq!(e.track, Track::Delivered);
        assert_eq!(e.client_code.as_deref(), Some("OCOP-42"));
        assert_eq!(e.note.as_deref(), Some("Phát thành công"));
        assert_eq!(e.at.to_offset(super::super::VN).hour(), 10);
        let forged = body.replace("bí-mật-chung", "đoán-mò");
        assert_eq!(
            read_webhook(Some(&cfg()), forged.as_bytes()),
            Err(Refusal::BadToken)
        );
        assert_eq!(
            read_webhook(None, body.as_bytes()),
            Err(Refusal::NotConfigured)
        );
        assert_eq!(track_of(504), Track::Returned);
        assert_eq!(track_of(507), Track::DeliveryFailed);
    }
}
