//! The demo and scale seeds.

use crate::helpers::TestApp;

#[tokio::test]
async fn the_demo_catalog_is_rich_deterministic_and_idempotent() {
    let app = TestApp::new().await;
    let first = ocop_market::seed::demo(&app.pool).await.unwrap();
    assert!(first.products_added >= 300, "{first}");
    assert!(first.producers_added >= 120, "{first}");
    let pool = &app.pool;
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!(
        count("select count(distinct province_code) from producer").await,
        34
    );
    assert_eq!(count("select count(distinct sector) from product").await, 6);
    assert_eq!(
        count("select count(distinct stars) from certificate").await,
        3
    );
    assert_eq!(
        count("select count(distinct producer_type) from producer").await,
        4
    );
    assert!(count("select count(*) from certificate where status = 'revoked'").await > 0);
    assert!(count("select count(*) from certificate where expires_on <= current_date and status = 'active'").await > 0);
    assert!(count("select count(*) from product where stock = 0").await > 0);
    let names: Vec<String> = sqlx::query_scalar("select name from product")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for wanted in [
        "Bánh đa Kế",
        "Miến dong Bình Liêu",
        "Mật ong bạc hà Đồng Văn",
        "Trà hoa vàng Ba Chẽ",
    ] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} missing");
    }
    let fingerprint = || async {
        sqlx::query_scalar::<_, String>(
            "select md5(string_agg(slug || price_vnd || stock, ',' order by slug)) from product",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let before = fingerprint().await;
    let second = ocop_market::seed::demo(&app.pool).await.unwrap();
    assert_eq!(
        (
            second.products_added,
            second.producers_added,
            second.certificates_added
        ),
        (0, 0, 0)
    );
    assert_eq!(fingerprint().await, before);

    app.refresh().await;
    let (_, body) = app.api("/api/v1/products").await;
    assert!(
        body["total"].as_u64().unwrap() >= 250,
        "most demo products are listed"
    );
}

#[tokio::test]
async fn the_scale_seed_makes_n_products_across_all_provinces() {
    let app = TestApp::new().await;
    let s = ocop_market::seed::scale(&app.pool, 2_000).await.unwrap();
    assert_eq!(s.products_added, 2_000);
    assert_eq!(s.products_total, 2_000);
    assert!((1_000..=1_100).contains(&s.producers_added), "{s}");
    let again = ocop_market::seed::scale(&app.pool, 2_000).await.unwrap();
    assert_eq!(again.products_added, 0);
    let provinces: i64 = sqlx::query_scalar("select count(distinct province_code) from producer")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(provinces, 34);
}
