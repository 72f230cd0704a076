//! Registering a producer (pending until its province's staff approve) and its profile.

use super::*;

/// The producer's form: registering, or (with `member`) the owner editing the profile.
#[derive(Serialize)]
pub(super) struct ProducerFormPage<'a> {
    csrf: &'a str,
    values: &'a BTreeMap<String, String>,
    errors: &'a Errors,
    editing: bool,
    producer_types: Vec<Choice>,
    sectors: Vec<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<&'a ProducerMember>,
    /// the provinces, and the communes of the one chosen
    #[serde(flatten)]
    picker: Value,
}

pub(super) fn producer_form<'a>(
    state: &AppState,
    session: &'a Session,
    values: &'a BTreeMap<String, String>,
    errors: &'a Errors,
    member: Option<&'a ProducerMember>,
) -> ProducerFormPage<'a> {
    let province = values.get("province").and_then(|p| p.parse().ok());
    ProducerFormPage {
        csrf: &session.data.csrf,
        values,
        errors,
        editing: member.is_some(),
        producer_types: producer_types(),
        sectors: sectors(),
        member,
        picker: provinces_and_communes(state, province),
    }
}

pub(super) async fn register_page(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
) -> Result<Response, AppError> {
    if ProducerMember::of(&state, user.clone()).await?.is_some() {
        return Ok(to("/producer".into()));
    }
    if user.role.is_staff() {
        return Err(AppError::NotFound);
    }
    let mut values = BTreeMap::new();
    if let Some(phone) = &user.phone {
        values.insert("phone".to_string(), phone.clone());
    }
    let errors = Errors::new();
    let page = producer_form(&state, &session, &values, &errors, None);
    Ok(show(StatusCode::OK, "producer/register.html", &page))
}

pub(super) async fn register(
    State(state): State<AppState>,
    user: CurrentUser,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    if ProducerMember::of(&state, user.clone()).await?.is_some() {
        return Ok(to("/producer".into()));
    }
    if user.role.is_staff() {
        return Err(AppError::NotFound);
    }
    let values: BTreeMap<String, String> = form.into_iter().filter(|(k, _)| k != "csrf").collect();
    // without JavaScript, choosing a province first shows its communes
    if values.get("step").map(String::as_str) == Some("province") {
        let errors = Errors::new();
        let page = producer_form(&state, &session, &values, &errors, None);
        return Ok(show(StatusCode::OK, "producer/register.html", &page));
    }
    let admin = state.catalog.snapshot().admin.clone();
    let draft = match ProducerDraft::parse(&values, &admin) {
        Ok(d) => d,
        Err(errors) => {
            let ctx = producer_form(&state, &session, &values, &errors, None);
            return Ok(show(
                StatusCode::UNPROCESSABLE_ENTITY,
                "producer/register.html",
                &ctx,
            ));
        }
    };
    let mut tx = crate::audit::begin(&state.pool, user.user_id, "producer.register", None).await?;
    let slug =
        crate::import::free_slug(&mut tx, "producer", &draft.name, draft.commune_code).await?;
    let inserted = sqlx::query_scalar!(
        r#"insert into producer (slug, name, producer_type, province_code, commune_code, address, phone,
                                 registration_no, story, status, email, tax_code, citizen_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12)
           on conflict do nothing
           returning producer_id"#,
        slug,
        draft.name,
        draft.producer_type.key(),
        draft.province_code,
        draft.commune_code,
        draft.address,
        draft.phone,
        draft.registration_no,
        draft.story,
        user.email,
        draft.tax_code.as_ref().map(crate::domain::TaxCode::as_str),
        draft.citizen_id.as_ref().map(crate::domain::CitizenId::as_str)
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(producer_id) = inserted else {
        let mut errors = Errors::new();
        errors.insert("name", "Xã này đã có một chủ thể OCOP cùng tên. Nếu đó là đơn vị của bạn, hãy nhờ chủ tài khoản mời bạn làm thành viên.".into());
        let ctx = producer_form(&state, &session, &values, &errors, None);
        return Ok(show(
            StatusCode::UNPROCESSABLE_ENTITY,
            "producer/register.html",
            &ctx,
        ));
    };
    sqlx::query!(
        "insert into producer_member (producer_id, user_id, role) values ($1, $2, 'owner')",
        producer_id,
        user.user_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update app_user set role = 'producer' where user_id = $1 and role = 'shopper'",
        user.user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(to("/producer?ok=registered".into()))
}

pub(super) async fn profile_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
) -> Result<Response, AppError> {
    member.owner()?;
    let r = sqlx::query!(
        "select name, producer_type, province_code, commune_code, address, phone, registration_no, story,
                tax_code, citizen_id
         from producer where producer_id = $1",
        member.producer_id
    )
    .fetch_one(&state.pool)
    .await?;
    let values: BTreeMap<String, String> = [
        ("name", r.name),
        ("producer_type", r.producer_type),
        ("province", r.province_code.to_string()),
        ("commune", r.commune_code.to_string()),
        ("address", r.address),
        ("phone", r.phone.unwrap_or_default()),
        ("registration_no", r.registration_no.unwrap_or_default()),
        ("tax_code", r.tax_code.unwrap_or_default()),
        ("citizen_id", r.citizen_id.unwrap_or_default()),
        ("story", r.story),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let errors = Errors::new();
    let page = producer_form(&state, &session, &values, &errors, Some(&member));
    Ok(show(StatusCode::OK, "producer/register.html", &page))
}

pub(super) async fn profile(
    State(state): State<AppState>,
    member: ProducerMember,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    member.owner()?;
    let values: BTreeMap<String, String> = form.into_iter().filter(|(k, _)| k != "csrf").collect();
    let admin = state.catalog.snapshot().admin.clone();
    let rerender = |errors: &Errors, status| {
        let page = producer_form(&state, &session, &values, errors, Some(&member));
        show(status, "producer/register.html", &page)
    };
    if values.get("step").map(String::as_str) == Some("province") {
        return Ok(rerender(&Errors::new(), StatusCode::OK));
    }
    let draft = match ProducerDraft::parse(&values, &admin) {
        Ok(d) => d,
        Err(errors) => return Ok(rerender(&errors, StatusCode::UNPROCESSABLE_ENTITY)),
    };
    let mut tx =
        crate::audit::begin(&state.pool, member.user.user_id, "producer.update", None).await?;
    // A rejected registration goes back to the queue when corrected; moving to another province
    // needs that province's approval.
    let updated = sqlx::query!(
        r#"update producer set name = $2, producer_type = $3, province_code = $4, commune_code = $5,
               address = $6, phone = $7, registration_no = $8, story = $9,
               tax_code = $10, citizen_id = $11,
               -- a changed identity waits for staff to compare it with the papers again
               identity_checked_at = case when (tax_code, citizen_id) is not distinct from ($10, $11)
                                          then identity_checked_at end,
               identity_checked_by = case when (tax_code, citizen_id) is not distinct from ($10, $11)
                                          then identity_checked_by end,
               status = case when status = 'rejected' or province_code <> $4 then 'pending' else status end,
               rejection_reason = case when status = 'rejected' or province_code <> $4 then null else rejection_reason end
           where producer_id = $1"#,
        member.producer_id,
        draft.name,
        draft.producer_type.key(),
        draft.province_code,
        draft.commune_code,
        draft.address,
        draft.phone,
        draft.registration_no,
        draft.story,
        draft.tax_code.as_ref().map(crate::domain::TaxCode::as_str),
        draft.citizen_id.as_ref().map(crate::domain::CitizenId::as_str)
    )
    .execute(&mut *tx)
    .await;
    match updated {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            let mut errors = Errors::new();
            errors.insert("name", "Xã này đã có một chủ thể OCOP cùng tên.".into());
            return Ok(rerender(&errors, StatusCode::UNPROCESSABLE_ENTITY));
        }
        other => {
            other?;
        }
    }
    tx.commit().await?;
    state
        .catalog
        .refresh_after(&[], &[member.producer_id])
        .await;
    Ok(to("/producer?ok=profile".into()))
}
