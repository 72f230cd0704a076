//! Producers waiting for their province's staff: approve, or reject with a reason (the owner is told).

use super::*;

pub(super) async fn producers(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let status = match q.status.as_deref() {
        Some(s @ ("approved" | "rejected")) => s,
        _ => "pending",
    };
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from producer pr
           where pr.status = $1 and ($2::smallint is null or pr.province_code = $2)"#,
        status,
        staff.province
    )
    .fetch_one(&state.pool)
    .await?;
    let (page_no, nav) = paging(q.page.as_deref(), total, |n| {
        format!("/staff/producers?status={status}&page={n}")
    });
    let rows: Vec<ProducerRow> = sqlx::query!(
        r#"select pr.producer_id, pr.name, pr.producer_type, pr.address, pr.phone, pr.email, pr.registration_no,
                  pr.rejection_reason, pr.created_at, c.name as commune_name, pv.name as province_name,
                  (select u.display_name from producer_member m join app_user u using (user_id)
                    where m.producer_id = pr.producer_id and m.role = 'owner') as owner_name
           from producer pr join commune c on c.commune_code = pr.commune_code
           join province pv on pv.province_code = pr.province_code
           where pr.status = $1 and ($2::smallint is null or pr.province_code = $2)
           order by pr.created_at, pr.producer_id
           limit $3 offset $4"#,
        status,
        staff.province,
        PER_PAGE,
        (page_no - 1) * PER_PAGE
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| ProducerRow {
        id: r.producer_id,
        name: r.name,
        kind: crate::domain::ProducerType::from_key(&r.producer_type).map(|t| t.label()),
        address: r.address,
        phone: r.phone,
        email: r.email,
        registration_no: r.registration_no,
        rejection_reason: r.rejection_reason,
        created_at: r.created_at,
        commune: r.commune_name,
        province: r.province_name,
        owner: r.owner_name,
    })
    .collect();
    let page = ProducersPage {
        producers: rows,
        status,
        nav,
        notice: notice_text(q.ok.as_deref()),
    };
    Ok(show(
        StatusCode::OK,
        "staff/producers.html",
        &framed(&state, &session, &staff, page),
    ))
}

/// Producers of one state (waiting, approved, rejected) in scope, 50 a page.
#[derive(Serialize)]
struct ProducersPage<'a> {
    producers: Vec<ProducerRow>,
    status: &'a str,
    nav: Nav,
    notice: Option<&'static str>,
}

#[derive(Serialize)]
struct ProducerRow {
    id: i64,
    name: String,
    #[serde(rename = "type")]
    kind: Option<&'static str>,
    address: String,
    phone: Option<String>,
    email: Option<String>,
    registration_no: Option<String>,
    rejection_reason: Option<String>,
    created_at: time::OffsetDateTime,
    commune: String,
    province: String,
    owner: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ReasonForm {
    #[serde(default)]
    pub(super) reason: String,
    #[serde(default)]
    pub(super) revoked_on: String,
}

pub(super) fn reason(form: &ReasonForm) -> Result<String, AppError> {
    let r = form.reason.trim();
    if r.chars().count() < 5 || r.chars().count() > 500 {
        return Err(AppError::bad(
            "reason_required",
            "Vui lòng ghi lý do (từ 5 đến 500 ký tự) để chủ thể biết cần làm gì. Chưa có gì thay đổi.",
        ));
    }
    Ok(r.to_string())
}

/// Mails the producer's owner (when they gave an email address).
pub(super) async fn notify_owner(state: &AppState, producer_id: i64, subject: &str, body: String) {
    match owner_email(state, producer_id).await {
        Ok(to) => state.mailer.notify(to.as_deref(), subject, body).await,
        Err(e) => tracing::warn!(error = %e, "owner's address not found; notification not sent"),
    }
}

/// The owner's address, for notifications.
pub(super) async fn owner_email(
    state: &AppState,
    producer_id: i64,
) -> Result<Option<String>, AppError> {
    Ok(sqlx::query_scalar!(
        "select u.email from producer_member m join app_user u using (user_id) where m.producer_id = $1 and m.role = 'owner'",
        producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    .flatten())
}

pub(super) async fn decide_producer(
    state: &AppState,
    staff: &Staff,
    id: i64,
    reject: Option<String>,
) -> Result<String, AppError> {
    let action = if reject.is_some() {
        "producer.reject"
    } else {
        "producer.approve"
    };
    let mut tx =
        crate::audit::begin(&state.pool, staff.user.user_id, action, reject.as_deref()).await?;
    let name = sqlx::query_scalar!(
        r#"update producer set status = $3, rejection_reason = $4, reviewed_by = $5, reviewed_at = now()
           where producer_id = $1 and status = 'pending' and ($2::smallint is null or province_code = $2)
           returning name"#,
        id,
        staff.province,
        if reject.is_some() { "rejected" } else { "approved" },
        reject,
        staff.user.user_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    state.catalog.refresh_after(&[], &[id]).await;
    Ok(name)
}

pub(super) async fn approve_producer(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { .. }: CheckedForm<ReasonForm>,
) -> Result<Response, AppError> {
    let name = decide_producer(&state, &staff, id, None).await?;
    notify_owner(&state, id,
            "Chủ thể OCOP của bạn đã được phê duyệt",
            format!("{name} đã được cán bộ OCOP phê duyệt trên Sàn OCOP.\n\nSản phẩm có giấy chứng nhận đã được xác nhận sẽ được bày bán.\n{}/producer\n", state.config.public_url()),
        )
        .await;
    Ok(Redirect::to("/staff/producers?ok=approved").into_response())
}

pub(super) async fn reject_producer(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ReasonForm>,
) -> Result<Response, AppError> {
    let why = reason(&form)?;
    let name = decide_producer(&state, &staff, id, Some(why.clone())).await?;
    notify_owner(&state, id,
            "Đăng ký chủ thể OCOP cần bổ sung",
            format!("Đăng ký của {name} chưa được phê duyệt.\n\nLý do: {why}\n\nBạn có thể sửa thông tin và gửi lại tại:\n{}/producer/profile\n", state.config.public_url()),
        )
        .await;
    Ok(Redirect::to("/staff/producers?ok=rejected").into_response())
}
