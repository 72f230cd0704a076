//! Members and invitations: owners invite people by a one-time link.

use super::*;

pub(super) const INVITE_TTL_SECS: u64 = 7 * 24 * 3600;

#[derive(Serialize, Deserialize)]
pub(super) struct Invitation {
    producer_id: i64,
    login: String,
    invited_by: i64,
}

/// Invitations a producer may send per 24 hours.
pub(super) const INVITES_PER_DAY: u32 = 10;

pub(super) fn invite_key(state: &AppState, token: &str) -> String {
    format!("ocop:{}:invite:{token}", state.config.redis_namespace())
}

/// The members page: who manages the shop, and the invitation form.
#[derive(Serialize, Default)]
pub(super) struct MembersPage<'a> {
    csrf: &'a str,
    member: Option<&'a ProducerMember>,
    members: Vec<MemberRow>,
    notice: Option<&'static str>,
    /// what was typed in the invitation form that came back
    values: BTreeMap<&'static str, &'a str>,
    errors: Errors,
    /// the invitation just made, to pass on by hand
    invite_link: Option<String>,
    invited: Option<&'a str>,
}

#[derive(Serialize)]
struct MemberRow {
    user_id: i64,
    name: String,
    login: Option<String>,
    owner: bool,
}

/// The members page with `page`'s message or form, and everyone who manages the shop.
async fn members_page_of(
    state: &AppState,
    status: StatusCode,
    member: &ProducerMember,
    session: &Session,
    page: MembersPage<'_>,
) -> Result<Response, AppError> {
    let members = sqlx::query!(
        r#"select u.user_id, u.display_name, u.email, u.phone, m.role, m.created_at
           from producer_member m join app_user u using (user_id)
           where m.producer_id = $1 order by m.role = 'owner' desc, m.created_at"#,
        member.producer_id
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|m| MemberRow {
        user_id: m.user_id,
        name: m.display_name,
        login: m.email.or(m.phone),
        owner: m.role == "owner",
    })
    .collect();
    let page = MembersPage {
        csrf: &session.data.csrf,
        member: Some(member),
        members,
        ..page
    };
    Ok(show(status, "producer/members.html", &page))
}

pub(super) async fn members_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    let page = MembersPage {
        notice: notice_text(n.ok.as_deref()),
        ..Default::default()
    };
    members_page_of(&state, StatusCode::OK, &member, &session, page).await
}

#[derive(Deserialize)]
pub(super) struct InviteForm {
    #[serde(default)]
    login: String,
}

pub(super) async fn invite(
    State(state): State<AppState>,
    member: ProducerMember,
    CheckedForm { form, session }: CheckedForm<InviteForm>,
) -> Result<Response, AppError> {
    member.owner()?;
    // invitations are mail we send to any address: only approved producers, and a few a day
    if !member.is_approved() {
        return invite_refused(
            &state,
            &member,
            &session,
            &form.login,
            "Chủ thể cần được cán bộ tỉnh phê duyệt trước khi mời thành viên.".into(),
        )
        .await;
    }
    if let Some(wait) = crate::auth::session::rate_limit(
        &state,
        &format!("invite:producer:{}", member.producer_id),
        INVITES_PER_DAY,
        24 * 3600,
    )
    .await?
    {
        return invite_refused(
            &state,
            &member,
            &session,
            &form.login,
            format!(
                "Gian hàng đã gửi {INVITES_PER_DAY} lời mời trong 24 giờ qua, mức tối đa. Vui lòng thử lại sau {} giờ.",
                wait.div_ceil(3600)
            ),
        )
        .await;
    }
    let login = match crate::auth::identity::Login::parse(&form.login) {
        Ok(l) => l,
        Err(msg) => {
            return invite_refused(&state, &member, &session, &form.login, msg.to_string()).await;
        }
    };
    let token = crate::crypto::random_token();
    let invitation = Invitation {
        producer_id: member.producer_id,
        login: login.as_str().to_string(),
        invited_by: member.user.user_id,
    };
    let mut redis = state.redis.clone();
    let _: () = redis
        .set_ex(
            invite_key(&state, &token),
            serde_json::to_string(&invitation).expect("serialises"),
            INVITE_TTL_SECS,
        )
        .await
        .map_err(crate::auth::session::redis_down)?;
    let link = format!("{}/invite/{token}", state.config.public_url());
    state
        .mailer
        .notify(
            Some(login.as_str()),
            "Lời mời tham gia quản lý gian hàng OCOP",
            format!(
                "{} mời bạn cùng quản lý gian hàng của {} trên Sàn OCOP.\n\nMở liên kết sau (trong 7 ngày) để nhận lời mời:\n{link}\n",
                member.user.display_name, member.producer_name
            ),
        )
        .await;
    let page = MembersPage {
        invite_link: Some(link),
        invited: Some(login.as_str()),
        ..Default::default()
    };
    members_page_of(&state, StatusCode::OK, &member, &session, page).await
}

/// The members page again, with why the invitation was not sent.
pub(super) async fn invite_refused(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    typed: &str,
    message: String,
) -> Result<Response, AppError> {
    let page = MembersPage {
        values: [("login", typed)].into(),
        errors: [("login", message)].into(),
        ..Default::default()
    };
    members_page_of(
        state,
        StatusCode::UNPROCESSABLE_ENTITY,
        member,
        session,
        page,
    )
    .await
}

pub(super) async fn remove_member(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(user_id): Id,
    CheckedForm { .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    member.owner()?;
    let mut tx =
        crate::audit::begin(&state.pool, member.user.user_id, "member.remove", None).await?;
    // the owner cannot remove themselves: a producer always has one
    let n = sqlx::query!(
        "delete from producer_member where producer_id = $1 and user_id = $2 and role = 'staff'",
        member.producer_id,
        user_id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(AppError::NotFound);
    }
    sqlx::query!(
        "update app_user set role = 'shopper' where user_id = $1 and role = 'producer'",
        user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // whoever was removed is signed out everywhere
    crate::auth::session::end_sessions(&state, user_id, None).await?;
    Ok(to("/producer/members?ok=member_removed".into()))
}

pub(super) async fn load_invitation(
    state: &AppState,
    token: &str,
) -> Result<Option<Invitation>, AppError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let mut redis = state.redis.clone();
    let raw: Option<String> = redis
        .get(invite_key(&state, token))
        .await
        .map_err(crate::auth::session::redis_down)?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}

pub(super) fn invitation_matches(user: &CurrentUser, inv: &Invitation) -> bool {
    user.email.as_deref() == Some(inv.login.as_str())
        || user.phone.as_deref() == Some(inv.login.as_str())
}

pub(super) async fn invite_page(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Result<Response, AppError> {
    let inv = load_invitation(&state, &token).await?;
    let producer = match &inv {
        Some(i) => {
            sqlx::query_scalar!(
                "select name from producer where producer_id = $1",
                i.producer_id
            )
            .fetch_optional(&state.pool)
            .await?
        }
        None => None,
    };
    let problem = match (&inv, &producer) {
        (None, _) | (_, None) => Some(
            "Lời mời không còn hiệu lực (đã dùng hoặc quá 7 ngày). Hãy nhờ chủ gian hàng gửi lời mời mới.",
        ),
        (Some(i), _) if !invitation_matches(&user, i) => Some(
            "Lời mời này dành cho một email hoặc số điện thoại khác. Hãy đăng nhập bằng đúng tài khoản được mời.",
        ),
        _ if ProducerMember::of(&state, user.clone()).await?.is_some() => {
            Some("Tài khoản của bạn đã thuộc một chủ thể OCOP.")
        }
        _ if user.role.is_staff() => {
            Some("Tài khoản cán bộ không thể làm thành viên của chủ thể OCOP.")
        }
        _ => None,
    };
    let page = InvitePage {
        csrf: &session.data.csrf,
        token: &token,
        producer_name: producer,
        problem,
    };
    Ok(show(
        if problem.is_some() {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        },
        "producer/invite.html",
        &page,
    ))
}

/// An invitation to help run a producer's shop, or why it cannot be taken.
#[derive(Serialize)]
struct InvitePage<'a> {
    csrf: &'a str,
    token: &'a str,
    producer_name: Option<String>,
    problem: Option<&'static str>,
}

pub(super) async fn accept_invite(
    State(state): State<AppState>,
    user: CurrentUser,
    axum::extract::Path(token): axum::extract::Path<String>,
    CheckedForm { session, .. }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    let _ = session;
    let Some(inv) = load_invitation(&state, &token).await? else {
        return Err(AppError::NotFound);
    };
    if !invitation_matches(&user, &inv)
        || user.role.is_staff()
        || ProducerMember::of(&state, user.clone()).await?.is_some()
    {
        return Err(AppError::NotFound);
    }
    // one use: whoever takes the token first
    let mut redis = state.redis.clone();
    let taken: Option<String> = redis::cmd("GETDEL")
        .arg(invite_key(&state, &token))
        .query_async(&mut redis)
        .await
        .map_err(crate::auth::session::redis_down)?;
    if taken.is_none() {
        return Err(AppError::NotFound);
    }
    let mut tx = crate::audit::begin(&state.pool, user.user_id, "member.join", None).await?;
    let joined = sqlx::query!(
        "insert into producer_member (producer_id, user_id, role) values ($1, $2, 'staff') on conflict do nothing",
        inv.producer_id,
        user.user_id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if joined == 0 {
        return Err(AppError::NotFound);
    }
    sqlx::query!(
        "update app_user set role = 'producer' where user_id = $1 and role = 'shopper'",
        user.user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(to("/producer?ok=joined".into()))
}
