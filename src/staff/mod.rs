//! The staff back office (`/staff`): province staff approve producers and verify certificates of
//! their province, revoke certificates, and national staff read the audit log. Admins appoint
//! staff. Every query is bounded by the staff member's scope: outside it, things are not found.

pub mod dashboard;
pub mod http;

use crate::auth::identity::{Login, check_password, hash_password};
use sqlx::PgPool;

/// Makes `login` an admin: creates the account, or promotes an existing one (setting its
/// password when one is given). The first admin comes from here; admins appoint everyone else.
pub async fn create_admin(
    pool: &PgPool,
    login: &str,
    name: &str,
    password: Option<&str>,
) -> Result<String, String> {
    let login = Login::parse(login).map_err(|e| e.to_string())?;
    if let Some(p) = password {
        check_password(p, Some(&login)).map_err(|e| e.to_string())?;
    }
    let hash = password.map(hash_password);
    let (email, phone) = match &login {
        Login::Email(e) => (Some(e.as_str()), None),
        Login::Phone(p) => (None, Some(p.as_str())),
    };
    let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
    let existing = sqlx::query_scalar!(
        "select user_id from app_user where email = $1 or phone = $2",
        email,
        phone
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| e.to_string())?;
    let outcome = match existing {
        Some(id) => {
            sqlx::query!(
                "update app_user set role = 'admin', province_code = null,
                     password_hash = coalesce($2, password_hash) where user_id = $1",
                id,
                hash
            )
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
            sqlx::query!("delete from producer_member where user_id = $1", id)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            format!("{} is now an admin", login.as_str())
        }
        None => {
            let hash =
                hash.ok_or("a new admin needs a password (ADMIN_PASSWORD or standard input)")?;
            sqlx::query!(
                "insert into app_user (email, phone, display_name, password_hash, role) values ($1, $2, $3, $4, 'admin')",
                email,
                phone,
                name.trim(),
                hash
            )
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
            format!("admin {} created", login.as_str())
        }
    };
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(outcome)
}
