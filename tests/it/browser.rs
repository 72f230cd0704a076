//! A person's view, in headless Chromium driven over WebDriver (Debian's chromium-driver).
//! Screenshots land in target/screenshots/ for people to look at when a journey fails.

use crate::helpers::{TestApp, load_fixture};
use fantoccini::{ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_chromedriver() -> Driver {
    let port = crate::helpers::free_port();
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let child = Command::new(&binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary} ({e}): install Debian's chromium and chromium-driver (scripts/test.sh does)"));
    Driver(child, port)
}

pub async fn browser(width: u32, height: u32) -> (fantoccini::Client, Driver) {
    let driver = start_chromedriver();
    let mut caps = serde_json::Map::new();
    let chrome = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile =
        std::env::temp_dir().join(format!("ocop-chromium-{}-{}", std::process::id(), driver.1));
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chrome,
            // a Vietnamese shopper's browser: the shop answers in the language it asks for
            "prefs": { "intl.accept_languages": "vi-VN,vi" },
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--lang=vi-VN",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", format!("--window-size={width},{height}"),
                     format!("--user-data-dir={}", profile.display())]
        }),
    );
    let url = format!("http://127.0.0.1:{}", driver.1);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (client, driver),
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("chromedriver did not answer: {e}"),
        }
    }
}

/// Waits for the element matching `css`, scrolls it to the middle of the screen and clicks it.
pub async fn tap(client: &fantoccini::Client, css: &str) {
    let element = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} not found: {e}"));
    to_middle(client, &element).await;
    element
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css} not clickable: {e}"));
}

/// Scrolls `element` to the middle of the screen, where nothing fixed covers it.
pub async fn to_middle(client: &fantoccini::Client, element: &fantoccini::elements::Element) {
    let arg = serde_json::to_value(element).unwrap();
    client
        .execute(
            "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'})",
            vec![arg],
        )
        .await
        .unwrap();
}

/// The visible text (or, with `html`, the inner HTML) of the first element matching `css`.
pub async fn text_of(client: &fantoccini::Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} not found: {e}"))
        .text()
        .await
        .unwrap()
}

/// The text now, or None while the element is being replaced (pages that update themselves).
async fn text_now(client: &fantoccini::Client, css: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

pub async fn html_of(client: &fantoccini::Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} not found: {e}"))
        .html(true)
        .await
        .unwrap()
}

/// Whether the page fits the window's width (nothing makes it scroll sideways).
pub async fn fits_width(client: &fantoccini::Client) -> bool {
    client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .unwrap()
        == serde_json::json!(true)
}

pub async fn screenshot(client: &fantoccini::Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).ok();
    if let Ok(png) = client.screenshot().await {
        std::fs::write(dir.join(format!("{name}.png")), png).ok();
    }
}

#[tokio::test]
async fn a_shopper_on_a_phone_opens_the_home_page_and_a_product() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (client, _driver) = browser(390, 844).await;
    let base = format!("http://{}", app.addr);

    client.goto(&base).await.unwrap();
    screenshot(&client, "catalog-home").await;
    let h1 = text_of(&client, "h1").await;
    assert_eq!(h1, "Đặc sản OCOP từ mọi miền đất nước");
    let featured = client
        .find_all(Locator::Css("#featured ~ .grid .card"))
        .await
        .unwrap();
    assert!(!featured.is_empty(), "featured 4★/5★ products are shown");
    let first = featured[0]
        .find(Locator::Css(".card-title"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(first, "Chả mực Hạ Long", "the 5★ product leads");

    featured[0]
        .find(Locator::Css("a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("section.certificate"))
        .await
        .unwrap();
    screenshot(&client, "catalog-product").await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with("/products/cha-muc")
    );
    let title = text_of(&client, "h1").await;
    assert_eq!(title, "Chả mực Hạ Long");
    let price = text_of(&client, ".summary .price").await;
    assert!(price.starts_with("300.000 ₫"), "{price}");
    let cert = text_of(&client, "section.certificate").await;
    assert!(
        cert.contains("Trung ương") && cert.contains("Còn hiệu lực"),
        "{cert}"
    );
    // the QR image actually loads
    let qr_width = client
        .execute(
            "return document.querySelector('.qr img').naturalWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        qr_width.as_u64().unwrap_or(0) > 0,
        "QR code image did not load"
    );
    // the page fits a phone: nothing wider than the viewport
    assert!(
        crate::browser::fits_width(&client).await,
        "page scrolls sideways on a phone"
    );

    client
        .goto(&format!("{base}/products/banh-cu"))
        .await
        .unwrap();
    let alert = text_of(&client, "[role=alert]").await;
    assert!(alert.contains("không còn được chứng nhận OCOP"), "{alert}");
    screenshot(&client, "catalog-expired").await;

    // sold out: the page offers to tell the shopper when it is back
    client
        .goto(&format!("{base}/products/tra-hoa-vang"))
        .await
        .unwrap();
    let offer = text_of(&client, "form.stock-alert").await;
    assert!(offer.contains("Báo cho tôi khi có hàng"), "{offer}");
    let form = client.find(Locator::Css("form.stock-alert")).await.unwrap();
    to_middle(&client, &form).await;
    screenshot(&client, "catalog-sold-out").await;
    client.close().await.unwrap();
}

#[tokio::test]
async fn a_shopper_types_without_diacritics_and_sees_suggestions_then_results() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (client, _driver) = browser(390, 844).await;
    client.goto(&format!("http://{}/", app.addr)).await.unwrap();
    let input = client
        .find(Locator::Css("form.search-box input[name=q]"))
        .await
        .unwrap();
    input.send_keys("banh d").await.unwrap();
    let first = client
        .wait()
        .for_element(Locator::Css(".suggest:not([hidden]) li a"))
        .await
        .unwrap();
    let html = first.html(true).await.unwrap();
    assert!(
        html.contains("<mark>Bánh</mark> <mark>đ</mark>a Kế"),
        "suggestion: {html}"
    );
    screenshot(&client, "search-suggestions").await;

    input.send_keys("a\u{E007}").await.unwrap(); // "a", then Enter
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !client
        .current_url()
        .await
        .unwrap()
        .as_str()
        .ends_with("/search?q=banh+da")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "Enter did not open the results page"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let title = text_of(&client, "h1").await;
    assert_eq!(title, "Kết quả tìm kiếm “banh da”");
    let names = html_of(&client, ".card-title").await;
    assert!(
        names.contains("<mark>Bánh</mark> <mark>đa</mark> Kế"),
        "{names}"
    );
    screenshot(&client, "search-results").await;

    // a very long query (pasted text, one unbroken word) wraps instead of widening the page
    let long = "matongbachatuyenquang".repeat(8);
    client
        .goto(&format!("http://{}/search?q={long}", app.addr))
        .await
        .unwrap();
    assert!(text_of(&client, "h1").await.contains(&long[..40]));
    assert!(
        crate::browser::fits_width(&client).await,
        "a long query does not widen the page"
    );
    client.close().await.unwrap();
}

/// The journey a shopper on a phone makes to pay by bank transfer: search "banh da", open the
/// product, add to cart without a page load, change the quantity, check out with the province →
/// commune pickers, see the VietQR, and watch the order page turn to paid by itself when the
/// (simulated) transfer arrives.
#[tokio::test]
async fn a_shopper_on_a_phone_searches_without_diacritics_pays_by_vietqr_and_the_order_page_updates_itself()
 {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (client, _driver) = browser(390, 844).await;
    let base = format!("http://{}", app.addr);

    // the shopper searches without diacritics and opens the first result
    client.goto(&base).await.unwrap();
    let input = client
        .find(Locator::Css("form.search-box input[name=q]"))
        .await
        .unwrap();
    input.send_keys("banh da\u{E007}").await.unwrap(); // Enter
    // followed by its address: a click can land on the suggestions still closing over it
    let first = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(".card a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .expect("the first result links to its product");
    client.goto(&format!("{base}{first}")).await.unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("form.add-to-cart button"))
        .await
        .unwrap();
    assert_eq!(text_of(&client, "h1").await, "Bánh đa Kế");
    screenshot(&client, "pay-product").await;
    tap(&client, "form.add-to-cart button").await;
    // the badge counts without a page load
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let badge = text_now(&client, "[data-cart-count]")
            .await
            .unwrap_or_default();
        if badge == "1" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "badge shows {badge:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text_of(&client, ".cart-status").await.contains("Đã thêm"));
    screenshot(&client, "pay-added").await;

    client.goto(&format!("{base}/cart")).await.unwrap();
    let qty = client
        .find(Locator::Css(".qty-form input[name=qty]"))
        .await
        .unwrap();
    qty.clear().await.unwrap();
    qty.send_keys("3").await.unwrap();
    tap(&client, ".qty-form button").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !text_now(&client, "#cart")
        .await
        .unwrap_or_default()
        .contains("3 sản phẩm")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the cart did not update in place"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(&client, "pay-cart").await;

    client.goto(&format!("{base}/checkout")).await.unwrap();
    client
        .find(Locator::Css("#f-buyer_name"))
        .await
        .unwrap()
        .send_keys("Phạm Thu Hà")
        .await
        .unwrap();
    client
        .find(Locator::Css("#f-phone"))
        .await
        .unwrap()
        .send_keys("0912345678")
        .await
        .unwrap();
    tap(&client, "#f-province option[value='1']").await;
    // the communes of Hà Nội arrive by script
    let commune = client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css("#f-commune option:nth-child(2)"))
        .await
        .unwrap();
    commune.click().await.unwrap();
    client
        .find(Locator::Css("#f-street"))
        .await
        .unwrap()
        .send_keys("8 Hàng Bông")
        .await
        .unwrap();
    tap(&client, "input[name=payment_method][value=vietqr]").await;
    screenshot(&client, "pay-checkout").await;
    tap(&client, "button.place-order").await;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#pay .qr svg"))
        .await
        .unwrap();
    screenshot(&client, "pay-qr").await;
    let url = client.current_url().await.unwrap();
    let code = url.path().trim_start_matches("/orders/").to_string();
    let pay = text_of(&client, "#pay").await;
    assert!(pay.contains(&code), "the memo is shown in words");
    // the bank by the name people know, and copy buttons for what must be typed (headless
    // Chromium on http://127.0.0.1 is a secure context: the clipboard is there)
    assert!(
        pay.contains("Ngân hàng\nVietcombank (BIN 970436)")
            || pay.contains("Vietcombank (BIN 970436)"),
        "{pay}"
    );
    let copies = client
        .execute(
            "return Array.from(document.querySelectorAll('#pay button.copy')).filter(b => !b.hidden).map(b => b.getAttribute('data-copy'))",
            vec![],
        )
        .await
        .unwrap();
    let copies: Vec<String> = serde_json::from_value(copies).unwrap();
    assert_eq!(copies.len(), 3, "{copies:?}");
    assert_eq!(copies[2], code);
    client
        .execute("document.querySelector('#pay dl').scrollIntoView()", vec![])
        .await
        .unwrap();
    screenshot(&client, "pay-qr-details").await;
    assert!(
        crate::browser::fits_width(&client).await,
        "the QR page fits a phone"
    );

    // the bank reports the transfer (the sandbox signs a SePay webhook) while the page is open
    let paid = reqwest_free_post(
        &app,
        &format!("/sandbox/bank/{code}"),
        "choice=pay&via=sepay",
    )
    .await;
    assert!(paid.is_redirection(), "{paid}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let body = text_now(&client, "main").await.unwrap_or_default();
        if body.contains("Đã thanh toán") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the order page did not turn to paid: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    screenshot(&client, "pay-paid").await;
    client.close().await.unwrap();
}

/// A POST straight to the app (not through the browser), as the bank's side would.
async fn reqwest_free_post(app: &TestApp, uri: &str, body: &str) -> axum::http::StatusCode {
    app.send(
        axum::http::Request::post(uri)
            .header(
                axum::http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(axum::body::Body::from(body.to_string()))
            .unwrap(),
    )
    .await
    .status
}

/// axe-core 4.14.1 (Deque Systems, MPL-2.0), the accessibility engine browsers' own audits use:
/// injected over WebDriver, which the page's CSP does not govern.
const AXE: &str = include_str!("../fixtures/axe-4.14.1.min.js");

/// The serious and critical WCAG 2.1 A/AA violations axe finds on the current page, each as
/// "rule: the first offending element".
pub async fn accessibility_violations(client: &fantoccini::Client) -> Vec<String> {
    client
        .execute(&format!("{AXE}\n;return true;"), vec![])
        .await
        .expect("axe-core loads");
    let result = client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                 .then(r => done(r.violations
                   .filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => v.id + ': ' + v.help + ' (' + v.nodes.length + '×, e.g. ' + v.nodes[0].target.join(' ') + ')')))
                 .catch(e => done(['axe failed: ' + e]));"#,
            vec![],
        )
        .await
        .expect("axe-core runs");
    result
        .as_array()
        .unwrap_or_else(|| panic!("axe-core answered {result}"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}
