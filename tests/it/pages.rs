//! Server-rendered pages: every template renders, prices read the Vietnamese way, bad filters
//! become notices, text is escaped.

use crate::helpers::{TestApp, load_fixture};
use axum::http::StatusCode;

#[test]
fn every_template_parses() {
    let tera = ocop_market::render::build().expect("templates parse");
    let names: Vec<&str> = ocop_market::render::template_names().collect();
    for expected in [
        "base.html",
        "macros.html",
        "catalog/home.html",
        "catalog/list.html",
        "catalog/product.html",
        "catalog/producer.html",
        "errors/error.html",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(tera.get_template_names().count() >= names.len());
}

#[tokio::test]
async fn every_page_renders_for_a_person() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let pages = [
        ("/", "Sáu ngành hàng OCOP"),
        ("/products", "5</strong> sản phẩm"),
        (
            "/products?province=22&sector=food&stars=5&producer_type=household&price_min=1000&price_max=900000&in_stock=1&sort=price_desc&page=1",
            "Chả mực Hạ Long",
        ),
        ("/products/cha-muc", "Giấy chứng nhận OCOP"),
        ("/products/banh-cu", "không còn được chứng nhận"),
        ("/producers/ho-ba-che", "Hộ kinh doanh Ba Chẽ"),
        ("/chinh-sach-doi-tra", "báo trong <strong>7 ngày</strong>"),
        (
            "/lien-he",
            r#"<a href="tel:02033800800"><strong>0203 3800 800</strong></a>"#,
        ),
    ];
    for (uri, text) in pages {
        let page = app.get(uri).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.body);
        assert!(page.content_type.starts_with("text/html"), "{uri}");
        assert!(page.body.contains(text), "{uri} lacks {text:?}");
        assert!(page.body.contains("<html lang=\"vi\">"));
    }
    // every page links the return policy and the contact page
    let home = app.get("/").await;
    assert!(
        home.body.contains(r#"<a href="/chinh-sach-doi-tra">"#)
            && home.body.contains(r#"<a href="/lien-he">"#)
    );
    let missing = app.get("/products/khong-co-san-pham-nay").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Không tìm thấy"));
    let missing = app.get("/trang-khong-co").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.content_type.starts_with("text/html"));
}

#[tokio::test]
async fn prices_are_written_the_vietnamese_way() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let page = app.get("/products/cha-muc").await;
    assert!(page.body.contains("300.000\u{a0}₫"), "product page price");
    let page = app.get("/products").await;
    assert!(page.body.contains("45.000\u{a0}₫") && page.body.contains("120.000\u{a0}₫"));
}

#[tokio::test]
async fn the_product_page_shows_certificate_producer_and_stock() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let page = app.get("/products/tra-hoa-vang").await.body;
    for text in [
        "Trà hoa vàng",
        "12/QĐ-UBND",
        "Cấp tỉnh",
        "Còn hiệu lực",
        "HTX Bình Liêu",
        "Quảng Ninh",
        "Hết hàng",
        "4 sao",
        "/products/tra-hoa-vang/qr.svg",
    ] {
        assert!(page.contains(text), "product page lacks {text:?}");
    }
}

#[tokio::test]
async fn the_qr_code_is_an_svg_pointing_at_the_public_page() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let qr = app.get("/products/cha-muc/qr.svg").await;
    assert_eq!(qr.status, StatusCode::OK);
    assert_eq!(qr.content_type, "image/svg+xml");
    assert!(qr.body.contains("<svg") && qr.body.contains("<path"));
    // the same URL encoded twice gives the same picture; another product gives another
    let other = app.get("/products/mien-dong/qr.svg").await;
    assert_ne!(qr.body, other.body);
    let page = app.get("/products/cha-muc").await;
    assert!(
        page.body
            .contains("https://ocop.example.vn/products/cha-muc")
    );
    assert_eq!(
        app.get("/products/an-giau/qr.svg").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_filters_on_pages_are_ignored_with_a_notice() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let page = app.get("/products?stars=7&province=99&sector=food").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Số sao phải là 3, 4 hoặc 5"));
    assert!(page.body.contains("Mã tỉnh/thành"));
    // the good filter still applies
    assert!(page.body.contains("3</strong> sản phẩm"), "food only");
}

#[tokio::test]
async fn facet_links_carry_counts_and_keep_other_filters() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let page = app.get("/products?sector=food").await.body;
    // choosing Quảng Ninh keeps the sector
    assert!(
        page.contains("href=\"/products?province=22&amp;sector=food\""),
        "{page}"
    );
    assert!(page.contains("Quảng Ninh <span class=\"count\">2</span>"));
    // the active filter shows as a chip whose link removes it
    let page = app.get("/products?province=22&sector=food").await.body;
    assert!(
        page.contains("<a href=\"/products?province=22\" title=\"Bỏ lọc Thực phẩm\">"),
        "{page}"
    );
}

#[tokio::test]
async fn text_from_the_database_is_escaped() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    sqlx::query("update product set name = '<script>alert(1)</script> Mật ong', story = '<img src=x onerror=alert(2)>' where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    for uri in ["/products/mien-dong", "/products", "/"] {
        let body = app.get(uri).await.body;
        assert!(!body.contains("<script>alert(1)"), "{uri} not escaped");
        assert!(!body.contains("<img src=x"), "{uri} not escaped");
    }
    assert!(
        app.get("/products/mien-dong")
            .await
            .body
            .contains("&lt;script&gt;")
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::new().await;
    let h = app.get("/healthz").await;
    assert_eq!((h.status, h.body.as_str()), (StatusCode::OK, "ok"));
    let (status, body) = app.api("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"postgres": "ok", "redis": "ok"}));
}

#[tokio::test]
async fn browsers_find_the_icon_where_they_look_for_it() {
    let app = TestApp::new().await;
    let ico = app.get("/favicon.ico").await;
    assert_eq!(ico.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(ico.headers["location"], "/static/favicon.svg");
    let svg = app.get("/static/favicon.svg").await;
    assert_eq!(svg.status, StatusCode::OK);
    assert_eq!(svg.content_type, "image/svg+xml");
    assert!(svg.body.starts_with("<svg"));
    let home = app.get("/").await;
    assert!(
        home.body
            .contains(r#"<link rel="icon" href="/static/favicon.svg""#)
    );
}

/// A product page stays light on a phone's connection: its HTML and the styles it loads weigh
/// under 30 KB before compression (images aside), and far less as sent.
#[tokio::test]
async fn a_product_page_and_its_styles_weigh_under_30_kb() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    sqlx::query("update product set images = array['/img/demo/mien-dong.svg', '/img/demo/banh-da-ke.svg', '/img/demo/tra-hoa-vang.svg'] where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    let page = app.get("/products/mien-dong").await;
    assert_eq!(page.status, axum::http::StatusCode::OK);
    let styles: Vec<String> = page
        .body
        .match_indices("rel=\"stylesheet\" href=\"")
        .map(|(at, m)| {
            let rest = &page.body[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect();
    assert!(!styles.is_empty(), "the page loads its styles");
    let mut weight = page.body.len();
    for href in &styles {
        let css = app.get(href.split('?').next().unwrap()).await;
        assert_eq!(css.status, axum::http::StatusCode::OK, "{href}");
        weight += css.body.len();
    }
    println!(
        "product page: {} bytes of HTML + {} of CSS",
        page.body.len(),
        weight - page.body.len()
    );
    assert!(
        weight < 30_000,
        "HTML {} + CSS = {weight} bytes",
        page.body.len()
    );
}
