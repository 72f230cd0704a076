//! Reviews by verified buyers, and the pages search engines and chat apps read.

use crate::helpers::{TestApp, Visitor, csrf, load_fixture, person};
use crate::orders::{add, checkout_with};
use axum::http::StatusCode;

/// A shopper who bought one `slug` (cash on delivery): their visitor and the order code.
async fn buyer<'a>(app: &'a TestApp, slug: &str) -> (Visitor<'a>, String) {
    let mut v = Visitor::new(app);
    add(&mut v, slug, 1).await;
    let page = v.get("/checkout").await;
    let placed = checkout_with(&mut v, &page, "cod").await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let location = placed.header("location").unwrap();
    let code = location
        .trim_start_matches("/orders/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    (v, code)
}

async fn deliver(app: &TestApp, code: &str) {
    sqlx::query("update shop_order set status = 'delivered' where order_group_id = (select order_group_id from order_group where code = $1)")
        .bind(code)
        .execute(&app.pool)
        .await
        .unwrap();
}

/// The order part and product of the order's only line.
async fn line(app: &TestApp, code: &str) -> (String, String) {
    let (o, p): (i64, i64) = sqlx::query_as(
        "select l.order_id, l.product_id from order_line l join shop_order o using (order_id)
         join order_group g using (order_group_id) where g.code = $1",
    )
    .bind(code)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    (o.to_string(), p.to_string())
}

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(64, 48, image::Rgb([200, 120, 40]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn review(
    v: &mut Visitor<'_>,
    code: &str,
    line: &(String, String),
    rating: &str,
    body: &str,
    photo: Option<Vec<u8>>,
) -> String {
    // the session's token, from a page that always has a form
    let token = csrf(&v.get("/orders/lookup").await);
    let files: Vec<(&str, &str, Vec<u8>)> = photo
        .into_iter()
        .map(|b| ("photo1", "cha-muc.png", b))
        .collect();
    let answer = v
        .post_multipart(
            &format!("/orders/{code}/reviews"),
            &[
                ("csrf", &token),
                ("order_id", &line.0),
                ("product_id", &line.1),
                ("rating", rating),
                ("body", body),
            ],
            &files,
        )
        .await;
    answer.header("location").unwrap_or_else(|| {
        panic!("{}: {}", answer.status, answer.body);
    })
}

async fn rating(app: &TestApp, slug: &str) -> (i32, i32) {
    sqlx::query_as("select rating_sum, rating_count from product where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_buyer_reviews_a_delivered_product_with_a_photo_and_every_page_shows_the_rating() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (mut v, code) = buyer(&app, "cha-muc").await;
    let l = line(&app, &code).await;
    // not delivered yet: no invitation, and a forged post changes nothing
    let page = v.get(&format!("/orders/{code}")).await;
    assert!(!page.body.contains("Viết đánh giá"));
    let went = review(&mut v, &code, &l, "5", "Ngon", None).await;
    assert!(went.contains("review=review-error-not-eligible"), "{went}");
    assert_eq!(rating(&app, "cha-muc").await, (0, 0));

    deliver(&app, &code).await;
    let page = v.get(&format!("/orders/{code}")).await;
    assert!(page.body.contains("Viết đánh giá"), "the buyer is invited");
    // no stars: refused with a reason, nothing saved
    let went = review(&mut v, &code, &l, "", "Thiếu sao", None).await;
    assert!(went.contains("review=review-error-rating"));
    let page = v.get(&went).await;
    assert!(page.body.contains("Vui lòng chọn từ 1 đến 5 sao."));
    assert_eq!(rating(&app, "cha-muc").await, (0, 0));

    let went = review(
        &mut v,
        &code,
        &l,
        "5",
        "Chả dai, thơm, giao nhanh.",
        Some(png()),
    )
    .await;
    assert!(went.contains("review=saved"), "{went}");
    assert_eq!(rating(&app, "cha-muc").await, (5, 1));
    let page = v.get(&went).await;
    assert!(page.body.contains("Đã lưu đánh giá"));
    assert!(page.body.contains("Sửa đánh giá"), "editable for 30 days");

    // the product page: the review, its photo, "verified buyer", the average
    let product = app.get("/products/cha-muc").await;
    assert!(product.body.contains("Chả dai, thơm, giao nhanh."));
    assert!(product.body.contains("Đã mua hàng"));
    assert!(
        product.body.contains("Lê ") || product.body.contains("Mua L."),
        "signed with the buyer's name"
    );
    assert!(product.body.contains("/media/p/"), "the photo, re-encoded");
    assert!(product.body.contains("★ 5,0"));
    // cards and sorting: the listing shows it and "best rated" puts it first
    let list = app.get("/products?sort=rating").await;
    let first_card = list.body.find("card-title").unwrap();
    assert!(
        list.body[first_card..].starts_with("card-title\">Chả mực"),
        "best rated first"
    );
    assert!(list.body.contains("card-rating"));
    let rated = app.get("/products?rating=4").await;
    assert!(
        rated.body.contains("<strong>1</strong> sản phẩm"),
        "only rated products: {}",
        rated.body.len()
    );
    let english = app.get("/products/cha-muc?lang=en").await;
    assert!(english.body.contains("Verified buyer") && english.body.contains("★ 5.0"));

    // edited: the average moves, the count does not
    review(&mut v, &code, &l, "3", "Sửa lại: hơi mặn.", None).await;
    assert_eq!(rating(&app, "cha-muc").await, (3, 1));
    let product = app.get("/products/cha-muc").await;
    assert!(
        product.body.contains("Sửa lại: hơi mặn.") && product.body.contains("/media/p/"),
        "photos kept when none are sent"
    );

    // someone else cannot review the buyer's line
    let mut stranger = Visitor::new(&app);
    let page = stranger.get("/orders/lookup").await;
    let answer = stranger
        .post_multipart(
            &format!("/orders/{code}/reviews"),
            &[
                ("csrf", &csrf(&page)),
                ("order_id", &l.0),
                ("product_id", &l.1),
                ("rating", "1"),
                ("body", ""),
            ],
            &[],
        )
        .await;
    assert!(answer.status == StatusCode::NOT_FOUND || answer.status == StatusCode::FORBIDDEN);
    assert_eq!(rating(&app, "cha-muc").await, (3, 1));
}

#[tokio::test]
async fn a_review_older_than_thirty_days_can_no_longer_be_changed() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (mut v, code) = buyer(&app, "cha-muc").await;
    let l = line(&app, &code).await;
    deliver(&app, &code).await;
    review(&mut v, &code, &l, "4", "Ổn", None).await;
    sqlx::query("update review set created_at = now() - interval '31 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let page = v.get(&format!("/orders/{code}")).await;
    assert!(
        !page.body.contains("Sửa đánh giá"),
        "no edit button after 30 days"
    );
    let went = review(&mut v, &code, &l, "1", "Đổi ý", None).await;
    assert!(went.contains("review=review-error-too-late"));
    assert_eq!(rating(&app, "cha-muc").await, (4, 1));
}

#[tokio::test]
async fn the_producer_replies_once_and_only_staff_of_its_province_hide_a_review_with_a_reason() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (mut v, code) = buyer(&app, "cha-muc").await;
    let l = line(&app, &code).await;
    deliver(&app, &code).await;
    review(&mut v, &code, &l, "2", "Giao chậm.", None).await;
    let review_id: i64 = sqlx::query_scalar("select review_id from review")
        .fetch_one(&app.pool)
        .await
        .unwrap();

    let (mut owner, uid) = person(&app, "owner", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'ho-ba-che'")
        .bind(uid)
        .execute(&app.pool)
        .await
        .unwrap();
    let page = owner.get("/producer/reviews").await;
    assert!(page.body.contains("Giao chậm."));
    let token = csrf(&page);
    let reply = format!("/producer/reviews/{review_id}/reply");
    let done = owner
        .post(
            &reply,
            &[
                ("csrf", &token),
                ("reply", "Xin lỗi anh chị, lần sau sẽ nhanh hơn."),
            ],
        )
        .await;
    assert_eq!(
        done.header("location").as_deref(),
        Some("/producer/reviews?ok=replied")
    );
    let again = owner
        .post(&reply, &[("csrf", &token), ("reply", "Lần hai")])
        .await;
    assert_eq!(
        again.header("location").as_deref(),
        Some("/producer/reviews?ok=already")
    );
    let product = app.get("/products/cha-muc").await;
    assert!(
        product
            .body
            .contains("Xin lỗi anh chị, lần sau sẽ nhanh hơn.")
    );
    assert!(!product.body.contains("Lần hai"));
    // another producer cannot answer it
    let (mut other, uid) = person(&app, "other", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'cong-ty-ha-noi'")
        .bind(uid)
        .execute(&app.pool)
        .await
        .unwrap();
    let page = other.get("/producer/reviews").await;
    assert!(
        !page.body.contains("Giao chậm."),
        "another producer's reviews stay theirs"
    );

    // a shopper reports it from the product page
    let mut shopper = Visitor::new(&app);
    let reported = shopper
        .post(
            &format!("/reviews/{review_id}/report"),
            &[
                ("reason", "Nội dung không đúng sự thật"),
                ("back", "/products/cha-muc"),
            ],
        )
        .await;
    assert_eq!(reported.status, StatusCode::OK, "{}", reported.body);
    assert!(reported.body.contains("cán bộ sàn sẽ xem xét"));

    // Hà Nội's staff cannot hide a Quảng Ninh review; Quảng Ninh's can, with a reason
    let (mut hanoi, _) = person(&app, "hn", "province_staff", Some(1)).await;
    let page = hanoi.get("/staff/reviews").await;
    assert!(!page.body.contains("Giao chậm."));
    let hide = format!("/staff/reviews/{review_id}/hide");
    let token = csrf(&hanoi.get("/orders/lookup").await);
    let refused = hanoi
        .post(&hide, &[("csrf", &token), ("reason", "Không phù hợp")])
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let (mut qn, _) = person(&app, "qn", "province_staff", Some(22)).await;
    let page = qn.get("/staff/reviews").await;
    assert!(
        page.body.contains("Giao chậm.") && page.body.contains("1 báo cáo"),
        "reported reviews come first, with their count"
    );
    let no_reason = qn
        .post(&hide, &[("csrf", &csrf(&page)), ("reason", "")])
        .await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);
    let hidden = qn
        .post(
            &hide,
            &[("csrf", &csrf(&page)), ("reason", "Thông tin sai sự thật")],
        )
        .await;
    assert_eq!(hidden.status, StatusCode::SEE_OTHER);
    assert_eq!(
        rating(&app, "cha-muc").await,
        (0, 0),
        "a hidden review leaves the average"
    );
    let product = app.get("/products/cha-muc").await;
    assert!(!product.body.contains("Giao chậm."));
    let logged: (String, Option<String>) = sqlx::query_as(
        "select action, reason from audit_log where entity = 'review' order by audit_id desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        logged,
        ("review.hide".into(), Some("Thông tin sai sự thật".into()))
    );
}

/// The JSON-LD block of a page, parsed.
fn json_ld(body: &str) -> serde_json::Value {
    let start = body
        .find(r#"<script type="application/ld+json">"#)
        .expect("a JSON-LD block")
        + 35;
    let end = start + body[start..].find("</script>").unwrap();
    serde_json::from_str(&body[start..end]).expect("valid JSON")
}

#[tokio::test]
async fn product_and_producer_pages_carry_structured_data_and_preview_cards() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (mut v, code) = buyer(&app, "cha-muc").await;
    let l = line(&app, &code).await;
    deliver(&app, &code).await;
    review(&mut v, &code, &l, "4", "Ngon </script><b>x</b>", None).await;

    let page = app.get("/products/cha-muc").await;
    let ld = json_ld(&page.body);
    assert_eq!(ld["@type"], "Product");
    assert_eq!(ld["name"], "Chả mực Hạ Long");
    assert_eq!(ld["offers"]["priceCurrency"], "VND");
    assert_eq!(ld["offers"]["price"], "300000");
    assert_eq!(ld["offers"]["availability"], "https://schema.org/InStock");
    assert_eq!(ld["brand"]["name"], "Hộ kinh doanh Ba Chẽ");
    assert_eq!(ld["aggregateRating"]["ratingValue"], "4.0");
    assert_eq!(ld["aggregateRating"]["reviewCount"], 1);
    assert_eq!(
        ld["review"][0]["reviewBody"], "Ngon </script><b>x</b>",
        "kept exactly, yet escaped in the page"
    );
    let stars = ld["additionalProperty"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "OCOP stars")
        .unwrap();
    assert_eq!(stars["value"], 5);
    // a shared link's preview: the generated card, since the fixture has no photo
    assert!(page.body.contains(
        r#"<meta property="og:image" content="https://ocop.example.vn/products/cha-muc/card.png">"#
    ));
    assert!(
        page.body
            .contains(r#"<meta name="twitter:card" content="summary_large_image">"#)
    );
    assert!(
        page.body
            .contains(r#"<link rel="canonical" href="https://ocop.example.vn/products/cha-muc">"#)
    );
    let card = app.get("/products/cha-muc/card.png").await;
    assert_eq!(card.status, StatusCode::OK);
    assert_eq!(card.content_type, "image/png");

    let producer = app.get("/producers/ho-ba-che").await;
    let ld = json_ld(&producer.body);
    assert_eq!(ld["@type"], "LocalBusiness");
    assert_eq!(ld["address"]["addressCountry"], "VN");
    assert_eq!(ld["aggregateRating"]["reviewCount"], 1);
}

#[tokio::test]
async fn the_sitemap_lists_listed_products_and_producers_and_robots_points_to_it() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let robots = app.get("/robots.txt").await;
    assert!(
        robots
            .body
            .contains("Sitemap: https://ocop.example.vn/sitemap.xml")
    );
    assert!(robots.body.contains("Disallow: /staff"));
    let index = app.get("/sitemap.xml").await;
    assert!(
        index
            .body
            .contains("<loc>https://ocop.example.vn/sitemaps/1.xml</loc>")
    );
    let part = app.get("/sitemaps/1.xml").await;
    assert_eq!(part.status, StatusCode::OK);
    assert!(
        part.body
            .contains("<loc>https://ocop.example.vn/products/cha-muc</loc>")
    );
    assert!(
        part.body
            .contains("hreflang=\"en\" href=\"https://ocop.example.vn/products/cha-muc?lang=en\"")
    );
    assert!(
        part.body
            .contains("<loc>https://ocop.example.vn/producers/ho-ba-che</loc>")
    );
    assert!(
        !part.body.contains("/products/banh-cu<"),
        "an expired product is not advertised"
    );
    assert_eq!(
        app.get("/sitemaps/2.xml").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_visitor_searching_in_english_finds_the_vietnamese_products() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let tea = app.get("/search?q=tea&lang=en").await;
    assert!(tea.body.contains("Tra hoa vang"), "tea → trà");
    let squid = app.get("/search?q=squid&lang=en").await;
    assert!(squid.body.contains("Cha muc Ha Long"), "squid → mực");
    let none = app.get("/search?q=durian&lang=en").await;
    assert!(none.body.contains("No products found"));
}

#[tokio::test]
async fn staff_set_the_indicative_rates_visitors_see() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (mut national, _) = person(&app, "nat", "national_staff", None).await;
    let page = national.get("/staff/fx").await;
    assert!(page.body.contains("USD"));
    let bad = national
        .post(
            "/staff/fx",
            &[("csrf", &csrf(&page)), ("currency", "USD"), ("rate", "0")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = national
        .post(
            "/staff/fx",
            &[
                ("csrf", &csrf(&page)),
                ("currency", "USD"),
                ("rate", "30.000"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    // 300.000 ₫ at 30.000 ₫ per dollar
    let product = app.get("/products/cha-muc?lang=en").await;
    assert!(
        product.body.contains("≈\u{a0}US$10.00"),
        "indicative amount at the new rate"
    );
    let (mut province, _) = person(&app, "qn", "province_staff", Some(22)).await;
    assert_eq!(
        province.get("/staff/fx").await.status,
        StatusCode::NOT_FOUND,
        "national staff only"
    );
}
