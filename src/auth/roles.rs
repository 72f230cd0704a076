//! Who may do what. Each back-office handler takes one of these extractors, so the check cannot be
//! forgotten, and each carries the scope its queries must use. Anyone outside the role gets a 404,
//! which says nothing about whether the thing asked for exists; anonymous visitors are sent to log
//! in.

use super::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;

/// A member of a producer: its owner or staff the owner invited. Every query a portal handler
/// runs is bounded by `producer_id`.
#[derive(Debug, Clone, Serialize)]
pub struct ProducerMember {
    pub user: CurrentUser,
    pub producer_id: i64,
    pub is_owner: bool,
    pub producer_name: String,
    pub producer_slug: String,
    pub producer_status: String,
    pub rejection_reason: Option<String>,
    pub province_code: i16,
}

impl ProducerMember {
    /// The membership of `user`, if they have one.
    pub async fn of(state: &AppState, user: CurrentUser) -> Result<Option<Self>, AppError> {
        let row = sqlx::query!(
            r#"
            select m.producer_id, m.role, p.name, p.slug, p.status, p.rejection_reason, p.province_code
            from producer_member m join producer p using (producer_id)
            where m.user_id = $1
            "#,
            user.user_id
        )
        .fetch_optional(&state.pool)
        .await?;
        Ok(row.map(|r| ProducerMember {
            user,
            producer_id: r.producer_id,
            is_owner: r.role == "owner",
            producer_name: r.name,
            producer_slug: r.slug,
            producer_status: r.status,
            rejection_reason: r.rejection_reason,
            province_code: r.province_code,
        }))
    }

    /// Whether the province's staff approved the producer (before that it may prepare its
    /// listings, but not sell, invite or upload beyond what approval needs).
    pub fn is_approved(&self) -> bool {
        self.producer_status == "approved"
    }

    /// Owner-only actions (inviting, removing members, editing the producer).
    pub fn owner(&self) -> Result<(), AppError> {
        if self.is_owner {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}

impl FromRequestParts<AppState> for ProducerMember {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        ProducerMember::of(state, user)
            .await?
            .ok_or(AppError::NotFound)
    }
}

/// Province staff (scope: their province), national staff and admins (scope: all provinces).
#[derive(Debug, Clone, Serialize)]
pub struct Staff {
    pub user: CurrentUser,
    /// `None` means every province
    pub province: Option<i16>,
}

impl Staff {
    /// Whether this person may see and act on something in `province`.
    pub fn covers(&self, province: i16) -> bool {
        self.province.is_none_or(|p| p == province)
    }

    pub fn is_national(&self) -> bool {
        self.province.is_none()
    }

    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// What the back-office pages show of the person and decide their menu by.
    /// What pages show of the person: name, role, and where they act (their own scope, never
    /// the province a page happens to be looking at).
    pub fn view(&self, state: &AppState) -> serde_json::Value {
        let scope = match self.province {
            None => "toàn quốc".to_string(),
            Some(p) => state
                .catalog
                .snapshot()
                .admin
                .province(p)
                .map(|v| v.name.clone())
                .unwrap_or_default(),
        };
        serde_json::json!({
            "name": self.user.display_name, "role": self.user.role_label(),
            "national": self.is_national(), "admin": self.is_admin(), "scope": scope,
        })
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        let province = match (user.role, user.province_code) {
            (Role::ProvinceStaff, Some(code)) => Some(code),
            (Role::NationalStaff | Role::Admin, _) => None,
            _ => return Err(AppError::NotFound),
        };
        Ok(Staff { user, province })
    }
}

/// National staff and admins: the audit log and other all-province views.
#[derive(Debug, Clone)]
pub struct NationalStaff(pub Staff);

impl FromRequestParts<AppState> for NationalStaff {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let staff = Staff::from_request_parts(parts, state).await?;
        if staff.is_national() {
            Ok(NationalStaff(staff))
        } else {
            Err(AppError::NotFound)
        }
    }
}

/// Admins: appointing staff.
#[derive(Debug, Clone)]
pub struct Admin(pub CurrentUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if user.role == Role::Admin {
            Ok(Admin(user))
        } else {
            Err(AppError::NotFound)
        }
    }
}
