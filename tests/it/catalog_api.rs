//! The catalog JSON API: filters, facet counts, errors and certificate gating.

use crate::helpers::{Options, TestApp, load_fixture};
use axum::http::StatusCode;
use serde_json::{Value, json};

fn slugs(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["slug"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn listing_shows_only_visible_products_with_a_valid_certificate() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (status, body) = app.api("/api/v1/products").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 5);
    let mut got = slugs(&body);
    got.sort();
    // not the expired, revoked, hidden or never-certified ones
    assert_eq!(
        got,
        [
            "banh-da-ke",
            "cha-muc",
            "gom-bat-trang",
            "mien-dong",
            "tra-hoa-vang"
        ]
    );
}

#[tokio::test]
async fn facets_count_what_each_value_would_give() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (_, body) = app.api("/api/v1/products").await;
    let f = &body["facets"];
    assert_eq!(f["province"]["22"], 3);
    assert_eq!(f["province"]["1"], 2);
    assert_eq!(f["province"]["79"], 0);
    assert_eq!(f["province"].as_object().unwrap().len(), 34);
    assert_eq!(
        f["sector"],
        json!({"food": 3, "beverage": 1, "herbal": 0, "textile": 0, "souvenir": 1, "tourism": 0})
    );
    assert_eq!(f["stars"], json!({"3": 2, "4": 2, "5": 1}));
    assert_eq!(
        f["producer_type"],
        json!({"cooperative": 2, "household": 1, "firm": 2, "coop_group": 0})
    );
    assert_eq!(f["in_stock"], 4);
}

#[tokio::test]
async fn each_facet_ignores_its_own_filter_and_keeps_the_others() {
    let app = TestApp::new().await;
    let fx = load_fixture(&app).await;
    let (_, body) = app.api("/api/v1/products?province=22&sector=food").await;
    assert_eq!(body["total"], 2);
    let f = &body["facets"];
    // provinces as if no province were chosen, but still food only
    assert_eq!(f["province"]["22"], 2);
    assert_eq!(f["province"]["1"], 1);
    // sectors as if no sector were chosen, still Quảng Ninh only
    assert_eq!(f["sector"]["food"], 2);
    assert_eq!(f["sector"]["beverage"], 1);
    assert_eq!(f["stars"], json!({"3": 1, "4": 0, "5": 1}));
    // the chosen province's communes
    assert_eq!(f["commune"][fx.qn_commune_a.to_string()], 1);
    assert_eq!(f["commune"][fx.qn_commune_b.to_string()], 1);

    let (_, body) = app
        .api(&format!("/api/v1/products?commune={}", fx.qn_commune_a))
        .await;
    let mut got = slugs(&body);
    got.sort();
    assert_eq!(got, ["mien-dong", "tra-hoa-vang"]);
}

#[tokio::test]
async fn price_range_stock_stars_and_producer_type_filter() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (_, body) = app
        .api("/api/v1/products?price_min=50000&price_max=150000&sort=price_asc")
        .await;
    assert_eq!(slugs(&body), ["mien-dong", "gom-bat-trang", "tra-hoa-vang"]);
    let (_, body) = app.api("/api/v1/products?in_stock=true").await;
    assert_eq!(body["total"], 4);
    assert!(!slugs(&body).contains(&"tra-hoa-vang".to_string()));
    let (_, body) = app.api("/api/v1/products?stars=5").await;
    assert_eq!(slugs(&body), ["cha-muc"]);
    let (_, body) = app
        .api("/api/v1/products?producer_type=firm&sort=price_desc")
        .await;
    assert_eq!(slugs(&body), ["gom-bat-trang", "banh-da-ke"]);
}

#[tokio::test]
async fn sorting_and_pagination() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (_, body) = app.api("/api/v1/products?sort=price_asc").await;
    assert_eq!(
        slugs(&body),
        [
            "banh-da-ke",
            "mien-dong",
            "gom-bat-trang",
            "tra-hoa-vang",
            "cha-muc"
        ]
    );
    let (_, body) = app.api("/api/v1/products?sort=stars").await;
    assert_eq!(slugs(&body)[0], "cha-muc");
    // newest first: the fixture made them a day apart, first one newest
    let (_, body) = app.api("/api/v1/products").await;
    assert_eq!(
        slugs(&body),
        [
            "mien-dong",
            "tra-hoa-vang",
            "cha-muc",
            "gom-bat-trang",
            "banh-da-ke"
        ]
    );
    let (_, body) = app.api("/api/v1/products?per_page=2&page=3").await;
    assert_eq!(
        (
            body["page"].as_u64(),
            body["per_page"].as_u64(),
            body["total"].as_u64()
        ),
        (Some(3), Some(2), Some(5))
    );
    assert_eq!(slugs(&body), ["banh-da-ke"]);
    let (status, body) = app.api("/api/v1/products?per_page=2&page=9").await;
    assert_eq!(status, StatusCode::OK);
    assert!(slugs(&body).is_empty());
}

#[tokio::test]
async fn bad_parameters_answer_400_with_a_json_error() {
    let app = TestApp::new().await;
    let fx = load_fixture(&app).await;
    let cases = [
        ("stars=7", "invalid_stars"),
        ("page=-1", "invalid_page"),
        ("page=0", "invalid_page"),
        ("page=abc", "invalid_page"),
        ("province=99", "invalid_province"),
        ("province=%27%20OR%201=1", "invalid_province"),
        ("sector=banh", "invalid_sector"),
        ("producer_type=bank", "invalid_producer_type"),
        ("per_page=1000", "invalid_per_page"),
        ("price_min=abc", "invalid_price"),
        ("price_min=500&price_max=100", "invalid_price"),
        ("in_stock=maybe", "invalid_in_stock"),
        ("sort=random", "invalid_sort"),
        ("commune=1", "invalid_commune"),
    ];
    for (query, code) in cases {
        let (status, body) = app.api(&format!("/api/v1/products?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let (status, body) = app
        .api(&format!(
            "/api/v1/products?province=1&commune={}",
            fx.qn_commune_a
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("không thuộc"),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_things_answer_404_json() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (status, body) = app.api("/api/v1/products/khong-co").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = app.api("/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // undecodable path segments are our own JSON errors, never a plain-text rejection
    let (status, body) = app.api("/api/v1/products/%FF%FE").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = app.api("/api/v1/provinces/%FF/communes").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_province"))
    );
    let page = app.get("/products/%FF").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.content_type.starts_with("text/html"));
    // hidden and never-certified products are not there at all
    for slug in ["an-giau", "chua-chung-nhan"] {
        let (status, _) = app.api(&format!("/api/v1/products/{slug}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{slug}");
    }
}

#[tokio::test]
async fn a_product_carries_its_certificate_producer_and_place() {
    let app = TestApp::new().await;
    let fx = load_fixture(&app).await;
    let (status, p) = app.api("/api/v1/products/cha-muc").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p["name"], "Chả mực Hạ Long");
    assert_eq!(p["price_vnd"], 300_000);
    assert_eq!(p["stars"], 5);
    assert_eq!(p["province_code"], 22);
    assert_eq!(p["province_name"], "Quảng Ninh");
    assert_eq!(p["commune_code"], fx.qn_commune_b);
    assert_eq!(p["producer_slug"], "ho-ba-che");
    assert_eq!(p["producer"]["producer_type"], "household");
    assert_eq!(p["certified"], true);
    assert_eq!(p["certificate"]["awarding_level"], "central");
    assert_eq!(p["certificate"]["status"], "valid");
    assert_eq!(p["certificate_expires_on"], p["certificate"]["expires_on"]);
    assert!(p["certificate_expires_on"].as_str().unwrap().len() == 10);
}

#[tokio::test]
async fn expired_and_revoked_products_say_so_and_are_not_listed() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (status, p) = app.api("/api/v1/products/banh-cu").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p["certified"], false);
    assert_eq!(p["certificate"]["status"], "expired");
    let (_, p) = app.api("/api/v1/products/mat-ong-cu").await;
    assert_eq!(p["certified"], false);
    assert_eq!(p["certificate"]["status"], "revoked");
    assert_eq!(
        p["certificate"]["revoked_reason"],
        "Không đạt khi đánh giá lại"
    );

    let page = app.get("/products/banh-cu").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("không còn được chứng nhận OCOP"),
        "expired page must say so"
    );
    assert!(page.body.contains("hết hiệu lực"));
    let page = app.get("/products/mat-ong-cu").await;
    assert!(page.body.contains("không còn được chứng nhận OCOP"));
    assert!(page.body.contains("thu hồi"));
    let listing = app.get("/products").await;
    assert!(!listing.body.contains("/products/banh-cu\""));
    assert!(!listing.body.contains("/products/mat-ong-cu\""));
}

#[tokio::test]
async fn a_certificate_stops_counting_on_its_expiry_day() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let today = ocop_market::domain::vn_today();
    sqlx::query("update certificate set expires_on = $1 where product_id = (select product_id from product where slug = 'mien-dong')")
        .bind(today)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update certificate set expires_on = $1 where product_id = (select product_id from product where slug = 'cha-muc')")
        .bind(today.next_day().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    let (_, body) = app.api("/api/v1/products").await;
    let got = slugs(&body);
    assert!(
        !got.contains(&"mien-dong".to_string()),
        "expires today: no longer listed"
    );
    assert!(
        got.contains(&"cha-muc".to_string()),
        "expires tomorrow: still listed"
    );
}

#[tokio::test]
async fn the_catalog_follows_database_changes_by_itself() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    sqlx::query("update product set price_vnd = 77000, stock = 0 where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update certificate set status = 'revoked', revoked_on = current_date, revoked_reason = 'Thu hồi' where product_id = (select product_id from product where slug = 'gom-bat-trang')")
        .execute(&app.pool)
        .await
        .unwrap();
    // no explicit refresh: the notification must reach the app
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, p) = app.api("/api/v1/products/mien-dong").await;
        let (_, list) = app.api("/api/v1/products").await;
        if p["price_vnd"] == 77000 && p["in_stock"] == false && list["total"] == 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "change not seen: {p} / total {}",
            list["total"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn provinces_and_communes_come_from_the_official_list() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (status, body) = app.api("/api/v1/provinces").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 34);
    let items = body["items"].as_array().unwrap();
    let qn = items.iter().find(|p| p["code"] == 22).unwrap();
    assert_eq!(qn["name"], "Quảng Ninh");
    assert_eq!(qn["product_count"], 3);
    assert_eq!(qn["commune_count"], 54);
    let communes: u64 = items
        .iter()
        .map(|p| p["commune_count"].as_u64().unwrap())
        .sum();
    assert_eq!(communes, 3321);

    let (status, body) = app.api("/api/v1/provinces/22/communes").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 54);
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "Xã Bình Liêu")
    );
    let (status, body) = app.api("/api/v1/provinces/99/communes").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_province");
    let (status, _) = app.api("/api/v1/provinces/abc/communes").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_client_holding_a_catalog_answer_gets_304_until_the_catalog_changes() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    for uri in [
        "/api/v1/products?province=22",
        "/products/cha-muc",
        "/products",
    ] {
        let first = app.get(uri).await;
        let etag = first
            .header("etag")
            .unwrap_or_else(|| panic!("{uri} has an ETag"));
        let again = app.get_with_headers(uri, &[("if-none-match", &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(again.body.is_empty());
        let other = app
            .get_with_headers(uri, &[("if-none-match", "\"0000000000000000\"")])
            .await;
        assert_eq!(
            other.status,
            StatusCode::OK,
            "{uri}: another tag gets the answer"
        );
    }
    // a price change makes a new answer with a new tag
    let before = app.get("/products/cha-muc").await.header("etag").unwrap();
    sqlx::query("update product set price_vnd = 310000 where slug = 'cha-muc'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    let after = app
        .get_with_headers("/products/cha-muc", &[("if-none-match", &before)])
        .await;
    assert_eq!(after.status, StatusCode::OK);
    assert!(after.body.contains("310.000"));
}

#[tokio::test]
async fn browser_pages_on_listed_origins_may_read_the_open_api_and_nothing_else() {
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(|c| {
            c.cors_origins = "https://dulich.quangninh.gov.vn".into()
        })),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    let from = |origin: &'static str, uri: &'static str| {
        let app = &app;
        async move { app.get_with_headers(uri, &[("origin", origin)]).await }
    };
    let ok = from("https://dulich.quangninh.gov.vn", "/api/v1/products").await;
    assert_eq!(
        ok.header("access-control-allow-origin").as_deref(),
        Some("https://dulich.quangninh.gov.vn")
    );
    let other = from("https://evil.example", "/api/v1/products").await;
    assert!(other.header("access-control-allow-origin").is_none());
    let stats = from("https://dulich.quangninh.gov.vn", "/api/v1/stats/summary").await;
    assert!(
        stats.header("access-control-allow-origin").is_none(),
        "the stats API is not shared"
    );
    let preflight = app
        .send(
            axum::http::Request::builder()
                .method("OPTIONS")
                .uri("/api/v1/products")
                .header("origin", "https://dulich.quangninh.gov.vn")
                .header("access-control-request-method", "GET")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert_eq!(
        preflight.header("access-control-allow-methods").as_deref(),
        Some("GET")
    );
}
