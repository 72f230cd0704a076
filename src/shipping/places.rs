//! Where each carrier places our 2025 communes. GHN and Viettel Post key addresses by their own
//! ids: their master data (provinces, districts, wards) is fetched and each of our communes
//! matched to one ward of its province by name, diacritics folded and the unit's kind ("Phường",
//! "Xã"…) set aside; a commune with no match, or with two, is left out, so a parcel is never sent
//! to a guessed address (the producer is told at booking). GHTK addresses by names: ours are used.
//! Run by `ocop-market carriers sync` and weekly.

use super::carriers::{CarrierError, CarrierId, call_json, text_of};
use crate::state::AppState;
use serde_json::{Value, json};
use std::collections::HashMap;

/// A place name as carriers and we both write it: folded, lowercase, without the unit's kind.
pub fn fold_place(name: &str) -> String {
    let folded = crate::domain::fold_vietnamese(name)
        .to_lowercase()
        .replace(['.', ',', '-', '_'], " ");
    let words: Vec<&str> = folded.split_whitespace().collect();
    const KINDS: [&[&str]; 9] = [
        &["thanh", "pho"],
        &["tinh"],
        &["phuong"],
        &["xa"],
        &["dac", "khu"],
        &["thi", "tran"],
        &["thi", "xa"],
        &["quan"],
        &["huyen"],
    ];
    let mut rest: &[&str] = &words;
    for kind in KINDS {
        // a numbered ward ("Phường 1") keeps its kind: the number alone names nothing
        if rest.starts_with(kind)
            && rest.len() > kind.len()
            && rest[kind.len()].parse::<u32>().is_err()
        {
            rest = &rest[kind.len()..];
            break;
        }
    }
    rest.join(" ")
}

/// A ward in a carrier's master data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TheirWard {
    pub province_id: i64,
    pub province_name: String,
    pub district_id: i64,
    pub district_name: String,
    pub ward_id: Option<i64>,
    pub ward_code: Option<String>,
    pub ward_name: String,
}

/// Our communes of one province matched to the carrier's wards of that province: a commune
/// whose name matches exactly one ward. Returns the matches and the communes left out.
///
/// Carriers that still list the pre-2025 units: the reorganisation named many new communes
/// after the district they replaced ("Xã Gia Lâm" for "Huyện Gia Lâm"), so a commune no ward
/// matches is placed at that old district's seat, its one town ("thị trấn"), where the
/// commune's office now is. A district with no town, or several, is left out.
pub fn match_communes<'a>(
    ours: &[(i32, String)],
    theirs: &'a [TheirWard],
) -> (Vec<(i32, &'a TheirWard)>, Vec<i32>) {
    let mut by_name: HashMap<String, Vec<&TheirWard>> = HashMap::new();
    let mut towns: HashMap<String, Vec<&TheirWard>> = HashMap::new();
    for w in theirs {
        by_name.entry(fold_place(&w.ward_name)).or_default().push(w);
        if crate::domain::fold_vietnamese(&w.ward_name)
            .to_lowercase()
            .starts_with("thi tran ")
        {
            towns
                .entry(fold_place(&w.district_name))
                .or_default()
                .push(w);
        }
    }
    let mut matched = vec![];
    let mut missing = vec![];
    for (code, name) in ours {
        let name = fold_place(name);
        match by_name.get(&name).map(Vec::as_slice) {
            Some([one]) => matched.push((*code, *one)),
            Some(_) => missing.push(*code),
            None => match towns.get(&name).map(Vec::as_slice) {
                // one district of that name with one town
                Some([seat]) => matched.push((*code, *seat)),
                _ => missing.push(*code),
            },
        }
    }
    (matched, missing)
}

fn list(v: &Value) -> Vec<Value> {
    v.get("data")
        .and_then(Value::as_array)
        .or_else(|| v.as_array())
        .cloned()
        .unwrap_or_default()
}

fn int(v: &Value, k: &str) -> Option<i64> {
    match v.get(k)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One province's wards at GHN (`/master-data/district`, then `/master-data/ward` per district).
async fn ghn_wards(
    state: &AppState,
    province_id: i64,
    province_name: &str,
) -> Result<Vec<TheirWard>, CarrierError> {
    let c = state
        .carriers
        .ghn
        .as_ref()
        .ok_or(CarrierError::NotConfigured)?;
    let post = |path: &str, body: Value| {
        state
            .http
            .post(format!("{}{path}", c.url))
            .header("Token", &c.token)
            .json(&body)
    };
    let (_, districts) = call_json(post(
        "/master-data/district",
        json!({"province_id": province_id}),
    ))
    .await?;
    let mut out = vec![];
    for d in list(&districts) {
        let Some(district_id) = int(&d, "DistrictID") else {
            continue;
        };
        let district_name = d.get("DistrictName").and_then(text_of).unwrap_or_default();
        let (_, wards) = call_json(post(
            "/master-data/ward",
            json!({"district_id": district_id}),
        ))
        .await?;
        for w in list(&wards) {
            out.push(TheirWard {
                province_id,
                province_name: province_name.to_string(),
                district_id,
                district_name: district_name.clone(),
                ward_id: None,
                ward_code: w.get("WardCode").and_then(text_of),
                ward_name: w.get("WardName").and_then(text_of).unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// One province's wards at Viettel Post (`/v2/categories/listDistrict`, `listWards`).
async fn vtp_wards(
    state: &AppState,
    province_id: i64,
    province_name: &str,
) -> Result<Vec<TheirWard>, CarrierError> {
    let c = state
        .carriers
        .vtp
        .as_ref()
        .ok_or(CarrierError::NotConfigured)?;
    let get = |path: String| state.http.get(format!("{}{path}", c.url));
    let (_, districts) = call_json(get(format!(
        "/v2/categories/listDistrict?provinceId={province_id}"
    )))
    .await?;
    let mut out = vec![];
    for d in list(&districts) {
        let Some(district_id) = int(&d, "DISTRICT_ID") else {
            continue;
        };
        let district_name = d.get("DISTRICT_NAME").and_then(text_of).unwrap_or_default();
        let (_, wards) = call_json(get(format!(
            "/v2/categories/listWards?districtId={district_id}"
        )))
        .await?;
        for w in list(&wards) {
            out.push(TheirWard {
                province_id,
                province_name: province_name.to_string(),
                district_id,
                district_name: district_name.clone(),
                ward_id: int(&w, "WARDS_ID"),
                ward_code: None,
                ward_name: w.get("WARDS_NAME").and_then(text_of).unwrap_or_default(),
            });
        }
    }
    Ok(out)
}

/// The carrier's provinces: (id, name).
async fn their_provinces(
    state: &AppState,
    carrier: CarrierId,
) -> Result<Vec<(i64, String)>, CarrierError> {
    let (id_key, name_key, answer) = match carrier {
        CarrierId::Ghn => {
            let c = state
                .carriers
                .ghn
                .as_ref()
                .ok_or(CarrierError::NotConfigured)?;
            let (_, a) = call_json(
                state
                    .http
                    .get(format!("{}/master-data/province", c.url))
                    .header("Token", &c.token),
            )
            .await?;
            ("ProvinceID", "ProvinceName", a)
        }
        CarrierId::Viettelpost => {
            let c = state
                .carriers
                .vtp
                .as_ref()
                .ok_or(CarrierError::NotConfigured)?;
            let (_, a) = call_json(
                state
                    .http
                    .get(format!("{}/v2/categories/listProvince", c.url)),
            )
            .await?;
            ("PROVINCE_ID", "PROVINCE_NAME", a)
        }
        _ => return Err(CarrierError::Unsupported),
    };
    Ok(list(&answer)
        .iter()
        .filter_map(|p| Some((int(p, id_key)?, p.get(name_key).and_then(text_of)?)))
        .collect())
}

/// How a sync went, per carrier.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Synced {
    pub matched: usize,
    /// our communes the carrier cannot be sent to (no ward of that name, or several)
    pub missing: usize,
}

/// Fills `carrier_place` for `carrier` from its master data (GHTK: from our own names).
pub async fn sync(state: &AppState, carrier: CarrierId) -> Result<Synced, CarrierError> {
    let admin = state.catalog.snapshot().admin.clone();
    let mut report = Synced::default();
    let db = |e: sqlx::Error| CarrierError::Unavailable(format!("cơ sở dữ liệu: {e}"));
    if carrier == CarrierId::Ghtk {
        // GHTK addresses by names: the 2025 province and commune names are the address
        sqlx::query!(
            "insert into carrier_place (carrier, commune_code, province_name, ward_name)
             select 'ghtk', c.commune_code, p.name, c.name from commune c join province p using (province_code)
             on conflict (carrier, commune_code) do update
                 set province_name = excluded.province_name, ward_name = excluded.ward_name, synced_at = now()"
        )
        .execute(&state.pool)
        .await
        .map_err(db)?;
        report.matched = admin.communes.len();
        return Ok(report);
    }
    let provinces = their_provinces(state, carrier).await?;
    for ours in &admin.provinces {
        let folded = fold_place(&ours.name);
        let Some((pid, pname)) = provinces.iter().find(|(_, n)| fold_place(n) == folded) else {
            report.missing += ours.communes.len();
            continue;
        };
        let wards = match carrier {
            CarrierId::Ghn => ghn_wards(state, *pid, pname).await?,
            _ => vtp_wards(state, *pid, pname).await?,
        };
        let communes: Vec<(i32, String)> = ours
            .communes
            .iter()
            .filter_map(|c| Some((*c, admin.commune(*c)?.name.clone())))
            .collect();
        let (matched, missing) = match_communes(&communes, &wards);
        report.matched += matched.len();
        report.missing += missing.len();
        let mut tx = state.pool.begin().await.map_err(db)?;
        // a commune that no longer matches is sent nowhere rather than to an old guess
        sqlx::query!(
            "delete from carrier_place where carrier = $1 and commune_code = any($2)",
            carrier.key(),
            &missing
        )
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for (code, w) in matched {
            sqlx::query!(
                "insert into carrier_place (carrier, commune_code, province_id, district_id, ward_id, ward_code,
                                            province_name, district_name, ward_name)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 on conflict (carrier, commune_code) do update
                     set province_id = excluded.province_id, district_id = excluded.district_id,
                         ward_id = excluded.ward_id, ward_code = excluded.ward_code,
                         province_name = excluded.province_name, district_name = excluded.district_name,
                         ward_name = excluded.ward_name, synced_at = now()",
                carrier.key(),
                code,
                w.province_id,
                w.district_id,
                w.ward_id,
                w.ward_code,
                w.province_name,
                w.district_name,
                w.ward_name
            )
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
    }
    Ok(report)
}

/// Syncs every configured carrier that keys by its own codes, once a week (one instance at a
/// time: the others skip while one holds the lock).
pub async fn sync_weekly(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let due: bool = sqlx::query_scalar!(
            r#"select coalesce(max(synced_at), '-infinity') < now() - interval '7 days' as "due!"
               from carrier_place"#
        )
        .fetch_one(&state.pool)
        .await
        .unwrap_or(false);
        if !due {
            continue;
        }
        let Ok(mut conn) = state.pool.acquire().await else {
            continue;
        };
        let mine: bool = sqlx::query_scalar!(
            r#"select pg_try_advisory_lock(hashtext('ocop.carrier_places')) as "v!""#
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap_or(false);
        if !mine {
            continue;
        }
        for carrier in [CarrierId::Ghn, CarrierId::Ghtk, CarrierId::Viettelpost] {
            if state.carriers.configured(carrier) {
                match sync(&state, carrier).await {
                    Ok(r) => tracing::info!(
                        carrier = carrier.key(),
                        matched = r.matched,
                        missing = r.missing,
                        "carrier places synced"
                    ),
                    Err(e) => {
                        tracing::warn!(carrier = carrier.key(), error = %e, "carrier places not synced")
                    }
                }
            }
        }
        let _ = sqlx::query_scalar!(
            r#"select pg_advisory_unlock(hashtext('ocop.carrier_places')) as "v!""#
        )
        .fetch_one(&mut *conn)
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ward(district: i64, name: &str) -> TheirWard {
        TheirWard {
            province_id: 201,
            province_name: "Hà Nội".into(),
            district_id: district,
            district_name: format!("Quận {district}"),
            ward_id: None,
            ward_code: Some(format!("W{district}")),
            ward_name: name.into(),
        }
    }

    #[test]
    fn names_match_across_diacritics_and_kinds_and_an_ambiguous_one_is_left_out() {
        assert_eq!(fold_place("Phường Hoàn Kiếm"), "hoan kiem");
        assert_eq!(fold_place("Xã Ba Chẽ"), "ba che");
        assert_eq!(fold_place("Thành phố Hà Nội"), "ha noi");
        assert_eq!(fold_place("Tỉnh Quảng Ninh"), "quang ninh");
        assert_eq!(
            fold_place("Phường 1"),
            "phuong 1",
            "a number alone names nothing"
        );
        let theirs = [
            ward(1, "Phường Hoàn Kiếm"),
            ward(2, "Xã Tân Lập"),
            ward(3, "Xã Tân Lập"),
            ward(4, "Phuong Cua Nam"),
        ];
        let ours = [
            (70, "Phường Hoàn Kiếm".to_string()),
            (73, "Phường Cửa Nam".to_string()),
            (90, "Xã Tân Lập".to_string()),
            (91, "Xã Không Có".to_string()),
        ];
        let (matched, missing) = match_communes(&ours, &theirs);
        let codes: Vec<(i32, i64)> = matched.iter().map(|(c, w)| (*c, w.district_id)).collect();
        assert_eq!(codes, vec![(70, 1), (73, 4)]);
        assert_eq!(
            missing,
            vec![90, 91],
            "two Tân Lập: not guessed; none: left out"
        );
    }

    #[test]
    fn a_commune_named_after_its_old_district_is_placed_at_that_districts_town() {
        let mut gia_lam = ward(11, "Thị trấn Trâu Quỳ");
        gia_lam.district_name = "Huyện Gia Lâm".into();
        let mut bat_trang = ward(11, "Xã Bát Tràng");
        bat_trang.district_name = "Huyện Gia Lâm".into();
        let mut hoan_kiem = ward(12, "Phường Hàng Bạc");
        hoan_kiem.district_name = "Quận Hoàn Kiếm".into();
        let theirs = [gia_lam, bat_trang, hoan_kiem];
        let ours = [
            (565, "Xã Gia Lâm".to_string()),
            (583, "Xã Bát Tràng".to_string()),
            (70, "Phường Hoàn Kiếm".to_string()),
        ];
        let (matched, missing) = match_communes(&ours, &theirs);
        let names: Vec<(i32, &str)> = matched
            .iter()
            .map(|(c, w)| (*c, w.ward_name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![(565, "Thị trấn Trâu Quỳ"), (583, "Xã Bát Tràng")]
        );
        assert_eq!(
            missing,
            vec![70],
            "an old district without a town is not guessed"
        );
    }
}
