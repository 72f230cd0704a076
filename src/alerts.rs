//! "Báo khi có hàng": a shopper leaves an email on a sold-out product's page and gets one mail
//! when it is back in stock. Any number of instances run the sender: rows are claimed with
//! `FOR UPDATE SKIP LOCKED` and marked sent in the same transaction as the claim.

use crate::auth::ClientIp;
use crate::error::AppError;
use crate::forms::SameSiteForm;
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use std::time::Duration;

pub fn router() -> Router<AppState> {
    Router::new().route("/products/{slug}/alert", post(ask))
}

#[derive(Deserialize)]
struct AlertForm {
    #[serde(default)]
    email: String,
}

/// Alerts one address may ask for in an hour: enough for a shopping list, not for a flood.
const PER_HOUR: u32 = 20;

async fn ask(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(slug): Path<String>,
    SameSiteForm(form): SameSiteForm<AlertForm>,
) -> Result<Response, AppError> {
    let s = state.catalog.snapshot();
    let (product, _) = s.product_by_slug(&slug).ok_or(AppError::NotFound)?;
    let (id, name) = (product.id, product.name.clone());
    let email = match crate::auth::identity::parse_email(form.email.trim()) {
        Ok(e) => e,
        Err(message) => {
            let page = AlertPage {
                slug: &slug,
                name: &name,
                email: &form.email,
                error: Some(message.into()),
                done: false,
            };
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render_page("catalog/alert.html", &page),
            )
                .into_response());
        }
    };
    if let Some(wait) =
        crate::auth::session::rate_limit(&state, &format!("alert:ip:{ip}"), PER_HOUR, 3600).await?
    {
        return Err(AppError::TooManyAttempts {
            retry_after_secs: wait,
        });
    }
    // asked twice, kept once; asked again after a mail, it waits for the next time
    sqlx::query!(
        "insert into stock_alert (product_id, email) values ($1, $2)
         on conflict (product_id, email) do update set sent_at = null, created_at = now()",
        id,
        email
    )
    .execute(&state.pool)
    .await?;
    let page = AlertPage {
        slug: &slug,
        name: &name,
        email: &email,
        error: None,
        done: true,
    };
    Ok(render_page("catalog/alert.html", &page))
}

/// The answer to "tell me when it is back": done, or the address again with what is wrong.
#[derive(serde::Serialize)]
struct AlertPage<'a> {
    slug: &'a str,
    name: &'a str,
    email: &'a str,
    error: Option<String>,
    done: bool,
}

/// Sends the alerts whose product is back in stock and listed; answers how many were sent.
pub async fn send_due(state: &AppState) -> Result<usize, sqlx::Error> {
    let mut tx = state.pool.begin().await?;
    let due = sqlx::query!(
        r#"select a.stock_alert_id, a.email, p.name, p.slug from stock_alert a join product p using (product_id)
           where a.sent_at is null and p.stock > 0 and not p.hidden
           order by a.stock_alert_id limit 200
           for update of a skip locked"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let snapshot = state.catalog.snapshot();
    let mut sent = Vec::new();
    for a in &due {
        // only what a shopper can buy now: listed in the catalog
        let listed = snapshot
            .product_by_slug(&a.slug)
            .is_some_and(|(p, _)| snapshot.row_of.contains_key(&p.id));
        if !listed {
            continue;
        }
        state
            .mailer
            .notify(
                Some(&a.email),
                &format!("Đã có hàng: {}", a.name),
                format!(
                    "{} đã có hàng trở lại trên Sàn OCOP.\n\n{}/products/{}\n\nBạn nhận thư này vì đã bấm “Báo cho tôi khi có hàng”; sàn chỉ báo một lần.\n",
                    a.name,
                    state.config.public_url(),
                    a.slug
                ),
            )
            .await;
        sent.push(a.stock_alert_id);
    }
    sqlx::query!(
        "update stock_alert set sent_at = now() where stock_alert_id = any($1)",
        &sent
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(sent.len())
}

/// Every minute, on every instance.
pub async fn send_forever(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = send_due(&state).await {
            tracing::warn!(error = %e, "stock alerts not sent; retrying in a minute");
        }
    }
}
