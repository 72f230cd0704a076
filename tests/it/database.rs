//! The database itself refuses what cannot be true, whichever code writes.

use crate::helpers::{TestApp, load_fixture};

async fn refused(app: &TestApp, sql: &str) -> String {
    match sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&app.pool)
        .await
    {
        Ok(_) => panic!("the database accepted: {sql}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn the_database_refuses_impossible_catalog_rows() {
    let app = TestApp::new().await;
    let fx = load_fixture(&app).await;
    let product = "(select product_id from product where slug = 'mien-dong')";
    let producer = "(select producer_id from producer where slug = 'htx-binh-lieu')";
    refused(
        &app,
        "update product set price_vnd = -1 where slug = 'mien-dong'",
    )
    .await;
    refused(
        &app,
        "update product set price_vnd = 0 where slug = 'mien-dong'",
    )
    .await;
    refused(
        &app,
        "update product set stock = -1 where slug = 'mien-dong'",
    )
    .await;
    refused(
        &app,
        "update product set sector = 'weapons' where slug = 'mien-dong'",
    )
    .await;
    refused(&app, &format!("insert into certificate (product_id, stars, awarding_level, decision_number, issued_on, expires_on) values ({product}, 7, 'provincial', '1/QĐ', '2025-01-01', '2028-01-01')")).await;
    refused(&app, &format!("insert into certificate (product_id, stars, awarding_level, decision_number, issued_on, expires_on) values ({product}, 2, 'provincial', '1/QĐ', '2025-01-01', '2028-01-01')")).await;
    // 5★ is awarded centrally, never by a province
    refused(&app, &format!("insert into certificate (product_id, stars, awarding_level, decision_number, issued_on, expires_on) values ({product}, 5, 'provincial', '1/QĐ', '2025-01-01', '2028-01-01')")).await;
    refused(&app, &format!("insert into certificate (product_id, stars, awarding_level, decision_number, issued_on, expires_on) values ({product}, 3, 'provincial', '1/QĐ', '2025-01-01', '2024-01-01')")).await;
    // revoked without a reason
    refused(&app, &format!("insert into certificate (product_id, stars, awarding_level, decision_number, issued_on, expires_on, status, revoked_on) values ({product}, 3, 'provincial', '2/QĐ', '2025-01-01', '2028-01-01', 'revoked', '2025-06-01')")).await;
    // a commune of Hà Nội is not in Quảng Ninh
    let e = refused(&app, &format!("insert into producer (slug, name, producer_type, province_code, commune_code) values ('sai-tinh', 'Sai tỉnh', 'firm', 22, {})", fx.hn_commune)).await;
    assert!(e.contains("foreign key"), "{e}");
    let e = refused(&app, &format!("insert into product (producer_id, slug, name, sector, price_vnd) values ({producer}, 'mien-dong', 'Khác', 'food', 1000)")).await;
    assert!(e.contains("duplicate key"), "{e}");
    refused(&app, &format!("insert into product (producer_id, slug, name, sector, price_vnd) values ({producer}, 'Bad Slug!', 'Khác', 'food', 1000)")).await;
    refused(&app, "insert into producer (slug, name, producer_type, province_code, commune_code) values ('x-y', 'XY', 'bank', 22, 1)").await;
}
