//! A shopper's address book (`/account/addresses`): add, edit and remove delivery addresses and
//! pick the default one that checkout fills in. Checkout adds each new address it delivers to.
//! Every query names the signed-in person: nobody reads or changes another's addresses.

use crate::auth::CurrentUser;
use crate::checkout::{Errors, Recipient};
use crate::error::AppError;
use crate::forms::{CheckedForm, Id};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// More than any family needs; keeps one account from filling the table.
pub const MAX_ADDRESSES: i64 = 20;

#[derive(Debug, Clone, Serialize)]
pub struct Saved {
    pub id: i64,
    pub buyer_name: String,
    pub phone: String,
    pub province: String,
    pub commune: String,
    pub street: String,
    /// "street, commune, province"
    pub place: String,
    pub is_default: bool,
}

impl Saved {
    /// The checkout fields this address fills in.
    pub fn values(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("buyer_name".to_string(), self.buyer_name.clone()),
            ("phone".to_string(), self.phone.clone()),
            ("province".to_string(), self.province.clone()),
            ("commune".to_string(), self.commune.clone()),
            ("street".to_string(), self.street.clone()),
        ])
    }
}

/// The person's addresses, the default first, then the newest.
pub async fn list(
    pool: &PgPool,
    admin: &crate::catalog::snapshot::Admin,
    user_id: i64,
) -> Result<Vec<Saved>, sqlx::Error> {
    Ok(sqlx::query!(
        "select saved_address_id, buyer_name, phone, province_code, commune_code, street, is_default
         from saved_address where user_id = $1
         order by is_default desc, created_at desc, saved_address_id desc",
        user_id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|a| Saved {
        id: a.saved_address_id,
        place: format!(
            "{}, {}",
            a.street,
            admin.place(a.commune_code, a.province_code)
        ),
        buyer_name: a.buyer_name,
        phone: a.phone,
        province: a.province_code.to_string(),
        commune: a.commune_code.to_string(),
        street: a.street,
        is_default: a.is_default,
    })
    .collect())
}

/// One of the person's addresses, as checkout fills it in.
pub async fn find(pool: &PgPool, user_id: i64, id: i64) -> Result<Option<Recipient>, sqlx::Error> {
    Ok(sqlx::query!(
        "select buyer_name, phone, province_code, commune_code, street from saved_address
         where user_id = $1 and saved_address_id = $2",
        user_id,
        id
    )
    .fetch_optional(pool)
    .await?
    .map(|a| Recipient {
        buyer_name: a.buyer_name,
        phone: a.phone,
        province_code: a.province_code,
        commune_code: a.commune_code,
        street: a.street,
    }))
}

/// Adds an address to the person's book unless it is there already or the book is full; the
/// first one becomes the default. Answers whether it was added.
pub async fn insert(pool: &PgPool, user_id: i64, r: &Recipient) -> Result<bool, sqlx::Error> {
    let added = sqlx::query!(
        "insert into saved_address (user_id, buyer_name, phone, province_code, commune_code, street, is_default)
         select $1, $2, $3, $4, $5, $6,
                not exists (select 1 from saved_address where user_id = $1 and is_default)
         where (select count(*) from saved_address where user_id = $1) < $7
         on conflict do nothing",
        user_id,
        r.buyer_name,
        r.phone,
        r.province_code,
        r.commune_code,
        r.street,
        MAX_ADDRESSES
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(added == 1)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/addresses", get(book).post(add))
        .route("/account/addresses/{id}", get(edit_page).post(edit))
        .route("/account/addresses/{id}/default", post(make_default))
        .route("/account/addresses/{id}/delete", post(remove))
}

#[derive(Deserialize, Default)]
struct BookQuery {
    done: Option<String>,
}

fn done_message(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "added" => Some("Đã thêm địa chỉ."),
        "saved" => Some("Đã lưu địa chỉ."),
        "default" => Some("Đã đặt làm địa chỉ mặc định. Trang thanh toán sẽ điền sẵn địa chỉ này."),
        "deleted" => Some("Đã xoá địa chỉ."),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn show(
    state: &AppState,
    user: &CurrentUser,
    csrf: &str,
    editing: Option<i64>,
    values: &BTreeMap<String, String>,
    errors: &Errors,
    message: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let s = state.catalog.snapshot();
    let addresses = list(&state.pool, &s.admin, user.user_id).await?;
    let province = values.get("province").and_then(|p| p.parse().ok());
    let mut page = s.admin.picker(province);
    let fields = json!({
        "csrf": csrf,
        "addresses": addresses,
        "editing": editing,
        "values": values,
        "errors": errors,
        "message": message,
        "full": addresses.len() as i64 >= MAX_ADDRESSES,
    });
    if let (Some(page), Some(fields)) = (page.as_object_mut(), fields.as_object()) {
        page.extend(fields.clone());
    }
    let template = if editing.is_some() {
        "auth/address.html"
    } else {
        "auth/addresses.html"
    };
    Ok((status, render_page(template, &page)).into_response())
}

async fn book(
    State(state): State<AppState>,
    user: CurrentUser,
    session: crate::auth::Session,
    Query(q): Query<BookQuery>,
) -> Result<Response, AppError> {
    show(
        &state,
        &user,
        &session.data.csrf,
        None,
        &BTreeMap::new(),
        &Errors::new(),
        done_message(q.done.as_deref()),
        StatusCode::OK,
    )
    .await
}

async fn edit_page(
    State(state): State<AppState>,
    user: CurrentUser,
    session: crate::auth::Session,
    Id(id): Id,
) -> Result<Response, AppError> {
    let r = find(&state.pool, user.user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    show(
        &state,
        &user,
        &session.data.csrf,
        Some(id),
        &r.values(),
        &Errors::new(),
        None,
        StatusCode::OK,
    )
    .await
}

/// The fields typed, without the token; `step=province` only asks for the communes.
fn typed(form: BTreeMap<String, String>) -> (BTreeMap<String, String>, bool) {
    let only_communes = form.get("step").map(String::as_str) == Some("province");
    let values = form
        .into_iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "buyer_name" | "phone" | "province" | "commune" | "street"
            )
        })
        .collect();
    (values, only_communes)
}

fn already_there() -> Errors {
    Errors::from([(
        "street",
        "Địa chỉ này (cùng số điện thoại, xã và số nhà) đã có trong sổ.".to_string(),
    )])
}

async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let (values, only_communes) = typed(form);
    let csrf = session.data.csrf.clone();
    let again = |errors: Errors, status| {
        let (state, user, csrf, values) = (&state, &user, &csrf, &values);
        async move { show(state, user, csrf, None, values, &errors, None, status).await }
    };
    if only_communes {
        return again(Errors::new(), StatusCode::OK).await;
    }
    let r = match Recipient::parse(&values, &state.catalog.snapshot().admin) {
        Ok(r) => r,
        Err(errors) => return again(errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let inserted = insert(&state.pool, user.user_id, &r).await?;
    if !inserted {
        let full = sqlx::query_scalar!(
            r#"select count(*) as "n!" from saved_address where user_id = $1"#,
            user.user_id
        )
        .fetch_one(&state.pool)
        .await?
            >= MAX_ADDRESSES;
        let errors = if full {
            Errors::from([(
                "street",
                format!("Sổ địa chỉ đã đủ {MAX_ADDRESSES} địa chỉ: hãy xoá bớt một địa chỉ cũ."),
            )])
        } else {
            already_there()
        };
        return again(errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    Ok(Redirect::to("/account/addresses?done=added").into_response())
}

async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    Id(id): Id,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    if find(&state.pool, user.user_id, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let (values, only_communes) = typed(form);
    let csrf = session.data.csrf.clone();
    let again = |errors: Errors, status| {
        let (state, user, csrf, values) = (&state, &user, &csrf, &values);
        async move { show(state, user, csrf, Some(id), values, &errors, None, status).await }
    };
    if only_communes {
        return again(Errors::new(), StatusCode::OK).await;
    }
    let r = match Recipient::parse(&values, &state.catalog.snapshot().admin) {
        Ok(r) => r,
        Err(errors) => return again(errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let updated = sqlx::query!(
        "update saved_address set buyer_name = $3, phone = $4, province_code = $5, commune_code = $6, street = $7
         where user_id = $1 and saved_address_id = $2
           and not exists (select 1 from saved_address o where o.user_id = $1 and o.saved_address_id <> $2
                           and o.phone = $4 and o.commune_code = $6 and o.street = $7)",
        user.user_id,
        id,
        r.buyer_name,
        r.phone,
        r.province_code,
        r.commune_code,
        r.street
    )
    .execute(&state.pool)
    .await?
    .rows_affected();
    if updated == 0 {
        return again(already_there(), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    Ok(Redirect::to("/account/addresses?done=saved").into_response())
}

async fn make_default(
    State(state): State<AppState>,
    user: CurrentUser,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<crate::forms::NoFields>,
) -> Result<Response, AppError> {
    let mut tx = state.pool.begin().await?;
    // the old default steps down first: one default per person, enforced by a unique index
    let mine = sqlx::query_scalar!(
        "select 1 as one from saved_address where user_id = $1 and saved_address_id = $2 for update",
        user.user_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if mine.is_none() {
        return Err(AppError::NotFound);
    }
    sqlx::query!(
        "update saved_address set is_default = false where user_id = $1 and is_default",
        user.user_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update saved_address set is_default = true where user_id = $1 and saved_address_id = $2",
        user.user_id,
        id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/account/addresses?done=default").into_response())
}

async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<crate::forms::NoFields>,
) -> Result<Response, AppError> {
    let mut tx = state.pool.begin().await?;
    let was_default = sqlx::query_scalar!(
        "delete from saved_address where user_id = $1 and saved_address_id = $2 returning is_default",
        user.user_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if was_default {
        // the newest one left takes its place, so checkout still fills something in
        sqlx::query!(
            "update saved_address set is_default = true where saved_address_id = (
                 select saved_address_id from saved_address where user_id = $1
                 order by created_at desc, saved_address_id desc limit 1)",
            user.user_id
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to("/account/addresses?done=deleted").into_response())
}
