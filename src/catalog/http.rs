//! Catalog pages and the catalog JSON API. Handlers read one snapshot and render: no SQL.

use super::listing::ListQuery;
use super::pages::{
    ApiFacets, ApiListing, Params, first_problem, home_view, list_view, listing_href,
};
use super::views::{self, ProducerView, ProductDetail};
use crate::domain::vn_today;
use crate::error::{ApiError, AppError};
use crate::render::render_page;
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// The catalog's part of the API description (`crate::openapi` puts the parts together).
#[derive(utoipa::OpenApi)]
#[openapi(paths(api_list, api_product, api_provinces, api_communes))]
pub struct ApiDoc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/products", get(list_page))
        .route("/products/{slug}", get(product_page))
        .route("/products/{slug}/qr.svg", get(product_qr))
        .route("/products/{slug}/card.png", get(product_card))
        .route("/sitemap.xml", get(super::seo::sitemap_index))
        .route("/sitemaps/{part}", get(super::seo::sitemap_part))
        .route("/robots.txt", get(super::seo::robots))
        .route("/producers/{slug}", get(producer_page))
        .route("/img/demo/{file}", get(demo_image))
        .route("/api/v1/products", get(api_list))
        .route("/api/v1/products/{slug}", get(api_product))
        .route("/api/v1/provinces", get(api_provinces))
        .route("/api/v1/provinces/{code}/communes", get(api_communes))
        .route("/chinh-sach-doi-tra", get(returns_page))
        .route("/dev/ui", get(design_page))
        .route("/lien-he", get(contact_page))
}

/// What a shopper can expect when something is wrong with an order: the rules the order states
/// actually enforce (cancel before shipping, refunds recorded by staff).
async fn returns_page(State(state): State<AppState>) -> Response {
    crate::render::render_page("info/returns.html", &contact(&state))
}

async fn contact_page(State(state): State<AppState>) -> Response {
    crate::render::render_page("info/contact.html", &contact(&state))
}

/// Every component of the pages on one page, for people building them: in debug builds and in
/// the demo (the payment sandbox) only.
async fn design_page(State(state): State<AppState>) -> Result<Response, AppError> {
    if !(cfg!(debug_assertions) || state.config.payment_sandbox) {
        return Err(AppError::NotFound);
    }
    let s = state.catalog.snapshot();
    let cards = views::cards(
        &s,
        &s.rows
            .iter()
            .take(2)
            .map(|r| r.product_id)
            .collect::<Vec<_>>(),
    );
    Ok(crate::render::render_page(
        "info/ui.html",
        &serde_json::json!({
            "cards": cards,
            "values": { "name": "Mật ong bạc hà", "price": "12a" },
            "errors": { "price": "Giá phải là số đồng, ví dụ 185000." },
            "banners": crate::banners::Theme::ALL.iter().map(|t| {
                let motif = crate::catalog::art::Motif::FOR_BANNERS[*t as usize * 3];
                crate::banners::sample(*t, motif)
            }).collect::<Vec<_>>(),
        }),
    ))
}

fn contact(state: &AppState) -> serde_json::Value {
    serde_json::json!({
        "phone": state.config.support_phone, "email": state.config.support_email,
    })
}

/// A path segment as our own error when it cannot be decoded (say, invalid UTF-8): no such
/// thing can exist, so it is not found, in the page's or the API's format.
type Segment = Result<Path<String>, PathRejection>;

fn segment(p: Segment) -> Result<String, AppError> {
    p.map(|Path(s)| s).map_err(|_| AppError::NotFound)
}

// ---------- JSON API ----------

#[utoipa::path(
    get, path = "/api/v1/products", tag = "catalog",
    summary = "Products on sale, filtered, sorted and paged, with facet counts",
    description = "Only products whose OCOP certificate is valid today are listed. Unknown \
parameters are ignored; a value that cannot be used is a 400 naming it.",
    params(super::listing::ListParams),
    responses(
        (status = 200, description = "A page of products", body = ApiListing),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
        (status = 400, description = "A parameter that cannot be used", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn api_list(
    State(state): State<AppState>,
    Query(mut params): Params,
) -> Result<Response, ApiError> {
    params.retain(|(k, _)| k != "q");
    let s = state.catalog.snapshot();
    let (q, problems) = ListQuery::parse(&params, &s.admin);
    first_problem(problems)?;
    let today = vn_today();
    let key = format!("api|{today}|{}", listing_href(&q));
    Ok(s.pages.json(key, || {
        let listing = s.list(&q, today);
        ApiListing {
            total: listing.counts.total,
            page: q.page,
            per_page: q.per_page,
            items: views::cards(&s, &listing.product_ids),
            facets: ApiFacets::new(&s, &listing.counts),
        }
    }))
}

#[utoipa::path(
    get, path = "/api/v1/products/{slug}", tag = "catalog",
    summary = "One product: its story, certificate, producer and latest reviews",
    params(("slug" = String, Path, description = "The product's address name, as in `items[].slug`")),
    responses(
        (status = 200, description = "The product", body = ProductDetail),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
        (status = 404, description = "No product by that name", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn api_product(
    State(state): State<AppState>,
    slug: Segment,
) -> Result<Response, ApiError> {
    let slug = segment(slug)?;
    let s = state.catalog.snapshot();
    let (p, producer) = s.product_by_slug(&slug).ok_or(AppError::NotFound)?;
    let today = vn_today();
    Ok(s.pages.json(format!("api-product|{today}|{slug}"), || {
        views::detail(&s, p, producer, today)
    }))
}

/// A province or centrally-run city (34 since the 2025 reorganisation).
#[derive(Serialize, utoipa::ToSchema)]
struct ApiProvince<'a> {
    /// the official code
    code: i16,
    name: &'a str,
    /// "Tỉnh" or "Thành phố"
    division_type: &'a str,
    commune_count: usize,
    /// products on sale today
    product_count: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ApiProvinces<'a> {
    total: usize,
    items: Vec<ApiProvince<'a>>,
}

/// A commune, ward or special zone of a province.
#[derive(Serialize, utoipa::ToSchema)]
struct ApiCommune<'a> {
    code: i32,
    name: &'a str,
    /// "Xã", "Phường" or "Đặc khu"
    division_type: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ApiProvinceRef<'a> {
    code: i16,
    name: &'a str,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ApiCommunes<'a> {
    province: ApiProvinceRef<'a>,
    total: usize,
    items: Vec<ApiCommune<'a>>,
}

#[utoipa::path(
    get, path = "/api/v1/provinces", tag = "catalog",
    summary = "The 34 provinces, with how many products each has on sale",
    responses((status = 200, description = "Every province", body = ApiProvinces))
)]
pub(crate) async fn api_provinces(State(state): State<AppState>) -> Response {
    let s = state.catalog.snapshot();
    let counts = s.province_counts(vn_today());
    let items: Vec<ApiProvince> = s
        .admin
        .provinces
        .iter()
        .map(|p| ApiProvince {
            code: p.code,
            name: &p.name,
            division_type: &p.division_type,
            commune_count: p.communes.len(),
            product_count: counts.get(&p.code).copied().unwrap_or(0),
        })
        .collect();
    Json(ApiProvinces {
        total: items.len(),
        items,
    })
    .into_response()
}

#[utoipa::path(
    get, path = "/api/v1/provinces/{code}/communes", tag = "catalog",
    summary = "A province's communes and wards, for address forms and the commune filter",
    params(("code" = i16, Path, description = "A province code from `/api/v1/provinces`")),
    responses(
        (status = 200, description = "The province's communes", body = ApiCommunes),
        (status = 400, description = "No province has that code", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn api_communes(
    State(state): State<AppState>,
    code: Segment,
) -> Result<Response, ApiError> {
    let code = code.map(|Path(c)| c).unwrap_or_default();
    let s = state.catalog.snapshot();
    let province = code
        .parse::<i16>()
        .ok()
        .and_then(|c| s.admin.province(c))
        .ok_or_else(|| {
            AppError::bad(
                "invalid_province",
                format!(
                    "Mã tỉnh/thành \"{}\" không tồn tại.",
                    code.chars().take(40).collect::<String>()
                ),
            )
        })?;
    let items: Vec<ApiCommune> = province
        .communes
        .iter()
        .filter_map(|c| s.admin.commune(*c))
        .map(|c| ApiCommune {
            code: c.code,
            name: &c.name,
            division_type: &c.division_type,
        })
        .collect();
    Ok(Json(ApiCommunes {
        province: ApiProvinceRef {
            code: province.code,
            name: &province.name,
        },
        total: items.len(),
        items,
    })
    .into_response())
}

// ---------- pages ----------

async fn list_page(State(state): State<AppState>, Query(mut params): Params) -> Response {
    // the listing has no search text: that is /search
    params.retain(|(k, _)| k != "q");
    let s = state.catalog.snapshot();
    let (q, problems) = ListQuery::parse(&params, &s.admin);
    let today = vn_today();
    if !problems.is_empty() {
        // notices echo what was typed: not worth keeping
        return render_page(
            "catalog/list.html",
            &list_view(&s, &q, problems, s.list(&q, today), None),
        );
    }
    let key = format!("list|{today}|{}", listing_href(&q));
    s.pages.page(key, "catalog/list.html", || {
        list_view(&s, &q, problems, s.list(&q, today), None)
    })
}

async fn home(State(state): State<AppState>) -> Response {
    let s = state.catalog.snapshot();
    let today = vn_today();
    s.pages
        .page(format!("home|{today}"), "catalog/home.html", || {
            home_view(&s, today)
        })
}

#[derive(Serialize)]
struct ProductPage {
    #[serde(rename = "p")]
    product: ProductDetail,
    page_url: String,
    qr_url: String,
    /// cards, as HTML
    more_from_producer: Vec<String>,
    /// expected delivery if ordered today: within the producer's province, and elsewhere
    delivery: Option<[crate::checkout::Window; 2]>,
    /// Schema.org Product, for search engines (already escaped for a script block)
    jsonld: String,
    canonical: String,
    /// the picture a shared link shows: the producer's photo, or the generated card
    share_image: String,
}

async fn product_page(State(state): State<AppState>, slug: Segment) -> Result<Response, AppError> {
    let slug = segment(slug)?;
    let s = state.catalog.snapshot();
    let (p, producer) = s.product_by_slug(&slug).ok_or(AppError::NotFound)?;
    let more: Vec<i64> = s
        .producer_products
        .get(&producer.id)
        .into_iter()
        .flatten()
        .copied()
        .filter(|id| *id != p.id)
        .take(4)
        .collect();
    let today = vn_today();
    let origin = state.config.public_url();
    Ok(s.pages.page(
        format!("product|{today}|{slug}"),
        "catalog/product.html",
        || {
            let product = views::detail(&s, p, producer, today);
            ProductPage {
                jsonld: super::seo::product_jsonld(&product, &origin),
                canonical: format!("/products/{}", p.slug),
                share_image: super::seo::share_image(&product, &origin),
                product,
                page_url: format!("{}/products/{}", state.config.public_url(), p.slug),
                qr_url: format!("/products/{}/qr.svg", p.slug),
                more_from_producer: views::cards_html(&s, &more, None),
                delivery: p.sector.ships_goods().then(|| {
                    let rule = crate::checkout::ShippingRule::from_config(&state.config);
                    let from = producer.province_code;
                    [
                        rule.arrives(today, from, Some(from)),
                        rule.arrives(today, from, None),
                    ]
                }),
            }
        },
    ))
}

/// The preview card of a product (see `card`), made once per catalog snapshot and language.
async fn product_card(State(state): State<AppState>, slug: Segment) -> Result<Response, AppError> {
    let slug = segment(slug)?;
    let s = state.catalog.snapshot();
    let (p, producer) = s.product_by_slug(&slug).ok_or(AppError::NotFound)?;
    let mut res = s
        .pages
        .get_or_make(format!("card|{slug}"), "image/png", || {
            let card = views::card(&s, p, producer);
            super::card::render(&super::card::CardText {
                name: &card.name,
                stars: card.stars,
                price: &crate::domain::Vnd::format(card.price_vnd.amount()),
                producer: &card.producer_name,
                place: &card.province_name,
                brand: &crate::i18n::tr("brand"),
            })
            .map(axum::body::Bytes::from)
        });
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(res)
}

/// A QR code pointing at the product page, for printing on packaging (traceability).
async fn product_qr(State(state): State<AppState>, slug: Segment) -> Result<Response, AppError> {
    let slug = segment(slug)?;
    let s = state.catalog.snapshot();
    let (p, _) = s.product_by_slug(&slug).ok_or(AppError::NotFound)?;
    let url = format!("{}/products/{}", state.config.public_url(), p.slug);
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AppError::Internal(format!("qr: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        svg,
    )
        .into_response())
}

#[derive(Serialize)]
struct ProducerPage {
    producer: ProducerView,
    /// cards, as HTML
    products: Vec<String>,
    /// Schema.org LocalBusiness, for search engines
    jsonld: String,
    canonical: String,
}

async fn producer_page(State(state): State<AppState>, slug: Segment) -> Result<Response, AppError> {
    let slug = segment(slug)?;
    let s = state.catalog.snapshot();
    let producer = s.producer_by_slug(&slug).ok_or(AppError::NotFound)?;
    let today = vn_today();
    let ids: Vec<i64> = s
        .producer_products
        .get(&producer.id)
        .into_iter()
        .flatten()
        .copied()
        .filter(|id| {
            s.products
                .get(id)
                .and_then(|p| p.certificate.as_ref())
                .is_some_and(|c| c.valid_on(today))
        })
        .collect();
    Ok(s.pages.page(
        format!("producer|{today}|{slug}"),
        "catalog/producer.html",
        || {
            let view = views::producer_view(&s, producer);
            ProducerPage {
                jsonld: super::seo::producer_jsonld(&view, &state.config.public_url()),
                canonical: view.url.clone(),
                producer: view,
                products: views::cards_html(&s, &ids, None),
            }
        },
    ))
}

/// Demo pictures are drawn here rather than downloaded: nothing leaves the machine.
async fn demo_image(State(state): State<AppState>, file: Segment) -> Result<Response, AppError> {
    let file = segment(file)?;
    let slug = file.strip_suffix(".svg").ok_or(AppError::NotFound)?;
    let s = state.catalog.snapshot();
    let (p, _) = s.product_by_slug(slug).ok_or(AppError::NotFound)?;
    let stars = p.certificate.as_ref().map(|c| c.stars.get());
    let svg = super::art::demo_svg(&p.name, p.sector, stars);
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        svg,
    )
        .into_response())
}
