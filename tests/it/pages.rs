//! Server-rendered pages: every template renders, prices read the Vietnamese way, bad filters
//! become notices, text is escaped.

use crate::helpers::{TestApp, load_fixture};
use axum::http::StatusCode;

#[test]
fn every_template_parses() {
    let tera = ocop_market::render::build(ocop_market::i18n::Lang::vi()).expect("templates parse");
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
        ("/chinh-sach-doi-tra", "báo trong 7 ngày"),
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

/// Every message a template names, in every language: a template asking for a message no
/// language has, or a language lacking one, fails here (and the page would not render).
#[test]
fn every_message_the_templates_use_exists_in_every_language() {
    use ocop_market::i18n::Lang;
    let tera = ocop_market::render::build(Lang::vi()).expect("templates parse");
    let mut used = std::collections::BTreeSet::new();
    for name in ocop_market::render::template_names() {
        let source = ocop_market::render::template_source(name).expect("embedded");
        let mut rest = source;
        while let Some(at) = rest.find("t(k=\"") {
            rest = &rest[at + 5..];
            let end = rest.find('"').expect("closing quote");
            used.insert(rest[..end].to_string());
        }
    }
    assert!(
        used.len() > 150,
        "the shop's templates use messages: {}",
        used.len()
    );
    for lang in Lang::all() {
        let missing: Vec<&String> = used.iter().filter(|k| !lang.has(k)).collect();
        assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
    }
    drop(tera);
}

#[tokio::test]
async fn every_shop_page_renders_in_english_and_vietnamese() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let pages = [
        ("/", "The six OCOP sectors", "Sáu ngành hàng OCOP"),
        ("/products", "Filter and sort", "Bộ lọc và sắp xếp"),
        ("/search?q=muc", "Results for", "Kết quả tìm kiếm"),
        ("/products/cha-muc", "Add to cart", "Giấy chứng nhận OCOP"),
        (
            "/products/banh-cu",
            "no longer OCOP certified",
            "không còn được chứng nhận",
        ),
        ("/producers/ho-ba-che", "OCOP products (", "Sản phẩm OCOP ("),
        ("/cart", "Your cart is empty.", "Giỏ hàng đang trống."),
        ("/orders/lookup", "Track an order", "Tra cứu đơn hàng"),
        ("/login", "Forgot your password?", "Quên mật khẩu?"),
        ("/signup", "Create an account", "Đăng ký tài khoản"),
        ("/password/forgot", "Send the link", "Gửi đường dẫn"),
        (
            "/chinh-sach-doi-tra",
            "Returns and refunds policy",
            "Chính sách đổi trả và hoàn tiền",
        ),
        (
            "/lien-he",
            "Contact the OCOP marketplace",
            "Liên hệ sàn OCOP",
        ),
        (
            "/khong-co-trang-nay",
            "Back to the home page",
            "Về trang chủ",
        ),
    ];
    for (uri, english, vietnamese) in pages {
        let sep = if uri.contains('?') { '&' } else { '?' };
        let en = app.get(&format!("{uri}{sep}lang=en")).await;
        assert!(en.status.as_u16() < 500, "{uri} in English: {}", en.status);
        assert!(en.body.contains("<html lang=\"en\">"), "{uri} in English");
        assert!(
            en.body.contains(english),
            "{uri} in English lacks {english:?}"
        );
        let vi = app.get(uri).await;
        assert!(
            vi.body.contains("<html lang=\"vi\">"),
            "{uri} in Vietnamese"
        );
        assert!(
            vi.body.contains(vietnamese),
            "{uri} in Vietnamese lacks {vietnamese:?}"
        );
        assert!(
            !vi.body.contains(english) || english == vietnamese,
            "{uri}: English leaked"
        );
    }
}

#[tokio::test]
async fn the_language_follows_the_switch_the_cookie_and_the_browser() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    // a browser that prefers English gets English, with links to both versions
    let page = app
        .get_with_headers(
            "/products/cha-muc",
            &[("accept-language", "en-GB,en;q=0.9,vi;q=0.5")],
        )
        .await;
    assert!(page.body.contains("<html lang=\"en\">"));
    assert!(
        page.body
            .contains(r#"hreflang="en" href="https://ocop.example.vn/products/cha-muc?lang=en""#),
        "hreflang links"
    );
    assert!(page.body.contains(r#"hreflang="x-default""#));
    assert_eq!(page.header("content-language").as_deref(), Some("en"));
    // the switch: ?lang=vi sets a cookie that outlasts the browser's preference
    let switched = app.get("/products/cha-muc?lang=vi").await;
    let cookie = switched
        .header("set-cookie")
        .expect("the choice is remembered");
    assert!(cookie.starts_with("lang=vi;"), "{cookie}");
    let page = app
        .get_with_headers(
            "/products/cha-muc",
            &[("accept-language", "en"), ("cookie", "lang=vi")],
        )
        .await;
    assert!(page.body.contains("<html lang=\"vi\">"));
    // the cached page of one language is never served in the other
    let en = app.get("/products?lang=en").await;
    let vi = app.get("/products").await;
    assert!(en.body.contains("Filter and sort") && vi.body.contains("Bộ lọc và sắp xếp"));
    // the back office stays Vietnamese whatever the browser says
    let staff = app
        .get_with_headers("/login?next=/staff", &[("accept-language", "en")])
        .await;
    assert!(
        staff.body.contains("<html lang=\"en\">"),
        "the shop's login follows the visitor"
    );
}

#[tokio::test]
async fn an_untranslated_product_reads_without_diacritics_and_a_translated_one_in_english() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let page = app.get("/products/cha-muc?lang=en").await;
    assert!(page.body.contains("Cha muc Ha Long"), "transliterated name");
    assert!(
        page.body.contains("Chả mực Hạ Long"),
        "the Vietnamese name beside it"
    );
    assert!(page.body.contains("no English description yet"));
    assert!(
        page.body.contains("Quang Ninh"),
        "the province without diacritics"
    );
    sqlx::query("update product set name_en = 'Ha Long squid cakes', story_en = 'Pounded by hand in Ha Long.' where slug = 'cha-muc'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.state.catalog.refresh_all().await.unwrap();
    let page = app.get("/products/cha-muc?lang=en").await;
    assert!(page.body.contains("Ha Long squid cakes"));
    assert!(page.body.contains("Pounded by hand in Ha Long."));
    assert!(!page.body.contains("no English description yet"));
    // an indicative amount in the visitor's currency, labelled as such
    assert!(page.body.contains("≈\u{a0}US$"), "approximate price in USD");
    assert!(page.body.contains("indicative only"));
    let vi = app.get("/products/cha-muc").await;
    assert!(!vi.body.contains("≈"), "Vietnamese pages show đồng only");
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
/// under 36 KB before compression (images aside; 30 KB before the page carried structured data,
/// preview tags and reviews), and far less as sent (about 8 KB gzipped).
#[tokio::test]
async fn a_product_page_and_its_styles_weigh_under_36_kb() {
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
        weight < 36_000,
        "HTML {} + CSS = {weight} bytes",
        page.body.len()
    );
}
