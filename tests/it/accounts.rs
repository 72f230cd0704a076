//! Accounts and sessions, as a browser would use them: cookies, forms, CSRF tokens.

use crate::helpers::{TestApp, Visitor, csrf, messages, sign_up};
use axum::http::{StatusCode, header};

fn unique_email(app: &TestApp) -> String {
    format!("{}@example.vn", app.db_name)
}

async fn users(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from app_user")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn signing_up_logs_in_with_a_new_session_and_logging_out_ends_it() {
    let app = TestApp::new().await;
    let mut v = Visitor::new(&app);
    let form = v.get("/signup").await;
    assert_eq!(form.status, StatusCode::OK);
    let set = form
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let anonymous = v.cookie.clone().unwrap();
    let email = unique_email(&app);
    let done = sign_up(
        &mut v,
        &csrf(&form),
        "Nguyễn Thị Lan",
        &email,
        "mật khẩu dài",
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_ne!(
        v.cookie.as_ref().unwrap(),
        &anonymous,
        "the session id changes at login"
    );
    let hash: String = sqlx::query_scalar("select password_hash from app_user where email = $1")
        .bind(&email)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));

    let account = v.get("/account").await;
    assert!(
        account.body.contains("Xin chào, Nguyễn Thị Lan"),
        "{}",
        account.body
    );
    // the old, anonymous cookie is worth nothing now
    let mut stranger = Visitor::new(&app);
    stranger.cookie = Some(anonymous);
    assert_eq!(stranger.get("/account").await.status, StatusCode::SEE_OTHER);

    let out = v.post("/logout", &[("csrf", &csrf(&account))]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = v.get("/account").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.headers.get(header::LOCATION).unwrap(), "/login");

    // and back in with the phone-or-email form
    let form = v.get("/login").await;
    let back = v
        .post(
            "/login",
            &[
                ("csrf", &csrf(&form)),
                ("login", &email.to_uppercase()),
                ("password", "mật khẩu dài"),
                ("next", "/products"),
            ],
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(back.headers.get(header::LOCATION).unwrap(), "/products");
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::new().await;
    let mut v = Visitor::new(&app);
    let form = v.get("/signup").await;
    let fields = |token: &str| {
        vec![
            ("csrf", token.to_string()),
            ("display_name", "Lan".into()),
            ("login", unique_email(&app)),
            ("password", "mật khẩu dài".into()),
            ("password_confirm", "mật khẩu dài".into()),
        ]
    };
    for token in ["", "0".repeat(64).as_str(), &csrf(&form)[..63]] {
        let f = fields(token);
        let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = v.post("/signup", &refs).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "token {token:?}");
        assert!(answer.body.contains("chưa có gì thay đổi"));
    }
    // a token from another visitor's session does not do either
    let mut other = Visitor::new(&app);
    let f = fields(&csrf(&form));
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        other.post("/signup", &refs).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(users(&app).await, 0);
}

#[tokio::test]
async fn each_rule_has_a_clear_message_and_the_form_keeps_what_was_typed() {
    let app = TestApp::new().await;
    let mut v = Visitor::new(&app);
    let form = v.get("/signup").await;
    let token = csrf(&form);
    let cases = [
        (
            ("", "0912345678", "mật khẩu dài", "mật khẩu dài"),
            "Hãy cho biết tên của bạn.",
        ),
        (
            ("Lan", "0212345678", "mật khẩu dài", "mật khẩu dài"),
            "Số điện thoại di động không hợp lệ",
        ),
        (
            ("Lan", "lan@", "mật khẩu dài", "mật khẩu dài"),
            "Email không hợp lệ",
        ),
        (
            ("Lan", "0912345678", "ngan", "ngan"),
            "Mật khẩu cần ít nhất 8 ký tự.",
        ),
        (
            ("Lan", "0912345678", "0912345678", "0912345678"),
            "Mật khẩu không được trùng với email hoặc số điện thoại.",
        ),
        (
            ("Lan", "0912345678", "mật khẩu dài", "mật khẩu khác"),
            "Hai lần nhập mật khẩu không khớp.",
        ),
    ];
    for ((name, login, password, confirm), message) in cases {
        let answer = v
            .post(
                "/signup",
                &[
                    ("csrf", &token),
                    ("display_name", name),
                    ("login", login),
                    ("password", password),
                    ("password_confirm", confirm),
                ],
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(answer.body.contains(message), "expected {message:?}");
        assert!(
            answer.body.contains(&format!("value=\"{login}\"")),
            "keeps the login typed"
        );
        // no password input is ever filled in again
        for input in answer
            .body
            .split("<input")
            .skip(1)
            .map(|i| &i[..i.find('>').unwrap()])
        {
            if input.contains("type=\"password\"") {
                assert!(!input.contains("value="), "a password was echoed: {input}");
            }
        }
        assert!(
            answer.body.contains("aria-invalid=\"true\""),
            "points at the field"
        );
    }
    assert_eq!(users(&app).await, 0);
    // the same account twice is told apart only in the message sent to its owner
    let done = sign_up(&mut v, &token, "Lan", "+84 912 345 678", "mật khẩu dài").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let mut w = Visitor::new(&app);
    let form = w.get("/signup").await;
    let token = csrf(&form);
    let again = [
        ("csrf", token.as_str()),
        ("display_name", "Lan"),
        ("login", "0912345678"),
        ("password", "mật khẩu dài"),
        ("password_confirm", "mật khẩu dài"),
    ];
    let answer = w.post("/signup", &again).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.body.contains("đường dẫn xác nhận"),
        "{}",
        answer.body
    );
    assert_eq!(users(&app).await, 1);
    let last = messages(&app).pop().unwrap();
    assert!(last.contains("bạn đã có tài khoản"), "{last}");
}

#[tokio::test]
async fn log_ins_are_rate_limited_per_account_with_a_clear_wait() {
    let app = TestApp::new().await;
    let mut owner = Visitor::new(&app);
    let form = owner.get("/signup").await;
    let email = unique_email(&app);
    sign_up(&mut owner, &csrf(&form), "Lan", &email, "mật khẩu dài").await;

    let mut attacker = Visitor::new(&app);
    let form = attacker.get("/login").await;
    let token = csrf(&form);
    for _ in 0..5 {
        let wrong = attacker
            .post(
                "/login",
                &[
                    ("csrf", &token),
                    ("login", &email),
                    ("password", "đoán mò 123"),
                ],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("không đúng"));
    }
    let blocked = attacker
        .post(
            "/login",
            &[
                ("csrf", &token),
                ("login", &email),
                ("password", "mật khẩu dài"),
            ],
        )
        .await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(
        blocked.body.contains("Vui lòng thử lại sau 15 phút"),
        "{}",
        blocked.body
    );
    assert!(blocked.headers.get(header::RETRY_AFTER).is_some());
}

#[tokio::test]
async fn a_reset_link_is_mailed_works_once_and_the_old_password_stops_working() {
    let app = TestApp::new().await;
    let email = unique_email(&app);
    let mut v = Visitor::new(&app);
    let form = v.get("/signup").await;
    sign_up(&mut v, &csrf(&form), "Lan", &email, "mật khẩu cũ").await;

    let mut forgetful = Visitor::new(&app);
    let form = forgetful.get("/password/forgot").await;
    let sent = forgetful
        .post(
            "/password/forgot",
            &[("csrf", &csrf(&form)), ("login", &email)],
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(sent.body.contains("chúng tôi vừa gửi đường dẫn"));
    let mail = messages(&app).pop().expect("a mail was written");
    assert!(mail.starts_with(&format!("To: {email}")));
    let link = mail
        .split_whitespace()
        .find(|w| w.starts_with("https://ocop.example.vn/password/reset?token="))
        .expect("link in the mail");
    let path = link.trim_start_matches("https://ocop.example.vn");

    let page = forgetful.get(path).await;
    assert_eq!(page.status, StatusCode::OK);
    let token = path.rsplit('=').next().unwrap();
    // a mistake keeps the link usable
    let short = forgetful
        .post(
            "/password/reset",
            &[
                ("csrf", &csrf(&page)),
                ("token", token),
                ("password", "ngan"),
                ("password_confirm", "ngan"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.body.contains("Mật khẩu cần ít nhất 8 ký tự."));
    let done = forgetful
        .post(
            "/password/reset",
            &[
                ("csrf", &csrf(&page)),
                ("token", token),
                ("password", "mật khẩu mới"),
                ("password_confirm", "mật khẩu mới"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(
        forgetful
            .get("/account")
            .await
            .body
            .contains("Xin chào, Lan"),
        "signed in after the reset"
    );

    // once only
    let again = forgetful.get(path).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("đã hết hạn hoặc đã được dùng"));

    let mut someone = Visitor::new(&app);
    let old = someone.sign_in(&email, "mật khẩu cũ").await;
    assert_eq!(
        old.status,
        StatusCode::UNAUTHORIZED,
        "the old password no longer works"
    );
    let new = someone.sign_in(&email, "mật khẩu mới").await;
    assert_eq!(new.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn asking_for_a_reset_does_not_tell_who_has_an_account() {
    let app = TestApp::new().await;
    // unique per run: Redis keeps rate-limit counters between test runs
    let nobody = format!("khong-co-ai-{}@example.vn", app.db_name);
    let mut v = Visitor::new(&app);
    let form = v.get("/password/forgot").await;
    let answer = v
        .post(
            "/password/forgot",
            &[("csrf", &csrf(&form)), ("login", &nobody)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.contains("Nếu có tài khoản với email này"));
    assert!(
        messages(&app).is_empty(),
        "nothing is sent to an address without an account"
    );
    let forged = v
        .get(&format!("/password/reset?token={}", "ab".repeat(32)))
        .await;
    assert_eq!(forged.status, StatusCode::GONE);
}
