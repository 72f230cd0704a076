//! The OpenAPI 3.1 description of `/api/v1`, derived from the handlers' annotations and the
//! answer types themselves (utoipa), served at `/api/v1/openapi.json`, with Swagger UI for
//! people at `/api/v1/docs`. The test command checks the running API against it (schemathesis).

use crate::domain::{ProducerType, Sector};
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, ServerBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Chợ OCOP API",
        version = "1",
        description = "Read-only access to the marketplace's OCOP-rated products, their producers \
and places, search, and (with a staff token) the province's indicators.\n\n\
Versioning: `/api/v1` only ever gains fields, parameters and endpoints; a change that would break \
a client gets `/api/v2`, and `/api/v1` is then kept for at least 12 months with a `Deprecation` \
header and a `Sunset` date. Amounts are integer đồng (VND). Answers carry an `ETag`: send it back \
as `If-None-Match` and an unchanged answer costs a 304. Errors are `{\"error\": {\"code\", \
\"message\"}}` with the message in Vietnamese.",
        license(name = "Data: the marketplace's terms; code: see the repository")
    ),
    components(schemas(
        crate::error::ErrorBody,
        crate::catalog::listing::Sort,
        Sector,
        ProducerType
    )),
    modifiers(&Security),
    tags(
        (name = "catalog", description = "Products, producers and places: open to anyone, CORS per `CORS_ORIGINS`"),
        (name = "search", description = "Full-text search with typo tolerance, and suggestions as one types"),
        (name = "stats", description = "The province's indicators, for reporting systems: a staff API token"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "staff_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A staff API token, made by a staff member on the dashboard (/staff); it sees \
                         what that person sees (one province, or all for national staff).",
                    ))
                    .build(),
            ),
        );
        doc.servers = Some(vec![ServerBuilder::new().url("/").build()]);
    }
}

/// The description: each capability's endpoints (`parts`, from their own modules) under the
/// common head, with the province codes there are (data, not code: they come from the database)
/// as the only values of every province parameter.
pub fn document(parts: Vec<utoipa::openapi::OpenApi>, province_codes: &[i16]) -> String {
    let mut whole = ApiDoc::openapi();
    for part in parts {
        whole.merge(part);
    }
    let mut doc = serde_json::to_value(whole).expect("the API description serializes");
    let codes = serde_json::json!({ "type": "integer", "enum": province_codes });
    if let Some(paths) = doc["paths"].as_object_mut() {
        for operation in paths.values_mut().filter_map(|p| p.get_mut("get")) {
            let Some(params) = operation
                .get_mut("parameters")
                .and_then(|p| p.as_array_mut())
            else {
                continue;
            };
            for p in params {
                let name = p["name"].as_str().unwrap_or_default();
                if (name == "province" && p["in"] == "query")
                    || (name == "code" && p["in"] == "path")
                {
                    p["schema"] = codes.clone();
                }
            }
        }
    }
    serde_json::to_string_pretty(&doc).expect("JSON serializes")
}

/// `document`: the description, as [`document`] renders it.
pub fn router(document: String) -> Router<AppState> {
    let document = axum::body::Bytes::from(document);
    Router::new()
        .route(
            "/api/v1/openapi.json",
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::CACHE_CONTROL, "public, max-age=300"),
                    ],
                    document.clone(),
                )
            }),
        )
        .route("/api/v1/docs", get(docs_page))
        .route(
            "/static/swagger-ui/5.35.0/swagger-ui-bundle.js",
            get(|| async { immutable(JS, SWAGGER_JS) }),
        )
        .route(
            "/static/swagger-ui/5.35.0/swagger-ui.css",
            get(|| async { immutable(CSS, SWAGGER_CSS) }),
        )
        .route(
            "/static/swagger-ui/init.js",
            get(|| async { immutable(JS, INIT_JS.as_bytes()) }),
        )
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
/// Swagger UI 5.35.0 (swagger-ui-dist from npm, Apache-2.0, assets/swagger-ui/LICENSE), kept in
/// the binary: the page must work where no CDN is reachable.
const SWAGGER_JS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_CSS: &[u8] = include_bytes!("../assets/swagger-ui/swagger-ui.css");
const INIT_JS: &str = "window.ui = SwaggerUIBundle({ url: '/api/v1/openapi.json', \
dom_id: '#swagger-ui', deepLinking: true, tryItOutEnabled: true, validatorUrl: null });\n";

fn immutable(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

/// Swagger UI sets styles from script: this page alone allows inline styles.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

async fn docs_page() -> Response {
    let html = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Chợ OCOP API v1</title>\
<link rel=\"stylesheet\" href=\"/static/swagger-ui/5.35.0/swagger-ui.css\"></head>\
<body><main id=\"swagger-ui\"><noscript><p>The API description is at \
<a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p></noscript></main>\
<script src=\"/static/swagger-ui/5.35.0/swagger-ui-bundle.js\"></script>\
<script src=\"/static/swagger-ui/init.js\"></script></body></html>\n";
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    );
    r
}

/// A closed set's keys as a string enum in the description: the same keys the parsers accept.
fn keys_schema(description: &str, keys: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(keys))
        .into()
}

impl PartialSchema for Sector {
    fn schema() -> RefOr<Schema> {
        keys_schema(
            "The OCOP sector (product group)",
            Sector::ALL.iter().map(|s| s.key()),
        )
    }
}
impl ToSchema for Sector {}

impl PartialSchema for ProducerType {
    fn schema() -> RefOr<Schema> {
        keys_schema(
            "The kind of producer (cooperative, household business, company…)",
            ProducerType::ALL.iter().map(|t| t.key()),
        )
    }
}
impl ToSchema for ProducerType {}

impl PartialSchema for crate::catalog::listing::Sort {
    fn schema() -> RefOr<Schema> {
        use crate::catalog::listing::Sort;
        keys_schema(
            "The order of the results; `relevance` (the default when searching) only with `q`",
            Sort::ALL.iter().chain(&[Sort::Relevance]).map(|s| s.key()),
        )
    }
}
impl ToSchema for crate::catalog::listing::Sort {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_is_openapi_3_1_and_lists_every_api_v1_endpoint() {
        let parts = vec![
            crate::catalog::http::ApiDoc::openapi(),
            crate::search::http::ApiDoc::openapi(),
            crate::staff::dashboard::ApiDoc::openapi(),
        ];
        let doc: serde_json::Value = serde_json::from_str(&document(parts, &[1, 22])).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/products",
            "/api/v1/products/{slug}",
            "/api/v1/provinces",
            "/api/v1/provinces/{code}/communes",
            "/api/v1/search",
            "/api/v1/search/suggest",
            "/api/v1/stats/summary",
            "/api/v1/stats/{table}",
        ] {
            assert!(paths.contains_key(path), "{path} is not described");
        }
        // the closed sets are the parsers' own keys, the provinces those there are
        let sectors = &doc["components"]["schemas"]["Sector"]["enum"];
        assert_eq!(sectors.as_array().unwrap().len(), Sector::ALL.len());
        let communes = &doc["paths"]["/api/v1/provinces/{code}/communes"]["get"];
        assert_eq!(
            communes["parameters"][0]["schema"]["enum"],
            serde_json::json!([1, 22])
        );
        // the listing's bounds are the parser's
        let listing = &doc["paths"]["/api/v1/products"]["get"]["parameters"];
        let bound = |name: &str, key: &str| {
            listing
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .map(|p| p["schema"][key].as_i64().unwrap())
                .unwrap()
        };
        use crate::catalog::listing::{MAX_PAGE, MAX_PER_PAGE};
        assert_eq!(bound("per_page", "maximum"), i64::from(MAX_PER_PAGE));
        assert_eq!(bound("page", "maximum"), i64::from(MAX_PAGE));
        assert_eq!(bound("price_max", "maximum"), crate::domain::Vnd::MAX_PRICE);
    }
}
