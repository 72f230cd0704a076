//! Appointing staff and disabling accounts, for admins.

use super::*;

pub(super) async fn users_ctx(
    state: &AppState,
    staff: &Staff,
    session: &Session,
    extra: Value,
) -> Result<Value, AppError> {
    let people: Vec<Value> = sqlx::query!(
        r#"select u.display_name, u.email, u.phone, u.role, pv.name as "province?"
           from app_user u left join province pv using (province_code)
           where u.role in ('province_staff', 'national_staff', 'admin')
           order by u.role, pv.name nulls first, u.display_name"#
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|u| json!({ "name": u.display_name, "login": u.email.or(u.phone), "role": u.role, "province": u.province }))
    .collect();
    let provinces: Vec<Value> = state
        .catalog
        .snapshot()
        .admin
        .provinces
        .iter()
        .map(|p| json!({ "code": p.code.to_string(), "name": p.name }))
        .collect();
    let roles = [
        Role::ProvinceStaff,
        Role::NationalStaff,
        Role::Admin,
        Role::Shopper,
    ]
    .map(|r| {
        let label = match r {
            Role::Shopper => "Thôi giữ vai trò (người mua)",
            other => other.label(),
        };
        json!({ "key": r.key(), "label": label })
    });
    let mut ctx = page(state, session, staff, extra);
    ctx["people"] = json!(people);
    ctx["provinces"] = json!(provinces);
    ctx["roles"] = json!(roles);
    Ok(ctx)
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
    let ctx = users_ctx(
        &state,
        &staff,
        &session,
        json!({ "notice": notice_text(q.ok.as_deref()) }),
    )
    .await?;
    Ok(show(StatusCode::OK, "staff/users.html", &ctx))
}

#[derive(Deserialize)]
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
    let mut errors = serde_json::Map::new();
    let login = crate::auth::identity::Login::parse(&form.login);
    if let Err(msg) = &login {
        errors.insert("login".into(), json!(msg));
    }
    // staff appoint staff, or return someone to shopping; producers are made by membership
    let role = Role::from_key(&form.role).filter(|r| *r != Role::Producer);
    if role.is_none() {
        errors.insert("role".into(), json!("Vui lòng chọn vai trò."));
    }
    let province = form
        .province
        .parse::<i16>()
        .ok()
        .filter(|p| state.catalog.snapshot().admin.province(*p).is_some());
    if role == Some(Role::ProvinceStaff) && province.is_none() {
        errors.insert(
            "province".into(),
            json!("Cán bộ cấp tỉnh cần được gán một tỉnh, thành phố."),
        );
    }
    let values = json!({ "login": form.login, "role": form.role, "province": form.province });
    if !errors.is_empty() {
        let ctx = users_ctx(
            &state,
            &staff,
            &session,
            json!({ "values": values, "errors": errors }),
        )
        .await?;
        return Ok(show(
            StatusCode::UNPROCESSABLE_ENTITY,
            "staff/users.html",
            &ctx,
        ));
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
            "login".into(),
            json!("Không có tài khoản nào với email hoặc số điện thoại này có thể được bổ nhiệm (người đó cần đăng ký trước, không thuộc chủ thể OCOP nào, và không phải chính bạn)."),
        );
        let ctx = users_ctx(
            &state,
            &staff,
            &session,
            json!({ "values": values, "errors": errors }),
        )
        .await?;
        return Ok(show(
            StatusCode::UNPROCESSABLE_ENTITY,
            "staff/users.html",
            &ctx,
        ));
    }
    tx.commit().await?;
    Ok(Redirect::to("/staff/users?ok=appointed").into_response())
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
