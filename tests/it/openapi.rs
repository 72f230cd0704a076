//! The API keeps to its published description: schemathesis (from PyPI, which scripts/test.sh
//! installs) generates requests from `/api/v1/openapi.json`, valid and invalid, and checks every
//! answer against it.

use crate::helpers::{TestApp, csrf, load_fixture, person};
use axum::http::StatusCode;

#[tokio::test]
async fn developers_find_the_api_description_and_its_page_without_internet() {
    let app = TestApp::without_workers().await;
    let (status, doc) = app.api("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(
        doc["paths"]["/api/v1/products"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "sector"),
        "the listing's filters are described"
    );
    let page = app.get("/api/v1/docs").await;
    assert_eq!(page.status, StatusCode::OK);
    // everything the page loads is served by the app itself: no CDN is reachable from a province
    for src in [
        "/static/swagger-ui/5.35.0/swagger-ui-bundle.js",
        "/static/swagger-ui/init.js",
    ] {
        assert!(page.body.contains(src), "{}", page.body);
        let script = app.get(src).await;
        assert_eq!(script.status, StatusCode::OK, "{src}");
        assert!(
            script
                .header("content-type")
                .is_some_and(|t| t.starts_with("text/javascript"))
        );
    }
    assert!(!page.body.contains("https://"), "nothing from elsewhere");
}

#[tokio::test]
async fn every_api_answer_keeps_to_the_openapi_description() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    app.refresh().await;
    // a national staff token, so the stats endpoints answer more than 401
    let (mut staff, _) = person(&app, "api-check", "national_staff", None).await;
    let page = staff.get("/staff/dashboard").await;
    let made = staff
        .post(
            "/staff/api-tokens",
            &[("csrf", &csrf(&page)), ("label", "schemathesis")],
        )
        .await;
    let at = made.body.find("ocop_").expect("the token is shown once");
    let token = &made.body[at..at + 5 + 64];

    let st = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| "st".into());
    let report = std::env::temp_dir().join(format!("ocop-schemathesis-{}", app.db_name));
    let mut command = std::process::Command::new(&st);
    command
        .args([
            "run",
            &format!("http://{}/api/v1/openapi.json", app.addr),
            // no 5xx, and every answer's status, type and body as described
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
            "--max-examples",
            "60",
            "--seed",
            "23",
            "--no-color",
            // nothing written into the work tree
            "--generation-database",
            "none",
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--report-dir",
            &report.display().to_string(),
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        // it keeps a cache of crashes in the folder it runs in: not the work tree
        .current_dir(std::env::temp_dir());
    // the app answers on this test's runtime while schemathesis runs
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| {
            panic!("cannot start {st} ({e}): scripts/test.sh installs schemathesis and sets SCHEMATHESIS")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "the API strays from its description:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // it did test every operation, and every part of the description could be used
    assert!(stdout.contains("Tested: 8"), "{stdout}");
    assert!(!stdout.contains("WARNINGS"), "{stdout}");
}
