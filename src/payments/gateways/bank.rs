//! Bank transfers. The shopper scans a dynamic VietQR (NAPAS EMVCo) on the order page, which
//! carries the amount and the order code as the transfer's memo; the money is reported by SePay
//! or Casso, whichever watches the marketplace's account. Neither can be asked about a payment:
//! a transfer arrives by callback, or staff match it by hand from the bank statement.

use super::{Gateway, Handled, Read, Refusal, TOLERANCE_SECS, callback, fresh, header, parse_t_v1};
use crate::crypto::{hmac_sha256_hex, hmac_sha512_hex, same_hex};
use crate::domain::Vnd;
use crate::payments::events::Facts;
use crate::payments::{Notification, Provider, Providers, Target};
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The largest callback body each provider's real payloads need, with room to spare (they are a
/// few KB); anything larger is answered 413 and never stored.
pub const BANK_BODY_LIMIT: usize = 16 * 1024;

// ---------- VietQR (NAPAS EMVCo merchant-presented QR) ----------

fn tlv(id: &str, value: &str) -> String {
    format!("{id}{:02}{value}", value.len())
}

pub fn crc16_ccitt_false(data: &[u8]) -> u16 {
    crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740).checksum(data)
}

/// A dynamic VietQR for a transfer of `amount` đồng to an account, with `purpose` (the order
/// code) in field 62/08, which banks pass on as the transfer memo.
pub fn vietqr_payload(bank_bin: &str, account: &str, amount: Vnd, purpose: &str) -> String {
    let beneficiary = tlv("00", bank_bin) + &tlv("01", account);
    let merchant = tlv("00", "A000000727") + &tlv("01", &beneficiary) + &tlv("02", "QRIBFTTA");
    let mut payload = tlv("00", "01")
        + &tlv("01", "12")
        + &tlv("38", &merchant)
        + &tlv("53", "704")
        + &tlv("54", &amount.amount().to_string())
        + &tlv("58", "VN")
        + &tlv("62", &tlv("08", purpose))
        + "6304";
    payload += &format!("{:04X}", crc16_ccitt_false(payload.as_bytes()));
    payload
}

/// Whether a payload's last four characters are its CRC.
pub fn vietqr_crc_ok(payload: &str) -> bool {
    payload.len() > 8 && payload.is_char_boundary(payload.len() - 4) && {
        let (body, crc) = payload.split_at(payload.len() - 4);
        body.ends_with("6304") && format!("{:04X}", crc16_ccitt_false(body.as_bytes())) == crc
    }
}

/// SePay and Casso are answered alike: 2xx with `{"success": true}` when kept and acted on.
fn bank_answer(handled: Handled) -> Response {
    let (status, ok, message) = match handled {
        Handled::Done(_) => (StatusCode::OK, true, "ok"),
        Handled::Refused(Refusal::Unreadable) => {
            (StatusCode::BAD_REQUEST, false, Refusal::Unreadable.as_str())
        }
        Handled::Refused(r) => (StatusCode::UNAUTHORIZED, false, r.as_str()),
        Handled::NotStored | Handled::NotApplied => {
            (StatusCode::SERVICE_UNAVAILABLE, false, "try again")
        }
    };
    (
        status,
        axum::Json(json!({ "success": ok, "message": message })),
    )
        .into_response()
}

/// A JSON value's text, trimmed; a number as its digits.
fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| v.as_i64().map(|n| n.to_string()))
}

// ---------- SePay ----------

/// A bank transfer seen by SePay.
pub struct Sepay;

impl Gateway for Sepay {
    const PROVIDER: Provider = Provider::Sepay;

    /// HMAC-SHA256 over `timestamp.body` (`X-SePay-Signature: sha256=…`), or the API key.
    fn read(p: &Providers, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Read, Refusal> {
        read_sepay(p, headers, body, now)
    }

    fn answer(handled: Handled) -> Response {
        bank_answer(handled)
    }

    fn facts(body: &str) -> Facts {
        let Ok(json) = serde_json::from_str::<Value>(body) else {
            return Facts::default();
        };
        Facts {
            memo: text(&json["content"]).or_else(|| text(&json["description"])),
            sender: None,
            bank: text(&json["gateway"]),
            reference: text(&json["referenceCode"]),
        }
    }

    fn routes() -> Router<AppState> {
        use axum::extract::DefaultBodyLimit;
        Router::new().route(
            "/payments/sepay/webhook",
            post(callback::<Sepay>).layer(DefaultBodyLimit::max(BANK_BODY_LIMIT)),
        )
    }

    /// The simulated bank page serves both reporters (the shopper picks which one tells us).
    fn sandbox() -> Router<AppState> {
        sandbox::router()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SepayBody {
    id: i64,
    transfer_type: String,
    transfer_amount: i64,
    account_number: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    content: String,
}

/// SePay: HMAC-SHA256 over `timestamp.body` (`X-SePay-Signature: sha256=…`), or the API key.
pub fn read_sepay(
    p: &Providers,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Read, Refusal> {
    if p.sepay_secret.is_none() && p.sepay_api_key.is_none() {
        return Err(Refusal::NotConfigured);
    }
    let by_signature = match (
        header(headers, "x-sepay-signature"),
        header(headers, "x-sepay-timestamp"),
        &p.sepay_secret,
    ) {
        (Some(sig), Some(ts), Some(secret)) => match ts.parse::<i64>() {
            Ok(t) if !fresh(t, now, TOLERANCE_SECS) => Err(Refusal::Stale),
            Ok(_) if same_hex(sig, &sepay_signature(secret, ts, body)) => Ok(()),
            _ => Err(Refusal::BadSignature),
        },
        _ => Err(Refusal::MissingSignature),
    };
    let by_key = match (header(headers, "authorization"), &p.sepay_api_key) {
        (Some(auth), Some(key)) => {
            let expected = format!("Apikey {key}");
            if same_hex(auth, &expected) {
                Ok(())
            } else {
                Err(Refusal::BadSignature)
            }
        }
        _ => Err(Refusal::MissingSignature),
    };
    if let (Err(why), Err(other)) = (by_signature, by_key) {
        // the more telling of the two
        return Err(if why == Refusal::MissingSignature {
            other
        } else {
            why
        });
    }
    let b: SepayBody = serde_json::from_slice(body).map_err(|_| Refusal::Unreadable)?;
    let memo = format!("{} {}", b.code.as_deref().unwrap_or_default(), b.content);
    if crate::settlement::payouts::reference_in(&memo).is_some() && b.transfer_amount > 0 {
        return Ok(Read::Payout {
            tx_id: b.id.to_string(),
            outgoing: b.transfer_type == "out",
            amount: Vnd::new(b.transfer_amount),
            memo,
        });
    }
    if b.transfer_type != "in" || b.transfer_amount <= 0 {
        return Ok(Read::Ignore {
            tx_id: b.id.to_string(),
            why: "outgoing".into(),
        });
    }
    Ok(Read::Notify(Notification {
        provider: crate::payments::Provider::Sepay,
        tx_id: b.id.to_string(),
        target: Target::Memo(memo),
        amount: Vnd::new(b.transfer_amount),
        success: true,
        account: b.account_number,
        provider_ref: Some(b.id.to_string()),
    }))
}

pub fn sepay_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), &message))
}

// ---------- Casso ----------

/// A bank transfer seen by Casso (webhook v2).
pub struct Casso;

impl Gateway for Casso {
    const PROVIDER: Provider = Provider::Casso;

    /// `X-Casso-Signature: t=<ms>,v1=<HMAC-SHA512 of t.sorted-json>`.
    fn read(p: &Providers, headers: &HeaderMap, body: &[u8], now: i64) -> Result<Read, Refusal> {
        read_casso(p, headers, body, now)
    }

    fn answer(handled: Handled) -> Response {
        bank_answer(handled)
    }

    fn facts(body: &str) -> Facts {
        let Ok(json) = serde_json::from_str::<Value>(body) else {
            return Facts::default();
        };
        // v2 sends one object, v1 a list
        let d = if json["data"].is_array() {
            &json["data"][0]
        } else {
            &json["data"]
        };
        let sender = match (
            text(&d["counterAccountName"]),
            text(&d["counterAccountNumber"]),
        ) {
            (Some(n), Some(a)) => Some(format!("{n} · {a}")),
            (n, a) => n.or(a),
        };
        Facts {
            memo: text(&d["description"]),
            sender,
            bank: text(&d["counterAccountBankName"]).or_else(|| text(&d["bankName"])),
            reference: text(&d["reference"]).or_else(|| text(&d["tid"])),
        }
    }

    fn routes() -> Router<AppState> {
        use axum::extract::DefaultBodyLimit;
        Router::new().route(
            "/payments/casso/webhook",
            post(callback::<Casso>).layer(DefaultBodyLimit::max(BANK_BODY_LIMIT)),
        )
    }
}

/// Casso webhook v2: `X-Casso-Signature: t=<ms>,v1=<HMAC-SHA512 of t.sorted-json>`.
pub fn read_casso(
    p: &Providers,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Read, Refusal> {
    let key = p.casso_key.as_deref().ok_or(Refusal::NotConfigured)?;
    let (t, v1) =
        parse_t_v1(header(headers, "x-casso-signature").ok_or(Refusal::MissingSignature)?);
    let t = t.ok_or(Refusal::BadSignature)?;
    let ms = t.parse::<i64>().map_err(|_| Refusal::BadSignature)?;
    if !fresh(ms / 1000, now, TOLERANCE_SECS) {
        return Err(Refusal::Stale);
    }
    let json: Value = serde_json::from_slice(body).map_err(|_| Refusal::Unreadable)?;
    let expected = casso_signature(key, t, &json);
    if !v1.iter().any(|v| same_hex(v, &expected)) {
        return Err(Refusal::BadSignature);
    }
    let data = &json["data"];
    let id = data["id"]
        .as_i64()
        .map(|i| i.to_string())
        .or_else(|| data["reference"].as_str().map(str::to_string))
        .ok_or(Refusal::Unreadable)?;
    let amount = data["amount"].as_i64().ok_or(Refusal::Unreadable)?;
    let memo = data["description"].as_str().unwrap_or("");
    // Casso reports money out as a negative amount
    if crate::settlement::payouts::reference_in(memo).is_some() && amount != 0 {
        return Ok(Read::Payout {
            tx_id: id,
            outgoing: amount < 0,
            amount: Vnd::new(amount.abs()),
            memo: memo.to_string(),
        });
    }
    if amount <= 0 {
        return Ok(Read::Ignore {
            tx_id: id,
            why: "outgoing".into(),
        });
    }
    Ok(Read::Notify(Notification {
        provider: crate::payments::Provider::Casso,
        tx_id: id.clone(),
        target: Target::Memo(data["description"].as_str().unwrap_or("").to_string()),
        amount: Vnd::new(amount),
        success: true,
        account: data["accountNumber"].as_str().map(str::to_string),
        provider_ref: data["reference"].as_str().map(str::to_string).or(Some(id)),
    }))
}

/// Compact JSON with every object's keys sorted, recursively (what Casso signs).
pub fn sorted_json(v: &serde_json::Value) -> String {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let sorted: BTreeMap<&String, serde_json::Value> =
                    m.iter().map(|(k, v)| (k, sort(v))).collect();
                serde_json::Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    // built in sorted order; serialised without relying on the map's own ordering feature
    fn write(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(m) => {
                let sorted: BTreeMap<&String, &serde_json::Value> = m.iter().collect();
                out.push('{');
                for (i, (k, v)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).expect("a string serialises"));
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            serde_json::Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(&sort(v), &mut out);
    out
}

pub fn casso_signature(key: &str, t: &str, body: &serde_json::Value) -> String {
    hmac_sha512_hex(
        key.as_bytes(),
        format!("{t}.{}", sorted_json(body)).as_bytes(),
    )
}

/// The simulated bank: a transfer to the marketplace's account, reported by SePay or Casso.
mod sandbox {
    use super::*;
    use crate::error::AppError;
    use crate::payments::gateways::{now, receive};
    use crate::payments::sandbox::{Choice, on, page, reported};
    use axum::extract::{Form, Path, State};
    use axum::http::HeaderValue;
    use axum::response::Redirect;
    use axum::routing::get;

    pub fn router() -> Router<AppState> {
        Router::new().route("/sandbox/bank/{code}", get(bank_page).post(bank_pay))
    }

    async fn bank_page(
        State(state): State<AppState>,
        Path(code): Path<String>,
    ) -> Result<Response, AppError> {
        on(&state)?;
        let amount = due(&state, &code).await?.0;
        let fields = [("code".to_string(), code.clone())].into();
        Ok(page(
            "Ngân hàng (giả lập): chuyển khoản",
            "bank",
            amount,
            &format!("/sandbox/bank/{code}"),
            fields,
            &format!(
                "Nội dung chuyển khoản: {code}. Giao dịch được báo về sàn qua webhook SePay hoặc Casso, ký bằng thuật toán thật của nhà cung cấp."
            ),
        ))
    }

    async fn bank_pay(
        State(state): State<AppState>,
        Path(code): Path<String>,
        Form(c): Form<Choice>,
    ) -> Result<Response, AppError> {
        on(&state)?;
        let (amount, back) = due(&state, &code).await?;
        if c.choice == "cancel" {
            return Ok(Redirect::to(&back).into_response());
        }
        let (_, amount) = reported(&c.choice, amount);
        let account = state
            .payments
            .bank
            .as_ref()
            .map(|b| b.number.clone())
            .unwrap_or_default();
        let mut id_bytes = [0u8; 4];
        getrandom::fill(&mut id_bytes).expect("randomness");
        let tx = (u32::from_be_bytes(id_bytes) % 90_000_000 + 10_000_000) as i64;
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let answer = if c.via == "casso" {
            let body = json!({ "error": 0, "data": {
            "id": tx, "reference": format!("FT{tx}"), "description": format!("{code} chuyen tien mua hang"), "amount": amount,
            "runningBalance": 25_000_000, "transactionDateTime": "2026-11-24 10:00:00", "accountNumber": account,
            "bankName": "Vietcombank", "bankAbbreviation": "VCB", "virtualAccountNumber": "", "virtualAccountName": "",
            "counterAccountName": "NGUYEN VAN A", "counterAccountNumber": "0123456789", "counterAccountBankId": "970415",
            "counterAccountBankName": "VietinBank" } });
            let t = (now() * 1000).to_string();
            let key = state.payments.casso_key.clone().unwrap_or_default();
            let signature = format!("t={t},v1={}", casso_signature(&key, &t, &body));
            headers.insert(
                "x-casso-signature",
                HeaderValue::from_str(&signature).expect("ascii"),
            );
            receive::<Casso>(&state, &headers, body.to_string().as_bytes()).await
        } else {
            let body = json!({
            "id": tx, "gateway": "Vietcombank", "transactionDate": "2026-11-24 10:00:00", "accountNumber": account,
            "subAccount": null, "code": null, "content": format!("{code} chuyen tien mua hang"), "transferType": "in",
            "transferAmount": amount, "accumulated": 25_000_000, "referenceCode": format!("FT{tx}"),
            "description": format!("BankAPINotify {code}") })
        .to_string();
            let t = now().to_string();
            let secret = state.payments.sepay_secret.clone().unwrap_or_default();
            headers.insert(
                "x-sepay-timestamp",
                HeaderValue::from_str(&t).expect("digits"),
            );
            headers.insert(
                "x-sepay-signature",
                HeaderValue::from_str(&sepay_signature(&secret, &t, body.as_bytes()))
                    .expect("ascii"),
            );
            receive::<Sepay>(&state, &headers, body.as_bytes()).await
        };
        if !answer.status().is_success() {
            return Err(AppError::Internal(format!(
                "sandbox bank callback refused: {}",
                answer.status()
            )));
        }
        Ok(Redirect::to(&back).into_response())
    }

    /// What a transfer with `code` should bring, and where the payer goes back to: an order
    /// group's total, or what a fair sale still waits for.
    async fn due(state: &AppState, code: &str) -> Result<(i64, String), AppError> {
        if let Some(sale) = crate::fairs::SaleCode::parse(code) {
            let (amount, event) = crate::fairs::due(&state.pool, &sale)
                .await?
                .ok_or(AppError::NotFound)?;
            return Ok((
                amount.amount(),
                format!("/producer/till/{event}/sales/{}", sale.as_str()),
            ));
        }
        let amount =
            sqlx::query_scalar!("select grand_total from order_group where code = $1", code)
                .fetch_optional(&state.pool)
                .await?
                .ok_or(AppError::NotFound)?;
        Ok((amount, format!("/orders/{code}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn napas_crc_vectors_a_to_g_and_the_trap() {
        let vectors = [
            "00020101021138570010A00000072701270006970403011200110123456780208QRIBFTTA53037045802VN6304F4E5",
            "00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC53037045802VN63044F52",
            "00020101021238570010A00000072701270006970403011300110123456780208QRIBFTTA530370454061800005802VN62340107NPS68690819thanh toan don hang63042E2E",
            "00020101021238600010A00000072701300006970403011697040311012345670208QRIBFTTC530370454061800005802VN62340107NPS68690819thanh toan don hang6304A203",
            "00020101021238540010A00000072701240006970436011010175956000208QRIBFTTA530370454061800005802VN62230819thanh toan don hang630470FA",
            "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA530370454061200005802VN62170813ung ho lu lut6304C15C",
            "00020101021138480010A00000072701300006970403011621129950446040255204581253037045802VN5910PHUONG CAC6005HANOI62110307NPS686963045802",
        ];
        for v in vectors {
            let (body, crc) = v.split_at(v.len() - 4);
            assert_eq!(
                format!("{:04X}", crc16_ccitt_false(body.as_bytes())),
                crc,
                "{v}"
            );
        }
        assert_eq!(format!("{:04X}", crc16_ccitt_false(b"123456789")), "29B1");
        for v in vectors {
            assert!(vietqr_crc_ok(v), "{v}");
        }
        // the trap: a public test pins D309 where the checksum is something else; a payload
        // whose CRC was copied rather than computed must be refused
        let trapped = format!("{}D309", &vectors[0][..vectors[0].len() - 4]);
        assert!(!vietqr_crc_ok(&trapped));
        assert!(
            !vietqr_crc_ok(&vectors[0].replace("970403", "970436")),
            "one changed digit breaks it"
        );
    }

    #[test]
    fn our_dynamic_qr_matches_the_liopay_vector() {
        // vector E: Vietcombank 970436, account 1017595600, 180,000 đ, "thanh toan don hang"
        assert_eq!(
            vietqr_payload(
                "970436",
                "1017595600",
                Vnd::new(180_000),
                "thanh toan don hang"
            ),
            "00020101021238540010A00000072701240006970436011010175956000208QRIBFTTA530370454061800005802VN62230819thanh toan don hang630470FA"
        );
    }

    #[test]
    fn casso_v2_vector() {
        let body: serde_json::Value = serde_json::from_str(r#"{"error":0,"data":{"id":0,"reference":"MA_GIAO_DICH_THU_NGHIEM","description":"giao dich thu nghiem","amount":599000,"runningBalance":25000000,"transactionDateTime":"2024-10-03 15:06:37","accountNumber":"88888888","bankName":"VPBank","bankAbbreviation":"VPB","virtualAccountNumber":"","virtualAccountName":"","counterAccountName":"NGUYEN VAN A","counterAccountNumber":"8888888888","counterAccountBankId":"970415","counterAccountBankName":"VietinBank"}}"#).unwrap();
        assert_eq!(
            casso_signature(
                "mgExMrjj4i7a1p8Cs6LmFbpCd8lbw4sSX4LZXPag7TKazeIogtR90tvWYTkwQbvs",
                "1727948258788",
                &body
            ),
            "ed0a4bd2e826d5cb69988cdb141e6c1a080e21f3b57eb72cd78192220042b9e7dde0868fc667faea8e224900fa7904e7c88dfa098032fb2d6b6996856e8b7ff3"
        );
        let (t, v1) = parse_t_v1("t=1727948258788,v1=abc");
        assert_eq!((t, v1), (Some("1727948258788"), vec!["abc"]));
    }
}
