//! The national OCOP registry in sync: what differs becomes a finding staff decide on.

use crate::helpers::{TestApp, csrf, load_fixture, person};
use axum::http::StatusCode;
use ocop_market::registry;

async fn set_number(app: &TestApp, slug: &str, number: &str) {
    sqlx::query("update certificate set decision_number = $2 where product_id = (select product_id from product where slug = $1)")
        .bind(slug)
        .bind(number)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn expires_on(app: &TestApp, slug: &str) -> time::Date {
    sqlx::query_scalar("select c.expires_on from certificate c join product p using (product_id) where p.slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The registry's answer about our fixture catalog, dated relative to today.
fn registry_json(ours_cha_muc: time::Date) -> serde_json::Value {
    let today = ocop_market::domain::vn_today();
    let day = |d: time::Date| d.to_string();
    let hanoi = "Số 3 phố Kế, Thành phố Hà Nội";
    serde_json::json!({
        "count": 5, "next": null, "previous": null,
        "results": [
            // the same as ours: nothing to say
            { "id": 9001, "name": "Chả mực Hạ Long", "ocop_star": 5, "ocop_certificate_number": "101/QĐ-UBND",
              "expiry_date": day(ours_cha_muc), "manufacturer": { "name": "Hộ kinh doanh Ba Chẽ", "address": "tỉnh Quảng Ninh" } },
            // written another way, but the same number; a star more than ours
            { "id": 9002, "name": "Miến dong Bình Liêu", "ocop_star": 4, "ocop_certificate_number": " 102/qđ-ubnd ",
              "manufacturer": { "name": "HTX Bình Liêu", "address": "tỉnh Quảng Ninh" } },
            // Hà Nội applies earlier expiry dates by itself
            { "id": 9003, "name": "Gốm Bát Tràng", "ocop_star": 3, "ocop_certificate_number": "103/QĐ-UBND",
              "expiry_date": day(today + time::Duration::days(30)), "manufacturer": { "name": "Công ty TNHH Hà Nội", "address": hanoi } },
            // no number: found by its name within its place; the registry says it has expired
            { "id": 9004, "name": "Bánh đa Kế", "ocop_star": 4,
              "expiry_date": day(today - time::Duration::days(1)), "manufacturer": { "name": "Công ty TNHH Hà Nội", "address": hanoi } },
            // not on the marketplace: a producer to invite
            { "id": 9005, "name": "Nước mắm Cái Rồng", "ocop_star": 4, "ocop_certificate_number": "2105/QĐ-UBND",
              "manufacturer": { "name": "HTX Nước mắm Cái Rồng", "address": "Thôn 5, Đặc khu Vân Đồn, tỉnh Quảng Ninh",
                                "phone_number": "0912345678" } }
        ]
    })
}

async fn findings(app: &TestApp) -> Vec<(String, String, Option<i16>)> {
    sqlx::query_as(
        "select kind, state, province_code from registry_finding order by registry_finding_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_registry_sync_reports_what_differs_and_staff_of_the_province_decide() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    for (slug, n) in [
        ("cha-muc", "101/QĐ-UBND"),
        ("mien-dong", "102/QĐ-UBND"),
        ("gom-bat-trang", "103/QĐ-UBND"),
        ("banh-da-ke", "104/QĐ-UBND"),
        ("tra-hoa-vang", "105/QĐ-UBND"),
    ] {
        set_number(&app, slug, n).await;
    }
    sqlx::query(
        "insert into registry_setting (province_code, auto_earlier_expiry) values (1, true)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let before_gom = expires_on(&app, "gom-bat-trang").await;
    let file = std::env::temp_dir().join(format!("registry-{}.json", app.db_name));
    std::fs::write(
        &file,
        registry_json(expires_on(&app, "cha-muc").await).to_string(),
    )
    .unwrap();
    let records = registry::read(file.to_str().unwrap()).await.unwrap();
    assert_eq!(records.len(), 5);
    let summary = registry::sync(&app.pool, "fixture", &records)
        .await
        .unwrap();
    assert_eq!(
        (summary.read, summary.matched, summary.auto_applied),
        (5, 4, 1),
        "{summary}"
    );

    let mut kinds: Vec<(String, String, Option<i16>)> = findings(&app).await;
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            ("expired_in_registry".into(), "open".into(), Some(1)),
            ("expiry_earlier".into(), "auto_applied".into(), Some(1)),
            ("missing_in_registry".into(), "open".into(), Some(22)),
            ("not_on_marketplace".into(), "open".into(), Some(22)),
            ("stars_differ".into(), "open".into(), Some(22)),
        ]
    );
    // applied by the province's own choice, and nothing else changed by itself
    let now_gom = expires_on(&app, "gom-bat-trang").await;
    assert!(
        now_gom < before_gom
            && now_gom == ocop_market::domain::vn_today() + time::Duration::days(30)
    );
    let stars: i16 = sqlx::query_scalar("select c.stars from certificate c join product p using (product_id) where p.slug = 'mien-dong'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stars, 3, "the registry's stars wait for a decision");

    // Quảng Ninh's staff see their province's findings only
    let (mut qn, _) = person(&app, "qn", "province_staff", Some(22)).await;
    let page = qn.get("/staff/registry").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("Hạng sao khác với cơ sở dữ liệu quốc gia")
    );
    assert!(
        page.body.contains("Nước mắm Cái Rồng") && page.body.contains("0912345678"),
        "who to invite, and how"
    );
    assert!(
        page.body.contains("Trà hoa vàng"),
        "a certificate the registry lacks"
    );
    assert!(
        !page.body.contains("Bánh đa Kế"),
        "another province's finding"
    );
    let token = csrf(&page);
    let stars_id: i64 = sqlx::query_scalar(
        "select registry_finding_id from registry_finding where kind = 'stars_differ'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let hanoi_id: i64 = sqlx::query_scalar(
        "select registry_finding_id from registry_finding where kind = 'expired_in_registry'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let refused = qn
        .post(
            &format!("/staff/registry/{hanoi_id}/apply"),
            &[("csrf", &token), ("note", "")],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::NOT_FOUND,
        "outside their province"
    );
    let applied = qn
        .post(
            &format!("/staff/registry/{stars_id}/apply"),
            &[
                ("csrf", &token),
                ("note", "Theo quyết định mới của hội đồng"),
            ],
        )
        .await;
    assert_eq!(
        applied.header("location").as_deref(),
        Some("/staff/registry?ok=applied")
    );
    let product = app.get("/products/mien-dong").await;
    assert!(
        product.body.contains("Chứng nhận OCOP 4★ còn hiệu lực"),
        "the product page follows at once"
    );
    let logged: String = sqlx::query_scalar(
        "select action from audit_log where entity = 'certificate' order by audit_id desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(logged, "registry.apply");

    // a second run changes nothing more: no duplicates, and what was put right stays closed
    let again = registry::sync(&app.pool, "fixture", &records)
        .await
        .unwrap();
    assert_eq!(again.findings, 3, "{again}");
    let open: i64 =
        sqlx::query_scalar("select count(*) from registry_finding where state = 'open'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(open, 3);
}

#[tokio::test]
async fn the_registry_is_read_page_by_page_from_its_address() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    // the registry's two pages, served from a local address the way its API answers them
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let page = |n: u8| {
        std::fs::read_to_string(format!("tests/fixtures/registry/page-{n}.json"))
            .unwrap()
            .replace("{{BASE}}", &base)
    };
    let (one, two) = (page(1), page(2));
    let server = axum::Router::new().route(
        "/v1/public/product-info/",
        axum::routing::get(
            move |q: axum::extract::Query<std::collections::HashMap<String, String>>| {
                let body = if q.get("page").map(String::as_str) == Some("2") {
                    two.clone()
                } else {
                    one.clone()
                };
                async move { ([("content-type", "application/json")], body) }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });
    let records = registry::read(&format!("{base}/v1/public/product-info/?ocop_star=&page=1"))
        .await
        .unwrap();
    let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["Nước mắm Cái Rồng", "Chè Shan tuyết Tà Xùa", "Gốm Bàu Trúc"]
    );
    assert_eq!(records[2].registry_id(), "61007");
    assert_eq!(
        records[1].expiry_date,
        Some(time::macros::date!(2029 - 04 - 23)),
        "dd/mm/yyyy dates"
    );
    // none of them is on the marketplace: each is a producer to invite, in its province
    let summary = registry::sync(&app.pool, "fixture", &records)
        .await
        .unwrap();
    assert_eq!(summary.matched, 0);
    let places: Vec<Option<i16>> = sqlx::query_scalar(
        "select province_code from registry_finding where kind = 'not_on_marketplace' order by registry_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(places.len(), 3);
    assert!(
        places.iter().all(Option::is_some),
        "each located by its address: {places:?}"
    );
    // an address that answers something else is refused with a reason, and nothing is recorded
    let bad = registry::read(&format!("{base}/nothing")).await;
    assert!(bad.is_err());
}
