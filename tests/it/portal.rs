//! The producer portal and the staff back office, used the way people use them: through forms,
//! with sessions, CSRF tokens and uploads; checked against what shoppers then see.

use crate::helpers::{Answer, PASSWORD, TestApp, Visitor, csrf, person};
use axum::http::{StatusCode, header};

pub(crate) async fn commune_of(app: &TestApp, province: i16) -> i32 {
    sqlx::query_scalar(
        "select commune_code from commune where province_code = $1 order by commune_code limit 1",
    )
    .bind(province)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// Registers a producer through the form; answers its id.
pub(crate) async fn register(v: &mut Visitor<'_>, name: &str, province: i16) -> i64 {
    let commune = commune_of(v.app, province).await;
    let form = v.get("/producer/register").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let done = v
        .post(
            "/producer/register",
            &[
                ("csrf", &csrf(&form)),
                ("name", name),
                ("producer_type", "cooperative"),
                ("province", &province.to_string()),
                ("commune", &commune.to_string()),
                ("address", "Thôn Nà Làng"),
                ("registration_no", "5700123456"),
                ("phone", "0912 345 678"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    sqlx::query_scalar("select producer_id from producer where name = $1")
        .bind(name)
        .fetch_one(&v.app.pool)
        .await
        .unwrap()
}

pub(crate) fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::DynamicImage::new_rgb8(w, h);
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Creates a product through the multipart form; answers its id.
pub(crate) async fn create_product(v: &mut Visitor<'_>, name: &str, image: Option<Vec<u8>>) -> i64 {
    let form = v.get("/producer/products/new").await;
    // an example is a placeholder, never a value typed after ("hộphộp")
    assert!(
        form.body.contains(
            r#"<input id="f-unit" name="unit" type="text" placeholder="hộp, chai, kg…">"#
        ),
        "{}",
        form.body
    );
    let files: Vec<(&str, &str, Vec<u8>)> =
        image.into_iter().map(|b| ("image", "anh.png", b)).collect();
    let done = v
        .post_multipart(
            "/producer/products/new",
            &[
                ("csrf", &csrf(&form)),
                ("name", name),
                ("sector", "food"),
                ("price", "185.000"),
                ("stock", "5"),
                ("unit", "hũ"),
                ("story", "Mật ong hoa bạc hà cao nguyên đá."),
            ],
            &files,
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let location = done
        .headers
        .get(header::LOCATION)
        .unwrap()
        .to_str()
        .unwrap();
    location
        .trim_start_matches("/producer/products/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub(crate) async fn submit_certificate(
    v: &mut Visitor<'_>,
    product: i64,
    decision: &str,
) -> Answer {
    let page = v.get(&format!("/producer/products/{product}")).await;
    v.post_multipart(
        &format!("/producer/products/{product}/certificates"),
        &[
            ("csrf", &csrf(&page)),
            ("decision_number", decision),
            ("stars", "4"),
            ("awarding_level", "provincial"),
            ("awarding_body", "UBND tỉnh"),
            ("issued_on", "2025-03-15"),
        ],
        &[(
            "scan",
            "quyet-dinh.pdf",
            b"%PDF-1.4\n% scan of the decision\n".to_vec(),
        )],
    )
    .await
}

pub(crate) async fn certificate_of(app: &TestApp, product: i64) -> i64 {
    sqlx::query_scalar("select certificate_id from certificate where product_id = $1 order by certificate_id desc limit 1")
        .bind(product)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

pub(crate) async fn listed(app: &TestApp, name: &str) -> bool {
    app.get("/products").await.body.contains(name)
}

async fn found(app: &TestApp, query: &str, slug: &str) -> bool {
    let (status, body) = app.api(&format!("/api/v1/search?q={query}")).await;
    assert_eq!(status, StatusCode::OK);
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["slug"] == slug)
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("select action from audit_log order by audit_id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

// Quảng Ninh is 22, Hà Nội 1 (the official codes).
const QN: i16 = 22;
const HN: i16 = 1;

#[tokio::test]
async fn a_producer_is_approved_its_certificate_verified_and_then_revoked() {
    let app = TestApp::new().await;
    let (mut owner, _) = person(&app, "owner", "shopper", None).await;
    let producer = register(&mut owner, "HTX Mật ong Bình Liêu", QN).await;
    let home = owner.get("/producer").await;
    assert!(
        home.body.contains("chờ cán bộ OCOP của tỉnh phê duyệt"),
        "{}",
        home.body
    );

    let product = create_product(
        &mut owner,
        "Mật ong bạc hà Bình Liêu",
        Some(png(1600, 1200)),
    )
    .await;
    let images: Vec<String> =
        sqlx::query_scalar("select images from product where product_id = $1")
            .bind(product)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(images.len(), 1);
    let picture = app.get(&images[0]).await;
    assert_eq!(picture.status, StatusCode::OK, "the picture is served");
    assert_eq!(
        picture.content_type, "image/jpeg",
        "re-encoded, whatever was sent"
    );
    assert_eq!(
        app.get(&images[0].replace(".jpg", "-thumb.jpg"))
            .await
            .status,
        StatusCode::OK
    );

    let sent = submit_certificate(&mut owner, product, "1234/QĐ-UBND").await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    app.refresh().await;
    assert!(
        !listed(&app, "Mật ong bạc hà Bình Liêu").await,
        "pending producer, pending certificate: not listed"
    );

    // staff of another province see no queue entry and cannot act
    let (mut hanoi, _) = person(&app, "staff-hn", "province_staff", Some(HN)).await;
    let queue = hanoi.get("/staff/producers").await;
    assert!(!queue.body.contains("HTX Mật ong Bình Liêu"));
    let queue = hanoi.get("/account").await;
    let refused = hanoi
        .post(
            &format!("/staff/producers/{producer}/approve"),
            &[("csrf", &csrf(&queue))],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let cert = certificate_of(&app, product).await;
    let refused = hanoi
        .post(
            &format!("/staff/certificates/{cert}/verify"),
            &[("csrf", &csrf(&queue))],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    // staff of its province approve and verify
    let (mut staff, _) = person(&app, "staff-qn", "province_staff", Some(QN)).await;
    let desk = staff.get("/staff").await;
    assert_eq!(desk.status, StatusCode::OK);
    assert!(
        desk.body.contains("Quảng Ninh"),
        "the desk names its province: {}",
        desk.body
    );
    let queue = staff.get("/staff/producers").await;
    assert!(
        queue.body.contains("HTX Mật ong Bình Liêu"),
        "{}",
        queue.body
    );
    let ok = staff
        .post(
            &format!("/staff/producers/{producer}/approve"),
            &[("csrf", &csrf(&queue))],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(
        !listed(&app, "Mật ong bạc hà Bình Liêu").await,
        "the certificate is not verified yet"
    );
    let certs = staff.get("/staff/certificates").await;
    assert!(certs.body.contains("1234/QĐ-UBND"));
    let scan = staff.get(&format!("/staff/certificates/{cert}/scan")).await;
    assert_eq!(scan.content_type, "application/pdf");
    let ok = staff
        .post(
            &format!("/staff/certificates/{cert}/verify"),
            &[
                ("csrf", &csrf(&certs)),
                ("version", &version_seen(&certs, cert)),
            ],
        )
        .await;
    assert_eq!(
        ok.status,
        StatusCode::SEE_OTHER,
        "seen {:?}",
        version_seen(&certs, cert)
    );
    assert!(
        listed(&app, "Mật ong bạc hà Bình Liêu").await,
        "listed at once"
    );
    let home = owner.get("/producer").await;
    assert!(home.body.contains("Đang bán"), "{}", home.body);
    assert_eq!(owner.get("/producer/profile").await.status, StatusCode::OK);
    let slug: String = sqlx::query_scalar("select slug from product where product_id = $1")
        .bind(product)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(found(&app, "mat+ong+binh+lieu", &slug).await);

    // revocation: out of the listing and the search at once, with the reason on the product page
    let verified = staff.get("/staff/certificates?status=verified").await;
    let bad = staff
        .post(
            &format!("/staff/certificates/{cert}/revoke"),
            &[("csrf", &csrf(&verified)), ("reason", "")],
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::BAD_REQUEST,
        "a revocation needs a reason"
    );
    assert!(listed(&app, "Mật ong bạc hà Bình Liêu").await);
    let ok = staff
        .post(
            &format!("/staff/certificates/{cert}/revoke"),
            &[
                ("csrf", &csrf(&verified)),
                ("reason", "Sản phẩm không đạt kiểm tra chất lượng định kỳ"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(!listed(&app, "Mật ong bạc hà Bình Liêu").await);
    assert!(!found(&app, "mat+ong+binh+lieu", &slug).await);
    let page = app.get(&format!("/products/{slug}")).await;
    assert!(
        page.body.contains("không đạt kiểm tra chất lượng"),
        "{}",
        page.body
    );

    // every step is in the audit log, with who and what changed
    let actions = audit_actions(&app).await;
    for expected in [
        "producer.register",
        "product.create",
        "certificate.submit",
        "producer.approve",
        "certificate.verify",
        "certificate.revoke",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing from {actions:?}"
        );
    }
    let (reason, before, after): (Option<String>, serde_json::Value, serde_json::Value) =
        sqlx::query_as(
            "select reason, before, after from audit_log where action = 'certificate.revoke'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        reason.as_deref(),
        Some("Sản phẩm không đạt kiểm tra chất lượng định kỳ")
    );
    assert_eq!(
        (before["status"].as_str(), after["status"].as_str()),
        (Some("active"), Some("revoked"))
    );
    // national staff read it; province staff do not
    let (mut national, _) = person(&app, "national", "national_staff", None).await;
    let log = national.get("/staff/audit").await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(
        log.body.contains("Thu hồi chứng nhận OCOP")
            && log.body.contains("Người staff-qn")
            && log.body.contains("Cán bộ cấp tỉnh")
            && log.body.contains("Trạng thái: <del>active</del>")
            && !log.body.contains("certificate.revoke"),
        "{}",
        log.body
    );
    assert_eq!(
        staff.get("/staff/audit").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn nobody_reaches_another_producers_or_another_provinces_things() {
    let app = TestApp::new().await;
    let (mut a, _) = person(&app, "owner-a", "shopper", None).await;
    let (mut b, _) = person(&app, "owner-b", "shopper", None).await;
    let (mut shopper, _) = person(&app, "shopper", "shopper", None).await;
    let mut anonymous = Visitor::new(&app);
    let producer_a = register(&mut a, "HTX Quảng Ninh A", QN).await;
    register(&mut b, "Công ty Hà Nội B", HN).await;
    let product_a = create_product(&mut a, "Chả mực Hạ Long", None).await;
    submit_certificate(&mut a, product_a, "77/QĐ-UBND").await;
    let cert_a = certificate_of(&app, product_a).await;
    let (mut staff_hn, _) = person(&app, "staff-hn", "province_staff", Some(HN)).await;
    let before: (String, i32, String, bool) = sqlx::query_as(
        "select p.name, p.stock, pr.status, p.hidden from product p join producer pr using (producer_id) where product_id = $1",
    )
    .bind(product_a)
    .fetch_one(&app.pool)
    .await
    .unwrap();

    let reads = [
        format!("/producer/products/{product_a}"),
        format!("/producer/certificates/{cert_a}/scan"),
    ];
    let writes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/producer/products/{product_a}/visibility"),
            vec![("hidden", "true")],
        ),
        (
            format!("/producer/products/{product_a}/stock"),
            vec![("delta", "-5"), ("reason", "count")],
        ),
        (
            format!("/producer/products/{product_a}/images/remove"),
            vec![("image", "x")],
        ),
        (
            format!("/producer/products/{product_a}/images/cover"),
            vec![("image", "x")],
        ),
    ];
    for (who, v) in [
        ("producer B", &mut b),
        ("shopper", &mut shopper),
        ("staff of Hà Nội", &mut staff_hn),
    ] {
        let page = v.get("/account").await;
        for uri in &reads {
            assert_eq!(
                v.get(uri).await.status,
                StatusCode::NOT_FOUND,
                "{who} reads {uri}"
            );
        }
        for (uri, fields) in &writes {
            let mut f = fields.clone();
            let token = csrf(&page);
            f.push(("csrf", &token));
            assert_eq!(
                v.post(uri, &f).await.status,
                StatusCode::NOT_FOUND,
                "{who} posts {uri}"
            );
        }
        let token = csrf(&page);
        let edit = v
            .post_multipart(
                &format!("/producer/products/{product_a}"),
                &[
                    ("csrf", &token),
                    ("name", "Bị đổi tên"),
                    ("sector", "food"),
                    ("price", "1"),
                    ("unit", "hộp"),
                ],
                &[],
            )
            .await;
        assert_eq!(edit.status, StatusCode::NOT_FOUND, "{who} edits");
    }
    // shoppers and producers are not staff at all
    for (who, v) in [("producer B", &mut b), ("shopper", &mut shopper)] {
        let page = v.get("/account").await;
        for uri in [
            "/staff",
            "/staff/producers",
            "/staff/certificates",
            "/staff/audit",
            "/staff/users",
        ] {
            assert_eq!(
                v.get(uri).await.status,
                StatusCode::NOT_FOUND,
                "{who} reads {uri}"
            );
        }
        let approve = v
            .post(
                &format!("/staff/producers/{producer_a}/approve"),
                &[("csrf", &csrf(&page))],
            )
            .await;
        assert_eq!(approve.status, StatusCode::NOT_FOUND, "{who} approves");
    }
    // province staff act only in their province
    let page = staff_hn.get("/account").await;
    for uri in [
        format!("/staff/producers/{producer_a}/approve"),
        format!("/staff/producers/{producer_a}/reject"),
        format!("/staff/certificates/{cert_a}/verify"),
        format!("/staff/certificates/{cert_a}/reject"),
        format!("/staff/certificates/{cert_a}/revoke"),
    ] {
        let answer = staff_hn
            .post(
                &uri,
                &[("csrf", &csrf(&page)), ("reason", "không có lý do gì")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
    }
    assert_eq!(
        staff_hn
            .get(&format!("/staff/certificates/{cert_a}/scan"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // anonymous visitors are asked to log in, everywhere
    for uri in [
        "/producer",
        "/producer/members",
        "/staff",
        "/staff/audit",
        &format!("/producer/products/{product_a}"),
    ] {
        let answer = anonymous.get(uri).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{uri}");
        assert!(
            answer
                .headers
                .get(header::LOCATION)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("/login")
        );
    }
    let after: (String, i32, String, bool) = sqlx::query_as(
        "select p.name, p.stock, pr.status, p.hidden from product p join producer pr using (producer_id) where product_id = $1",
    )
    .bind(product_a)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(before, after, "nothing changed");
    let verification: String =
        sqlx::query_scalar("select verification from certificate where certificate_id = $1")
            .bind(cert_a)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(verification, "pending");
}

async fn images_of(app: &TestApp, product: i64) -> Vec<String> {
    sqlx::query_scalar("select images from product where product_id = $1")
        .bind(product)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A photo replaces the drawn demo picture and becomes the cover; the producer picks another.
#[tokio::test]
async fn a_producers_photo_becomes_the_cover_and_another_can_be_chosen() {
    let app = TestApp::new().await;
    let (mut owner, _) = person(&app, "owner", "shopper", None).await;
    register(&mut owner, "HTX Chè Tân Cương", 19).await;
    let product = create_product(&mut owner, "Chè Tân Cương", None).await;
    // as the demo and the import give it: a drawn picture
    sqlx::query(
        "update product set images = array['/img/demo/che-tan-cuong.svg'] where product_id = $1",
    )
    .bind(product)
    .execute(&app.pool)
    .await
    .unwrap();
    async fn upload(v: &mut Visitor<'_>, product: i64, page: Answer) -> Answer {
        v.post_multipart(
            &format!("/producer/products/{product}"),
            &[
                ("csrf", &csrf(&page)),
                ("name", "Chè Tân Cương"),
                ("sector", "food"),
                ("price", "185.000"),
                ("unit", "hộp"),
                ("story", "Chè búp đặc sản Thái Nguyên."),
            ],
            &[("image", "anh.png", png(800, 600))],
        )
        .await
    }
    let page = owner.get(&format!("/producer/products/{product}")).await;
    assert_eq!(
        upload(&mut owner, product, page).await.status,
        StatusCode::SEE_OTHER
    );
    let first = images_of(&app, product).await;
    assert_eq!(first.len(), 1, "the drawn picture gave way: {first:?}");
    assert!(first[0].starts_with("/media/"), "{first:?}");
    let page = owner.get(&format!("/producer/products/{product}")).await;
    assert_eq!(
        upload(&mut owner, product, page).await.status,
        StatusCode::SEE_OTHER
    );
    let both = images_of(&app, product).await;
    assert_eq!(both.len(), 2);
    assert_eq!(both[0], first[0], "the first photo stays the cover");
    let page = owner.get(&format!("/producer/products/{product}")).await;
    assert!(page.body.contains("Ảnh bìa") && page.body.contains("Đặt làm ảnh bìa"));
    let cover = owner
        .post(
            &format!("/producer/products/{product}/images/cover"),
            &[("csrf", &csrf(&page)), ("image", &both[1])],
        )
        .await;
    assert_eq!(cover.status, StatusCode::SEE_OTHER, "{}", cover.body);
    assert_eq!(
        images_of(&app, product).await,
        vec![both[1].clone(), both[0].clone()]
    );
    assert!(
        audit_actions(&app)
            .await
            .contains(&"product.image_cover".to_string())
    );
}

#[tokio::test]
async fn portal_forms_without_the_csrf_token_change_nothing() {
    let app = TestApp::new().await;
    let (mut owner, _) = person(&app, "owner", "shopper", None).await;
    register(&mut owner, "HTX Trà Hoa Vàng", QN).await;
    let product = create_product(&mut owner, "Trà hoa vàng", None).await;
    let stock = owner
        .post(
            &format!("/producer/products/{product}/stock"),
            &[
                ("delta", "10"),
                ("reason", "restock"),
                ("csrf", &"0".repeat(64)),
            ],
        )
        .await;
    assert_eq!(stock.status, StatusCode::FORBIDDEN);
    let edit = owner
        .post_multipart(
            &format!("/producer/products/{product}"),
            &[
                ("name", "Đổi tên"),
                ("sector", "food"),
                ("price", "1"),
                ("unit", "hộp"),
            ],
            &[],
        )
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
    let (name, stock): (String, i32) =
        sqlx::query_as("select name, stock from product where product_id = $1")
            .bind(product)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((name.as_str(), stock), ("Trà hoa vàng", 5));
}

#[tokio::test]
async fn fake_huge_and_bomb_pictures_are_refused_with_a_reason_and_the_typing_kept() {
    let app = TestApp::new().await;
    let (mut owner, _) = person(&app, "owner", "shopper", None).await;
    register(&mut owner, "HTX Gốm Đông Triều", QN).await;
    let mut big = png(64, 64);
    big.resize(6 * 1024 * 1024, 0);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a script named .jpg",
            b"<?php system($_GET['c']); ?>".to_vec(),
            "không phải ảnh JPEG, PNG hoặc WebP",
        ),
        (
            "a GIF",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
            "không phải ảnh JPEG, PNG hoặc WebP",
        ),
        ("6 MB", big, "tối đa 5 MB"),
        (
            "a decompression bomb",
            bomb(30_000, 30_000),
            "kích thước quá lớn",
        ),
    ];
    for (what, bytes, message) in cases {
        let form = owner.get("/producer/products/new").await;
        let answer = owner
            .post_multipart(
                "/producer/products/new",
                &[
                    ("csrf", &csrf(&form)),
                    ("name", "Bình gốm men lam"),
                    ("sector", "souvenir"),
                    ("price", "450000"),
                    ("stock", "3"),
                    ("unit", "chiếc"),
                ],
                &[("image", "anh.jpg", bytes)],
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        assert!(answer.body.contains(message), "{what}: {}", answer.body);
        assert!(
            answer.body.contains("value=\"Bình gốm men lam\""),
            "{what}: what was typed is kept"
        );
        assert!(
            answer.body.contains("aria-invalid=\"true\""),
            "{what}: the field is pointed at"
        );
    }
    let products: i64 = sqlx::query_scalar("select count(*) from product")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(products, 0, "nothing was created");
    let stored = std::fs::read_dir(app.state.config.media_dir.join("public/p"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(stored, 0, "nothing was stored");
}

/// A PNG whose header declares `w` × `h` pixels (billions of bytes once unpacked) in a few bytes.
fn bomb(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = png(16, 1);
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let mut crc = 0xffff_ffffu32;
    for &b in &bytes[12..29] {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    bytes[29..33].copy_from_slice(&(!crc).to_be_bytes());
    bytes
}

#[tokio::test]
async fn stock_adjustments_never_take_stock_below_zero_even_at_once() {
    let app = TestApp::new().await;
    let (mut owner, _) = person(&app, "owner", "shopper", None).await;
    register(&mut owner, "HTX Miến Dong", QN).await;
    let product = create_product(&mut owner, "Miến dong Bình Liêu", None).await;
    let page = owner.get(&format!("/producer/products/{product}")).await;
    let token = csrf(&page);
    let too_many = owner
        .post(
            &format!("/producer/products/{product}/stock"),
            &[("csrf", &token), ("delta", "-6"), ("reason", "damaged")],
        )
        .await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_many.body.contains("hiện còn 5 hũ"), "{}", too_many.body);
    // twenty people remove one each from five: five succeed, stock ends at zero
    let cookie = owner.cookie.clone();
    let attempts = (0..20).map(|_| {
        let mut v = Visitor::new(&app);
        v.cookie = cookie.clone();
        let token = token.clone();
        async move {
            v.post(
                &format!("/producer/products/{product}/stock"),
                &[
                    ("csrf", &token),
                    ("delta", "-1"),
                    ("reason", "offline_sale"),
                ],
            )
            .await
            .status
        }
    });
    let results = futures_join_all(attempts).await;
    let ok = results
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(ok, 5, "{results:?}");
    let stock: i32 = sqlx::query_scalar("select stock from product where product_id = $1")
        .bind(product)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stock, 0);
    let logged: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'product.stock' and reason = 'Bán ngoài sàn'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(logged, 5, "each adjustment is logged with its reason");
}

/// Runs the futures concurrently on this task (they borrow the test app, so they cannot be
/// spawned) and answers their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<Option<std::pin::Pin<Box<F>>>> =
        futures.map(|f| Some(Box::pin(f))).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                    *result = Some(v);
                    *slot = None;
                }
            }
        }
        if pending.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn an_owner_invites_a_member_who_manages_products_but_not_members() {
    let app = TestApp::new().await;
    let (mut owner, _) = person(&app, "owner", "shopper", None).await;
    let producer = register(&mut owner, "HTX Nước mắm Cái Rồng", QN).await;
    let product = create_product(&mut owner, "Nước mắm Cái Rồng", None).await;
    // only an approved producer sends invitations (they are mail to any address)
    sqlx::query("update producer set status = 'approved' where producer_id = $1")
        .bind(producer)
        .execute(&app.pool)
        .await
        .unwrap();
    let (mut helper, helper_id) = person(&app, "helper", "shopper", None).await;
    let (mut stranger, _) = person(&app, "stranger", "shopper", None).await;
    let members = owner.get("/producer/members").await;
    let invited = owner
        .post(
            "/producer/members/invite",
            &[
                ("csrf", &csrf(&members)),
                ("login", &format!("helper-{}@example.vn", app.db_name)),
            ],
        )
        .await;
    assert_eq!(invited.status, StatusCode::OK);
    let at = invited
        .body
        .find("/invite/")
        .expect("the link is shown to the owner");
    let link = invited.body[at..at + 8 + 64].to_string();
    // the invitation is for one address only
    assert_eq!(stranger.get(&link).await.status, StatusCode::NOT_FOUND);
    let page = stranger.get("/account").await;
    assert_eq!(
        stranger.post(&link, &[("csrf", &csrf(&page))]).await.status,
        StatusCode::NOT_FOUND
    );
    let page = helper.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("HTX Nước mắm Cái Rồng"));
    let joined = helper.post(&link, &[("csrf", &csrf(&page))]).await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER);
    // used once
    assert_eq!(helper.get(&link).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        helper
            .get(&format!("/producer/products/{product}"))
            .await
            .status,
        StatusCode::OK
    );
    // members manage products, only the owner manages members
    let page = helper.get("/account").await;
    let refused = helper
        .post(
            "/producer/members/invite",
            &[("csrf", &csrf(&page)), ("login", "someone@example.vn")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let page = owner.get("/producer/members").await;
    let removed = owner
        .post(
            &format!("/producer/members/{helper_id}/remove"),
            &[("csrf", &csrf(&page))],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
    // removed, the helper is signed out everywhere; signed in again, the portal is closed
    let gone = helper.get(&format!("/producer/products/{product}")).await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(gone.headers.get(header::LOCATION).unwrap(), "/login");
    let email = format!("helper-{}@example.vn", app.db_name);
    helper.sign_in(&email, PASSWORD).await;
    assert_eq!(
        helper
            .get(&format!("/producer/products/{product}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_first_admin_comes_from_the_command_line_and_appoints_province_staff() {
    let app = TestApp::new().await;
    let email = format!("admin-{}@example.vn", app.db_name);
    let short = ocop_market::staff::create_admin(&app.pool, &email, "Quản trị", Some("ngắn")).await;
    assert!(short.unwrap_err().contains("ít nhất 8 ký tự"));
    ocop_market::staff::create_admin(&app.pool, &email, "Quản trị", Some(PASSWORD))
        .await
        .unwrap();
    let mut admin = Visitor::new(&app);
    admin.sign_in(&email, PASSWORD).await;
    let (_, future_staff) = person(&app, "future-staff", "shopper", None).await;
    let page = admin.get("/staff/users").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let missing = admin
        .post(
            "/staff/users",
            &[
                ("csrf", &csrf(&page)),
                ("login", &format!("future-staff-{}@example.vn", app.db_name)),
                ("role", "province_staff"),
                ("province", ""),
            ],
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("cần được gán một tỉnh"));
    let ok = admin
        .post(
            "/staff/users",
            &[
                ("csrf", &csrf(&page)),
                ("login", &format!("future-staff-{}@example.vn", app.db_name)),
                ("role", "province_staff"),
                ("province", &QN.to_string()),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let (role, province): (String, Option<i16>) =
        sqlx::query_as("select role, province_code from app_user where user_id = $1")
            .bind(future_staff)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((role.as_str(), province), ("province_staff", Some(QN)));
    let logged: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'user.appoint' and entity_id = $1",
    )
    .bind(future_staff)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(logged, 1);
    // a producer member cannot be made staff
    let (mut owner, _) = person(&app, "owner", "shopper", None).await;
    register(&mut owner, "HTX Hải sản Vân Đồn", QN).await;
    let refused = admin
        .post(
            "/staff/users",
            &[
                ("csrf", &csrf(&page)),
                ("login", &format!("owner-{}@example.vn", app.db_name)),
                ("role", "national_staff"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The version of certificate `cert` that a staff page showed (its verify form's hidden field).
pub(crate) fn version_seen(page: &Answer, cert: i64) -> String {
    let form = format!("/staff/certificates/{cert}/verify");
    let at = page.body.find(&form).expect("a verify form");
    let rest = &page.body[at..];
    let field = rest.find("name=\"version\"").expect("a version field");
    rest[field..]
        .split("value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .expect("a value")
        .to_string()
}
