//! The carriers' prices for each producer's parcel, asked at checkout: every enabled carrier at
//! once, within one budget (2 s by default). A carrier that has not answered by then is left out;
//! when none answers, the flat table applies, so checkout never waits on a carrier or fails
//! because of one. Answers are cached for a while per (carrier, from, to, weight band), and each
//! offer shown is kept under its id so the order takes exactly the fee the shopper accepted.

use super::carriers::{self, CarrierError, CarrierId, Parcel, Quote};
use crate::domain::Vnd;
use crate::state::AppState;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// A carrier's answer is reused this long.
const CACHE_SECS: u64 = 600;
/// An offer shown can be accepted this long.
const OFFER_SECS: u64 = 3600;

/// One producer's parcel, from its commune to the shopper's.
#[derive(Debug, Clone)]
pub struct Leg {
    pub producer_id: i64,
    pub from_province: i16,
    pub from_commune: i32,
    pub to_province: i16,
    pub to_commune: i32,
    pub parcel: Parcel,
}

/// A price the shopper may pick, kept under its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub id: String,
    pub producer_id: i64,
    pub carrier: CarrierId,
    pub carrier_name: String,
    pub service: String,
    pub fee: Vnd,
    pub days: Option<(u8, u8)>,
    pub to_commune: i32,
    pub band_g: i32,
}

fn cache_key(ns: &str, carrier: CarrierId, leg: &Leg) -> String {
    format!(
        "ocop:{ns}:shipping:quote:{}:{}:{}:{}",
        carrier.key(),
        leg.from_commune,
        leg.to_commune,
        leg.parcel.band_g()
    )
}

fn offer_key(ns: &str, id: &str) -> String {
    format!("ocop:{ns}:shipping:offer:{id}")
}

/// The carriers a province offers: those configured, less those its staff turned off.
pub async fn enabled(state: &AppState, province: i16) -> Result<Vec<CarrierId>, sqlx::Error> {
    let available = state.carriers.available();
    if available.is_empty() {
        return Ok(vec![]);
    }
    // kept in Redis a minute: the checkout page asks on every view
    let key = format!(
        "ocop:{}:shipping:enabled:{province}",
        state.config.redis_namespace()
    );
    let mut redis = state.redis.clone();
    let cached: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .ok()
        .flatten();
    let off: Vec<CarrierId> = match cached {
        Some(csv) => csv.split(',').filter_map(CarrierId::from_key).collect(),
        None => {
            let off = sqlx::query_scalar!(
                r#"select carrier as "carrier: CarrierId" from carrier_setting
                   where province_code = $1 and not enabled"#,
                province
            )
            .fetch_all(&state.pool)
            .await?;
            let csv = off.iter().map(|c| c.key()).collect::<Vec<_>>().join(",");
            let _: Result<(), _> = redis::cmd("SET")
                .arg(&key)
                .arg(csv)
                .arg("EX")
                .arg(60)
                .query_async(&mut redis)
                .await;
            off
        }
    };
    Ok(available.into_iter().filter(|c| !off.contains(c)).collect())
}

/// Forgets a province's cached carriers (staff changed them).
pub async fn forget_enabled(state: &AppState, province: i16) {
    let mut redis = state.redis.clone();
    let _: Result<(), _> = redis::cmd("DEL")
        .arg(format!(
            "ocop:{}:shipping:enabled:{province}",
            state.config.redis_namespace()
        ))
        .query_async(&mut redis)
        .await;
}

/// One carrier's price for one leg: from the cache, or asked.
async fn quote_one(state: &AppState, carrier: CarrierId, leg: &Leg) -> Result<Quote, CarrierError> {
    let key = cache_key(&state.config.redis_namespace(), carrier, leg);
    let mut redis = state.redis.clone();
    if let Ok(Some(json)) = redis::cmd("GET")
        .arg(&key)
        .query_async::<Option<String>>(&mut redis)
        .await
    {
        if let Ok(q) = serde_json::from_str::<Quote>(&json) {
            return Ok(q);
        }
    }
    let c = &state.carriers;
    let client = &state.http;
    // the sandbox prices by our provinces; the others by their own codes for both communes
    let (from, to) = super::shipments::places(
        &state.pool,
        carrier,
        (leg.from_province, leg.from_commune),
        (leg.to_province, leg.to_commune),
    )
    .await?;
    let missing = CarrierError::NotConfigured;
    let q = match carrier {
        CarrierId::Sandbox => {
            carriers::sandbox::quote(leg.from_province, leg.to_province, &leg.parcel)
        }
        CarrierId::Ghn => {
            let cfg = c.ghn.as_ref().ok_or(missing)?;
            carriers::ghn::quote(cfg, client, &from, &to, &leg.parcel).await?
        }
        CarrierId::Ghtk => {
            let cfg = c.ghtk.as_ref().ok_or(missing)?;
            carriers::ghtk::quote(cfg, client, &from, &to, &leg.parcel).await?
        }
        CarrierId::Viettelpost => {
            let cfg = c.vtp.as_ref().ok_or(missing)?;
            carriers::vtp::quote(cfg, client, &mut redis, &from, &to, &leg.parcel).await?
        }
    };
    if let Ok(json) = serde_json::to_string(&q) {
        let _: Result<(), _> = redis::cmd("SET")
            .arg(&key)
            .arg(json)
            .arg("EX")
            .arg(CACHE_SECS)
            .query_async(&mut redis)
            .await;
    }
    Ok(q)
}

/// Every enabled carrier's offer for every leg, cheapest first, within the budget. A leg with no
/// offer (no carrier, none answered in time) is missing from the answer: the flat table applies.
pub async fn offers(state: &AppState, legs: &[Leg]) -> BTreeMap<i64, Vec<Offer>> {
    let deadline = tokio::time::Instant::now() + state.carriers.quote_budget;
    let mut asks = tokio::task::JoinSet::new();
    let mut enabled_by: HashMap<i16, Vec<CarrierId>> = HashMap::new();
    for leg in legs {
        if !enabled_by.contains_key(&leg.from_province) {
            let e = enabled(state, leg.from_province).await.unwrap_or_default();
            enabled_by.insert(leg.from_province, e);
        }
        for &carrier in &enabled_by[&leg.from_province] {
            let (state, leg) = (state.clone(), leg.clone());
            asks.spawn(async move {
                let answer =
                    tokio::time::timeout_at(deadline, quote_one(&state, carrier, &leg)).await;
                (leg, carrier, answer)
            });
        }
    }
    let mut out: BTreeMap<i64, Vec<Offer>> = BTreeMap::new();
    while let Some(done) = asks.join_next().await {
        let Ok((leg, carrier, answer)) = done else {
            continue;
        };
        match answer {
            Ok(Ok(q)) => {
                let mut offer = Offer {
                    id: String::new(),
                    producer_id: leg.producer_id,
                    carrier,
                    carrier_name: carrier.name().to_string(),
                    service: q.service,
                    fee: q.fee,
                    days: q.days,
                    to_commune: leg.to_commune,
                    band_g: leg.parcel.band_g(),
                };
                offer.id = offer_id(&offer);
                out.entry(leg.producer_id).or_default().push(offer);
            }
            Ok(Err(e)) => {
                tracing::info!(carrier = carrier.key(), error = %e, "carrier gave no quote")
            }
            Err(_) => tracing::warn!(carrier = carrier.key(), "carrier quote timed out"),
        }
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.fee.cmp(&b.fee).then(a.carrier.cmp(&b.carrier)));
    }
    keep(state, out.values().flatten()).await;
    out
}

/// The same offer shown twice has the same id.
fn offer_id(o: &Offer) -> String {
    let text = format!(
        "{}|{}|{}|{}|{}|{}|{:?}",
        o.producer_id,
        o.carrier.key(),
        o.service,
        o.fee.amount(),
        o.to_commune,
        o.band_g,
        o.days
    );
    crate::crypto::sha256_hex(text.as_bytes())[..20].to_string()
}

async fn keep<'a>(state: &AppState, offers: impl Iterator<Item = &'a Offer>) {
    let ns = state.config.redis_namespace();
    let mut pipe = redis::pipe();
    let mut any = false;
    for o in offers {
        if let Ok(json) = serde_json::to_string(o) {
            pipe.cmd("SET")
                .arg(offer_key(&ns, &o.id))
                .arg(json)
                .arg("EX")
                .arg(OFFER_SECS)
                .ignore();
            any = true;
        }
    }
    if any {
        let mut redis = state.redis.clone();
        let _: Result<(), _> = pipe.query_async(&mut redis).await;
    }
}

/// An offer shown earlier, if it is still good.
pub async fn accepted(state: &AppState, id: &str) -> Option<Offer> {
    if id.len() != 20 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut redis = state.redis.clone();
    let json: Option<String> = redis::cmd("GET")
        .arg(offer_key(&state.config.redis_namespace(), id))
        .query_async(&mut redis)
        .await
        .ok()
        .flatten();
    json.and_then(|j| serde_json::from_str(&j).ok())
}
