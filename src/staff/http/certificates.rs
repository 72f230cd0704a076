//! Certificates: verify or reject what producers declared, revoke a verified one, see the scan.

use super::*;

pub(super) async fn certificates(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let status = match q.status.as_deref() {
        Some("verified") => "verified",
        _ => "pending",
    };
    let search =
        q.q.as_deref()
            .map(crate::domain::fold_vietnamese)
            .filter(|s| !s.is_empty());
    let total = sqlx::query_scalar!(
        r#"select count(*) as "n!" from certificate c join product p using (product_id) join producer pr using (producer_id)
           where c.verification = $1 and ($2::smallint is null or pr.province_code = $2)
             and ($3::text is null or p.search_name like '%' || $3 || '%')"#,
        status,
        staff.province,
        search
    )
    .fetch_one(&state.pool)
    .await?;
    let (page_no, nav) = paging(q.page.as_deref(), total, |n| {
        let mut qs = form_urlencoded::Serializer::new(String::new());
        qs.append_pair("status", status);
        if let Some(text) = q.q.as_deref().filter(|t| !t.trim().is_empty()) {
            qs.append_pair("q", text);
        }
        qs.append_pair("page", &n.to_string());
        format!("/staff/certificates?{}", qs.finish())
    });
    let rows: Vec<CertificateRow> = sqlx::query!(
        r#"select c.certificate_id, c.decision_number, c.stars, c.awarding_level, c.awarding_body, c.issued_on, c.expires_on,
                  c.status, c.revoked_on, c.revoked_reason, c.scan_file is not null as "has_scan!", c.created_at,
                  p.product_id, p.name as product_name, p.slug, pr.name as producer_name, pr.status as producer_status,
                  pv.name as province_name, p.sector, certificate_version(c.certificate_id) as "version!"
           from certificate c join product p using (product_id) join producer pr using (producer_id)
           join province pv on pv.province_code = pr.province_code
           where c.verification = $1 and ($2::smallint is null or pr.province_code = $2)
             and ($3::text is null or p.search_name like '%' || $3 || '%')
           order by case when $1 = 'pending' then c.created_at end, c.issued_on desc, c.certificate_id desc
           limit $4 offset $5"#,
        status,
        staff.province,
        search,
        PER_PAGE,
        (page_no - 1) * PER_PAGE
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| CertificateRow {
        id: r.certificate_id,
        decision_number: r.decision_number,
        stars: r.stars,
        awarding_level: crate::domain::AwardingLevel::from_key(&r.awarding_level).map(|l| l.label()),
        awarding_body: r.awarding_body,
        issued_on: r.issued_on.to_string(),
        expires_on: r.expires_on.to_string(),
        revoked: r.status == "revoked",
        revoked_on: r.revoked_on.map(|d| d.to_string()),
        revoked_reason: r.revoked_reason,
        has_scan: r.has_scan,
        product_id: r.product_id,
        product_name: r.product_name,
        slug: r.slug,
        producer_name: r.producer_name,
        producer_approved: r.producer_status == "approved",
        province: r.province_name,
        sector: crate::domain::Sector::from_key(&r.sector).map(|s| s.label()),
        version: r.version,
    })
    .collect();
    let page = CertificatesPage {
        certificates: rows,
        status,
        q: q.q.as_deref(),
        today: crate::domain::vn_today().to_string(),
        nav,
        notice: notice_text(q.ok.as_deref()),
    };
    Ok(show(
        StatusCode::OK,
        "staff/certificates.html",
        &framed(&state, &session, &staff, page),
    ))
}

/// Certificates waiting for staff (or verified ones), found by product name, 50 a page.
#[derive(Serialize)]
struct CertificatesPage<'a> {
    certificates: Vec<CertificateRow>,
    status: &'static str,
    q: Option<&'a str>,
    today: String,
    nav: Nav,
    notice: Option<&'static str>,
}

#[derive(Serialize)]
struct CertificateRow {
    id: i64,
    decision_number: String,
    stars: i16,
    awarding_level: Option<&'static str>,
    awarding_body: String,
    issued_on: String,
    expires_on: String,
    revoked: bool,
    revoked_on: Option<String>,
    revoked_reason: Option<String>,
    has_scan: bool,
    product_id: i64,
    product_name: String,
    slug: String,
    producer_name: String,
    producer_approved: bool,
    province: String,
    sector: Option<&'static str>,
    version: String,
}

/// The product and producer of a certificate inside this staff member's scope, or 404.
pub(super) async fn certificate_in_scope(
    state: &AppState,
    staff: &Staff,
    id: i64,
) -> Result<(i64, i64, String), AppError> {
    let r = sqlx::query!(
        r#"select p.product_id, p.producer_id, p.name from certificate c join product p using (product_id)
           join producer pr using (producer_id)
           where c.certificate_id = $1 and ($2::smallint is null or pr.province_code = $2)"#,
        id,
        staff.province
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok((r.product_id, r.producer_id, r.name))
}

#[derive(Deserialize)]
pub(super) struct VerifyForm {
    /// what the page showed (`certificate_version`)
    #[serde(default)]
    version: String,
}

pub(super) async fn verify_certificate(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<VerifyForm>,
) -> Result<Response, AppError> {
    let (product_id, producer_id, name) = certificate_in_scope(&state, &staff, id).await?;
    let mut tx =
        crate::audit::begin(&state.pool, staff.user.user_id, "certificate.verify", None).await?;
    // the product's row is the lock a producer's edit also takes: nothing changes in between
    sqlx::query!(
        "select product_id from product where product_id = $1 for update",
        product_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let current = sqlx::query!(
        r#"select verification, certificate_version(certificate_id) as "version!" from certificate
           where certificate_id = $1 for update"#,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    if current.verification != "pending" {
        return Err(AppError::bad(
            "not_pending",
            "Giấy chứng nhận này không còn chờ xác nhận.",
        ));
    }
    if !crate::crypto::same(current.version.as_bytes(), form.version.as_bytes()) {
        return Err(AppError::Conflict(
            "Chủ thể đã sửa sản phẩm hoặc giấy chứng nhận sau khi bạn mở trang. Chưa có gì được xác nhận; hãy tải lại trang và xem lại hồ sơ.".into(),
        ));
    }
    sqlx::query!(
        "update certificate set verification = 'verified', verified_by = $2, verified_at = now()
         where certificate_id = $1",
        id,
        staff.user.user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    state.catalog.refresh_after(&[product_id], &[]).await;
    notify_owner(
        &state,
        producer_id,
        "Giấy chứng nhận OCOP đã được xác nhận",
        format!("Giấy chứng nhận OCOP của sản phẩm \"{name}\" đã được xác nhận.\n"),
    )
    .await;
    Ok(Redirect::to("/staff/certificates?ok=verified").into_response())
}

pub(super) async fn reject_certificate(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ReasonForm>,
) -> Result<Response, AppError> {
    let why = reason(&form)?;
    let (_, producer_id, name) = certificate_in_scope(&state, &staff, id).await?;
    let mut tx = crate::audit::begin(
        &state.pool,
        staff.user.user_id,
        "certificate.reject",
        Some(&why),
    )
    .await?;
    let n = sqlx::query!(
        "update certificate set verification = 'rejected', rejection_reason = $2, verified_by = $3, verified_at = now()
         where certificate_id = $1 and verification = 'pending'",
        id,
        why,
        staff.user.user_id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(AppError::bad(
            "not_pending",
            "Giấy chứng nhận này không còn chờ xác nhận.",
        ));
    }
    tx.commit().await?;
    notify_owner(
        &state,
        producer_id,
        "Giấy chứng nhận OCOP chưa được xác nhận",
        format!("Giấy chứng nhận của sản phẩm \"{name}\" chưa được xác nhận.\n\nLý do: {why}\n"),
    )
    .await;
    Ok(Redirect::to("/staff/certificates?ok=cert_rejected").into_response())
}

pub(super) async fn revoke_certificate(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ReasonForm>,
) -> Result<Response, AppError> {
    let why = reason(&form)?;
    let today = crate::domain::vn_today();
    let revoked_on = match form.revoked_on.trim() {
        "" => today,
        s => crate::producer::parse_date(s)
            .filter(|d| *d <= today)
            .ok_or_else(|| AppError::bad("bad_date", "Ngày thu hồi theo dạng ngày/tháng/năm và không sau hôm nay. Chưa có gì thay đổi."))?,
    };
    let (product_id, producer_id, name) = certificate_in_scope(&state, &staff, id).await?;
    let mut tx = crate::audit::begin(
        &state.pool,
        staff.user.user_id,
        "certificate.revoke",
        Some(&why),
    )
    .await?;
    let n = sqlx::query!(
        "update certificate set status = 'revoked', revoked_on = $2, revoked_reason = $3
         where certificate_id = $1 and verification = 'verified' and status = 'active'",
        id,
        revoked_on,
        why
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(AppError::bad(
            "not_active",
            "Giấy chứng nhận này chưa được xác nhận hoặc đã bị thu hồi.",
        ));
    }
    tx.commit().await?;
    // gone from this instance's listing now; the search outbox was written in the same transaction
    state.catalog.refresh_after(&[product_id], &[]).await;
    notify_owner(&state, producer_id, "Chứng nhận OCOP đã bị thu hồi", format!("Chứng nhận OCOP của sản phẩm \"{name}\" đã bị thu hồi từ ngày {revoked_on}.\n\nLý do: {why}\n"))
        .await;
    Ok(Redirect::to("/staff/certificates?status=verified&ok=revoked").into_response())
}

pub(super) async fn scan(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
) -> Result<Response, AppError> {
    let file = sqlx::query_scalar!(
        r#"select c.scan_file from certificate c join product p using (product_id) join producer pr using (producer_id)
           where c.certificate_id = $1 and ($2::smallint is null or pr.province_code = $2)"#,
        id,
        staff.province
    )
    .fetch_optional(&state.pool)
    .await?
    .flatten()
    .ok_or(AppError::NotFound)?;
    crate::media::scan_answer(&state.media, &file).await
}
