//! `/signup`, `/login`, `/logout`, `/account`.

use super::identity::{Login, check_new_password, hash_password, verify_password};
use super::session::{Session, clear_rate_limit, rate_limit};
use super::{ClientIp, CurrentUser};
use crate::crypto::random_token;
use crate::error::AppError;
use crate::render::render_page;
use crate::state::AppState;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Router, routing::post};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signup", get(signup_page).post(signup))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/signup/confirm", get(confirm_signup))
        .route("/account", get(account))
        .route("/account/password", post(change_password))
        .merge(super::reset::router())
}

/// Log-in attempts allowed per window: per address, per (account, address) pair, and a slower
/// budget per account from everywhere. A stranger who guesses wrong six times locks out only
/// their own address, never the owner typing from another one.
const PER_IP: u32 = 20;
const PER_PAIR: u32 = 5;
const WINDOW_SECS: u64 = 15 * 60;
const PER_ACCOUNT: u32 = 100;
const ACCOUNT_WINDOW_SECS: u64 = 60 * 60;
/// Sign-ups (each costs an argon2 hash) per address per hour.
const SIGNUPS_PER_IP: u32 = 10;
const SIGNUP_LINK_MINUTES: u64 = 60;

/// A page answer that also hands the browser its session cookie when the session is new.
fn with_session(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    response: Response,
) -> Response {
    let mut response = (status, response).into_response();
    if session.is_new {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, session.cookie(state));
    }
    response
}

/// Only paths on this site: never an open redirect. Browsers drop tabs and line breaks from a
/// URL and read `\\` as `/`, so `/%09/evil.example` or `/\\evil` would leave the site: any control
/// character, space or backslash, before or after percent-decoding, sends the visitor to
/// `/account` instead.
/// The path of the page on this site that linked here (`Referer` with our own host), unless it
/// is one of the account forms themselves.
fn came_from(headers: &axum::http::HeaderMap) -> Option<String> {
    let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
    let referer = headers.get(axum::http::header::REFERER)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("https://")
        .or_else(|| referer.strip_prefix("http://"))?;
    let path = rest.strip_prefix(host)?;
    let form = ["/login", "/signup", "/logout", "/password"];
    (path.starts_with('/') && !form.iter().any(|f| path.starts_with(f)))
        .then(|| path.to_string())
        .filter(|p| safe_next(Some(p)) == *p)
}

pub(crate) fn safe_next(next: Option<&str>) -> String {
    let ok = |p: &str| {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    };
    match next {
        Some(n) if ok(n) && ok(&percent_decoded(n)) => n.to_string(),
        _ => "/account".to_string(),
    }
}

fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Serialize, Default)]
pub(crate) struct FormPage {
    pub csrf: String,
    /// what was typed, to show again (never the password)
    pub values: BTreeMap<&'static str, String>,
    /// field → what is wrong with it
    pub errors: BTreeMap<&'static str, String>,
    /// a message about the whole form (something went wrong)
    pub message: Option<String>,
    /// news about the whole form (something was done)
    pub notice: Option<String>,
    pub next: Option<String>,
}

impl FormPage {
    /// An empty form for a session that already exists (a POST that passed its CSRF check).
    pub(crate) fn for_session(session: &Session) -> FormPage {
        FormPage {
            csrf: session.data.csrf.clone(),
            ..Default::default()
        }
    }

    /// This form rendered with `template`, handing over the session cookie when it is new.
    pub(crate) fn respond(
        &self,
        state: &AppState,
        session: &Session,
        status: StatusCode,
        template: &str,
    ) -> Response {
        with_session(state, session, status, render_page(template, self))
    }
}

#[derive(Deserialize)]
struct NextParam {
    next: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    session: Session,
    headers: axum::http::HeaderMap,
    Query(q): Query<NextParam>,
) -> Result<Response, AppError> {
    // back to where the visitor was: the page they came from on this site, when none is named
    let page = FormPage {
        next: q.next.or_else(|| came_from(&headers)),
        ..FormPage::for_session(&session)
    };
    Ok(page.respond(&state, &session, StatusCode::OK, "auth/login.html"))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    anon: crate::cart::AnonymousCart,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    if !session.csrf_ok(&form.csrf) {
        return Err(AppError::Forbidden);
    }
    let mut page = FormPage {
        next: form.next.clone(),
        ..FormPage::for_session(&session)
    };
    page.values.insert("login", form.login.trim().to_string());
    let login = match Login::parse(&form.login) {
        Ok(l) => l,
        Err(e) => {
            page.errors.insert("login", e.into());
            return Ok(page.respond(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                "auth/login.html",
            ));
        }
    };
    let pair_key = format!("login:pair:{}:{ip}", login.as_str());
    for (key, limit, window) in [
        (format!("login:ip:{ip}"), PER_IP, WINDOW_SECS),
        (pair_key.clone(), PER_PAIR, WINDOW_SECS),
        (
            format!("login:account:{}", login.as_str()),
            PER_ACCOUNT,
            ACCOUNT_WINDOW_SECS,
        ),
    ] {
        if let Some(wait) = rate_limit(&state, &key, limit, window).await? {
            page.message = Some(crate::i18n::tr_with(
                "auth-too-many-logins",
                &[("minutes", (wait.div_ceil(60) as i64).into())],
            ));
            let mut response = render_page("auth/login.html", &page);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, wait.into());
            return Ok(with_session(
                &state,
                &session,
                StatusCode::TOO_MANY_REQUESTS,
                response,
            ));
        }
    }
    let found = match &login {
        Login::Email(e) => sqlx::query!(
            "select user_id, password_hash from app_user where email = $1 and disabled_at is null",
            e
        )
        .fetch_optional(&state.pool)
        .await?
        .map(|r| (r.user_id, r.password_hash)),
        Login::Phone(p) => sqlx::query!(
            "select user_id, password_hash from app_user where phone = $1 and disabled_at is null",
            p
        )
        .fetch_optional(&state.pool)
        .await?
        .map(|r| (r.user_id, r.password_hash)),
    };
    let password = form.password.clone();
    // argon2 is deliberately slow: keep it off the async workers; hash something even for an
    // unknown account so timing does not tell which accounts exist
    let (user_id, ok) = tokio::task::spawn_blocking(move || match found {
        Some((id, hash)) => (Some(id), verify_password(&password, &hash)),
        None => {
            let _ = verify_password(&password, DUMMY_HASH);
            (None, false)
        }
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    match (user_id, ok) {
        (Some(id), true) => {
            clear_rate_limit(&state, &pair_key).await?;
            tracing::info!(user.id = id, "logged in");
            sign_in(&state, session, anon, id, &safe_next(form.next.as_deref())).await
        }
        _ => {
            page.message = Some(crate::i18n::tr("auth-wrong-login"));
            Ok(page.respond(
                &state,
                &session,
                StatusCode::UNAUTHORIZED,
                "auth/login.html",
            ))
        }
    }
}

/// A real argon2id hash of a random string, verified against when the account does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$xO3uyPdxDg3TvKkvuaycKXl9ZzOEEzGH+AQUuomDBbw";

async fn signup_page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, AppError> {
    let page = FormPage::for_session(&session);
    Ok(page.respond(&state, &session, StatusCode::OK, "auth/signup.html"))
}

#[derive(Deserialize)]
struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    Form(form): Form<SignupForm>,
) -> Result<Response, AppError> {
    if !session.csrf_ok(&form.csrf) {
        return Err(AppError::Forbidden);
    }
    let mut page = FormPage::for_session(&session);
    page.values
        .insert("display_name", form.display_name.trim().to_string());
    page.values.insert("login", form.login.trim().to_string());
    let name = form.display_name.trim();
    if name.is_empty() {
        page.errors
            .insert("display_name", crate::i18n::tr("auth-name-empty"));
    } else if name.chars().count() > 120 {
        page.errors
            .insert("display_name", crate::i18n::tr("auth-name-long"));
    }
    let login = Login::parse(&form.login)
        .map_err(|e| page.errors.insert("login", e.into()))
        .ok();
    if let Err((field, e)) =
        check_new_password(&form.password, &form.password_confirm, login.as_ref())
    {
        page.errors.insert(field, e.into());
    }
    let Some(login) = login.filter(|_| page.errors.is_empty()) else {
        return Ok(page.respond(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            "auth/signup.html",
        ));
    };
    // each sign-up costs an argon2 hash: bounded per address
    if let Some(wait) = rate_limit(&state, &format!("signup:ip:{ip}"), SIGNUPS_PER_IP, 3600).await?
    {
        page.message = Some(crate::i18n::tr_with(
            "auth-too-many-signups",
            &[("minutes", (wait.div_ceil(60) as i64).into())],
        ));
        return Ok(page.respond(
            &state,
            &session,
            StatusCode::TOO_MANY_REQUESTS,
            "auth/signup.html",
        ));
    }
    let taken = sqlx::query_scalar!(
        r#"select exists(select 1 from app_user where email = $1 or phone = $1) as "e!""#,
        login.as_str()
    )
    .fetch_one(&state.pool)
    .await?;
    let password = form.password.clone();
    // hashed whether or not the login is taken, so the time taken tells nothing either
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let public = state.config.public_url();
    let body = if taken {
        format!(
            "Xin chào,\r\n\r\nCó người vừa đăng ký Sàn OCOP bằng {} nhưng bạn đã có tài khoản. Nếu đó là bạn, hãy đăng nhập: {public}/login\r\nQuên mật khẩu: {public}/password/forgot\r\n\r\nNếu không phải bạn, hãy bỏ qua tin này.\r\n",
            login.as_str()
        )
    } else {
        let token = random_token();
        let pending = serde_json::json!({ "name": name, "login": login.as_str(), "hash": hash });
        let mut redis = state.redis.clone();
        let _: () = redis
            .set_ex(
                signup_key(&state, &token),
                pending.to_string(),
                SIGNUP_LINK_MINUTES * 60,
            )
            .await
            .map_err(super::session::redis_down)?;
        format!(
            "Xin chào {name},\r\n\r\nĐể hoàn tất đăng ký Sàn OCOP, hãy mở đường dẫn sau trong {SIGNUP_LINK_MINUTES} phút tới:\r\n\r\n{public}/signup/confirm?token={token}\r\n\r\nNếu bạn không đăng ký, hãy bỏ qua tin này.\r\n"
        )
    };
    // a phone number's message goes to the SMS outbox (the same folder in development)
    let message = crate::mail::Message {
        to: login.as_str().to_string(),
        subject: "Xác nhận đăng ký Sàn OCOP".into(),
        body,
    };
    if let Err(e) = state.mailer.send(&message).await {
        tracing::warn!(error = %e, "sign-up message not sent");
    }
    let mut page = FormPage::for_session(&session);
    // the same answer for a new login and a taken one: the page must not tell who has an account
    page.notice = Some(crate::i18n::tr_with(
        "auth-signup-sent",
        &[("login", login.as_str().to_string().into())],
    ));
    Ok(page.respond(&state, &session, StatusCode::OK, "auth/signup.html"))
}

fn signup_key(state: &AppState, token: &str) -> String {
    format!("ocop:{}:signup:{token}", state.config.redis_namespace())
}

#[derive(Deserialize)]
struct ConfirmParam {
    #[serde(default)]
    token: String,
}

/// The link from the sign-up message: creates the account (once) and signs the person in.
async fn confirm_signup(
    State(state): State<AppState>,
    session: Session,
    anon: crate::cart::AnonymousCart,
    Query(q): Query<ConfirmParam>,
) -> Result<Response, AppError> {
    let gone = |session: &Session| {
        let page = FormPage {
            message: Some(crate::i18n::tr("auth-link-gone")),
            ..FormPage::for_session(session)
        };
        page.respond(&state, session, StatusCode::GONE, "auth/signup.html")
    };
    if q.token.len() != 64 || !q.token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(gone(&session));
    }
    let mut redis = state.redis.clone();
    // taken, not read: the link works once even if opened twice at the same moment
    let pending: Option<String> = redis
        .get_del(signup_key(&state, &q.token))
        .await
        .map_err(super::session::redis_down)?;
    let Some(pending) = pending.and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
    else {
        return Ok(gone(&session));
    };
    let text = |k: &str| pending[k].as_str().unwrap_or_default().to_string();
    let Ok(login) = Login::parse(&text("login")) else {
        return Ok(gone(&session));
    };
    let (email, phone) = match &login {
        Login::Email(e) => (Some(e.as_str()), None),
        Login::Phone(p) => (None, Some(p.as_str())),
    };
    let created = sqlx::query_scalar!(
        "insert into app_user (email, phone, display_name, password_hash) values ($1, $2, $3, $4) returning user_id",
        email,
        phone,
        text("name"),
        text("hash")
    )
    .fetch_one(&state.pool)
    .await;
    let user_id = match created {
        Ok(id) => id,
        // made meanwhile by another link: that account stands
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Ok(Redirect::to("/login").into_response());
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(user.id = user_id, "signed up");
    sign_in(&state, session, anon, user_id, "/account").await
}

/// Attaches the person to the session under a new id (a planted id is worth nothing) and sends
/// them on with the new cookie.
pub(crate) async fn sign_in(
    state: &AppState,
    mut session: Session,
    anon: crate::cart::AnonymousCart,
    user_id: i64,
    to: &str,
) -> Result<Response, AppError> {
    session.data.user_id = Some(user_id);
    session.rotate(state).await?;
    let mut response = Redirect::to(to).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session.cookie(state));
    // what was put in the cart before logging in joins the account's cart
    if let Some(id) = anon.0 {
        crate::cart::merge_into_account(state, &id, user_id).await?;
        response
            .headers_mut()
            .append(header::SET_COOKIE, crate::cart::expired_cookie());
    }
    let account_cart = crate::cart::Cart {
        id: format!("u:{user_id}"),
        user_id: Some(user_id),
        new_cookie: None,
    };
    if let Ok(lines) = account_cart.lines(state).await {
        response.headers_mut().append(
            header::SET_COOKIE,
            crate::cart::count_cookie(crate::cart::Cart::count(&lines)),
        );
    }
    Ok(response)
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    if !session.csrf_ok(&form.csrf) {
        return Err(AppError::Forbidden);
    }
    session.destroy(&state).await?;
    let mut response = Redirect::to("/").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, Session::expired_cookie());
    // the account's cart stays with the account; this browser starts an empty one
    response
        .headers_mut()
        .append(header::SET_COOKIE, crate::cart::count_cookie(0));
    Ok(response)
}

#[derive(Serialize)]
struct AccountPage {
    user: CurrentUser,
    role_label: &'static str,
    csrf: String,
    errors: BTreeMap<&'static str, String>,
    /// the password form keeps nothing typed
    values: BTreeMap<&'static str, String>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
struct AccountQuery {
    ok: Option<String>,
}

async fn account(user: CurrentUser, session: Session, Query(q): Query<AccountQuery>) -> Response {
    let role_label = user.role_label();
    render_page(
        "auth/account.html",
        &AccountPage {
            user,
            role_label,
            csrf: session.data.csrf,
            errors: BTreeMap::new(),
            values: BTreeMap::new(),
            message: (q.ok.as_deref() == Some("password"))
                .then(|| crate::i18n::tr("auth-password-changed")),
        },
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// A signed-in person changes their password; every other session of the account ends.
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    crate::forms::CheckedForm { form, session }: crate::forms::CheckedForm<PasswordForm>,
) -> Result<Response, AppError> {
    let hash = sqlx::query_scalar!(
        "select password_hash from app_user where user_id = $1",
        user.user_id
    )
    .fetch_one(&state.pool)
    .await?;
    let current = form.current.clone();
    let right = tokio::task::spawn_blocking(move || verify_password(&current, &hash))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut errors = BTreeMap::new();
    if !right {
        errors.insert("current", crate::i18n::tr("auth-current-wrong"));
    } else if let Err((field, e)) = check_new_password(
        &form.password,
        &form.password_confirm,
        user.login().as_ref(),
    ) {
        errors.insert(field, e.to_string());
    }
    if !errors.is_empty() {
        let role_label = user.role_label();
        let page = AccountPage {
            user,
            role_label,
            csrf: session.data.csrf.clone(),
            errors,
            values: BTreeMap::new(),
            message: None,
        };
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_page("auth/account.html", &page),
        )
            .into_response());
    }
    let password = form.password.clone();
    let new_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    sqlx::query!(
        "update app_user set password_hash = $2 where user_id = $1",
        user.user_id,
        new_hash
    )
    .execute(&state.pool)
    .await?;
    super::session::end_sessions(&state, user.user_id, Some(&session.id)).await?;
    tracing::info!(user.id = user.user_id, "password changed");
    Ok(Redirect::to("/account?ok=password").into_response())
}
