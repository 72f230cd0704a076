//! The holes an attacker found (issue 14), each closed and shown through the real router: what a
//! rival producer, a careless staff member or a stranger on the internet can no longer do.

use crate::helpers::{
    Options, PASSWORD, TestApp, Visitor, confirm_link, csrf, load_fixture, messages, person,
};
use crate::orders::add;
use crate::payments::{ordered_of, sepay_body, sepay_request, sepay_signed};
use crate::portal::{certificate_of, create_product, register, submit_certificate, version_seen};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn location(a: &crate::helpers::Answer) -> String {
    a.headers
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// A guest's order of two producers' products (Quảng Ninh and Hà Nội); answers the shopper and
/// the code.
async fn two_producer_order<'a>(app: &'a TestApp, method: &str) -> (Visitor<'a>, String) {
    ordered_of(app, &["mien-dong", "banh-da-ke"], method).await
}

async fn order_of(app: &TestApp, code: &str, producer_slug: &str) -> i64 {
    sqlx::query_scalar(
        "select o.order_id from shop_order o join order_group g using (order_group_id)
         join producer pr using (producer_id) where g.code = $1 and pr.slug = $2",
    )
    .bind(code)
    .bind(producer_slug)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn status_of(app: &TestApp, order: i64) -> String {
    sqlx::query_scalar("select status from shop_order where order_id = $1")
        .bind(order)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn member_of<'a>(app: &'a TestApp, slug: &str, tag: &str) -> Visitor<'a> {
    let (v, uid) = person(app, tag, "producer", None).await;
    sqlx::query("insert into producer_member (producer_id, user_id, role) select producer_id, $2, 'owner' from producer where slug = $1")
        .bind(slug)
        .bind(uid)
        .execute(&app.pool)
        .await
        .unwrap();
    v
}

// ---------- 1. a producer reaches the shopper's side of an order ----------

#[tokio::test]
async fn a_producer_never_learns_the_shoppers_code_nor_opens_or_cancels_the_group_with_it() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (_shopper, code) = two_producer_order(&app, "cod").await;
    let hanoi_part = order_of(&app, &code, "cong-ty-ha-noi").await;
    let binhlieu_part = order_of(&app, &code, "htx-binh-lieu").await;
    let mut rival = member_of(&app, "cong-ty-ha-noi", "rival").await;
    let page = rival.get(&format!("/producer/orders/{hanoi_part}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("0912000111"), "the phone, to deliver");
    assert!(
        !page.body.contains(&code),
        "the group's code is the shopper's credential"
    );
    // even knowing code and phone (told by the shopper on the phone, say), a producer with a
    // part in the group is not the shopper
    let form = rival.get("/orders/lookup").await;
    let found = rival
        .post(
            "/orders/lookup",
            &[
                ("csrf", &csrf(&form)),
                ("code", &code),
                ("phone", "0912 000 111"),
            ],
        )
        .await;
    assert_eq!(found.status, StatusCode::NOT_FOUND, "{}", found.body);
    let group = rival.get(&format!("/orders/{code}")).await;
    assert_eq!(location(&group), "/orders/lookup");
    let cancel = rival
        .post(
            &format!("/orders/{code}/cancel"),
            &[
                ("csrf", &csrf(&form)),
                ("order_id", &binhlieu_part.to_string()),
            ],
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
    assert_eq!(status_of(&app, binhlieu_part).await, "placed");
    // staff neither
    let (mut staff, _) = person(&app, "staff-qn", "province_staff", Some(22)).await;
    let form = staff.get("/orders/lookup").await;
    let found = staff
        .post(
            "/orders/lookup",
            &[
                ("csrf", &csrf(&form)),
                ("code", &code),
                ("phone", "0912000111"),
            ],
        )
        .await;
    assert_eq!(found.status, StatusCode::NOT_FOUND);
    // the guest with code and phone still opens and cancels their order
    let mut guest = Visitor::new(&app);
    let form = guest.get("/orders/lookup").await;
    let found = guest
        .post(
            "/orders/lookup",
            &[
                ("csrf", &csrf(&form)),
                ("code", &code),
                ("phone", "0912000111"),
            ],
        )
        .await;
    assert_eq!(found.status, StatusCode::SEE_OTHER);
    let page = guest.get(&format!("/orders/{code}")).await;
    assert!(page.body.contains("Miến dong") && page.body.contains("Bánh đa"));
    // the order page offers cancelling as a link to a confirmation: its form holds the token
    let page = guest
        .get(&format!("/orders/{code}?cancel={binhlieu_part}"))
        .await;
    // the first press only asks; the confirmation cancels
    let ask = guest
        .post(
            &format!("/orders/{code}/cancel"),
            &[
                ("csrf", &csrf(&page)),
                ("order_id", &binhlieu_part.to_string()),
            ],
        )
        .await;
    assert_eq!(
        location(&ask),
        format!("/orders/{code}?cancel={binhlieu_part}#cancel-{binhlieu_part}")
    );
    assert_ne!(status_of(&app, binhlieu_part).await, "cancelled");
    let confirm = guest
        .get(&format!("/orders/{code}?cancel={binhlieu_part}"))
        .await;
    assert!(
        confirm.body.contains("Có, huỷ phần đơn này"),
        "{}",
        confirm.body
    );
    let cancel = guest
        .post(
            &format!("/orders/{code}/cancel"),
            &[
                ("csrf", &csrf(&page)),
                ("order_id", &binhlieu_part.to_string()),
                ("confirmed", "yes"),
            ],
        )
        .await;
    assert_eq!(cancel.status, StatusCode::SEE_OTHER, "{}", cancel.body);
    assert_eq!(status_of(&app, binhlieu_part).await, "cancelled");
}

// ---------- 2. province staff settle other provinces' money ----------

#[tokio::test]
async fn money_for_a_group_spanning_provinces_is_national_staffs_and_goes_through_the_state_machine()
 {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    let (_shopper, code) = two_producer_order(&app, "vietqr").await;
    let total: i64 = sqlx::query_scalar("select grand_total from order_group where code = $1")
        .bind(&code)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let short = sepay_body(7001, &code, total - 10_000);
    let answer = app
        .send(sepay_request(&short, &sepay_signed(&short, now())))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let event: i64 = sqlx::query_scalar(
        "select payment_event_id from payment_event where outcome = 'review' order by payment_event_id desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (mut qn, _) = person(&app, "staff-qn", "province_staff", Some(22)).await;
    let queue = qn.get("/staff/payments").await;
    assert!(
        queue.body.contains("cán bộ trung ương xử lý"),
        "{}",
        queue.body
    );
    let page = qn.get("/account").await;
    let refused = qn
        .post(
            &format!("/staff/payments/{event}/resolve"),
            &[
                ("csrf", &csrf(&page)),
                ("resolution", "applied"),
                ("note", "khách gọi điện xác nhận"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let hn_part = order_of(&app, &code, "cong-ty-ha-noi").await;
    assert_eq!(status_of(&app, hn_part).await, "pending_payment");

    let (mut national, _) = person(&app, "staff-tw", "national_staff", None).await;
    let page = national.get("/account").await;
    let applied = national
        .post(
            &format!("/staff/payments/{event}/resolve"),
            &[
                ("csrf", &csrf(&page)),
                ("resolution", "applied"),
                ("note", "khách gọi điện xác nhận"),
            ],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER, "{}", applied.body);
    let timeline: Vec<(String, String)> = sqlx::query_as(
        "select e.actor, e.to_status from order_event e join shop_order o using (order_id)
         join order_group g using (order_group_id) where g.code = $1 and e.to_status = 'paid'",
    )
    .bind(&code)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(timeline, vec![("staff".into(), "paid".into()); 2]);
    let recorded: i64 = sqlx::query_scalar(
        "select p.amount from payment p join order_group g using (order_group_id) where g.code = $1 and p.status = 'paid'",
    )
    .bind(&code)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(recorded, total - 10_000, "what arrived, not what was due");

    // money whose amount nobody stated is never recorded as 1 đồng
    let (_other, code2) = two_producer_order(&app, "vietqr").await;
    let unknown: i64 = sqlx::query_scalar(
        "insert into payment_event (provider, headers, body, verified, order_group_id, outcome, review_reason)
         select 'sepay', '{}', '{}', true, order_group_id, 'review', 'unknown_amount' from order_group where code = $1
         returning payment_event_id",
    )
    .bind(&code2)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let refused = national
        .post(
            &format!("/staff/payments/{unknown}/resolve"),
            &[
                ("csrf", &csrf(&page)),
                ("resolution", "applied"),
                ("note", "không rõ số tiền"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("Không rõ số tiền"),
        "{}",
        refused.body
    );
    let payments: i64 = sqlx::query_scalar(
        "select count(*) from payment p join order_group g using (order_group_id) where g.code = $1 and p.status = 'paid'",
    )
    .bind(&code2)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(payments, 0);
}

// ---------- 3. open redirect after log-in ----------

#[tokio::test]
async fn log_in_never_sends_anyone_off_site_whatever_hides_in_next() {
    let app = TestApp::new().await;
    let (_, _) = person(&app, "lan", "shopper", None).await;
    let email = format!("lan-{}@example.vn", app.db_name);
    for (next, expected) in [
        ("/%09/evil.example", "/account"),
        ("/\t/evil.example", "/account"),
        ("/%0d%0a/evil.example", "/account"),
        ("/\r\n/evil.example", "/account"),
        ("/%5Cevil.example", "/account"),
        ("/\\evil.example", "/account"),
        ("//evil.example", "/account"),
        ("https://evil.example", "/account"),
        ("/ /evil.example", "/account"),
        ("/products?sector=food", "/products?sector=food"),
    ] {
        let mut v = Visitor::new(&app);
        let form = v.get("/login").await;
        let done = v
            .post(
                "/login",
                &[
                    ("csrf", &csrf(&form)),
                    ("login", &email),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location(&done), expected, "next = {next:?}");
    }
}

/// Signing in from a page comes back to that page (this site's pages only, never the forms).
#[tokio::test]
async fn signing_in_comes_back_to_the_page_it_started_from_and_nowhere_else() {
    let app = TestApp::new().await;
    for (referer, next) in [
        (
            "http://ocop.example.vn/products/cha-muc",
            Some("/products/cha-muc"),
        ),
        ("https://ocop.example.vn/cart?to=1", Some("/cart?to=1")),
        ("https://evil.example/products/cha-muc", None),
        ("https://ocop.example.vn.evil.example/x", None),
        ("https://ocop.example.vn/signup", None),
        ("https://ocop.example.vn//evil.example", None),
    ] {
        let page = app
            .send(
                axum::http::Request::get("/login")
                    .header("host", "ocop.example.vn")
                    .header("referer", referer)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        match next {
            Some(n) => assert!(
                page.body
                    .contains(&format!(r#"<input type="hidden" name="next" value="{n}">"#)),
                "{referer}: {}",
                page.body
            ),
            None => assert!(!page.body.contains(r#"name="next""#), "{referer}"),
        }
    }
}

// ---------- 4. filling the database through the webhooks ----------

#[tokio::test]
async fn junk_callbacks_are_capped_kept_only_as_prefix_and_hash_and_purged_after_retention() {
    let app = TestApp::new().await;
    let events = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from payment_event")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    let huge = "x".repeat(1_500_000);
    for path in [
        "/payments/sepay/webhook",
        "/payments/casso/webhook",
        "/payments/momo/ipn",
        "/payments/stripe/webhook",
    ] {
        let answer = app
            .send(
                Request::post(path)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(huge.clone()))
                    .unwrap(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    let long_query = format!("/payments/vnpay/ipn?vnp_TxnRef={}", "1".repeat(10_000));
    assert_eq!(app.get(&long_query).await.status, StatusCode::URI_TOO_LONG);
    assert_eq!(events().await, 0, "nothing of it stored");

    let junk = format!("{{\"id\": 1, \"junk\": \"{}\"}}", "y".repeat(10_000));
    let answer = app.send(sepay_request(&junk, &[])).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let (body, bytes, hash): (String, i32, String) = sqlx::query_as(
        "select body, body_bytes, body_sha256 from payment_event where outcome = 'rejected'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(body.len(), 2048, "a bounded prefix");
    assert_eq!(bytes as usize, junk.len());
    assert_eq!(hash, ocop_market::crypto::sha256_hex(junk.as_bytes()));
    // past the retention period a refused event goes; an accepted one stays
    sqlx::query("update payment_event set received_at = now() - interval '31 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("insert into payment_event (provider, headers, body, verified, outcome, received_at) values ('sepay', '{}', '{}', true, 'ignored', now() - interval '400 days')")
        .execute(&app.pool)
        .await
        .unwrap();
    ocop_market::app::housekeeping_once(&app.state, std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    let left: Vec<String> = sqlx::query_scalar("select outcome from payment_event")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, vec!["ignored".to_string()]);
}

// ---------- 5. filling Redis ----------

fn cookie_value(v: &Visitor<'_>, name: &str) -> Option<String> {
    v.cookie
        .as_deref()?
        .split("; ")
        .find_map(|p| p.strip_prefix(&format!("{name}=")).map(str::to_string))
}

async fn redis_has(app: &TestApp, key: &str) -> bool {
    let mut redis = app.state.redis.clone();
    redis::cmd("EXISTS")
        .arg(key)
        .query_async::<i64>(&mut redis)
        .await
        .unwrap()
        == 1
}

#[tokio::test]
async fn looking_at_forms_stores_no_session_and_carts_take_only_listed_products_within_limits() {
    let app = TestApp::new().await;
    load_fixture(&app).await;
    for path in ["/login", "/signup", "/orders/lookup", "/password/forgot"] {
        let mut v = Visitor::new(&app);
        let page = v.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let id = cookie_value(&v, "ocop_sid").expect("a session cookie for the form's token");
        assert!(
            !redis_has(
                &app,
                &format!("ocop:{}:session:{id}", app.state.config.redis_namespace())
            )
            .await,
            "{path}: a session that holds nothing is not stored"
        );
    }
    // the form still works with the token it was given, and a signed-in session is stored
    let (signed_in, _) = person(&app, "lan", "shopper", None).await;
    let id = cookie_value(&signed_in, "ocop_sid").expect("a session cookie");
    assert!(
        redis_has(
            &app,
            &format!("ocop:{}:session:{id}", app.state.config.redis_namespace())
        )
        .await
    );

    // made-up product ids never become cart lines
    let mut v = Visitor::new(&app);
    add(&mut v, "mien-dong", 1).await;
    let cart_id = cookie_value(&v, "ocop_cart").unwrap();
    let cart_key = format!(
        "ocop:{}:cart:a:{}",
        app.state.config.redis_namespace(),
        cart_id.split('.').next().unwrap()
    );
    for id in 900_000..900_020 {
        let answer = v
            .post(
                "/cart/update",
                &[("product", &id.to_string()), ("qty", "3")],
            )
            .await;
        assert_ne!(answer.status, StatusCode::OK, "product {id}");
    }
    let mut redis = app.state.redis.clone();
    let lines: i64 = redis::cmd("HLEN")
        .arg(&cart_key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(lines, 1, "only the real product");

    // at most MAX_LINES different products
    for i in 0..ocop_market::cart::MAX_LINES {
        sqlx::query(
            "with p as (insert into product (producer_id, slug, name, sector, price_vnd, stock, unit)
                 select producer_id, 'them-' || $1, 'Thêm ' || $1, 'food', 10000, 5, 'gói' from producer where slug = 'ho-ba-che'
                 returning product_id)
             insert into certificate (product_id, stars, awarding_level, decision_number, issued_on, expires_on)
             select product_id, 3, 'provincial', '9/QĐ', current_date - 10, current_date + 900 from p",
        )
        .bind(i as i32)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    app.refresh().await;
    let mut full = Visitor::new(&app);
    for i in 0..ocop_market::cart::MAX_LINES {
        let a = add(&mut full, &format!("them-{i}"), 1).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    }
    let over = add(&mut full, "mien-dong", 1).await;
    assert_eq!(over.status, StatusCode::BAD_REQUEST);
    assert!(over.body.contains("tối đa"), "{}", over.body);

    // cart writes per client are rate-limited
    let mut busy = Visitor::new(&app);
    let mut limited = None;
    for n in 0..200 {
        let a = add(&mut busy, "mien-dong", 1).await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(n);
            break;
        }
    }
    assert_eq!(limited, Some(120), "CART_WRITES_PER_MINUTE");
}

// ---------- 6. an unapproved producer fills the disk ----------

#[tokio::test]
async fn a_pending_producer_uploads_only_what_approval_needs_and_replaced_scans_leave_the_disk() {
    let app = TestApp::new().await;
    let (mut owner, _) = person(&app, "owner", "shopper", None).await;
    register(&mut owner, "HTX Thử Tải Lên", 22).await;
    let product = create_product(&mut owner, "Mật ong thử", None).await;
    let quota = ocop_market::media::PENDING_QUOTA.files;
    for n in 0..quota {
        let a = submit_certificate(&mut owner, product, "77/QĐ-UBND").await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "upload {n}: {}", a.body);
    }
    let refused = submit_certificate(&mut owner, product, "77/QĐ-UBND").await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the form again, with the reason"
    );
    assert!(refused.body.contains("chờ phê duyệt"), "{}", refused.body);
    let scans = app.state.config.media_dir.join("private").join("scans");
    let on_disk = || std::fs::read_dir(&scans).map(|d| d.count()).unwrap_or(0);
    assert_eq!(on_disk(), quota as usize);
    // every replaced scan is an orphan; the sweeper removes them and keeps the current one
    ocop_market::app::housekeeping_once(&app.state, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(on_disk(), 1);
    let cert = certificate_of(&app, product).await;
    let scan = owner
        .get(&format!("/producer/certificates/{cert}/scan"))
        .await;
    assert_eq!(scan.status, StatusCode::OK);
}

// ---------- 7. old sessions after a password reset ----------

async fn signed_in<'a>(app: &'a TestApp, email: &str, password: &str) -> Visitor<'a> {
    let mut v = Visitor::new(app);
    let done = v.sign_in(email, password).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    v
}

#[tokio::test]
async fn a_reset_a_change_or_a_disabled_account_ends_every_other_session() {
    let app = TestApp::new().await;
    let (mut first, _) = person(&app, "lan", "shopper", None).await;
    let email = format!("lan-{}@example.vn", app.db_name);
    let mut second = signed_in(&app, &email, PASSWORD).await;
    assert_eq!(second.get("/account").await.status, StatusCode::OK);
    // a change keeps the session that made it and ends the others
    let page = first.get("/account").await;
    let changed = first
        .post(
            "/account/password",
            &[
                ("csrf", &csrf(&page)),
                ("current", PASSWORD),
                ("password", "mật khẩu mới hơn"),
                ("password_confirm", "mật khẩu mới hơn"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert_eq!(first.get("/account").await.status, StatusCode::OK);
    assert_eq!(second.get("/account").await.status, StatusCode::SEE_OTHER);

    // a reset ends all of them
    let mut third = signed_in(&app, &email, "mật khẩu mới hơn").await;
    let mut forgetful = Visitor::new(&app);
    let form = forgetful.get("/password/forgot").await;
    forgetful
        .post(
            "/password/forgot",
            &[("csrf", &csrf(&form)), ("login", &email)],
        )
        .await;
    let mail = messages(&app).pop().unwrap();
    let at = mail.find("/password/reset?token=").unwrap();
    let path = mail[at..at + 22 + 64].to_string();
    let page = forgetful.get(&path).await;
    let token = path.rsplit('=').next().unwrap();
    let reset = forgetful
        .post(
            "/password/reset",
            &[
                ("csrf", &csrf(&page)),
                ("token", token),
                ("password", "mật khẩu thứ ba"),
                ("password_confirm", "mật khẩu thứ ba"),
            ],
        )
        .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
    assert_eq!(first.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_eq!(third.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_eq!(forgetful.get("/account").await.status, StatusCode::OK);

    // an admin disables the account: every session ends and log-in is refused
    let (mut admin, _) = person(&app, "admin", "admin", None).await;
    let page = admin.get("/staff/users").await;
    let off = admin
        .post(
            "/staff/users/disable",
            &[
                ("csrf", &csrf(&page)),
                ("login", &email),
                ("reason", "tài khoản bị chiếm"),
            ],
        )
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER, "{}", off.body);
    assert_eq!(
        forgetful.get("/account").await.status,
        StatusCode::SEE_OTHER
    );
    let mut again = Visitor::new(&app);
    assert_eq!(
        again.sign_in(&email, "mật khẩu thứ ba").await.status,
        StatusCode::UNAUTHORIZED
    );
}

// ---------- 8. locking any account out ----------

#[tokio::test]
async fn six_wrong_passwords_from_one_address_do_not_lock_the_owner_out_from_another() {
    let app = TestApp::new().await;
    let (_, _) = person(&app, "lan", "shopper", None).await;
    let email = format!("lan-{}@example.vn", app.db_name);
    let mut attacker = Visitor::new(&app);
    let mut last = StatusCode::OK;
    for _ in 0..6 {
        last = attacker.sign_in(&email, "đoán mò 123").await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "the guesser is slowed");
    let mut owner = Visitor::new(&app);
    owner.ip = "10.250.1.2".into();
    assert_eq!(
        owner.sign_in(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER,
        "the owner, elsewhere, gets in"
    );
}

// ---------- 9. sign-up as an oracle ----------

#[tokio::test]
async fn sign_up_answers_a_taken_login_like_a_new_one_and_is_limited_per_address() {
    let app = TestApp::new().await;
    let (_, _) = person(&app, "lan", "shopper", None).await;
    let taken = format!("lan-{}@example.vn", app.db_name);
    let fresh = format!("moi-{}@example.vn", app.db_name);
    let mut v = Visitor::new(&app);
    let form = v.get("/signup").await;
    let post = |login: String| {
        let token = csrf(&form);
        async move {
            (
                login.clone(),
                [
                    ("csrf".to_string(), token),
                    ("display_name".into(), "Lan".into()),
                    ("login".into(), login),
                    ("password".into(), "mật khẩu dài".into()),
                    ("password_confirm".into(), "mật khẩu dài".into()),
                ],
            )
        }
    };
    let mut bodies = vec![];
    for login in [taken.clone(), fresh.clone()] {
        let (login, fields) = post(login).await;
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let a = v.post("/signup", &refs).await;
        assert_eq!(a.status, StatusCode::OK);
        bodies.push(a.body.replace(&login, "LOGIN"));
    }
    assert_eq!(
        bodies[0], bodies[1],
        "the page does not tell which login is taken"
    );
    let users: i64 = sqlx::query_scalar("select count(*) from app_user")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 1, "nothing is created before the link is followed");
    assert!(confirm_link(&app).is_some());
    // each sign-up costs a hash: ten an hour from one address
    let mut limited = false;
    for n in 0..12 {
        let (_, fields) = post(format!("so{n}-{}@example.vn", app.db_name)).await;
        let refs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if v.post("/signup", &refs).await.status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            assert_eq!(n, 8, "two were used above");
            break;
        }
    }
    assert!(limited);
}

// ---------- 10. CSV formula injection ----------

#[tokio::test]
async fn a_product_named_like_a_formula_comes_out_of_the_dashboard_csv_as_text() {
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(|c| c.stats_from_orders = true)),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    sqlx::query("update product set name = '=HYPERLINK(\"http://x\")' where slug = 'mien-dong'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.refresh().await;
    let (_shopper, code) = two_producer_order(&app, "cod").await;
    // sold: delivered and paid in cash
    sqlx::query("update shop_order set status = 'delivered' where order_group_id = (select order_group_id from order_group where code = $1)")
        .bind(&code)
        .execute(&app.pool)
        .await
        .unwrap();
    let (mut national, _) = person(&app, "tw", "national_staff", None).await;
    let csv = national
        .get("/staff/dashboard.csv?table=product&period=7d")
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert!(csv.body.contains("'=HYPERLINK"), "{}", csv.body);
    assert!(
        !csv.body
            .lines()
            .any(|l| l.starts_with("=") || l.starts_with("\"=")),
        "{}",
        csv.body
    );
}

// ---------- 11. certified data changed after staff checked it ----------

/// The producer saves its product under a new name, everything else as `create_product` made it.
async fn rename(owner: &mut Visitor<'_>, product: i64, name: &str) -> crate::helpers::Answer {
    let page = owner.get(&format!("/producer/products/{product}")).await;
    let token = csrf(&page);
    let fields = [
        ("csrf", token.as_str()),
        ("name", name),
        ("sector", "food"),
        ("price", "185.000"),
        ("unit", "hũ"),
        ("story", "Mật ong hoa bạc hà."),
    ];
    owner
        .post_multipart(&format!("/producer/products/{product}"), &fields, &[])
        .await
}

/// Staff press "Xác nhận đúng" on the certificates page they are looking at.
async fn verify(
    staff: &mut Visitor<'_>,
    seen: &crate::helpers::Answer,
    cert: i64,
) -> crate::helpers::Answer {
    staff
        .post(
            &format!("/staff/certificates/{cert}/verify"),
            &[
                ("csrf", &csrf(seen)),
                ("version", &version_seen(seen, cert)),
            ],
        )
        .await
}

#[tokio::test]
async fn staff_verify_only_what_they_saw_and_a_renamed_certified_product_is_checked_again() {
    let app = TestApp::new().await;
    let (mut owner, _) = person(&app, "owner", "shopper", None).await;
    let producer = register(&mut owner, "HTX Phiên Bản", 22).await;
    let product = create_product(&mut owner, "Mật ong phiên bản", None).await;
    submit_certificate(&mut owner, product, "88/QĐ-UBND").await;
    sqlx::query("update producer set status = 'approved' where producer_id = $1")
        .bind(producer)
        .execute(&app.pool)
        .await
        .unwrap();
    let cert = certificate_of(&app, product).await;
    let (mut staff, _) = person(&app, "staff-qn", "province_staff", Some(22)).await;
    let seen = staff.get("/staff/certificates").await;
    // the producer renames the product meanwhile
    let saved = rename(&mut owner, product, "Mật ong đổi tên").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let stale = verify(&mut staff, &seen, cert).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    let verification = || async {
        sqlx::query_scalar::<_, String>(
            "select verification from certificate where certificate_id = $1",
        )
        .bind(cert)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    assert_eq!(verification().await, "pending");
    let fresh = staff.get("/staff/certificates").await;
    assert!(fresh.body.contains("Mật ong đổi tên"));
    let ok = verify(&mut staff, &fresh, cert).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(verification().await, "verified");
    // once certified, a new name goes back to staff
    let saved = rename(&mut owner, product, "Tên khác hẳn").await;
    assert!(
        location(&saved).ends_with("ok=recheck"),
        "{}",
        location(&saved)
    );
    assert_eq!(verification().await, "pending");
}

// ---------- 12. browser protections ----------

#[tokio::test]
async fn every_page_forbids_inline_script_and_framing_and_asks_for_https() {
    let app = TestApp::custom(Options {
        tweak: Some(Box::new(|c| c.metrics_token = Some("m".repeat(32)))),
        ..Options::default()
    })
    .await;
    load_fixture(&app).await;
    for path in [
        "/",
        "/products",
        "/products/mien-dong",
        "/cart",
        "/login",
        "/nothing-here",
    ] {
        let page = app.get(path).await;
        let csp = page
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(page.headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
        assert!(
            page.headers
                .get(header::STRICT_TRANSPORT_SECURITY)
                .is_some(),
            "PUBLIC_URL is https"
        );
        for tag in page.body.split("<script").skip(1) {
            // structured data for search engines is a data block: never run, not governed by CSP
            assert!(
                tag.trim_start().starts_with("src=")
                    || tag
                        .trim_start()
                        .starts_with("type=\"application/ld+json\">"),
                "{path}: inline script"
            );
        }
        assert!(
            !page.body.contains(" onchange=") && !page.body.contains(" onclick="),
            "{path}"
        );
    }
    let metrics = |token: String| {
        Request::get("/metrics")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        app.send(metrics("m".repeat(32))).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(metrics("n".repeat(32))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

// ---------- 13. the sandbox as a signing oracle ----------

#[tokio::test]
async fn the_sandbox_refuses_real_secrets_and_sends_shoppers_only_to_this_site() {
    let db = TestApp::fresh_database().await;
    let mut config = {
        let app = TestApp::custom(Options {
            database: Some(db.clone()),
            serve: false,
            ..Options::default()
        })
        .await;
        (*app.state.config).clone()
    };
    config.vnpay_hash_secret = Some("A REAL SECRET".into());
    let refused = ocop_market::app::Application::build(config).await;
    let error = refused.err().expect("refused").to_string();
    assert!(
        error.contains("VNPAY_HASH_SECRET") && !error.contains("A REAL SECRET"),
        "{error}"
    );

    let app = TestApp::new().await;
    let mut v = Visitor::new(&app);
    let back = v
        .post(
            "/sandbox/vnpay",
            &[
                ("choice", "lost"),
                ("vnp_Amount", "10000000"),
                ("vnp_TxnRef", "NOPE1"),
                ("vnp_OrderInfo", "x"),
                ("vnp_ReturnUrl", "https://evil.example/steal"),
            ],
        )
        .await;
    let to = location(&back);
    assert!(to.starts_with("/?") && !to.contains("evil"), "{to}");

    // behind a trusted proxy the address is the one the proxy appended, not the client's claim
    let (_, _) = person(&app, "lan", "shopper", None).await;
    let email = format!("lan-{}@example.vn", app.db_name);
    let mut limited = false;
    for n in 0..25 {
        let mut liar = Visitor::new(&app);
        liar.ip = format!("1.2.3.{n}, 10.77.77.77");
        let form = liar.get("/login").await;
        let a = liar
            .post(
                "/login",
                &[
                    ("csrf", &csrf(&form)),
                    ("login", &format!("x{n}{email}")),
                    ("password", "sai"),
                ],
            )
            .await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(
        limited,
        "20 attempts per address, whatever the client claims before it"
    );
}

// ---------- 14. invitations as a spam relay ----------

#[tokio::test]
async fn a_pending_producer_cannot_invite_and_invitations_are_limited_per_day() {
    let app = TestApp::new().await;
    let (mut owner, _) = person(&app, "owner", "shopper", None).await;
    let producer = register(&mut owner, "HTX Mời Mọc", 22).await;
    let invite = |n: usize| format!("khach{n}-{}@example.vn", app.db_name);
    let page = owner.get("/producer/members").await;
    let refused = owner
        .post(
            "/producer/members/invite",
            &[("csrf", &csrf(&page)), ("login", &invite(0))],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("phê duyệt"), "{}", refused.body);
    assert!(messages(&app).iter().all(|m| !m.contains(&invite(0))));
    sqlx::query("update producer set status = 'approved' where producer_id = $1")
        .bind(producer)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut sent = 0;
    for n in 1..=12 {
        let a = owner
            .post(
                "/producer/members/invite",
                &[("csrf", &csrf(&page)), ("login", &invite(n))],
            )
            .await;
        if a.status == StatusCode::OK {
            sent += 1;
        } else {
            assert!(a.body.contains("24 giờ"), "{}", a.body);
        }
    }
    assert_eq!(sent, 10);
}

/// Two marketplaces sharing one Redis (staging beside production) keep their sessions, carts
/// and one-time links apart: a session cookie from one is nobody on the other, even for the
/// account with the same number, and an account's cart on one is not the other's.
#[tokio::test]
async fn a_session_or_cart_from_another_marketplace_on_the_same_redis_is_not_honoured() {
    let staging = TestApp::new().await;
    let production = TestApp::new().await;
    load_fixture(&staging).await;
    load_fixture(&production).await;
    let (mut there, id_there) = person(&staging, "cung-so", "shopper", None).await;
    let (mut here, id_here) = person(&production, "cung-so", "shopper", None).await;
    assert_eq!(id_there, id_here, "the same account number on both");
    assert_eq!(there.get("/account").await.status, StatusCode::OK);
    crate::orders::add(&mut there, "mien-dong", 3).await;
    // the staging cookie presented to production
    let mut copied = Visitor::new(&production);
    copied.cookie = there.cookie.clone();
    let answer = copied.get("/account").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "not signed in");
    // production's own holder of that account number has an empty cart
    let cart = here.get("/cart").await;
    assert!(!cart.body.contains("Miến dong"), "{}", cart.body);
    assert!(there.get("/cart").await.body.contains("Miến dong"));
}
