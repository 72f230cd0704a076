//! Whole journeys in headless Chromium, as people make them: a shopper paying by each sandbox
//! provider and by cash, then province staff finding those orders on the dashboard. Screenshots
//! of each step land in target/screenshots/journey-*.png.

use crate::browser::{browser, html_of, screenshot, text_of};
use crate::helpers::{Options, PASSWORD, TestApp, load_fixture, person};
use fantoccini::{Client, Locator};
use std::time::{Duration, Instant};

async fn click(client: &Client, css: &str) {
    crate::browser::tap(client, css).await;
}

/// One of `slug` into the cart from its page, as a shopper on the page would.
async fn add_to_cart(client: &Client, base: &str, slug: &str) {
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
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let field = match client
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(f) => f,
        Err(e) => {
            screenshot(client, "journey-failed").await;
            let url = client.current_url().await.map(|u| u.to_string());
            panic!("{css} not found on {url:?}: {e}");
        }
    };
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
    add_to_cart(client, base, slug).await;
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
    let port = crate::helpers::free_port();
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

    // online: the order page offers the gateway chosen first, whose (sandbox) page takes the
    // payment and sends the signed callback; the shopper comes back to the order, paid
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
        // the method chosen at checkout comes first; the others wait behind "Đổi cách thanh toán"
        let chosen = text_of(&client, "#pay > form button").await;
        assert!(
            chosen.ends_with(match method {
                "vnpay" => "VNPAY",
                "momo" => "MoMo",
                _ => "Mastercard)",
            }),
            "{method}: {chosen}"
        );
        assert!(
            client
                .find(Locator::Css("#pay details.other-methods:not([open])"))
                .await
                .is_ok(),
            "the other methods are folded away"
        );
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
                .find(Locator::Css(&format!("main a[href='/orders/{code}']")))
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
    // signed in before going on: a page asked for while the sign-in is under way sends the
    // browser back to the sign-in form
    sign_in(
        &client,
        &base,
        &format!("thong-ke-{}@example.vn", app.db_name),
        PASSWORD,
    )
    .await;
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
    assert!(
        crate::browser::fits_width(&client).await,
        "the dashboard fits a phone"
    );
    // national staff see the provinces ranked by what they sold
    let ranking = client
        .find(Locator::Css("svg.ranking"))
        .await
        .expect("the provinces' ranking");
    crate::browser::to_middle(&client, &ranking).await;
    screenshot(&client, "journey-staff-ranking").await;
    // the same staff find the cash order by its code and open it whole
    client.goto(&format!("{base}/staff/orders")).await.unwrap();
    until_text(&client, "trong 4").await;
    screenshot(&client, "journey-staff-orders").await;
    type_into(&client, "#q", &code.to_lowercase()).await;
    click(&client, "main form[role=search] button").await;
    until_text(&client, "1–1 trong 1").await;
    click(&client, "main article.review a").await;
    let detail = until_text(&client, "Người nhận").await;
    assert!(
        detail.contains("Nguyễn Văn Khách") && detail.contains("Thanh toán khi nhận hàng"),
        "{detail}"
    );
    assert!(
        crate::browser::fits_width(&client).await,
        "the order detail fits a phone"
    );
    screenshot(&client, "journey-staff-order").await;
    client.goto(&format!("{base}/staff/audit")).await.unwrap();
    until_text(&client, "Nhật ký thao tác").await;
    screenshot(&client, "journey-staff-audit").await;
    client.close().await.unwrap();
}

/// Sets a field's value by script (date inputs type differently in every locale).
async fn set_value(client: &Client, id: &str, value: &str) {
    client
        .execute(
            "document.getElementById(arguments[0]).value = arguments[1]",
            vec![serde_json::json!(id), serde_json::json!(value)],
        )
        .await
        .unwrap();
}

async fn sign_in(client: &Client, base: &str, login: &str, password: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    type_into(client, "#f-login", login).await;
    type_into(client, "#f-password", password).await;
    click(client, "form.auth-form button[type=submit]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.current_url().await.unwrap().path() == "/login" {
        assert!(Instant::now() < deadline, "sign-in did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A producer new to the marketplace, on a phone, from signing up to shipping its first order;
/// province staff approve it and verify its certificate in their own browser.
#[tokio::test]
async fn a_producer_signs_up_lists_a_certified_product_and_ships_its_first_order() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let base = format!("http://{}", app.addr);
    let (producer, _d1) = browser(390, 844).await;
    let (staff, _d2) = browser(1280, 900).await;
    let dir = std::env::temp_dir().join(format!("ocop-journey-{}", app.db_name));
    std::fs::create_dir_all(&dir).unwrap();
    let picture = dir.join("mat-ong.png");
    image::DynamicImage::new_rgb8(800, 600)
        .save(&picture)
        .unwrap();
    let scan = dir.join("quyet-dinh.pdf");
    std::fs::write(&scan, b"%PDF-1.4\n% the council's decision\n").unwrap();

    // 1. the producer signs up and registers the cooperative
    producer.goto(&format!("{base}/signup")).await.unwrap();
    let email = format!("htx-{}@example.vn", app.db_name);
    type_into(&producer, "#f-display_name", "Lò Thị Mai").await;
    type_into(&producer, "#f-login", &email).await;
    type_into(&producer, "#f-password", "ong-mat-ba-che-2025").await;
    type_into(&producer, "#f-password_confirm", "ong-mat-ba-che-2025").await;
    click(&producer, "form.auth-form button[type=submit]").await;
    until_text(&producer, "đường dẫn xác nhận").await;
    // the link in the confirmation mail finishes the sign-up
    let link = crate::helpers::confirm_link(&app).expect("a confirmation mail");
    producer.goto(&format!("{base}{link}")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while producer.current_url().await.unwrap().path() != "/account" {
        assert!(Instant::now() < deadline, "sign-up did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    producer
        .goto(&format!("{base}/producer/register"))
        .await
        .unwrap();
    type_into(&producer, "#f-name", "HTX Ong mật Ba Chẽ").await;
    click(&producer, "#f-producer_type option[value=cooperative]").await;
    click(&producer, "#f-province option[value='22']").await;
    click(&producer, "#f-commune option:nth-child(2)").await;
    type_into(&producer, "#f-address", "Thôn Khe Tiêu").await;
    type_into(&producer, "#f-registration_no", "5701234567").await;
    type_into(&producer, "#f-phone", "0915 222 333").await;
    screenshot(&producer, "journey-producer-register").await;
    click(
        &producer,
        "form[action='/producer/register'] button.button:not([name=step])",
    )
    .await;
    until_text(&producer, "chờ").await;
    screenshot(&producer, "journey-producer-pending").await;

    // 2. Quảng Ninh's staff approve it
    person(&app, "qn-staff", "province_staff", Some(22)).await;
    sign_in(
        &staff,
        &base,
        &format!("qn-staff-{}@example.vn", app.db_name),
        PASSWORD,
    )
    .await;
    staff
        .goto(&format!("{base}/staff/producers"))
        .await
        .unwrap();
    until_text(&staff, "HTX Ong mật Ba Chẽ").await;
    click(&staff, "form[action$='/approve'] button").await;
    until_text(&staff, "duyệt").await;

    // 3. the producer lists a product with a picture and declares its certificate
    producer
        .goto(&format!("{base}/producer/products/new"))
        .await
        .unwrap();
    type_into(&producer, "#f-name", "Mật ong hoa keo Ba Chẽ").await;
    click(&producer, "#f-sector option[value=food]").await;
    type_into(&producer, "#f-price", "220.000").await;
    type_into(&producer, "#f-stock", "30").await;
    type_into(&producer, "#f-unit", "chai").await;
    type_into(
        &producer,
        "#f-story",
        "Mật ong hoa keo của đồng bào Dao Thanh Phán.",
    )
    .await;
    producer
        .find(Locator::Css("#f-image"))
        .await
        .unwrap()
        .send_keys(picture.to_str().unwrap())
        .await
        .unwrap();
    click(
        &producer,
        "form[action='/producer/products/new'] button[type=submit]",
    )
    .await;
    until_text(&producer, "Khai báo giấy chứng nhận").await;
    let img = producer
        .execute(
            "const i = document.querySelector('main img'); return i ? i.naturalWidth : 0",
            vec![],
        )
        .await
        .unwrap();
    assert!(img.as_u64().unwrap_or(0) > 0, "the uploaded picture shows");
    click(&producer, "details.certificate-form summary").await;
    type_into(&producer, "#f-decision_number", "2468/QĐ-UBND").await;
    click(&producer, "#f-stars option[value='4']").await;
    type_into(&producer, "#f-awarding_body", "UBND tỉnh Quảng Ninh").await;
    set_value(&producer, "f-issued_on", "2025-06-20").await;
    producer
        .find(Locator::Css("#f-scan"))
        .await
        .unwrap()
        .send_keys(scan.to_str().unwrap())
        .await
        .unwrap();
    screenshot(&producer, "journey-producer-certificate").await;
    click(
        &producer,
        "form[action$='/certificates'] button[type=submit]",
    )
    .await;
    until_text(&producer, "2468/QĐ-UBND").await;

    // 4. staff verify it; the product is listed and found without diacritics
    staff
        .goto(&format!("{base}/staff/certificates"))
        .await
        .unwrap();
    until_text(&staff, "2468/QĐ-UBND").await;
    click(&staff, "form[action$='/verify'] button").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        staff
            .goto(&format!("{base}/search?q=mat+ong+hoa+keo"))
            .await
            .unwrap();
        let found = staff
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if found.contains("Mật ong hoa keo Ba Chẽ") {
            break;
        }
        assert!(Instant::now() < deadline, "not found by search: {found}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    screenshot(&staff, "journey-producer-found").await;

    // 5. a shopper orders it (cash on delivery); the producer confirms and ships
    let slug: String =
        sqlx::query_scalar("select slug from product where name = 'Mật ong hoa keo Ba Chẽ'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let mut shopper = crate::helpers::Visitor::new(&app);
    let added = crate::orders::add(&mut shopper, &slug, 2).await;
    assert_eq!(
        added.status,
        axum::http::StatusCode::SEE_OTHER,
        "{}",
        added.body
    );
    let page = shopper.get("/checkout").await;
    let placed = crate::orders::checkout_with(&mut shopper, &page, "cod").await;
    assert_eq!(
        placed.status,
        axum::http::StatusCode::SEE_OTHER,
        "{}",
        placed.body
    );

    producer
        .goto(&format!("{base}/producer/orders"))
        .await
        .unwrap();
    // the producer's own number for its part; the group's code is the shopper's
    until_text(&producer, "#").await;
    screenshot(&producer, "journey-producer-orders").await;
    click(&producer, "main li a[href^='/producer/orders/']").await;
    until_text(&producer, "Mật ong hoa keo Ba Chẽ").await;
    click(&producer, "form input[value=confirm] ~ button").await;
    until_text(&producer, "Mã vận đơn").await;
    type_into(&producer, "#carrier", "Viettel Post").await;
    type_into(&producer, "#tracking", "VTP123456789").await;
    click(&producer, "form input[value=ship] ~ button").await;
    let shipped = until_text(&producer, "VTP123456789").await;
    assert!(shipped.contains("Viettel Post"), "{shipped}");
    screenshot(&producer, "journey-producer-shipped").await;
    let status: String = sqlx::query_scalar(
        "select o.status from shop_order o join producer p using (producer_id) where p.name = 'HTX Ong mật Ba Chẽ'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(status, "shipped");
    producer.close().await.unwrap();
    staff.close().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// What misled shoppers, at a phone's size and at a desktop's: the payment choices read as a
/// list (a small radio at the start of each label, not a big circle above it), a price never
/// breaks between the number and ₫, and cancelling asks first, in a step that needs no script.
#[tokio::test]
async fn payment_choices_read_as_a_list_prices_keep_their_unit_and_cancelling_asks_first() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    sqlx::query("update product set stock = 100")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    let base = format!("http://{}", app.addr);
    for (width, height) in [(390, 844), (1366, 900)] {
        let (client, _driver) = browser(width, height).await;
        add_to_cart(&client, &base, "mien-dong").await;
        client.goto(&format!("{base}/checkout")).await.unwrap();
        let radios = client
            .execute(
                "return Array.from(document.querySelectorAll('input[name=payment_method]')).map(r => {
                   const a = r.getBoundingClientRect(), l = r.closest('label').getBoundingClientRect();
                   return [a.width, a.height, l.height, a.left - l.left, a.top - l.top];
                 })",
                vec![],
            )
            .await
            .unwrap();
        let radios: Vec<[f64; 5]> = serde_json::from_value(radios).unwrap();
        assert!(radios.len() >= 2, "{radios:?}");
        for [w, h, label_height, left, top] in &radios {
            assert!(
                *w <= 24.0 && *h <= 24.0,
                "{width}px: a radio is {w}×{h}, not a small circle"
            );
            assert!(
                *label_height <= 52.0 && *left <= 2.0 && *top <= 16.0,
                "{width}px: the radio is not at the start of its label's line ({label_height}, {left}, {top})"
            );
        }
        let total = client
            .execute(
                "return document.querySelector('.grand-total').textContent",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            total.as_str().unwrap().contains("\u{a0}₫") && !total.as_str().unwrap().contains(" ₫"),
            "prices keep ₫ with a no-break space: {total}"
        );
        client
            .execute(
                "document.querySelector('input[name=payment_method]').closest('fieldset').scrollIntoView()",
                vec![],
            )
            .await
            .unwrap();
        screenshot(&client, &format!("look-checkout-{width}")).await;

        type_into(&client, "#f-buyer_name", "Trần Thị Khách").await;
        type_into(&client, "#f-phone", "0987 654 321").await;
        click(&client, "#f-province option[value='1']").await;
        click(&client, "#f-commune option:nth-child(2)").await;
        type_into(&client, "#f-street", "5 Hàng Bài").await;
        click(&client, "input[name=payment_method][value=cod]").await;
        click(&client, "button.place-order").await;
        until_text(&client, "Đặt hàng thành công").await;
        let code = client
            .current_url()
            .await
            .unwrap()
            .path()
            .trim_start_matches("/orders/")
            .to_string();
        let status = || async {
            sqlx::query_scalar::<_, String>(
                "select o.status from shop_order o join order_group g using (order_group_id) where g.code = $1",
            )
            .bind(&code)
            .fetch_one(&app.pool)
            .await
            .unwrap()
        };

        // the first press only asks; "keep it" keeps it
        click(&client, "a[href*='?cancel=']").await;
        until_text(&client, "Việc huỷ không hoàn tác được").await;
        screenshot(&client, &format!("look-cancel-asks-{width}")).await;
        click(&client, "form.confirm a.button").await;
        until_text(&client, "Huỷ phần đơn này…").await;
        assert_ne!(
            status().await,
            "cancelled",
            "keeping the order cancelled it"
        );
        // asked again and confirmed, it is cancelled
        click(&client, "a[href*='?cancel=']").await;
        type_into(&client, "form.confirm input[name=reason]", "Đặt nhầm").await;
        click(&client, "form.confirm button.danger").await;
        until_text(&client, "Lý do huỷ: Đặt nhầm").await;
        assert_eq!(status().await, "cancelled");
        client.close().await.unwrap();
    }
}

/// The design system's page shows every component at a phone's size and a desktop's; the
/// checkout form's fields all have labels (what a screen reader says).
#[tokio::test]
async fn the_components_page_shows_every_component_and_checkout_fields_are_labelled() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let base = format!("http://{}", app.addr);
    for (width, height) in [(390, 844), (1366, 900)] {
        let (client, _driver) = browser(width, height).await;
        client.goto(&format!("{base}/dev/ui")).await.unwrap();
        let page = until_text(&client, "Thành phần giao diện").await;
        for part in [
            "Nút",
            "Nhãn và trạng thái",
            "Thông báo",
            "Thẻ sản phẩm",
            "Ô nhập",
            "Bảng",
            "Dòng thời gian",
            "Banner theo mùa",
            "Địa chỉ đã lưu",
            "Trang",
        ] {
            assert!(page.contains(part), "{part} missing");
        }
        assert!(
            crate::browser::fits_width(&client).await,
            "{width}px: the components fit the screen"
        );
        screenshot(&client, &format!("ui-{width}")).await;
        add_to_cart(&client, &base, "mien-dong").await;
        client.goto(&format!("{base}/checkout")).await.unwrap();
        let unlabelled = client
            .execute(
                "return Array.from(document.querySelectorAll('main input:not([type=hidden]), main select, main textarea'))
                   .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                   .map(e => e.name)",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            unlabelled,
            serde_json::json!([]),
            "{width}px: fields without a label"
        );
        client.close().await.unwrap();
    }
}

/// How much a text stands out from what is behind it, for every visible text on the page: the
/// WCAG ratio of its colour to its background (each colour stop of a gradient), against 4.5:1,
/// or 3:1 for large text. Answers the texts that fall short.
async fn low_contrast_texts(client: &Client) -> Vec<String> {
    let found = client
        .execute(
            r#"
            const parse = c => { const m = c && c.match(/rgba?\(([^)]+)\)/); return m ? m[1].split(',').map(parseFloat) : null; };
            const lin = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
            const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
            const over = (fg, bg) => fg.length < 4 ? fg : fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
            const backgrounds = el => {
              for (; el; el = el.parentElement) {
                const s = getComputedStyle(el);
                if (s.backgroundImage.includes('gradient')) {
                  return (s.backgroundImage.match(/rgba?\([^)]+\)/g) || []).map(parse);
                }
                const c = parse(s.backgroundColor);
                if (c && (c.length < 4 || c[3] > 0.5)) return [c];
              }
              return [[255, 255, 255]];
            };
            const bad = [];
            for (const el of document.querySelectorAll('body *')) {
              if (el.closest('svg, [hidden], .visually-hidden')) continue;
              if (!Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
              const r = el.getBoundingClientRect(), s = getComputedStyle(el);
              if (!r.width || !r.height || s.visibility === 'hidden') continue;
              const size = parseFloat(s.fontSize), large = size >= 24 || (size >= 18.66 && parseInt(s.fontWeight) >= 700);
              for (const bg of backgrounds(el)) {
                const fg = over(parse(s.color), bg);
                const [a, b] = [lum(fg), lum(bg)];
                const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
                if (ratio < (large ? 3 : 4.5)) {
                  bad.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${s.color} on rgb(${bg.slice(0, 3)}) = ${ratio.toFixed(2)}`);
                  break;
                }
              }
            }
            return bad;
            "#,
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// The shopper's side of the shop at a phone's size and a desktop's: the season's banner on the
/// home page; a product's photos (swipe or thumbnails, tap to see one full size), how many sold
/// and when it would arrive; the address book; and every text on these pages readable (WCAG
/// contrast), the checkout's included.
#[tokio::test]
async fn a_shopper_sees_the_seasons_banner_photos_up_close_sales_arrival_dates_and_their_address_book()
 {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let pool = &app.pool;
    for sql in [
        "update product set stock = 100",
        "update product set images = array['/img/demo/mien-dong.svg', '/img/demo/banh-da-ke.svg', '/img/demo/tra-hoa-vang.svg'] where slug = 'mien-dong'",
        "insert into stats_product (tier, start, province_code, product_id, paid_quantity, paid_value)
         select 'y', date_trunc('year', current_date), 22, product_id, 1234, 1234 * price_vnd from product where slug = 'mien-dong'",
    ] {
        sqlx::query(sql).execute(pool).await.unwrap();
    }
    let (_, staff) = person(&app, "banner", "national_staff", None).await;
    sqlx::query(
        "insert into banner (title, subtitle, link, cta, theme, motif, starts_on, ends_on, created_by)
         values ('Quà Tết OCOP ba miền', 'Trà, mật ong, bánh mứt 4 và 5 sao', '/products?stars=5', 'Chọn quà Tết',
                 'tet', 'cake', current_date, current_date + 30, $1)",
    )
    .bind(staff)
    .execute(pool)
    .await
    .unwrap();
    app.refresh().await;
    let (_, shopper) = person(&app, "so-dia-chi", "shopper", None).await;
    let commune: i32 =
        sqlx::query_scalar("select min(commune_code) from commune where province_code = 22")
            .fetch_one(pool)
            .await
            .unwrap();
    for (street, default) in [("Thôn 3, xã Bình Liêu", true), ("12 Tràng Tiền", false)] {
        sqlx::query("insert into saved_address (user_id, buyer_name, phone, province_code, commune_code, street, is_default) values ($1, 'Lê Thị Mua', '0912000111', 22, $2, $3, $4)")
            .bind(shopper)
            .bind(commune)
            .bind(street)
            .bind(default)
            .execute(pool)
            .await
            .unwrap();
    }
    let email = format!("so-dia-chi-{}@example.vn", app.db_name);
    let base = format!("http://{}", app.addr);
    for (width, height) in [(390, 844), (1366, 900)] {
        let (client, _driver) = browser(width, height).await;
        client.goto(&base).await.unwrap();
        until_text(&client, "Quà Tết OCOP ba miền").await;
        let cta = client
            .find(Locator::Css(".banner .banner-cta"))
            .await
            .unwrap();
        assert_eq!(
            cta.attr("href").await.unwrap().as_deref(),
            Some("/products?stars=5")
        );
        screenshot(&client, &format!("look-home-banner-{width}")).await;
        let mut low = low_contrast_texts(&client).await;

        client
            .goto(&format!("{base}/products/mien-dong"))
            .await
            .unwrap();
        let page = until_text(&client, "Đã bán 1,2k").await;
        assert!(
            page.contains("dự kiến nhận"),
            "the product page says when it would arrive: {page}"
        );
        screenshot(&client, &format!("look-product-gallery-{width}")).await;
        low.extend(low_contrast_texts(&client).await);
        // the third thumbnail brings the third photo into the strip
        click(&client, ".gallery .thumbs li:nth-child(3) a").await;
        let scrolled = client
            .execute(
                "const s = document.querySelector('.slides'); return s.scrollLeft / s.clientWidth",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            scrolled.as_f64().unwrap() > 1.5,
            "{width}px: the strip moved to the third photo ({scrolled})"
        );
        // a tap on the photo opens it full screen, at least half as large again
        click(&client, "#anh-3").await;
        let sizes = client
            .execute(
                "const z = document.querySelector('#phong-to-3');
                 return [getComputedStyle(z).display, z.querySelector('img').getBoundingClientRect().width,
                         document.querySelector('#anh-3 img').getBoundingClientRect().width]",
                vec![],
            )
            .await
            .unwrap();
        let (display, zoomed, shown) = (
            sizes[0].as_str().unwrap().to_string(),
            sizes[1].as_f64().unwrap(),
            sizes[2].as_f64().unwrap(),
        );
        assert_eq!(display, "flex", "{width}px: the full-screen view opened");
        assert!(
            zoomed >= shown * 1.5,
            "{width}px: the photo is larger up close ({zoomed} against {shown})"
        );
        screenshot(&client, &format!("look-product-zoom-{width}")).await;
        click(&client, "#phong-to-3 .zoom-close").await;
        let closed = client
            .execute(
                "return getComputedStyle(document.querySelector('#phong-to-3')).display",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(closed, "none", "{width}px: the full-screen view closes");

        add_to_cart(&client, &base, "mien-dong").await;
        sign_in(&client, &base, &email, PASSWORD).await;
        client.goto(&format!("{base}/checkout")).await.unwrap();
        let page = until_text(&client, "Dự kiến nhận hàng").await;
        assert!(page.contains("Mặc định"), "{page}");
        client
            .execute(
                "document.querySelector('.addresses').scrollIntoView()",
                vec![],
            )
            .await
            .unwrap();
        screenshot(&client, &format!("look-checkout-addresses-{width}")).await;
        low.extend(low_contrast_texts(&client).await);
        client
            .goto(&format!("{base}/account/addresses"))
            .await
            .unwrap();
        until_text(&client, "12 Tràng Tiền").await;
        assert!(crate::browser::fits_width(&client).await);
        screenshot(&client, &format!("look-address-book-{width}")).await;
        low.extend(low_contrast_texts(&client).await);
        assert!(
            low.is_empty(),
            "{width}px: texts below WCAG AA contrast:\n{}",
            low.join("\n")
        );
        client.close().await.unwrap();
    }
}

/// The money loop in the browser: a shopper pays, the producer delivers, the return window passes
/// (the test advances the clock), the producer says where to be paid, staff run a payout, the
/// bank's webhook reports the transfer, and the producer sees the money on its statement.
#[tokio::test]
async fn a_sale_is_paid_delivered_settled_and_paid_out_to_the_producer() {
    let port = crate::helpers::free_port();
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(move |c| {
            c.bind = format!("127.0.0.1:{port}").parse().unwrap();
            c.public_url = Some(format!("http://127.0.0.1:{port}"));
        })),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    let base = format!("http://{}", app.addr);
    let (_, owner_id) = person(&app, "bache", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'ho-ba-che'")
        .bind(owner_id)
        .execute(&app.pool)
        .await
        .unwrap();
    person(&app, "qnstaff", "province_staff", Some(22)).await;
    let (shopper, _d1) = browser(390, 844).await;
    let (producer, _d2) = browser(390, 844).await;
    let (staff, _d3) = browser(1280, 900).await;

    // the shopper pays by VNPAY (its sandbox signs the callback as VNPAY does)
    let code = buy(&shopper, &base, "cha-muc", "vnpay").await;
    click(
        &shopper,
        &format!("form[action='/pay/{code}/vnpay'] button"),
    )
    .await;
    until_text(&shopper, "Chế độ thử nghiệm").await;
    click(&shopper, "button[name=choice][value=pay]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !shopper
        .current_url()
        .await
        .unwrap()
        .path()
        .starts_with("/orders/")
    {
        if let Ok(back) = shopper
            .find(Locator::Css(&format!("a[href='/orders/{code}']")))
            .await
        {
            back.click().await.unwrap();
            break;
        }
        assert!(
            Instant::now() < deadline,
            "VNPAY did not send the shopper back"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    until_text(&shopper, "Đã thanh toán").await;

    // the producer sees the money held, then confirms, ships and delivers
    let db = app.db_name.clone();
    sign_in(
        &producer,
        &base,
        &format!("bache-{db}@example.vn"),
        PASSWORD,
    )
    .await;
    producer
        .goto(&format!("{base}/producer/money"))
        .await
        .unwrap();
    let money = until_text(&producer, "Đang tạm giữ").await;
    assert!(
        money.contains("335.000"),
        "300.000 ₫ of goods and 35.000 ₫ shipping held: {money}"
    );
    let order: i64 = sqlx::query_scalar("select o.order_id from shop_order o join order_group g using (order_group_id) where g.code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    producer
        .goto(&format!("{base}/producer/orders/{order}"))
        .await
        .unwrap();
    click(&producer, "form:has(input[value=confirm]) button").await;
    until_text(&producer, "Đã xác nhận").await;
    type_into(&producer, "#carrier", "Viettel Post").await;
    type_into(&producer, "#tracking", "VTP123456789").await;
    click(&producer, "#ship button").await;
    until_text(&producer, "Đang giao").await;
    click(&producer, "form:has(input[value=deliver]) button").await;
    until_text(&producer, "Đã giao").await;

    // seven days later the return window has passed: the job splits the money
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(8);
    assert_eq!(
        ocop_market::settlement::release_due(&app.pool, later)
            .await
            .unwrap(),
        1
    );

    // the owner says where to be paid
    producer
        .goto(&format!("{base}/producer/money/account"))
        .await
        .unwrap();
    click(&producer, "#bank_bin option[value='970436']").await;
    type_into(&producer, "#account_no", "0071001234567").await;
    type_into(&producer, "#holder_name", "Trần Văn Chẽ").await;
    type_into(&producer, "#citizen_id", "022204012345").await;
    type_into(&producer, "#password", PASSWORD).await;
    screenshot(&producer, "journey-money-account").await;
    click(&producer, "form.portal-form button").await;
    let money = until_text(&producer, "Đã lưu tài khoản nhận tiền").await;
    // 335.000 less 5% commission (15.000), VAT 1% (3.000) and PIT 0,5% (1.500)
    assert!(money.contains("315.500"), "{money}");

    // province staff run today's payout and see the line with its VietQR
    sign_in(&staff, &base, &format!("qnstaff-{db}@example.vn"), PASSWORD).await;
    staff.goto(&format!("{base}/staff/payouts")).await.unwrap();
    click(&staff, "#run-province option[value='22']").await;
    click(&staff, "form[action='/staff/payouts'] button").await;
    let run = until_text(&staff, "Đợt chi trả").await;
    assert!(
        run.contains("Hộ kinh doanh Ba Chẽ") && run.contains("315.500"),
        "{run}"
    );
    assert!(
        staff.find(Locator::Css(".qr-cell svg")).await.is_ok(),
        "a VietQR to scan"
    );
    screenshot(&staff, "journey-money-payout-run").await;

    // the bank (through SePay) reports the transfer out with the payout reference
    let reference: String = sqlx::query_scalar("select reference from payout_line")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let body = serde_json::json!({ "id": 990001, "gateway": "Vietcombank", "transactionDate": "2026-12-07 09:00:00",
        "accountNumber": "1017595600", "code": null, "content": format!("{reference} chi tra OCOP"), "transferType": "out",
        "transferAmount": 315_500, "accumulated": 1, "referenceCode": "FT990001", "description": "" })
    .to_string();
    let answer = app
        .send(crate::payments::sepay_request(
            &body,
            &crate::payments::sepay_signed(&body, crate::payments::now()),
        ))
        .await;
    assert_eq!(answer.status, axum::http::StatusCode::OK);
    staff.refresh().await.unwrap();
    until_text(&staff, "Đã chuyển").await;

    // the producer reads it on the statement
    producer
        .goto(&format!("{base}/producer/money"))
        .await
        .unwrap();
    let money = until_text(&producer, "Đã nhận trong năm").await;
    assert!(
        money.contains("Lệnh chi trả"),
        "the payout is on the statement: {money}"
    );
    let received = text_of(&producer, ".stats div:nth-child(4) dd").await;
    assert!(received.contains("315.500"), "{received}");
    screenshot(&producer, "journey-money-statement-phone").await;
    producer.set_window_size(1280, 900).await.unwrap();
    screenshot(&producer, "journey-money-statement-desktop").await;
}

#[tokio::test]
async fn a_shopper_picks_a_carrier_the_producer_prints_the_label_and_the_parcel_delivers_itself() {
    let port = crate::helpers::free_port();
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(move |c| {
            c.bind = format!("127.0.0.1:{port}").parse().unwrap();
            c.public_url = Some(format!("http://127.0.0.1:{port}"));
            c.shipping_sandbox = true;
        })),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    let base = format!("http://{}", app.addr);
    let (_, owner_id) = person(&app, "binhlieu", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'htx-binh-lieu'")
        .bind(owner_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (shopper, _d1) = browser(390, 844).await;
    let (producer, _d2) = browser(390, 844).await;
    let (carrier, _d3) = browser(1280, 900).await;

    // the address typed, the carriers' fees for it are shown before anything is placed
    add_to_cart(&shopper, &base, "mien-dong").await;
    shopper.goto(&format!("{base}/checkout")).await.unwrap();
    type_into(&shopper, "#f-buyer_name", "Nguyễn Văn Khách").await;
    type_into(&shopper, "#f-phone", "0987 654 321").await;
    click(&shopper, "#f-province option[value='1']").await;
    click(&shopper, "#f-commune option:nth-child(2)").await;
    type_into(&shopper, "#f-street", "12 Tràng Tiền").await;
    click(&shopper, "input[name=payment_method][value=cod]").await;
    click(&shopper, "button.place-order").await;
    let quoted = until_text(&shopper, "Phí giao hàng đã được tính").await;
    assert!(quoted.contains("Vận chuyển thử nghiệm"), "{quoted}");
    screenshot(&shopper, "journey-carrier-checkout").await;
    click(&shopper, "button.place-order").await;
    until_text(&shopper, "Đặt hàng thành công").await;
    let code = shopper
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/orders/")
        .to_string();
    let (order, carrier_key): (i64, Option<String>) = sqlx::query_as(
        "select o.order_id, o.ship_carrier from shop_order o join order_group g using (order_group_id) where g.code = $1",
    )
    .bind(&code)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        carrier_key.as_deref(),
        Some("sandbox"),
        "the preselected carrier was taken"
    );

    // the producer confirms, which books the carrier the shopper picked, and prints the label
    let db = app.db_name.clone();
    sign_in(
        &producer,
        &base,
        &format!("binhlieu-{db}@example.vn"),
        PASSWORD,
    )
    .await;
    producer
        .goto(&format!("{base}/producer/orders/{order}"))
        .await
        .unwrap();
    click(&producer, "form:has(input[value=confirm]) button").await;
    // confirming books the carrier the shopper picked
    let booked = until_text(&producer, "mã vận đơn SBX").await;
    assert!(booked.contains("In nhãn giao hàng"), "{booked}");
    screenshot(&producer, "journey-carrier-booked").await;
    let tracking: String = sqlx::query_scalar("select tracking from shipment where order_id = $1")
        .bind(order)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    producer
        .goto(&format!("{base}/producer/orders/{order}/label"))
        .await
        .unwrap();
    let label = until_text(&producer, &tracking).await;
    assert!(
        label.contains("Nguyễn Văn Khách") && label.contains("Thu hộ"),
        "{label}"
    );
    screenshot(&producer, "journey-carrier-label").await;

    // the sandbox carrier picks it up and delivers it; the order follows by itself
    carrier
        .goto(&format!("{base}/sandbox/shipping/{tracking}"))
        .await
        .unwrap();
    click(&carrier, "button[value=picked_up]").await;
    until_text(&carrier, "Đã lấy hàng").await;
    click(&carrier, "button[value=delivered]").await;
    until_text(&carrier, "Đã giao hàng").await;
    screenshot(&carrier, "journey-carrier-sandbox").await;
    shopper
        .goto(&format!("{base}/orders/{code}"))
        .await
        .unwrap();
    let page = until_text(&shopper, "Hành trình bưu kiện").await;
    assert!(
        page.contains("Đã giao") && page.contains("Đã lấy hàng"),
        "{page}"
    );
    screenshot(&shopper, "journey-carrier-tracking").await;
}

/// A business buyer asks for an invoice in its company's name; the producer, who connected its
/// e-invoice account (the sandbox provider) in its browser, delivers; the invoice is issued and
/// the buyer opens it from the order page, and prints the receipt.
#[tokio::test]
async fn a_business_buyer_asks_for_an_invoice_the_producer_delivers_and_the_buyer_downloads_it() {
    let port = crate::helpers::free_port();
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(move |c| {
            c.bind = format!("127.0.0.1:{port}").parse().unwrap();
            c.public_url = Some(format!("http://127.0.0.1:{port}"));
        })),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    let base = format!("http://{}", app.addr);
    let (_, owner_id) = person(&app, "binhlieu", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'htx-binh-lieu'")
        .bind(owner_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (shopper, _d1) = browser(390, 844).await;
    let (producer, _d2) = browser(1280, 900).await;

    // the producer connects its e-invoice account
    let db = app.db_name.clone();
    sign_in(
        &producer,
        &base,
        &format!("binhlieu-{db}@example.vn"),
        PASSWORD,
    )
    .await;
    producer
        .goto(&format!("{base}/producer/invoices"))
        .await
        .unwrap();
    click(&producer, "input[name=provider][value=sandbox]").await;
    type_into(&producer, "#f-seller_tax_code", "0200000014").await;
    type_into(&producer, "#f-pattern", "1/001").await;
    type_into(&producer, "#f-series", "C26TBL").await;
    click(&producer, "#f-vat_rate option[value='5']").await;
    type_into(&producer, "#f-username", "binhlieu").await;
    type_into(&producer, "#f-password", "sandbox").await;
    click(
        &producer,
        "form[action='/producer/invoices/account'] button.button:not(.secondary)",
    )
    .await;
    until_text(&producer, "Đã lưu tài khoản hoá đơn điện tử").await;
    screenshot(&producer, "journey-invoice-account").await;

    // the shopper asks for an invoice in the company's name; a wrong tax code is caught first
    add_to_cart(&shopper, &base, "mien-dong").await;
    shopper.goto(&format!("{base}/checkout")).await.unwrap();
    type_into(&shopper, "#f-buyer_name", "Nguyễn Văn An").await;
    type_into(&shopper, "#f-phone", "0987 654 321").await;
    click(&shopper, "#f-province option[value='1']").await;
    click(&shopper, "#f-commune option:nth-child(2)").await;
    type_into(&shopper, "#f-street", "12 Tràng Tiền").await;
    click(&shopper, "input[name=payment_method][value=cod]").await;
    click(&shopper, "details.company-invoice summary").await;
    click(&shopper, "input[name=want_invoice]").await;
    type_into(&shopper, "#f-inv_company", "Công ty TNHH Quà Tặng Việt").await;
    type_into(&shopper, "#f-inv_tax_code", "0312345674").await;
    type_into(
        &shopper,
        "#f-inv_address",
        "12 Tràng Tiền, Hoàn Kiếm, Hà Nội",
    )
    .await;
    click(&shopper, "button.place-order").await;
    until_text(&shopper, "chữ số kiểm tra không khớp").await;
    screenshot(&shopper, "journey-invoice-wrong-tax-code").await;
    type_into(&shopper, "#f-inv_tax_code", "0312345673").await;
    click(&shopper, "button.place-order").await;
    until_text(&shopper, "Đặt hàng thành công").await;
    let code = shopper
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/orders/")
        .to_string();
    let order: i64 = sqlx::query_scalar("select o.order_id from shop_order o join order_group g using (order_group_id) where g.code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();

    // the producer sees who the invoice is for, ships and delivers
    producer
        .goto(&format!("{base}/producer/orders/{order}"))
        .await
        .unwrap();
    until_text(&producer, "Công ty TNHH Quà Tặng Việt · MST 0312345673").await;
    click(&producer, "form:has(input[value=confirm]) button").await;
    until_text(&producer, "Đã xác nhận").await;
    type_into(&producer, "#carrier", "Viettel Post").await;
    type_into(&producer, "#tracking", "VTP123456789").await;
    click(&producer, "#ship button").await;
    until_text(&producer, "Đang giao").await;
    click(&producer, "form:has(input[value=deliver]) button").await;
    until_text(&producer, "Đã giao").await;
    // the invoice job (it also runs on its own every 30 seconds; both are safe together)
    ocop_market::invoicing::issue_once(&app.state)
        .await
        .unwrap();
    producer
        .goto(&format!("{base}/producer/orders/{order}"))
        .await
        .unwrap();
    until_text(&producer, "Đã phát hành").await;
    screenshot(&producer, "journey-invoice-producer-order").await;

    // the buyer finds the invoice on the order page and opens it
    shopper
        .goto(&format!("{base}/orders/{code}"))
        .await
        .unwrap();
    let page = until_text(&shopper, "Tải hoá đơn").await;
    assert!(page.contains("mã tra cứu"), "{page}");
    screenshot(&shopper, "journey-invoice-order").await;
    click(&shopper, "a[href^='/sandbox/einvoice/']").await;
    let invoice = until_text(&shopper, "Số tiền viết bằng chữ").await;
    assert!(
        invoice.contains("Công ty TNHH Quà Tặng Việt") && invoice.contains("MST 0312345673"),
        "{invoice}"
    );
    screenshot(&shopper, "journey-invoice-document").await;
    shopper
        .goto(&format!("{base}/orders/{code}/receipt"))
        .await
        .unwrap();
    let receipt = until_text(&shopper, "Biên nhận đơn hàng").await;
    assert!(receipt.contains("Hoá đơn bán hàng: số"), "{receipt}");
    screenshot(&shopper, "journey-invoice-receipt").await;
}

#[tokio::test]
async fn a_stallholder_sells_two_items_by_qr_at_a_fair_through_a_dropped_connection_and_the_board_shows_it()
 {
    let port = crate::helpers::free_port();
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(move |c| {
            c.bind = format!("127.0.0.1:{port}").parse().unwrap();
            c.public_url = Some(format!("http://127.0.0.1:{port}"));
        })),
        ..Options::default()
    })
    .await;
    let fx = load_fixture(&app).await;
    let base = format!("http://{}", app.addr);
    let (_, owner_id) = person(&app, "bache", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'ho-ba-che'")
        .bind(owner_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (_, staff_id) = person(&app, "qn-staff", "province_staff", Some(22)).await;
    let event: i64 = sqlx::query_scalar(
        "insert into sale_event (kind, name, province_code, commune_code, place, starts_on, ends_on, created_by)
         values ('fair', 'Hội chợ OCOP Hạ Long', 22, $1, 'Quảng trường 30/10', current_date - 1, current_date + 1, $2) returning event_id",
    )
    .bind(fx.qn_commune_a)
    .bind(staff_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    sqlx::query("insert into event_producer (event_id, producer_id) select $1, producer_id from producer where slug = 'ho-ba-che'")
        .bind(event)
        .execute(&app.pool)
        .await
        .unwrap();
    let (phone, _d1) = browser(390, 844).await;
    let db = app.db_name.clone();
    sign_in(&phone, &base, &format!("bache-{db}@example.vn"), PASSWORD).await;

    // the owner accepts the invitation and opens the till
    phone
        .goto(&format!("{base}/producer/events"))
        .await
        .unwrap();
    click(&phone, "button[name=answer][value=accept]").await;
    until_text(&phone, "Đã nhận lời").await;
    click(&phone, "a.till-open").await;
    until_text(&phone, "Giao dịch hôm nay").await;
    let (cha_muc, other): (i64, i64) = sqlx::query_as(
        "select (select product_id from product where slug = 'cha-muc'), (select product_id from product where slug = 'chua-chung-nhan')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    click(&phone, &format!("[data-add='{cha_muc}']")).await;
    click(&phone, &format!("[data-add='{other}']")).await;
    assert!(text_of(&phone, "#till-total").await.contains("330.000"));
    screenshot(&phone, "journey-till-picked").await;
    click(&phone, "button.till-qr").await;
    until_text(&phone, "Chờ ngân hàng báo tiền về").await;
    let code = text_of(&phone, "#pay-code").await;
    assert!(
        html_of(&phone, "#pay-qr").await.contains("<svg"),
        "the QR is drawn on the phone"
    );
    // the phone's VietQR is the server's, byte for byte
    let js = phone
        .execute(
            "return window.ocopVietqr('970436', '1017595600', 330000, arguments[0])",
            vec![serde_json::json!(code)],
        )
        .await
        .unwrap();
    assert_eq!(
        js,
        serde_json::json!(ocop_market::payments::gateways::bank::vietqr_payload(
            "970436",
            "1017595600",
            ocop_market::domain::Vnd::new(330_000),
            &code
        ))
    );
    screenshot(&phone, "journey-till-qr").await;
    // the customer's bank pays; SePay tells the marketplace, signed as SePay signs
    let body = serde_json::json!({ "id": 55501, "gateway": "VietinBank", "transactionDate": "2026-12-04 10:00:00",
        "accountNumber": "1017595600", "code": null, "content": format!("{code} chuyen tien"), "transferType": "in",
        "transferAmount": 330_000, "accumulated": 1, "referenceCode": "FT55501", "description": "" })
    .to_string();
    let answer = app
        .send(crate::payments::sepay_request(
            &body,
            &crate::payments::sepay_signed(&body, crate::payments::now()),
        ))
        .await;
    assert_eq!(answer.status, axum::http::StatusCode::OK);
    until_text(&phone, "✓ Đã nhận tiền").await;
    screenshot(&phone, "journey-till-paid").await;
    click(&phone, "#pay-done").await;
    until_text(&phone, "1 giao dịch đã nhận tiền").await;

    // the connection drops: a cash sale waits on the phone, and is sent once when it is back
    phone
        .execute(
            "window.__fetch = window.fetch; window.fetch = () => Promise.reject(new TypeError('offline'));",
            vec![],
        )
        .await
        .unwrap();
    click(&phone, &format!("[data-add='{other}']")).await;
    click(&phone, "button.till-cash").await;
    until_text(&phone, "Mất mạng: đã lưu giao dịch tiền mặt").await;
    screenshot(&phone, "journey-till-offline").await;
    click(&phone, "#pay-done").await;
    until_text(&phone, "chờ mạng").await;
    phone
        .execute(
            "window.fetch = window.__fetch; window.dispatchEvent(new Event('online'));",
            vec![],
        )
        .await
        .unwrap();
    until_text(&phone, "Không có giao dịch nào chờ gửi").await;
    let sales: Vec<(String, i64)> =
        sqlx::query_as("select method, amount from till_sale order by sale_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        sales,
        vec![
            ("vietqr".to_string(), 330_000),
            ("cash".to_string(), 30_000)
        ]
    );

    // province staff watch the fair's board
    let (desk, _d2) = browser(1280, 900).await;
    sign_in(&desk, &base, &format!("qn-staff-{db}@example.vn"), PASSWORD).await;
    desk.goto(&format!("{base}/staff/events/{event}"))
        .await
        .unwrap();
    let board = until_text(&desk, "360.000").await;
    assert!(board.contains("Hộ kinh doanh Ba Chẽ"), "{board}");
    assert!(board.contains("Chả mực Hạ Long"), "best sellers: {board}");
    screenshot(&desk, "journey-fair-board").await;
}

/// A producer's owner makes a voucher for its own goods on the portal; a shopper on a phone uses
/// it on an order from two producers and sees what came off which line; the producer sees it on
/// its order.
#[tokio::test]
async fn a_shopper_uses_a_producer_funded_voucher_on_a_two_producer_order() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let base = format!("http://{}", app.addr);
    let (_, owner_id) = person(&app, "bache", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'ho-ba-che'")
        .bind(owner_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (producer, _d1) = browser(1280, 900).await;
    let (shopper, _d2) = browser(390, 844).await;
    let db = app.db_name.clone();
    sign_in(
        &producer,
        &base,
        &format!("bache-{db}@example.vn"),
        PASSWORD,
    )
    .await;
    producer
        .goto(&format!("{base}/producer/promotions"))
        .await
        .unwrap();
    type_into(&producer, "#f-name", "Chả mực Tết giảm 10%").await;
    type_into(&producer, "#f-code", "chamuc10").await;
    click(&producer, "input[name=kind][value=percent]").await;
    type_into(&producer, "#f-value", "10").await;
    set_value(
        &producer,
        "f-starts_on",
        &ocop_market::domain::vn_today().to_string(),
    )
    .await;
    type_into(&producer, "#f-total_limit", "100").await;
    click(&producer, ".promotion-form button[type=submit]").await;
    until_text(&producer, "Đã tạo khuyến mãi").await;
    assert!(text_of(&producer, "main").await.contains("CHAMUC10"));
    screenshot(&producer, "journey-promotion-producer").await;

    // Bình Liêu's vermicelli and Ba Chẽ's squid cake in one cart; the voucher is Ba Chẽ's
    add_to_cart(&shopper, &base, "mien-dong").await;
    add_to_cart(&shopper, &base, "cha-muc").await;
    shopper.goto(&format!("{base}/checkout")).await.unwrap();
    type_into(&shopper, "#f-buyer_name", "Nguyễn Thị Du Khách").await;
    type_into(&shopper, "#f-phone", "0987 654 321").await;
    click(&shopper, "#f-province option[value='1']").await;
    click(&shopper, "#f-commune option:nth-child(2)").await;
    type_into(&shopper, "#f-street", "12 Tràng Tiền").await;
    type_into(&shopper, "#f-voucher", "chamuc10").await;
    click(&shopper, "button[name=step][value=voucher]").await;
    let page = until_text(&shopper, "−30.000").await;
    assert!(page.contains("Nhà sản xuất tài trợ"), "{page}");
    let lines = html_of(&shopper, "main").await;
    assert_eq!(
        lines.matches("class=\"line-discount\"").count(),
        1,
        "only Ba Chẽ's line is discounted"
    );
    screenshot(&shopper, "journey-promotion-checkout").await;
    let field = shopper.find(Locator::Css("#f-voucher")).await.unwrap();
    crate::browser::to_middle(&shopper, &field).await;
    screenshot(&shopper, "journey-promotion-voucher").await;
    click(&shopper, "input[name=payment_method][value=cod]").await;
    click(&shopper, "button.place-order").await;
    let placed = until_text(&shopper, "Đặt hàng thành công").await;
    assert!(placed.contains("giảm giá 30.000"), "{placed}");
    screenshot(&shopper, "journey-promotion-order").await;

    let order: i64 = sqlx::query_scalar(
        "select o.order_id from shop_order o join producer p using (producer_id) where p.slug = 'ho-ba-che'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    producer
        .goto(&format!("{base}/producer/orders/{order}"))
        .await
        .unwrap();
    until_text(&producer, "khuyến mãi −30.000").await;
    // the owner on a phone
    producer.set_window_size(390, 844).await.unwrap();
    producer
        .goto(&format!("{base}/producer/promotions"))
        .await
        .unwrap();
    until_text(&producer, "CHAMUC10").await;
    screenshot(&producer, "journey-promotion-producer-phone").await;
    let used: i32 = sqlx::query_scalar("select used from promotion where code = 'CHAMUC10'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(used, 1);
}

/// A tourist on a phone books a homestay tour slot and gets a voucher with a QR; at the meeting
/// point the producer types its code and the guests are checked in, once.
#[tokio::test]
async fn a_tourist_books_a_homestay_tour_slot_and_is_checked_in() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    crate::experiences::homestay(&app, 8).await;
    let base = format!("http://{}", app.addr);
    let (_, owner_id) = person(&app, "bache", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'ho-ba-che'")
        .bind(owner_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (tourist, _d1) = browser(390, 844).await;
    let (producer, _d2) = browser(390, 844).await;

    tourist
        .goto(&format!("{base}/products/homestay-ba-che"))
        .await
        .unwrap();
    click(&tourist, "a.book-experience").await;
    until_text(&tourist, "Điểm hẹn").await;
    screenshot(&tourist, "journey-tour-slots").await;
    click(&tourist, "input[name=slot]:not([disabled])").await;
    type_into(&tourist, "#f-guests", "2").await;
    type_into(&tourist, "#f-buyer_name", "Emma Tourist").await;
    type_into(&tourist, "#f-phone", "0987 654 321").await;
    type_into(&tourist, "#f-email", "emma@example.com").await;
    click(&tourist, "input[name=payment_method][value=cod]").await;
    click(&tourist, "button.place-order").await;
    let page = until_text(&tourist, "Đặt hàng thành công").await;
    assert!(
        page.contains("2 khách") && page.contains("Nhà văn hoá thôn Khe Tâm"),
        "{page}"
    );
    // the first slot that takes bookings starts within 48 hours: the policy says no refund
    assert!(page.contains("Đã quá hạn huỷ miễn phí"), "{page}");
    assert!(
        !page.contains("Huỷ phần đơn này"),
        "no cancel button against the policy"
    );
    let qr = html_of(&tourist, ".voucher-qr").await;
    assert!(qr.contains("<svg"), "the QR is drawn on the phone: {qr}");
    let code = text_of(&tourist, ".voucher-code strong").await;
    assert!(code.starts_with("BK"), "{code}");
    let mail = crate::helpers::messages(&app).join("\n");
    assert!(
        mail.contains(&format!("VÉ {code}")),
        "the confirmation mail carries the voucher: {mail}"
    );
    let voucher = tourist.find(Locator::Css(".voucher-card")).await.unwrap();
    crate::browser::to_middle(&tourist, &voucher).await;
    screenshot(&tourist, "journey-tour-voucher").await;

    let db = app.db_name.clone();
    sign_in(
        &producer,
        &base,
        &format!("bache-{db}@example.vn"),
        PASSWORD,
    )
    .await;
    // the producer's calendar: the guests are on their slot, and the terms can be changed
    producer.goto(&format!("{base}/producer")).await.unwrap();
    click(&producer, "a[href$='/experience']").await;
    until_text(&producer, "2/8 khách").await;
    type_into(&producer, "#f-capacity", "10").await;
    click(&producer, ".experience-form button[type=submit]").await;
    until_text(&producer, "Đã lưu").await;
    until_text(&producer, "2/10 khách").await;
    screenshot(&producer, "journey-tour-calendar").await;
    producer
        .goto(&format!("{base}/producer/checkin"))
        .await
        .unwrap();
    type_into(&producer, "#f-code", &code.to_lowercase()).await;
    click(&producer, ".checkin-form button[type=submit]").await;
    let welcome = until_text(&producer, "Hợp lệ: mời khách vào").await;
    assert!(welcome.contains("2 khách"), "{welcome}");
    screenshot(&producer, "journey-tour-checkin").await;
    type_into(&producer, "#f-code", &code).await;
    click(&producer, ".checkin-form button[type=submit]").await;
    let again = until_text(&producer, "Vé đã dùng lúc").await;
    assert!(
        again.contains("Người bache"),
        "who checked them in: {again}"
    );
    screenshot(&producer, "journey-tour-checkin-again").await;
}

/// A visitor who reads English, on a phone: finds "honey", buys it, and reads the order and its
/// mail in English.
#[tokio::test]
async fn a_tourist_finds_honey_in_english_buys_it_and_reads_the_order_in_english() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    // one of the fixture's products is a honey from Bình Liêu
    sqlx::query("update product set name = 'Mật ong bạc hà Bình Liêu' where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    let base = format!("http://{}", app.addr);
    let (client, _driver) = browser(390, 844).await;
    client.goto(&format!("{base}/?lang=en")).await.unwrap();
    until_text(&client, "Featured 5-star and 4-star OCOP products").await;
    type_into(&client, "header input[name=q]", "honey").await;
    click(&client, "header form.search-box button[type=submit]").await;
    let results = until_text(&client, "Results for “honey”").await;
    assert!(results.contains("Mat ong bac ha Binh Lieu"), "{results}");
    screenshot(&client, "journey-en-search").await;
    click(&client, ".results .card a.card-link").await;
    let page = until_text(&client, "Add to cart").await;
    assert!(
        page.contains("Mật ong bạc hà Bình Liêu"),
        "the Vietnamese name beside it"
    );
    assert!(page.contains("≈ US$"), "an indicative amount in dollars");
    assert!(page.contains("Quang Ninh"), "places without diacritics");
    screenshot(&client, "journey-en-product").await;
    click(&client, "form.add-to-cart button").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !text_of(&client, ".cart-status")
        .await
        .contains("Added to the cart")
    {
        assert!(Instant::now() < deadline, "not added to the cart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.goto(&format!("{base}/checkout")).await.unwrap();
    until_text(&client, "Recipient").await;
    type_into(&client, "#f-buyer_name", "Emma Walker").await;
    type_into(&client, "#f-phone", "0987 654 321").await;
    type_into(&client, "#f-email", "emma@example.com").await;
    click(&client, "#f-province option[value='1']").await;
    click(&client, "#f-commune option:nth-child(2)").await;
    type_into(&client, "#f-street", "12 Trang Tien").await;
    click(&client, "input[name=payment_method][value=cod]").await;
    screenshot(&client, "journey-en-checkout").await;
    click(&client, "button.place-order").await;
    let order = until_text(&client, "Your order is placed").await;
    assert!(
        order.contains("Cash on delivery") && order.contains("Placed"),
        "{order}"
    );
    screenshot(&client, "journey-en-order").await;
    let mail = crate::helpers::messages(&app).join("\n");
    assert!(
        mail.contains("Thank you for ordering on the OCOP Market") && mail.contains("Goods "),
        "the mail speaks English: {mail}"
    );
}

/// A buyer reviews what was delivered, with a photo, from a phone; the producer answers.
#[tokio::test]
async fn a_buyer_reviews_a_delivered_product_with_a_photo_and_the_producer_replies() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let base = format!("http://{}", app.addr);
    let (_, owner_id) = person(&app, "bache", "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $1, 'owner' from producer where slug = 'ho-ba-che'")
        .bind(owner_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (buyer, _d1) = browser(390, 844).await;
    let code = buy(&buyer, &base, "cha-muc", "cod").await;
    sqlx::query("update shop_order set status = 'delivered' where order_group_id = (select order_group_id from order_group where code = $1)")
        .bind(&code)
        .execute(&app.pool)
        .await
        .unwrap();
    buyer.goto(&format!("{base}/orders/{code}")).await.unwrap();
    click(&buyer, ".review-form summary").await;
    click(&buyer, ".rating-choice input[value='5']").await;
    type_into(
        &buyer,
        ".review-form textarea",
        "Chả mực dai, thơm; giao nhanh.",
    )
    .await;
    let photo = std::env::temp_dir().join(format!("review-{}.png", app.db_name));
    image::RgbImage::from_pixel(120, 90, image::Rgb([220, 160, 60]))
        .save(&photo)
        .unwrap();
    let input = buyer
        .find(Locator::Css(".review-form input[name=photo1]"))
        .await
        .unwrap();
    input.send_keys(&photo.display().to_string()).await.unwrap();
    screenshot(&buyer, "journey-review-form").await;
    click(&buyer, ".review-form button[type=submit]").await;
    until_text(&buyer, "Đã lưu đánh giá").await;

    let (producer, _d2) = browser(390, 844).await;
    sign_in(
        &producer,
        &base,
        &format!("bache-{}@example.vn", app.db_name),
        PASSWORD,
    )
    .await;
    producer
        .goto(&format!("{base}/producer/reviews"))
        .await
        .unwrap();
    until_text(&producer, "Chả mực dai, thơm; giao nhanh.").await;
    type_into(
        &producer,
        "textarea[name=reply]",
        "Cảm ơn anh chị đã ủng hộ!",
    )
    .await;
    click(&producer, ".review-item button[type=submit]").await;
    until_text(&producer, "Đã đăng câu trả lời").await;
    screenshot(&producer, "journey-review-reply").await;

    buyer
        .goto(&format!("{base}/products/cha-muc#reviews"))
        .await
        .unwrap();
    let page = until_text(&buyer, "Cảm ơn anh chị đã ủng hộ!").await;
    assert!(
        page.contains("Đã mua hàng") && page.contains("★ 5,0"),
        "{page}"
    );
    let img = html_of(&buyer, ".review-photos").await;
    assert!(img.contains("/media/p/"), "the photo shows: {img}");
    let reviews = buyer.find(Locator::Css("#reviews")).await.unwrap();
    crate::browser::to_middle(&buyer, &reviews).await;
    screenshot(&buyer, "journey-review-shown").await;
}

/// axe-core finds no serious or critical WCAG 2.1 A/AA problem on the shop's pages, in
/// Vietnamese and in English, at phone size.
#[tokio::test]
async fn every_shop_page_passes_an_automated_accessibility_audit() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let base = format!("http://{}", app.addr);
    let (client, _driver) = browser(390, 844).await;
    // an order with a review form and a product with a review
    let code = buy(&client, &base, "cha-muc", "cod").await;
    sqlx::query("update shop_order set status = 'delivered' where order_group_id = (select order_group_id from order_group where code = $1)")
        .bind(&code)
        .execute(&app.pool)
        .await
        .unwrap();
    add_to_cart(&client, &base, "mien-dong").await;
    let mut problems = vec![];
    for lang in ["vi", "en"] {
        for path in [
            "/".to_string(),
            "/products".into(),
            "/products?province=22&sort=rating".into(),
            "/search?q=muc".into(),
            "/products/cha-muc".into(),
            "/producers/ho-ba-che".into(),
            "/cart".into(),
            "/checkout".into(),
            format!("/orders/{code}"),
            "/orders/lookup".into(),
            "/login".into(),
            "/signup".into(),
            "/chinh-sach-doi-tra".into(),
            "/khong-co-trang-nay".into(),
        ] {
            let sep = if path.contains('?') { '&' } else { '?' };
            client
                .goto(&format!("{base}{path}{sep}lang={lang}"))
                .await
                .unwrap();
            for v in crate::browser::accessibility_violations(&client).await {
                problems.push(format!("{path} ({lang}): {v}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "accessibility problems:\n{}",
        problems.join("\n")
    );
    // the audit sees what it should: a picture without a text alternative is caught
    client
        .execute(
            "document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/static/favicon.svg\">');",
            vec![],
        )
        .await
        .unwrap();
    let caught = crate::browser::accessibility_violations(&client).await;
    assert!(
        caught.iter().any(|v| v.starts_with("image-alt")),
        "{caught:?}"
    );
}
