//! Whole journeys in headless Chromium, as people make them: a shopper paying by each sandbox
//! provider and by cash, then province staff finding those orders on the dashboard. Screenshots
//! of each step land in target/screenshots/journey-*.png.

use crate::browser::{browser, screenshot, text_of};
use crate::helpers::{Options, PASSWORD, TestApp, load_fixture, person};
use fantoccini::{Client, Locator};
use std::time::{Duration, Instant};

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} not found: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css} not clickable: {e}"));
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Waits until the page's main text contains `wanted`; returns it.
async fn until_text(client: &Client, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = match client.find(Locator::Css("main")).await {
            Ok(m) => m.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(wanted) {
            return text;
        }
        if Instant::now() > deadline {
            screenshot(client, "journey-failed").await;
            let url = client.current_url().await.map(|u| u.to_string());
            panic!("no {wanted:?} on the page {url:?}: {text}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// From the product page to a placed order paid (or to be paid) with `method`; the order code.
async fn buy(client: &Client, base: &str, slug: &str, method: &str) -> String {
    client
        .goto(&format!("{base}/products/{slug}"))
        .await
        .unwrap();
    click(client, "form.add-to-cart button").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !text_of(client, ".cart-status").await.contains("Đã thêm") {
        assert!(Instant::now() < deadline, "not added to the cart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.goto(&format!("{base}/checkout")).await.unwrap();
    type_into(client, "#f-buyer_name", "Nguyễn Văn Khách").await;
    type_into(client, "#f-phone", "0987 654 321").await;
    click(client, "#f-province option[value='1']").await;
    click(client, "#f-commune option:nth-child(2)").await;
    type_into(client, "#f-street", "12 Tràng Tiền").await;
    click(
        client,
        &format!("input[name=payment_method][value={method}]"),
    )
    .await;
    screenshot(client, &format!("journey-{method}-checkout")).await;
    click(client, "button.place-order").await;
    until_text(client, "Đặt hàng thành công").await;
    let url = client.current_url().await.unwrap();
    url.path().trim_start_matches("/orders/").to_string()
}

#[tokio::test]
async fn a_shopper_pays_by_each_provider_and_by_cash_and_staff_see_it_on_the_dashboard() {
    // the browser follows the app's own absolute links (to the sandbox gateways and back)
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(move |c| {
            c.bind = format!("127.0.0.1:{port}").parse().unwrap();
            c.public_url = Some(format!("http://127.0.0.1:{port}"));
        })),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    sqlx::query("update product set stock = 100")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    let (client, _driver) = browser(390, 844).await;
    let base = format!("http://{}", app.addr);

    // online: the order page offers the gateway, whose (sandbox) page takes the payment and sends
    // the signed callback; the shopper comes back to the order, paid
    let mut paid_total = 0i64;
    for (method, slug) in [
        ("vnpay", "mien-dong"),
        ("momo", "banh-da-ke"),
        ("card", "cha-muc"),
    ] {
        let code = buy(&client, &base, slug, method).await;
        let grand: i64 = sqlx::query_scalar("select goods_total from order_group where code = $1")
            .bind(&code)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        paid_total += grand;
        click(
            &client,
            &format!("form[action='/pay/{code}/{method}'] button"),
        )
        .await;
        until_text(&client, "Chế độ thử nghiệm").await;
        screenshot(&client, &format!("journey-{method}-provider")).await;
        click(&client, "button[name=choice][value=pay]").await;
        // gateways that send the shopper to a result page first (VNPAY's return URL) get a link
        // back to the order; the others come straight back
        let deadline = Instant::now() + Duration::from_secs(10);
        while !client
            .current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/orders/")
        {
            if let Ok(back) = client
                .find(Locator::Css(&format!("a[href='/orders/{code}']")))
                .await
            {
                screenshot(&client, &format!("journey-{method}-return")).await;
                back.click().await.unwrap();
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway did not send the shopper back"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let page = until_text(&client, "Đã thanh toán").await;
        assert!(page.contains(&code), "{page}");
        screenshot(&client, &format!("journey-{method}-paid")).await;
    }
    // cash on delivery: placed, waiting for the producer, nothing to pay now
    let code = buy(&client, &base, "mien-dong", "cod").await;
    let page = until_text(&client, &code).await;
    assert!(page.contains("Thanh toán khi nhận hàng"), "{page}");
    assert!(
        client.find(Locator::Css("#pay")).await.is_err(),
        "no payment box for cash on delivery"
    );
    screenshot(&client, "journey-cod-placed").await;

    // national staff open the dashboard: four orders today, three paid, all of them without cash
    let (_, _) = person(&app, "thong-ke", "national_staff", None).await;
    client.goto(&format!("{base}/login")).await.unwrap();
    type_into(
        &client,
        "#f-login",
        &format!("thong-ke-{}@example.vn", app.db_name),
    )
    .await;
    type_into(&client, "#f-password", PASSWORD).await;
    click(&client, "form.auth-form button[type=submit]").await;
    client
        .goto(&format!("{base}/staff/dashboard?period=today"))
        .await
        .unwrap();
    until_text(&client, "Giá trị hàng bán").await;
    screenshot(&client, "journey-staff-dashboard").await;
    let pairs = client
        .execute(
            "return Array.from(document.querySelectorAll('main dt')).map(dt => [dt.textContent.trim(), dt.nextElementSibling ? dt.nextElementSibling.textContent.trim() : ''])",
            vec![],
        )
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = serde_json::from_value(pairs).unwrap();
    let value_of = |label: &str| -> String {
        pairs
            .iter()
            .find(|(l, _)| l == label)
            .unwrap_or_else(|| panic!("{label} missing: {pairs:?}"))
            .1
            .clone()
    };
    assert_eq!(value_of("Đơn hàng"), "4", "{pairs:?}");
    assert_eq!(value_of("Đơn đã thanh toán"), "3", "{pairs:?}");
    let shown: i64 = value_of("Giá trị hàng bán")
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap();
    assert_eq!(shown, paid_total, "{pairs:?}");
    assert_eq!(
        value_of("Thanh toán không dùng tiền mặt (số đơn)"),
        "100%",
        "{pairs:?}"
    );
    let overflow = client
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        overflow,
        serde_json::json!(false),
        "the dashboard fits a phone"
    );
    client.close().await.unwrap();
}
