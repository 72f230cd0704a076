//! `/signup`, `/login`, `/logout`, `/account`.

use super::identity::{Login, check_password, hash_password, verify_password};
use super::session::{Session, clear_rate_limit, rate_limit};
use super::{CurrentUser, client_ip};
use crate::app::AppState;
use crate::error::AppError;
use crate::render::render_page;
use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Router, routing::post};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signup", get(signup_page).post(signup))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/account", get(account))
        .merge(super::reset::router())
}

/// Log-in attempts allowed per window, per address and per account.
const PER_IP: u32 = 20;
const PER_ACCOUNT: u32 = 5;
const WINDOW_SECS: u64 = 15 * 60;

/// The requester's address, taken before the body is read.
pub(crate) struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, state)))
    }
}

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

/// Only paths on this site: never an open redirect.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/account".to_string(),
    }
}

#[derive(Serialize, Default)]
pub(crate) struct FormPage {
    pub csrf: String,
    /// what was typed, to show again (never the password)
    pub values: BTreeMap<&'static str, String>,
    /// field → what is wrong with it
    pub errors: BTreeMap<&'static str, String>,
    /// a message about the whole form
    pub message: Option<String>,
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

    /// An empty form to show, storing a new session first so its CSRF token is found on submit.
    pub(crate) async fn shown(
        state: &AppState,
        session: &mut Session,
    ) -> Result<FormPage, AppError> {
        if session.is_new {
            session.save(state).await?;
        }
        Ok(FormPage::for_session(session))
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
    mut session: Session,
    Query(q): Query<NextParam>,
) -> Result<Response, AppError> {
    let page = FormPage {
        next: q.next,
        ..FormPage::shown(&state, &mut session).await?
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
    let account_key = format!("login:account:{}", login.as_str());
    for (key, limit) in [
        (format!("login:ip:{ip}"), PER_IP),
        (account_key.clone(), PER_ACCOUNT),
    ] {
        if let Some(wait) = rate_limit(&state, &key, limit, WINDOW_SECS).await? {
            page.message = Some(format!(
                "Bạn đã thử đăng nhập quá nhiều lần. Vui lòng thử lại sau {} phút.",
                wait.div_ceil(60)
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
            "select user_id, password_hash from app_user where email = $1",
            e
        )
        .fetch_optional(&state.pool)
        .await?
        .map(|r| (r.user_id, r.password_hash)),
        Login::Phone(p) => sqlx::query!(
            "select user_id, password_hash from app_user where phone = $1",
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
            clear_rate_limit(&state, &account_key).await?;
            tracing::info!(user.id = id, "logged in");
            sign_in(&state, session, anon, id, &safe_next(form.next.as_deref())).await
        }
        _ => {
            page.message = Some("Email/số điện thoại hoặc mật khẩu không đúng.".into());
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
    mut session: Session,
) -> Result<Response, AppError> {
    let page = FormPage::shown(&state, &mut session).await?;
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
    session: Session,
    anon: crate::cart::AnonymousCart,
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
            .insert("display_name", "Hãy cho biết tên của bạn.".into());
    } else if name.chars().count() > 120 {
        page.errors
            .insert("display_name", "Tên dài quá 120 ký tự.".into());
    }
    let login = Login::parse(&form.login)
        .map_err(|e| page.errors.insert("login", e.into()))
        .ok();
    if let Err(e) = check_password(&form.password, login.as_ref()) {
        page.errors.insert("password", e.into());
    } else if form.password != form.password_confirm {
        page.errors.insert(
            "password_confirm",
            "Hai lần nhập mật khẩu không khớp.".into(),
        );
    }
    let Some(login) = login.filter(|_| page.errors.is_empty()) else {
        return Ok(page.respond(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            "auth/signup.html",
        ));
    };
    let password = form.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let (email, phone) = match &login {
        Login::Email(e) => (Some(e.as_str()), None),
        Login::Phone(p) => (None, Some(p.as_str())),
    };
    let created = sqlx::query_scalar!(
        "insert into app_user (email, phone, display_name, password_hash) values ($1, $2, $3, $4) returning user_id",
        email,
        phone,
        name,
        hash
    )
    .fetch_one(&state.pool)
    .await;
    let user_id = match created {
        Ok(id) => id,
        // the unique key says it better than a look-up first would (and without a race)
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            page.errors.insert(
                "login",
                "Đã có tài khoản với email hoặc số điện thoại này. Hãy đăng nhập.".into(),
            );
            return Ok(page.respond(&state, &session, StatusCode::CONFLICT, "auth/signup.html"));
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
}

async fn account(user: CurrentUser, session: Session) -> Response {
    let role_label = user.role_label();
    render_page(
        "auth/account.html",
        &AccountPage {
            user,
            role_label,
            csrf: session.data.csrf,
        },
    )
}
