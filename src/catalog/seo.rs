//! What search engines and chat apps read: Schema.org JSON-LD for products and producers, the
//! picture a shared link shows, `sitemap.xml` (split past 50,000 addresses) and `robots.txt`.
//! Built from the catalog snapshot, like the pages: no SQL.

use super::views::{ProducerView, ProductDetail};
use crate::domain::vn_today;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Addresses per sitemap file: the protocol's limit.
pub const SITEMAP_URLS: usize = 50_000;

/// JSON for a `<script type="application/ld+json">` block: `<`, `>` and `&` written as escapes,
/// so no text a producer typed can close the block.
pub fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn absolute(origin: &str, url: &str) -> String {
    if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else {
        format!("{origin}{url}")
    }
}

/// The producer's own photo when it is a picture chat apps show (JPEG, PNG, WebP); else the
/// generated card.
pub fn share_image(p: &ProductDetail, origin: &str) -> String {
    p.images
        .iter()
        .find(|u| {
            [".jpg", ".jpeg", ".png", ".webp"]
                .iter()
                .any(|e| u.ends_with(e))
        })
        .map(|u| absolute(origin, u))
        .unwrap_or_else(|| format!("{origin}/products/{}/card.png", p.card.slug))
}

/// Schema.org `Product` with its `Offer`, brand and maker, the OCOP certificate as properties,
/// and the buyers' `AggregateRating` and reviews when there are any.
pub fn product_jsonld(p: &ProductDetail, origin: &str) -> String {
    let url = format!("{origin}/products/{}", p.card.slug);
    let producer_url = format!("{origin}{}", p.producer.url);
    let mut v = json!({
        "@context": "https://schema.org",
        "@type": "Product",
        "name": p.card.name,
        "description": p.story,
        "url": url,
        "sku": p.card.slug,
        "category": p.card.sector_name,
        "image": if p.images.is_empty() {
            vec![share_image(p, origin)]
        } else {
            p.images.iter().map(|u| absolute(origin, u)).collect::<Vec<_>>()
        },
        "brand": { "@type": "Brand", "name": p.producer.name },
        "manufacturer": { "@type": "Organization", "name": p.producer.name, "url": producer_url },
        "countryOfOrigin": "VN",
        "offers": {
            "@type": "Offer",
            "url": url,
            "price": p.card.price_vnd.amount().to_string(),
            "priceCurrency": "VND",
            "availability": if p.certified && p.card.in_stock {
                "https://schema.org/InStock"
            } else {
                "https://schema.org/OutOfStock"
            },
            "itemCondition": "https://schema.org/NewCondition",
            "seller": { "@type": "Organization", "name": p.producer.name },
        },
    });
    if let Some(c) = &p.certificate {
        v["award"] = json!(format!("OCOP {}★", c.stars));
        v["additionalProperty"] = json!([
            { "@type": "PropertyValue", "name": "OCOP stars", "value": c.stars },
            { "@type": "PropertyValue", "name": "OCOP certificate decision", "value": c.decision_number },
            { "@type": "PropertyValue", "name": "OCOP certificate valid until", "value": c.expires_on.to_string() },
            { "@type": "PropertyValue", "name": "OCOP certificate status", "value": c.status },
        ]);
    }
    if p.card.rating_count > 0 {
        v["aggregateRating"] = json!({
            "@type": "AggregateRating",
            "ratingValue": p.card.rating.as_deref().unwrap_or("0").replace(',', "."),
            "reviewCount": p.card.rating_count,
            "bestRating": 5,
            "worstRating": 1,
        });
        v["review"] = p
            .reviews
            .iter()
            .map(|r| {
                json!({
                    "@type": "Review",
                    "author": { "@type": "Person", "name": r.author },
                    "reviewRating": { "@type": "Rating", "ratingValue": r.rating, "bestRating": 5 },
                    "reviewBody": r.body,
                    "datePublished": r.created_at.date().to_string(),
                })
            })
            .collect();
    }
    script_json(&v)
}

/// Schema.org `LocalBusiness` for a producer's page.
pub fn producer_jsonld(p: &ProducerView, origin: &str) -> String {
    let mut v = json!({
        "@context": "https://schema.org",
        "@type": "LocalBusiness",
        "name": p.name,
        "url": format!("{origin}{}", p.url),
        "description": p.story,
        "address": {
            "@type": "PostalAddress",
            "streetAddress": p.address,
            "addressLocality": p.commune_name,
            "addressRegion": p.province_name,
            "addressCountry": "VN",
        },
    });
    if let Some(phone) = &p.phone {
        v["telephone"] = json!(phone);
    }
    if p.rating_count > 0 {
        v["aggregateRating"] = json!({
            "@type": "AggregateRating",
            "ratingValue": p.rating.as_deref().unwrap_or("0").replace(',', "."),
            "reviewCount": p.rating_count,
        });
    }
    script_json(&v)
}

/// Every address worth finding: the home page, provinces' and sectors' listings, listed products
/// and producers with something listed.
fn all_urls(state: &AppState) -> Vec<String> {
    let s = state.catalog.snapshot();
    let origin = state.config.public_url();
    let today = vn_today();
    let mut urls = vec![format!("{origin}/"), format!("{origin}/products")];
    urls.extend(
        s.admin
            .provinces
            .iter()
            .map(|p| format!("{origin}/products?province={}", p.code)),
    );
    urls.extend(
        crate::domain::Sector::ALL
            .iter()
            .map(|k| format!("{origin}/products?sector={}", k.key())),
    );
    urls.extend(
        s.rows
            .iter()
            .filter(|r| today < r.expires_on)
            .filter_map(|r| s.products.get(&r.product_id))
            .map(|p| format!("{origin}/products/{}", p.slug)),
    );
    urls.extend(
        s.producers_by_name
            .iter()
            .filter_map(|id| s.producers.get(id))
            .map(|p| format!("{origin}/producers/{}", p.slug)),
    );
    urls
}

fn xml(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    crate::render::escape_html(s)
}

/// The sitemap index: one `sitemaps/N.xml` per 50,000 addresses.
pub async fn sitemap_index(State(state): State<AppState>) -> Response {
    let n = all_urls(&state).len().div_ceil(SITEMAP_URLS).max(1);
    let origin = state.config.public_url();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for i in 1..=n {
        out.push_str(&format!(
            "<sitemap><loc>{}</loc></sitemap>\n",
            escape(&format!("{origin}/sitemaps/{i}.xml"))
        ));
    }
    out.push_str("</sitemapindex>\n");
    xml(out)
}

/// One part of the sitemap, each address with its English version beside it.
pub async fn sitemap_part(
    State(state): State<AppState>,
    Path(part): Path<String>,
) -> Result<Response, AppError> {
    let n: usize = part
        .strip_suffix(".xml")
        .and_then(|n| n.parse().ok())
        .filter(|n| *n >= 1)
        .ok_or(AppError::NotFound)?;
    let urls = all_urls(&state);
    let chunk = urls
        .chunks(SITEMAP_URLS)
        .nth(n - 1)
        .ok_or(AppError::NotFound)?;
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n",
    );
    for u in chunk {
        let sep = if u.contains('?') { '&' } else { '?' };
        let mut alternates = String::new();
        for lang in crate::i18n::Lang::all() {
            let href = if lang.is_vi() {
                u.clone()
            } else {
                format!("{u}{sep}lang={}", lang.code())
            };
            alternates.push_str(&format!(
                "<xhtml:link rel=\"alternate\" hreflang=\"{}\" href=\"{}\"/>",
                lang.code(),
                escape(&href)
            ));
        }
        out.push_str(&format!(
            "<url><loc>{}</loc>{alternates}</url>\n",
            escape(u)
        ));
    }
    out.push_str("</urlset>\n");
    Ok(xml(out))
}

/// Crawlers may read the shop; the portals, the back office, carts and orders are nobody's
/// business but their users'.
pub async fn robots(State(state): State<AppState>) -> Response {
    let body = format!(
        "User-agent: *\nAllow: /\nDisallow: /producer\nDisallow: /staff\nDisallow: /cart\nDisallow: /checkout\nDisallow: /orders/\nDisallow: /account\nDisallow: /sandbox\nDisallow: /search\n\nSitemap: {}/sitemap.xml\n",
        state.config.public_url()
    );
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_a_producer_typed_cannot_close_the_script_block() {
        let v = json!({ "name": "</script><script>alert(1)</script> & co" });
        let s = script_json(&v);
        assert!(!s.contains("</script>") && !s.contains('<') && !s.contains('&'));
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v, "still the same JSON");
    }
}
