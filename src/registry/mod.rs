//! The national OCOP registry in sync. `ocop-market registry-sync FILE|URL` reads the registry's
//! public product JSON (`product-info`, paginated `{count, next, previous, results}`), matches
//! each record to ours (certificate number first, then the folded name within the producer's
//! commune) and records what differs as findings for staff: stars that differ, expiry dates that
//! differ or have passed, certificates the registry lacks, registry products of a province not yet
//! on the marketplace (producers to invite). Nothing changes without a staff decision, except an
//! earlier expiry date where the province chose to apply those by itself.

pub mod http;

use crate::domain::fold_vietnamese;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use time::Date;

/// One product as the registry publishes it (fields the sync reads; the rest is ignored).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct RegistryProduct {
    pub id: serde_json::Value,
    pub name: String,
    #[serde(default)]
    pub ocop_star: Option<i16>,
    #[serde(default)]
    pub ocop_certificate_number: Option<String>,
    #[serde(default, with = "loose_date")]
    pub issued_on: Option<Date>,
    #[serde(default, with = "loose_date")]
    pub expiry_date: Option<Date>,
    #[serde(default)]
    pub certificate_img: Option<String>,
    #[serde(default)]
    pub manufacturer: Manufacturer,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Manufacturer {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub representative: Option<String>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl RegistryProduct {
    pub fn registry_id(&self) -> String {
        match &self.id {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

/// Dates as the registry writes them: "2026-04-23", "2026-04-23T00:00:00Z" or "23/04/2026".
mod loose_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn parse(s: &str) -> Option<Date> {
        let s = s.trim();
        let iso = time::macros::format_description!("[year]-[month]-[day]");
        let vn = time::macros::format_description!("[day]/[month]/[year]");
        Date::parse(s.get(..10).unwrap_or(s), iso)
            .ok()
            .or_else(|| Date::parse(s, vn).ok())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        Ok(v.as_deref().and_then(parse))
    }

    pub fn serialize<S: Serializer>(v: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_str(&d.to_string()),
            None => s.serialize_none(),
        }
    }
}

/// One page of the registry's list: DRF's `{count, next, previous, results}`, or a bare array.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Page {
    Paginated {
        results: Vec<RegistryProduct>,
        #[serde(default)]
        next: Option<String>,
    },
    Plain(Vec<RegistryProduct>),
}

/// Certificate numbers compared the way people write them: case, spaces and "Đ"/"D" aside.
pub fn normalize_number(s: &str) -> String {
    fold_vietnamese(s)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '-')
        .collect()
}

/// Reads every page from a file (`--`: standard input is not supported) or an address,
/// following `next` (at most 2,000 pages, 20 s each).
pub async fn read(source: &str) -> Result<Vec<RegistryProduct>, String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| e.to_string())?;
        let mut out = vec![];
        let mut next = Some(source.to_string());
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > 2_000 {
                return Err("more than 2,000 pages: stopped".into());
            }
            let page: Page = client
                .get(&url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| format!("{url}: {e}"))?
                .json()
                .await
                .map_err(|e| format!("{url}: not the registry's JSON: {e}"))?;
            match page {
                Page::Paginated { results, next: n } => {
                    out.extend(results);
                    next = n.filter(|n| !n.is_empty());
                }
                Page::Plain(items) => out.extend(items),
            }
        }
        Ok(out)
    } else {
        let text = std::fs::read_to_string(source).map_err(|e| format!("{source}: {e}"))?;
        match serde_json::from_str::<Page>(&text).map_err(|e| format!("{source}: {e}"))? {
            Page::Paginated { results, .. } => Ok(results),
            Page::Plain(items) => Ok(items),
        }
    }
}

/// Where a registry record is, read from the manufacturer's address: the province whose name
/// appears in it (the longest match), then a commune of that province likewise.
pub fn locate(
    admin: &crate::catalog::snapshot::Admin,
    address: &str,
) -> (Option<i16>, Option<i32>) {
    let folded = fold_vietnamese(address);
    let bare = |name: &str| {
        let f = fold_vietnamese(name);
        ["thanh pho ", "tinh ", "phuong ", "xa ", "dac khu "]
            .iter()
            .find_map(|p| f.strip_prefix(p).map(str::to_string))
            .unwrap_or(f)
    };
    let contains = |needle: &str| {
        !needle.is_empty()
            && folded.match_indices(needle).any(|(at, _)| {
                let before = folded[..at].chars().last();
                let after = folded[at + needle.len()..].chars().next();
                before.is_none_or(|c| !c.is_alphanumeric())
                    && after.is_none_or(|c| !c.is_alphanumeric())
            })
    };
    let province = admin
        .provinces
        .iter()
        .map(|p| (p, bare(&p.name)))
        .filter(|(_, n)| contains(n))
        .max_by_key(|(_, n)| n.len())
        .map(|(p, _)| p);
    let commune = province.and_then(|p| {
        p.communes
            .iter()
            .filter_map(|c| admin.commune(*c))
            .map(|c| (c.code, bare(&c.name)))
            .filter(|(_, n)| contains(n))
            .max_by_key(|(_, n)| n.len())
            .map(|(c, _)| c)
    });
    (province.map(|p| p.code), commune)
}

/// A certificate of ours, as the sync compares it.
#[derive(Debug, Clone)]
struct Ours {
    certificate_id: i64,
    product_id: i64,
    province: i16,
    commune: i32,
    folded_name: String,
    number: String,
    stars: i16,
    expires_on: Date,
    live: bool,
}

/// What a sync found.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub read: usize,
    pub matched: usize,
    pub findings: usize,
    pub auto_applied: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "registry-sync: {} registry products read, {} matched, {} findings open for staff, {} expiry dates applied by province settings",
            self.read, self.matched, self.findings, self.auto_applied
        )
    }
}

struct Finding<'a> {
    kind: &'static str,
    province: Option<i16>,
    ours: Option<&'a Ours>,
    registry: Option<&'a RegistryProduct>,
}

/// Compares `records` with the catalog and records the findings of one run.
pub async fn sync(
    pool: &PgPool,
    source: &str,
    records: &[RegistryProduct],
) -> Result<Summary, sqlx::Error> {
    let admin = crate::catalog::snapshot::Admin::load(pool).await?;
    let today = crate::domain::vn_today();
    // each product's latest verified certificate
    let ours: Vec<Ours> = sqlx::query!(
        r#"select distinct on (c.product_id) c.certificate_id, c.product_id, pr.province_code, pr.commune_code,
                  p.name, c.decision_number, c.stars, c.expires_on, c.status = 'active' as "active!", p.hidden
           from certificate c join product p using (product_id) join producer pr using (producer_id)
           where c.verification = 'verified' and pr.status = 'approved'
           order by c.product_id, c.issued_on desc, c.certificate_id desc"#
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| Ours {
        certificate_id: r.certificate_id,
        product_id: r.product_id,
        province: r.province_code,
        commune: r.commune_code,
        folded_name: fold_vietnamese(&r.name),
        number: normalize_number(&r.decision_number),
        stars: r.stars,
        expires_on: r.expires_on,
        live: r.active && !r.hidden && today < r.expires_on,
    })
    .collect();
    let by_number: HashMap<&str, &Ours> = ours.iter().map(|o| (o.number.as_str(), o)).collect();
    let mut matched_ids: HashSet<i64> = HashSet::new();
    let mut findings: Vec<Finding> = vec![];
    let mut matched = 0;
    for r in records {
        let (province, commune) = locate(&admin, &r.manufacturer.address);
        let by_cert = r
            .ocop_certificate_number
            .as_deref()
            .map(normalize_number)
            .filter(|n| !n.is_empty())
            .and_then(|n| by_number.get(n.as_str()).copied());
        let name = fold_vietnamese(&r.name);
        let found = by_cert.or_else(|| {
            ours.iter().find(|o| {
                o.folded_name == name
                    && match (commune, province) {
                        (Some(c), _) => o.commune == c,
                        (None, Some(p)) => o.province == p,
                        (None, None) => false,
                    }
            })
        });
        let Some(o) = found else {
            findings.push(Finding {
                kind: "not_on_marketplace",
                province,
                ours: None,
                registry: Some(r),
            });
            continue;
        };
        matched += 1;
        matched_ids.insert(o.certificate_id);
        let f = |kind| Finding {
            kind,
            province: Some(o.province),
            ours: Some(o),
            registry: Some(r),
        };
        if r.ocop_star.is_some_and(|s| s != o.stars) {
            findings.push(f("stars_differ"));
        }
        match r.expiry_date {
            Some(d) if d <= today && o.live => findings.push(f("expired_in_registry")),
            Some(d) if d < o.expires_on => findings.push(f("expiry_earlier")),
            Some(d) if d > o.expires_on => findings.push(f("expiry_later")),
            _ => {}
        }
    }
    for o in ours
        .iter()
        .filter(|o| o.live && !matched_ids.contains(&o.certificate_id))
    {
        findings.push(Finding {
            kind: "missing_in_registry",
            province: Some(o.province),
            ours: Some(o),
            registry: None,
        });
    }

    let auto: HashSet<i16> =
        sqlx::query_scalar!("select province_code from registry_setting where auto_earlier_expiry")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let mut tx = pool.begin().await?;
    let run = sqlx::query_scalar!(
        "insert into registry_run (source, products_read, matched) values ($1, $2, $3) returning registry_run_id",
        source,
        records.len() as i32,
        matched as i32
    )
    .fetch_one(&mut *tx)
    .await?;
    let mut summary = Summary {
        read: records.len(),
        matched,
        ..Default::default()
    };
    let mut changed_products = vec![];
    for f in &findings {
        let registry = f
            .registry
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .unwrap_or_else(|| serde_json::json!({}));
        let automatic = f.kind == "expiry_earlier" && f.province.is_some_and(|p| auto.contains(&p));
        if automatic {
            let (o, r) = (f.ours.expect("matched"), f.registry.expect("matched"));
            sqlx::query!(
                "update certificate set expires_on = $2 where certificate_id = $1 and expires_on > $2 and issued_on < $2",
                o.certificate_id,
                r.expiry_date
            )
            .execute(&mut *tx)
            .await?;
            changed_products.push(o.product_id);
            summary.auto_applied += 1;
        }
        sqlx::query!(
            r#"insert into registry_finding (run_id, province_code, kind, product_id, certificate_id, registry_id, registry, state)
               values ($1, $2, $3, $4, $5, $6, $7, $8)
               on conflict (kind, coalesce(certificate_id, 0), coalesce(registry_id, '')) where state = 'open'
               do update set run_id = excluded.run_id, registry = excluded.registry, province_code = excluded.province_code"#,
            run,
            f.province,
            f.kind,
            f.ours.map(|o| o.product_id),
            f.ours.map(|o| o.certificate_id),
            f.registry.map(|r| r.registry_id()),
            registry,
            if automatic { "auto_applied" } else { "open" }
        )
        .execute(&mut *tx)
        .await?;
        if !automatic {
            summary.findings += 1;
        }
    }
    // what a previous run found and this one no longer does has been put right
    sqlx::query!(
        "update registry_finding set state = 'resolved', decided_at = now() where state = 'open' and run_id <> $1",
        run
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update registry_run set finished_at = now() where registry_run_id = $1",
        run
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_numbers_match_however_they_are_written() {
        assert_eq!(
            normalize_number("123/QĐ-UBND"),
            normalize_number(" 123/qd-ubnd ")
        );
        assert_ne!(
            normalize_number("123/QĐ-UBND"),
            normalize_number("124/QĐ-UBND")
        );
    }

    #[test]
    fn registry_dates_are_read_in_their_usual_shapes() {
        let d = time::macros::date!(2026 - 04 - 23);
        assert_eq!(loose_date::parse("2026-04-23"), Some(d));
        assert_eq!(loose_date::parse("2026-04-23T00:00:00Z"), Some(d));
        assert_eq!(loose_date::parse("23/04/2026"), Some(d));
        assert_eq!(loose_date::parse("soon"), None);
    }
}
