//! What pages and the JSON API show of a product, built from the snapshot.

use super::snapshot::{Producer, Product, Snapshot};
use crate::domain::Vnd;
use serde::Serialize;
use time::Date;

/// A product in a list: the JSON API's item and the template's card.
#[derive(Serialize, Clone, Debug)]
pub struct ProductCard {
    pub slug: String,
    pub name: String,
    pub url: String,
    pub image: Option<String>,
    pub price_vnd: Vnd,
    pub unit: String,
    pub weight_grams: Option<i32>,
    pub stars: u8,
    pub sector: &'static str,
    pub sector_name: &'static str,
    pub province_code: i16,
    pub province_name: String,
    pub commune_code: i32,
    pub commune_name: String,
    pub producer_slug: String,
    pub producer_name: String,
    pub producer_type: &'static str,
    pub in_stock: bool,
    pub stock: i32,
    pub certificate_expires_on: Option<Date>,
    /// units paid for, all time
    pub sold: i64,
    /// search results: the name as HTML with the matched parts marked
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlight: Option<String>,
}

#[derive(Serialize, Clone, Debug)]
pub struct CertificateView {
    pub stars: u8,
    pub awarding_level: &'static str,
    pub awarding_level_name: &'static str,
    pub awarding_body: String,
    pub decision_number: String,
    pub issued_on: Date,
    pub expires_on: Date,
    pub potential_five_star: bool,
    /// valid, expired or revoked
    pub status: &'static str,
    pub revoked_on: Option<Date>,
    pub revoked_reason: Option<String>,
}

#[derive(Serialize, Clone, Debug)]
pub struct ProducerView {
    pub slug: String,
    pub name: String,
    pub url: String,
    pub producer_type: &'static str,
    pub producer_type_name: &'static str,
    pub province_code: i16,
    pub province_name: String,
    pub commune_code: i32,
    pub commune_name: String,
    pub address: String,
    pub phone: Option<String>,
    pub story: String,
}

#[derive(Serialize, Clone, Debug)]
pub struct ProductDetail {
    #[serde(flatten)]
    pub card: ProductCard,
    pub story: String,
    pub images: Vec<String>,
    /// on sale as an OCOP product today
    pub certified: bool,
    pub certificate: Option<CertificateView>,
    pub producer: ProducerView,
}

pub fn card(s: &Snapshot, p: &Product, producer: &Producer) -> ProductCard {
    let province = s.admin.province(producer.province_code);
    let commune = s.admin.commune(producer.commune_code);
    ProductCard {
        slug: p.slug.clone(),
        name: p.name.clone(),
        url: format!("/products/{}", p.slug),
        image: p.images.first().map(|u| crate::media::thumbnail_url(u)),
        price_vnd: p.price_vnd,
        unit: p.unit.clone(),
        weight_grams: p.weight_grams,
        stars: p.certificate.as_ref().map(|c| c.stars.get()).unwrap_or(0),
        sector: p.sector.key(),
        sector_name: p.sector.label(),
        province_code: producer.province_code,
        province_name: province.map(|p| p.name.clone()).unwrap_or_default(),
        commune_code: producer.commune_code,
        commune_name: commune.map(|c| c.name.clone()).unwrap_or_default(),
        producer_slug: producer.slug.clone(),
        producer_name: producer.name.clone(),
        producer_type: producer.producer_type.key(),
        in_stock: p.stock > 0,
        stock: p.stock,
        certificate_expires_on: p.certificate.as_ref().map(|c| c.expires_on),
        sold: p.sold,
        highlight: None,
    }
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
    ProducerView {
        slug: producer.slug.clone(),
        name: producer.name.clone(),
        url: format!("/producers/{}", producer.slug),
        producer_type: producer.producer_type.key(),
        producer_type_name: producer.producer_type.label(),
        province_code: producer.province_code,
        province_name: s
            .admin
            .province(producer.province_code)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        commune_code: producer.commune_code,
        commune_name: s
            .admin
            .commune(producer.commune_code)
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        address: producer.address.clone(),
        phone: producer.phone.clone(),
        story: producer.story.clone(),
    }
}

pub fn detail(s: &Snapshot, p: &Product, producer: &Producer, today: Date) -> ProductDetail {
    let certificate = p.certificate.as_ref().map(|c| CertificateView {
        stars: c.stars.get(),
        awarding_level: c.awarding_level.key(),
        awarding_level_name: c.awarding_level.label(),
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
        story: p.story.clone(),
        images: p.images.clone(),
        certified: super::snapshot::is_listable(p, today),
        certificate,
        producer: producer_view(s, producer),
    }
}
