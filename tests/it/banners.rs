//! The home page's seasonal banner, kept by national staff.

use crate::helpers::*;
use axum::http::StatusCode;

#[tokio::test]
async fn national_staff_plan_a_seasonal_banner_that_the_home_page_shows_on_its_days() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let home = app.get("/").await;
    assert!(home.body.contains("Đặc sản OCOP từ mọi miền đất nước"));

    // province staff have no such page
    let (mut province, _) = person(&app, "tinh", "province_staff", Some(22)).await;
    assert_eq!(
        province.get("/staff/banners").await.status,
        StatusCode::NOT_FOUND
    );

    let (mut staff, _) = person(&app, "trung-uong", "national_staff", None).await;
    let page = staff.get("/staff/banners").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let token = csrf(&page);
    let today = ocop_market::domain::vn_today();
    let later = today + time::Duration::days(30);
    let form = |link: &'static str, starts: String| {
        vec![
            ("title".to_string(), "Quà Tết OCOP ba miền".to_string()),
            (
                "subtitle".to_string(),
                "Trà, mật ong, bánh mứt 5 sao".to_string(),
            ),
            ("link".to_string(), link.to_string()),
            ("cta".to_string(), "Chọn quà Tết".to_string()),
            ("theme".to_string(), "tet".to_string()),
            ("motif".to_string(), "cake".to_string()),
            ("starts_on".to_string(), starts),
            ("ends_on".to_string(), later.to_string()),
        ]
    };
    let post = |fields: Vec<(String, String)>| {
        let mut all = vec![("csrf".to_string(), token.clone())];
        all.extend(fields);
        all
    };

    // a link off the site is refused beside its field; what was typed stays
    let fields = post(form("https://lua-dao.example", today.to_string()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused = staff.post("/staff/banners", &pairs).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("id=\"e-link\""), "{}", refused.body);
    assert!(refused.body.contains("value=\"Quà Tết OCOP ba miền\""));
    assert!(!app.get("/").await.body.contains("Quà Tết OCOP ba miền"));

    // one that starts tomorrow is planned but not shown yet
    let tomorrow = today + time::Duration::days(1);
    let fields = post(form("/products?stars=5", tomorrow.to_string()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let saved = staff.post("/staff/banners", &pairs).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    app.refresh().await;
    assert!(!app.get("/").await.body.contains("Quà Tết OCOP ba miền"));
    assert!(staff.get("/staff/banners").await.body.contains("Sắp hiện"));

    // starting today: every instance's home page shows it, its button leading to the link
    let id: i64 = sqlx::query_scalar("select banner_id from banner")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("update banner set starts_on = current_date")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    let home = app.get("/").await;
    assert!(home.body.contains("banner-tet"), "{}", home.body);
    assert!(
        home.body
            .contains("<h1 id=\"banner-title\">Quà Tết OCOP ba miền</h1>")
    );
    assert!(
        home.body
            .contains("href=\"/products?stars=5\">Chọn quà Tết</a>")
    );
    assert!(
        home.body.contains("<svg"),
        "the banner's picture is drawn inline"
    );

    // removed: the home page greets as before, and the audit log says who did what
    let page = staff.get("/staff/banners").await;
    let gone = staff
        .post(
            &format!("/staff/banners/{id}/delete"),
            &[("csrf", &csrf(&page))],
        )
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    app.refresh().await;
    assert!(
        app.get("/")
            .await
            .body
            .contains("Đặc sản OCOP từ mọi miền đất nước")
    );
    let audit = staff.get("/staff/audit").await;
    assert!(
        audit.body.contains("Thêm banner trang chủ"),
        "{}",
        audit.body
    );
    assert!(audit.body.contains("Gỡ banner trang chủ"));
}
