//! Importing a province's OCOP list from CSV and XLSX.

use crate::helpers::TestApp;
use ocop_market::import::import_file;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

async fn fingerprint(app: &TestApp) -> String {
    sqlx::query_scalar(
        "select md5(coalesce(string_agg(concat_ws('|', p.slug, p.name, p.price_vnd, p.stock, p.updated_at, c.stars, c.issued_on, c.updated_at, pr.updated_at), ',' order by p.slug), ''))
         from product p join certificate c using (product_id) join producer pr using (producer_id)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_csv_list_imports_good_rows_and_reports_bad_ones_by_line() {
    let app = TestApp::new().await;
    let report = import_file(&app.pool, &fixture("quang-ninh-ocop.csv"), false)
        .await
        .unwrap();
    assert_eq!(
        (report.rows, report.created, report.failed),
        (7, 4, 3),
        "{report:?}"
    );
    assert_eq!(
        report.expired, 1,
        "the 2022 certificate is past its 36 months"
    );
    let problems = report.problems.join("\n");
    assert!(
        problems.contains("dòng 6: số sao \"7\" phải là 3, 4 hoặc 5"),
        "{problems}"
    );
    assert!(
        problems.contains("dòng 7: xã/phường 70 không thuộc Quảng Ninh"),
        "{problems}"
    );
    assert!(
        problems.contains("dòng 8:")
            && problems.contains("ngày cấp")
            && problems.contains("giá")
            && problems.contains("tồn kho"),
        "{problems}"
    );
    // nothing of a bad row is written, not even its producer
    let bad: i64 = sqlx::query_scalar(
        "select count(*) from producer where name in ('Tổ hợp tác Sai Tỉnh', 'Tổ hợp tác Giá Âm')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(bad, 0);
    let bad: i64 = sqlx::query_scalar("select count(*) from product where name = 'Sai số sao'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(bad, 0);

    // the two HTX rows share one producer; price "75.000" is 75,000 đồng; 5★ is central
    let (producers, price, level): (i64, i64, String) = sqlx::query_as(
        "select (select count(*) from producer where name = 'HTX Miến dong Bình Liêu'),
                (select price_vnd from product where name = 'Miến dong Bình Liêu'),
                (select awarding_level from certificate where decision_number = '88/QĐ-BNNMT')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((producers, price, level.as_str()), (1, 75_000, "central"));

    app.refresh().await;
    let (_, body) = app.api("/api/v1/products?province=22").await;
    assert_eq!(
        body["total"], 3,
        "the expired one is recorded but not listed"
    );
    let (_, p) = app.api("/api/v1/products/mien-dong-binh-lieu").await;
    assert_eq!(p["certificate"]["expires_on"], "2028-03-15");
}

#[tokio::test]
async fn importing_the_same_file_again_changes_nothing() {
    let app = TestApp::new().await;
    import_file(&app.pool, &fixture("quang-ninh-ocop.csv"), false)
        .await
        .unwrap();
    let before = fingerprint(&app).await;
    let again = import_file(&app.pool, &fixture("quang-ninh-ocop.csv"), false)
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.updated, again.unchanged, again.failed),
        (0, 0, 4, 3),
        "{again:?}"
    );
    assert_eq!(fingerprint(&app).await, before);

    // a corrected price is an update, recognised by producer and product name within the commune
    let dir = std::env::temp_dir().join(format!("ocop-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let changed = dir.join("changed.csv");
    let text = std::fs::read_to_string(fixture("quang-ninh-ocop.csv"))
        .unwrap()
        .replace("\"75.000\"", "79000");
    std::fs::write(&changed, text).unwrap();
    let third = import_file(&app.pool, &changed, false).await.unwrap();
    assert_eq!(
        (third.created, third.updated, third.unchanged),
        (0, 1, 3),
        "{third:?}"
    );
    let price: i64 =
        sqlx::query_scalar("select price_vnd from product where name = 'Miến dong Bình Liêu'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(price, 79_000);
}

#[tokio::test]
async fn an_xlsx_list_imports_with_real_date_cells() {
    let app = TestApp::new().await;
    let report = import_file(&app.pool, &fixture("tuyen-quang-ocop.xlsx"), false)
        .await
        .unwrap();
    assert_eq!((report.created, report.failed), (2, 1), "{report:?}");
    assert!(
        report.problems[0].starts_with("dòng 4:"),
        "{:?}",
        report.problems
    );
    let issued: time::Date = sqlx::query_scalar(
        "select issued_on from certificate where decision_number = '501/QĐ-UBND'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(issued, time::macros::date!(2025 - 05 - 20));
    let again = import_file(&app.pool, &fixture("tuyen-quang-ocop.xlsx"), false)
        .await
        .unwrap();
    assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2));
}

#[tokio::test]
async fn a_file_without_the_required_columns_is_refused_whole() {
    let app = TestApp::new().await;
    let dir = std::env::temp_dir().join(format!("ocop-import-cols-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.csv");
    std::fs::write(&file, "producer_name,product_name\nA,B\n").unwrap();
    let err = import_file(&app.pool, &file, false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("thiếu cột") && err.contains("stars"), "{err}");
    let err = import_file(&app.pool, &dir.join("list.pdf"), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(".csv"), "{err}");
}

#[tokio::test]
async fn the_import_command_prints_line_errors_and_a_summary() {
    let app = TestApp::new().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ocop-market"))
        .arg("import")
        .arg(fixture("quang-ninh-ocop.csv"))
        .env(
            "DATABASE_URL",
            format!("{}/{}", crate::helpers::base_url(), app.db_name),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "bad rows make a non-zero exit: {stderr}"
    );
    assert!(stderr.contains("dòng 6:"), "{stderr}");
    assert!(
        stderr.contains("Nhập xong 7 dòng: 4 mới, 0 cập nhật, 0 không đổi, 3 lỗi"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_list_may_give_each_package_its_weight_and_size_for_the_carriers() {
    let app = TestApp::new().await;
    let header = "producer_name,producer_type,province_code,commune_code,product_name,sector,stars,decision_number,issued_on,price_vnd,stock,unit,weight_grams,size_cm";
    let commune: i32 =
        sqlx::query_scalar("select min(commune_code) from commune where province_code = 22")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let today = ocop_market::domain::vn_today();
    let row = |name: &str, weight: &str, size: &str| {
        format!(
            "HTX Cân Đo,hợp tác xã,22,{commune},{name},thực phẩm,4,QĐ-CAN-1,{today},90000,10,hộp,{weight},{size}"
        )
    };
    let file = std::env::temp_dir().join(format!("ocop-sizes-{}.csv", app.db_name));
    std::fs::write(
        &file,
        [
            header.to_string(),
            row("Trà túi lọc", "250", "20x12x6"),
            row("Mật ong rừng", "", ""),
            row("Hộp quá khổ", "250", "20x12x600"),
        ]
        .join("\n"),
    )
    .unwrap();
    let report = import_file(&app.pool, &file, false).await.unwrap();
    assert_eq!((report.created, report.failed), (2, 1), "{report:?}");
    assert!(
        report
            .problems
            .join("\n")
            .contains("kích thước \"20x12x600\""),
        "{:?}",
        report.problems
    );
    let sized: (Option<i32>, Option<i16>, Option<i16>, Option<i16>) = sqlx::query_as(
        "select weight_grams, length_cm, width_cm, height_cm from product where name = 'Trà túi lọc'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(sized, (Some(250), Some(20), Some(12), Some(6)));
    let bare: (Option<i32>, Option<i16>) =
        sqlx::query_as("select weight_grams, length_cm from product where name = 'Mật ong rừng'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        bare,
        (None, None),
        "left empty: weighed by its unit at checkout"
    );
    let _ = std::fs::remove_file(&file);
}
