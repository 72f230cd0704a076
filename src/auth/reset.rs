//! Password reset by a one-time link that expires: `/password/forgot` mails it, `/password/reset`
//! uses it. The token lives in Redis with a time limit and is taken with GETDEL, so it works once
//! even if two tabs submit at the same moment.

use super::ClientIp;
use super::http::{FormPage, sign_in};
use super::identity::{Login, check_new_password, hash_password};
use super::session::{Session, rate_limit, redis_down};
use crate::crypto::random_token;
use crate::error::AppError;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use redis::AsyncCommands;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(forgot_page).post(forgot))
        .route("/password/reset", get(reset_page).post(reset))
}

const LINK_MINUTES: u64 = 60;

fn token_key(state: &AppState, token: &str) -> String {
    format!("ocop:{}:reset:{token}", state.config.redis_namespace())
}

async fn forgot_page(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, AppError> {
    let page = FormPage::for_session(&session);
    Ok(page.respond(&state, &session, StatusCode::OK, "auth/forgot.html"))
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
}

/// The same answer whether or not the account exists: the page must not tell who has one.
const SENT: &str = "Nếu có tài khoản với email này, chúng tôi vừa gửi đường dẫn đặt lại mật khẩu. Đường dẫn có hiệu lực 60 phút và chỉ dùng được một lần.";

async fn forgot(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    session: Session,
    Form(form): Form<ForgotForm>,
) -> Result<Response, AppError> {
    if !session.csrf_ok(&form.csrf) {
        return Err(AppError::Forbidden);
    }
    let mut page = FormPage::for_session(&session);
    page.values.insert("login", form.login.trim().to_string());
    let login = match Login::parse(&form.login) {
        Ok(l) => l,
        Err(e) => {
            page.errors.insert("login", e.into());
            return Ok(page.respond(
                &state,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                "auth/forgot.html",
            ));
        }
    };
    for (key, limit) in [
        (format!("reset:ip:{ip}"), 10),
        (format!("reset:account:{}", login.as_str()), 3),
    ] {
        if let Some(wait) = rate_limit(&state, &key, limit, 15 * 60).await? {
            page.message = Some(format!(
                "Bạn đã yêu cầu quá nhiều lần. Vui lòng thử lại sau {} phút.",
                wait.div_ceil(60)
            ));
            return Ok(page.respond(
                &state,
                &session,
                StatusCode::TOO_MANY_REQUESTS,
                "auth/forgot.html",
            ));
        }
    }
    // accounts made with a phone number only have no address to mail: the page says what to do
    if let Login::Email(email) = &login {
        if let Some(user_id) =
            sqlx::query_scalar!("select user_id from app_user where email = $1", email)
                .fetch_optional(&state.pool)
                .await?
        {
            let token = random_token();
            let mut redis = state.redis.clone();
            let _: () = redis
                .set_ex(token_key(&state, &token), user_id, LINK_MINUTES * 60)
                .await
                .map_err(redis_down)?;
            let link = format!("{}/password/reset?token={token}", state.config.public_url());
            let message = crate::mail::Message {
                to: email.clone(),
                subject: "Đặt lại mật khẩu Sàn OCOP".into(),
                body: format!(
                    "Xin chào,\r\n\r\nĐể đặt lại mật khẩu, hãy mở đường dẫn sau trong {LINK_MINUTES} phút tới:\r\n\r\n{link}\r\n\r\nNếu bạn không yêu cầu, hãy bỏ qua thư này; mật khẩu của bạn không thay đổi.\r\n"
                ),
            };
            state
                .mailer
                .send(&message)
                .await
                .map_err(AppError::Internal)?;
        }
    }
    page.message = Some(SENT.into());
    page.values.clear();
    Ok(page.respond(&state, &session, StatusCode::OK, "auth/forgot.html"))
}

#[derive(Deserialize)]
struct TokenParam {
    #[serde(default)]
    token: String,
}

fn token_shape_ok(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn link_user(state: &AppState, token: &str) -> Result<Option<i64>, AppError> {
    if !token_shape_ok(token) {
        return Ok(None);
    }
    let mut redis = state.redis.clone();
    redis
        .get(token_key(&state, token))
        .await
        .map_err(redis_down)
}

fn expired(state: &AppState, session: &Session) -> Response {
    let page = FormPage {
        message: Some("Đường dẫn đặt lại mật khẩu đã hết hạn hoặc đã được dùng. Hãy yêu cầu một đường dẫn mới.".into()),
        csrf: session.data.csrf.clone(),
        ..Default::default()
    };
    page.respond(state, session, StatusCode::GONE, "auth/forgot.html")
}

async fn reset_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<TokenParam>,
) -> Result<Response, AppError> {
    if link_user(&state, &q.token).await?.is_none() {
        return Ok(expired(&state, &session));
    }
    let mut page = FormPage::for_session(&session);
    page.values.insert("token", q.token);
    Ok(page.respond(&state, &session, StatusCode::OK, "auth/reset.html"))
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn reset(
    State(state): State<AppState>,
    session: Session,
    anon: crate::cart::AnonymousCart,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    if !session.csrf_ok(&form.csrf) {
        return Err(AppError::Forbidden);
    }
    let Some(user_id) = link_user(&state, &form.token).await? else {
        return Ok(expired(&state, &session));
    };
    let user = super::load_user(&state, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut page = FormPage::for_session(&session);
    page.values.insert("token", form.token.clone());
    if let Err((field, e)) = check_new_password(
        &form.password,
        &form.password_confirm,
        user.login().as_ref(),
    ) {
        page.errors.insert(field, e.into());
    }
    if !page.errors.is_empty() {
        // a mistake in the form does not use up the link
        return Ok(page.respond(
            &state,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            "auth/reset.html",
        ));
    }
    // taking the token is what makes it one-time: a second submission finds nothing
    let mut redis = state.redis.clone();
    let taken: Option<i64> = redis
        .get_del(token_key(&state, &form.token))
        .await
        .map_err(redis_down)?;
    if taken != Some(user_id) {
        return Ok(expired(&state, &session));
    }
    let password = form.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    sqlx::query!(
        "update app_user set password_hash = $2 where user_id = $1",
        user_id,
        hash
    )
    .execute(&state.pool)
    .await?;
    // whoever was signed in with the old password is signed out everywhere
    super::session::end_sessions(&state, user_id, None).await?;
    tracing::info!(user.id = user_id, "password reset");
    sign_in(&state, session, anon, user_id, "/account").await
}
