//! Certificates: the OCOP decision declared with its scan, for the province's staff to verify.

use super::*;
pub(super) async fn submit_certificate(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    form: UploadForm,
) -> Result<Response, AppError> {
    let product = owned_product(&state, &member, id).await?;
    let values = field_map(&form.fields);
    let mut errors = CertificateDraft::parse(&values).err().unwrap_or_default();
    if form.too_big.iter().any(|f| f == "scan") {
        errors.insert("scan", crate::media::UploadError::TooBig.to_string());
    } else if form.file("scan").is_none() {
        errors.insert(
            "scan",
            "Vui lòng tải lên bản chụp hoặc bản quét quyết định công nhận (PDF hoặc ảnh).".into(),
        );
    }
    let existing = sqlx::query!(
        "select certificate_id, verification from certificate where product_id = $1 and decision_number = $2",
        id,
        values.get("decision_number").map(|s| s.trim()).unwrap_or("")
    )
    .fetch_optional(&state.pool)
    .await?;
    if existing
        .as_ref()
        .is_some_and(|c| c.verification == "verified")
    {
        errors.insert(
            "decision_number",
            "Quyết định này đã được xác nhận cho sản phẩm.".into(),
        );
    }
    if errors.is_empty() {
        if let Some(why) = upload_refusal(&state, &member).await? {
            errors.insert("scan", why);
        }
    }
    let scan = if errors.is_empty() {
        match state
            .media
            .store_scan(form.file("scan").expect("checked").clone())
            .await
        {
            Ok((name, size)) => {
                crate::media::record(&state.pool, member.producer_id, &name, "scan", size).await?;
                Some(name)
            }
            Err(e) => {
                errors.insert("scan", e.to_string());
                None
            }
        }
    } else {
        None
    };
    if !errors.is_empty() {
        return product_form_again(
            &state,
            &member,
            &form.session,
            Some(&product),
            &product.values,
            &errors,
            ProductExtras {
                cert_values: Some(&values),
                open_certificate: true,
                ..Default::default()
            },
        )
        .await;
    }
    let d = CertificateDraft::parse(&values).expect("checked above");
    let mut tx =
        crate::audit::begin(&state.pool, member.user.user_id, "certificate.submit", None).await?;
    // the same lock staff verification takes: a swap and a verification never interleave
    sqlx::query!(
        "select product_id from product where product_id = $1 for update",
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    // a pending or rejected entry of the same decision is corrected and goes back to the queue
    sqlx::query!(
        r#"insert into certificate (product_id, stars, awarding_level, awarding_body, decision_number, issued_on, expires_on,
                                    potential_five_star, verification, submitted_by, scan_file)
           values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)
           on conflict (product_id, decision_number) do update set
               stars = excluded.stars, awarding_level = excluded.awarding_level, awarding_body = excluded.awarding_body,
               issued_on = excluded.issued_on, expires_on = excluded.expires_on,
               potential_five_star = excluded.potential_five_star, verification = 'pending',
               submitted_by = excluded.submitted_by, scan_file = excluded.scan_file, rejection_reason = null
           where certificate.verification <> 'verified'"#,
        id,
        d.stars.get() as i16,
        d.stars.awarding_level().key(),
        d.awarding_body,
        d.decision_number,
        d.issued_on,
        d.expires_on,
        d.potential_five_star,
        member.user.user_id,
        scan
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(to(format!("/producer/products/{id}?ok=certificate")))
}

/// A certificate scan, to members of the producer whose product it is.
pub(super) async fn scan(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
) -> Result<Response, AppError> {
    let file = sqlx::query_scalar!(
        "select c.scan_file from certificate c join product p using (product_id)
         where c.certificate_id = $1 and p.producer_id = $2",
        id,
        member.producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    .flatten()
    .ok_or(AppError::NotFound)?;
    crate::media::scan_answer(&state.media, &file).await
}
