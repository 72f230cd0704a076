//! Appointing staff and disabling accounts, for admins.

use super::*;

/// The staff list and the appointment form.
#[derive(Serialize, Default)]
pub(super) struct UsersPage {
    people: Vec<StaffPerson>,
    provinces: Vec<ProvinceOption>,
    roles: Vec<RoleOption>,
    notice: Option<&'static str>,
    /// what was typed in the appointment form that came back
    values: AppointForm,
    errors: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct StaffPerson {
    name: String,
    login: Option<String>,
    role: Role,
    province: Option<String>,
}

#[derive(Serialize)]
struct ProvinceOption {
    code: String,
    name: String,
}

#[derive(Serialize)]
struct RoleOption {
    key: &'static str,
    label: &'static str,
}

/// The page with everyone who has a staff role, and the choices the form offers.
async fn users_page_of(state: &AppState, mut page: UsersPage) -> Result<UsersPage, AppError> {
    page.people = sqlx::query!(
        r#"select u.display_name, u.email, u.phone, u.role as "role: Role", pv.name as "province?"
           from app_user u left join province pv using (province_code)
           where u.role in ('province_staff', 'national_staff', 'admin')
           order by u.role, pv.name nulls first, u.display_name"#
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|u| StaffPerson {
        name: u.display_name,
        login: u.email.or(u.phone),
        role: u.role,
        province: u.province,
    })
    .collect();
    page.provinces = state
        .catalog
        .snapshot()
        .admin
        .provinces
        .iter()
        .map(|p| ProvinceOption {
            code: p.code.to_string(),
            name: p.name.clone(),
        })
        .collect();
    page.roles = [
        Role::ProvinceStaff,
        Role::NationalStaff,
        Role::Admin,
        Role::Shopper,
    ]
    .into_iter()
    .map(|r| RoleOption {
        key: r.key(),
        label: match r {
            Role::Shopper => "Thôi giữ vai trò (người mua)",
            other => other.label(),
        },
    })
    .collect();
    Ok(page)
}

pub(super) async fn users_page(
    State(state): State<AppState>,
    Admin(user): Admin,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let staff = Staff {
        user,
        province: None,
    };
    let page = UsersPage {
        notice: notice_text(q.ok.as_deref()),
        ..Default::default()
    };
    let page = users_page_of(&state, page).await?;
    Ok(show(
        StatusCode::OK,
        "staff/users.html",
        &framed(&state, &session, &staff, page),
    ))
}

#[derive(Deserialize, Serialize, Default)]
pub(super) struct AppointForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    province: String,
}

pub(super) async fn appoint(
    State(state): State<AppState>,
    Admin(user): Admin,
    CheckedForm { form, session }: CheckedForm<AppointForm>,
) -> Result<Response, AppError> {
    let staff = Staff {
        user: user.clone(),
        province: None,
    };
    let mut errors: BTreeMap<&'static str, String> = BTreeMap::new();
    let login = crate::auth::identity::Login::parse(&form.login);
    if let Err(msg) = &login {
        errors.insert("login", msg.to_string());
    }
    // staff appoint staff, or return someone to shopping; producers are made by membership
    let role = Role::from_key(&form.role).filter(|r| *r != Role::Producer);
    if role.is_none() {
        errors.insert("role", "Vui lòng chọn vai trò.".into());
    }
    let province = form
        .province
        .parse::<i16>()
        .ok()
        .filter(|p| state.catalog.snapshot().admin.province(*p).is_some());
    if role == Some(Role::ProvinceStaff) && province.is_none() {
        errors.insert(
            "province",
            "Cán bộ cấp tỉnh cần được gán một tỉnh, thành phố.".into(),
        );
    }
    if !errors.is_empty() {
        return again(&state, &staff, &session, form, errors).await;
    }
    let login = login.expect("checked");
    let role = role.expect("checked");
    let province = (role == Role::ProvinceStaff).then_some(province).flatten();
    let mut tx = crate::audit::begin(&state.pool, user.user_id, "user.appoint", None).await?;
    // a producer member cannot be staff: whoever vouches for producers must not be one
    let updated = sqlx::query_scalar!(
        r#"update app_user set role = $2, province_code = $3
           where (email = $1 or phone = $1) and user_id <> $4
             and not exists (select 1 from producer_member m where m.user_id = app_user.user_id)
           returning user_id"#,
        login.as_str(),
        role as Role,
        province,
        user.user_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if updated.is_none() {
        errors.insert(
            "login",
            "Không có tài khoản nào với email hoặc số điện thoại này có thể được bổ nhiệm (người đó cần đăng ký trước, không thuộc chủ thể OCOP nào, và không phải chính bạn).".into(),
        );
        return again(&state, &staff, &session, form, errors).await;
    }
    tx.commit().await?;
    Ok(Redirect::to("/staff/users?ok=appointed").into_response())
}

/// The appointment form comes back with what was typed and what is wrong; nothing changed.
async fn again(
    state: &AppState,
    staff: &Staff,
    session: &Session,
    values: AppointForm,
    errors: BTreeMap<&'static str, String>,
) -> Result<Response, AppError> {
    let page = users_page_of(
        state,
        UsersPage {
            values,
            errors,
            ..Default::default()
        },
    )
    .await?;
    Ok(show(
        StatusCode::UNPROCESSABLE_ENTITY,
        "staff/users.html",
        &framed(state, session, staff, page),
    ))
}

#[derive(Deserialize)]
pub(super) struct DisableForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    reason: String,
}

/// An admin switches an account off: it can no longer log in, and every session it has ends.
pub(super) async fn disable_account(
    State(state): State<AppState>,
    Admin(user): Admin,
    CheckedForm { form, .. }: CheckedForm<DisableForm>,
) -> Result<Response, AppError> {
    let login = crate::auth::identity::Login::parse(&form.login)
        .map_err(|m| AppError::bad("bad_login", format!("{m} Chưa có gì thay đổi.")))?;
    let why = form.reason.trim();
    if why.chars().count() < 5 {
        return Err(AppError::bad(
            "reason_required",
            "Vui lòng ghi lý do khoá tài khoản (ít nhất 5 ký tự). Chưa có gì thay đổi.",
        ));
    }
    let mut tx = crate::audit::begin(&state.pool, user.user_id, "user.disable", Some(why)).await?;
    let target = sqlx::query_scalar!(
        "update app_user set disabled_at = now()
         where (email = $1 or phone = $1) and user_id <> $2 and disabled_at is null
         returning user_id",
        login.as_str(),
        user.user_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        AppError::bad(
            "no_such_account",
            "Không có tài khoản đang hoạt động nào với email hoặc số điện thoại này (và không thể tự khoá chính mình).",
        )
    })?;
    tx.commit().await?;
    crate::auth::session::end_sessions(&state, target, None).await?;
    Ok(Redirect::to("/staff/users?ok=disabled").into_response())
}
