//! What pages and the JSON API show of a product, built from the snapshot.

use super::snapshot::{Producer, Product, Snapshot};
use crate::domain::{ProducerType, Sector, Vnd};
use serde::Serialize;
use time::Date;

/// A product in a list: the JSON API's item and the template's card.
#[derive(Serialize, Clone, Debug, utoipa::ToSchema)]
pub struct ProductCard {
    pub slug: String,
    /// in the reader's language: the producer's translation, else the Vietnamese name without
    /// diacritics
    pub name: String,
    /// the Vietnamese name, beside a translated or transliterated one
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_vi: Option<String>,
    /// whether the producer wrote this product's text in the reader's language
    pub translated: bool,
    pub url: String,
    pub image: Option<String>,
    /// the price in đồng (VND), an integer
    #[schema(value_type = i64, example = 185000)]
    pub price_vnd: Vnd,
    pub unit: String,
    pub weight_grams: Option<i32>,
    pub stars: u8,
    #[schema(value_type = Sector)]
    pub sector: &'static str,
    pub sector_name: String,
    pub province_code: i16,
    pub province_name: String,
    pub commune_code: i32,
    pub commune_name: String,
    pub producer_slug: String,
    pub producer_name: String,
    #[schema(value_type = ProducerType)]
    pub producer_type: &'static str,
    pub in_stock: bool,
    pub stock: i32,
    pub certificate_expires_on: Option<Date>,
    /// units paid for, all time
    pub sold: i64,
    /// the average of verified buyers' ratings, one decimal ("4.7"), and how many there are
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<String>,
    pub rating_count: i32,
    /// "≈ US$4.20": the price in the visitor's currency, indicative only
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_approx: Option<String>,
    /// search results: the name as HTML with the matched parts marked
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlight: Option<String>,
}

#[derive(Serialize, Clone, Debug, utoipa::ToSchema)]
pub struct CertificateView {
    pub stars: u8,
    pub awarding_level: &'static str,
    pub awarding_level_name: String,
    pub awarding_body: String,
    pub decision_number: String,
    pub issued_on: Date,
    pub expires_on: Date,
    pub potential_five_star: bool,
    /// valid, expired or revoked
    #[schema(value_type = String, pattern = "^(valid|expired|revoked)$")]
    pub status: &'static str,
    pub revoked_on: Option<Date>,
    pub revoked_reason: Option<String>,
}

#[derive(Serialize, Clone, Debug, utoipa::ToSchema)]
pub struct ProducerView {
    pub slug: String,
    pub name: String,
    pub url: String,
    #[schema(value_type = ProducerType)]
    pub producer_type: &'static str,
    pub producer_type_name: String,
    pub province_code: i16,
    pub province_name: String,
    pub commune_code: i32,
    pub commune_name: String,
    pub address: String,
    pub phone: Option<String>,
    pub story: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<String>,
    pub rating_count: i32,
}

#[derive(Serialize, Clone, Debug, utoipa::ToSchema)]
pub struct ProductDetail {
    #[serde(flatten)]
    pub card: ProductCard,
    pub story: String,
    /// verified buyers' reviews, newest first (the latest few)
    pub reviews: Vec<super::snapshot::ReviewView>,
    pub images: Vec<String>,
    /// on sale as an OCOP product today
    pub certified: bool,
    pub certificate: Option<CertificateView>,
    pub producer: ProducerView,
}

pub fn card(s: &Snapshot, p: &Product, producer: &Producer) -> ProductCard {
    let province = s.admin.province(producer.province_code);
    let commune = s.admin.commune(producer.commune_code);
    let lang = crate::i18n::current();
    let (name, name_vi, translated) = match (&p.name_en, lang.is_vi()) {
        (_, true) => (p.name.clone(), None, true),
        (Some(en), false) if lang.code() == "en" => (en.clone(), Some(p.name.clone()), true),
        _ => (
            crate::domain::strip_diacritics(&p.name),
            Some(p.name.clone()),
            false,
        ),
    };
    ProductCard {
        slug: p.slug.clone(),
        name,
        name_vi,
        translated,
        url: format!("/products/{}", p.slug),
        image: p.images.first().map(|u| crate::media::thumbnail_url(u)),
        price_vnd: p.price_vnd,
        unit: p.unit.clone(),
        weight_grams: p.weight_grams,
        stars: p.certificate.as_ref().map(|c| c.stars.get()).unwrap_or(0),
        sector: p.sector.key(),
        sector_name: crate::i18n::label("sector", p.sector.key(), p.sector.label()),
        province_code: producer.province_code,
        province_name: province
            .map(|p| crate::i18n::place(&p.name))
            .unwrap_or_default(),
        commune_code: producer.commune_code,
        commune_name: commune
            .map(|c| crate::i18n::place(&c.name))
            .unwrap_or_default(),
        producer_slug: producer.slug.clone(),
        producer_name: producer.name.clone(),
        producer_type: producer.producer_type.key(),
        in_stock: p.stock > 0,
        stock: p.stock,
        certificate_expires_on: p.certificate.as_ref().map(|c| c.expires_on),
        sold: p.sold,
        rating: rating(p.rating_sum, p.rating_count),
        rating_count: p.rating_count,
        price_approx: s.fx.approx(p.price_vnd),
        highlight: None,
    }
}

/// An average to one decimal, as shops show it: 47 over 10 → "4.7" (Vietnamese: "4,7").
pub fn rating(sum: i32, count: i32) -> Option<String> {
    (count > 0).then(|| {
        let tenths = crate::domain::average_tenths(sum.into(), count.into());
        let sep = if crate::i18n::current().is_vi() {
            ','
        } else {
            '.'
        };
        format!("{}{sep}{}", tenths / 10, tenths % 10)
    })
}

/// The products' cards as HTML for a listing. Without search words to mark, each card is
/// rendered once per snapshot and language and kept: a new filter combination then costs a few
/// string copies per card, not a template each.
pub fn cards_html(s: &Snapshot, ids: &[i64], marked: Option<&crate::search::Terms>) -> Vec<String> {
    let lang = crate::i18n::current().index();
    ids.iter()
        .filter_map(|id| {
            if marked.is_none() {
                let memo = s.card_html.lock().expect("card memo lock");
                if let Some(html) = memo.get(&(lang, *id)) {
                    return Some(html.to_string());
                }
            }
            let p = s.products.get(id)?;
            let mut card = card(s, p, s.producers.get(&p.producer_id)?);
            if let Some(terms) = marked {
                card.highlight = Some(crate::search::highlight::highlight(&card.name, terms));
            }
            let html = match crate::render::render_fragment("catalog/_card.html", "p", &card) {
                Ok(html) => html,
                Err(e) => {
                    tracing::error!(error = ?e, "a product card could not be rendered");
                    return None;
                }
            };
            if marked.is_none() {
                let size = 64 + html.len();
                let kept: std::sync::Arc<str> = html.as_str().into();
                s.card_html
                    .lock()
                    .expect("card memo lock")
                    .insert((lang, *id), kept, size);
            }
            Some(html)
        })
        .collect()
}

pub fn cards(s: &Snapshot, ids: &[i64]) -> Vec<ProductCard> {
    ids.iter()
        .filter_map(|id| {
            let p = s.products.get(id)?;
            Some(card(s, p, s.producers.get(&p.producer_id)?))
        })
        .collect()
}

pub fn producer_view(s: &Snapshot, producer: &Producer) -> ProducerView {
    // the producer's rating: every review of its listed products together
    let (sum, count) = s
        .producer_products
        .get(&producer.id)
        .into_iter()
        .flatten()
        .filter_map(|id| s.products.get(id))
        .fold((0, 0), |(s, c), p| (s + p.rating_sum, c + p.rating_count));
    ProducerView {
        slug: producer.slug.clone(),
        name: producer.name.clone(),
        url: format!("/producers/{}", producer.slug),
        producer_type: producer.producer_type.key(),
        producer_type_name: crate::i18n::label(
            "producer-type",
            producer.producer_type.key(),
            producer.producer_type.label(),
        ),
        province_code: producer.province_code,
        province_name: s
            .admin
            .province(producer.province_code)
            .map(|p| crate::i18n::place(&p.name))
            .unwrap_or_default(),
        commune_code: producer.commune_code,
        commune_name: s
            .admin
            .commune(producer.commune_code)
            .map(|c| crate::i18n::place(&c.name))
            .unwrap_or_default(),
        address: producer.address.clone(),
        phone: producer.phone.clone(),
        story: producer.story.clone(),
        rating: rating(sum, count),
        rating_count: count,
    }
}

pub fn detail(s: &Snapshot, p: &Product, producer: &Producer, today: Date) -> ProductDetail {
    let certificate = p.certificate.as_ref().map(|c| CertificateView {
        stars: c.stars.get(),
        awarding_level: c.awarding_level.key(),
        awarding_level_name: crate::i18n::label(
            "awarding",
            c.awarding_level.key(),
            c.awarding_level.label(),
        ),
        awarding_body: c.awarding_body.clone(),
        decision_number: c.decision_number.clone(),
        issued_on: c.issued_on,
        expires_on: c.expires_on,
        potential_five_star: c.potential_five_star,
        status: if c.revoked.is_some() {
            "revoked"
        } else if today >= c.expires_on {
            "expired"
        } else {
            "valid"
        },
        revoked_on: c.revoked.as_ref().map(|r| r.0),
        revoked_reason: c.revoked.as_ref().map(|r| r.1.clone()),
    });
    ProductDetail {
        card: card(s, p, producer),
        // the producer's English text when there is one; else the Vietnamese, marked as such
        story: match (&p.story_en, crate::i18n::current().code()) {
            (Some(en), "en") => en.clone(),
            _ => p.story.clone(),
        },
        reviews: p.reviews.clone(),
        images: p.images.clone(),
        certified: super::snapshot::is_listable(p, today),
        certificate,
        producer: producer_view(s, producer),
    }
}
