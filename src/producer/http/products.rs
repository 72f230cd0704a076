//! Products: create, edit, hide, pictures (the first becomes the cover), stock adjustments.

use super::*;

pub(super) struct OwnedProduct {
    pub(super) id: i64,
    pub(super) images: Vec<String>,
    pub(super) values: BTreeMap<String, String>,
    pub(super) hidden: bool,
    pub(super) stock: i32,
    pub(super) slug: String,
}

/// A product of this member's producer, or 404.
pub(super) async fn owned_product(
    state: &AppState,
    member: &ProducerMember,
    id: i64,
) -> Result<OwnedProduct, AppError> {
    let r = sqlx::query!(
        "select product_id, name, sector, story, price_vnd, stock, unit, weight_grams, length_cm, width_cm, height_cm,
                images, hidden, slug, name_en, story_en
         from product where product_id = $1 and producer_id = $2",
        id,
        member.producer_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    let values = [
        ("name", r.name),
        ("sector", r.sector),
        ("story", r.story),
        ("name_en", r.name_en.unwrap_or_default()),
        ("story_en", r.story_en.unwrap_or_default()),
        ("price", r.price_vnd.to_string()),
        ("unit", r.unit),
        (
            "weight_grams",
            r.weight_grams.map(|w| w.to_string()).unwrap_or_default(),
        ),
        (
            "size_cm",
            match (r.length_cm, r.width_cm, r.height_cm) {
                (Some(l), Some(w), Some(h)) => format!("{l}x{w}x{h}"),
                _ => String::new(),
            },
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Ok(OwnedProduct {
        id: r.product_id,
        images: r.images,
        values,
        hidden: r.hidden,
        stock: r.stock,
        slug: r.slug,
    })
}

/// What else the product page says: a notice after an action, or the stock or certificate form
/// that came back with what was typed. Absent fields stay absent (the template falls back).
#[derive(Serialize, Default)]
pub(super) struct ProductExtras<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) notice: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) stock_values: Option<StockValues<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) cert_values: Option<&'a BTreeMap<String, String>>,
    pub(super) open_certificate: bool,
}

#[derive(Serialize)]
pub(super) struct StockValues<'a> {
    delta: &'a str,
    reason: &'a str,
}

/// The product page: its form, its pictures and stock, its certificates.
#[derive(Serialize)]
struct ProductPage<'a> {
    csrf: &'a str,
    member: &'a ProducerMember,
    values: &'a BTreeMap<String, String>,
    errors: &'a Errors,
    product: Option<ProductState<'a>>,
    certificates: Vec<CertificateRow>,
    can_add_image: bool,
    stock_reasons: Vec<Choice>,
    producer_types: Vec<Choice>,
    sectors: Vec<Choice>,
    #[serde(flatten)]
    more: ProductExtras<'a>,
}

#[derive(Serialize)]
struct ProductState<'a> {
    id: i64,
    images: &'a [String],
    hidden: bool,
    stock: i32,
    slug: &'a str,
    listed: bool,
    can_add_image: bool,
}

#[derive(Serialize)]
struct CertificateRow {
    id: i64,
    decision_number: String,
    stars: i16,
    awarding_level: String,
    awarding_body: String,
    issued_on: String,
    expires_on: String,
    verification: String,
    status: String,
    rejection_reason: Option<String>,
    revoked_reason: Option<String>,
    revoked_on: Option<String>,
    has_scan: bool,
}

/// The product page, with what was typed and what is wrong with it, and anything `more`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn render_product(
    state: &AppState,
    status: StatusCode,
    member: &ProducerMember,
    session: &Session,
    product: Option<&OwnedProduct>,
    values: &BTreeMap<String, String>,
    errors: &Errors,
    more: ProductExtras<'_>,
) -> Result<Response, AppError> {
    let mut certificates = vec![];
    if let Some(p) = product {
        certificates = sqlx::query!(
            r#"select certificate_id, decision_number, stars, awarding_level, awarding_body, issued_on, expires_on,
                      verification, status, rejection_reason, revoked_reason, revoked_on, scan_file is not null as "has_scan!"
               from certificate where product_id = $1 order by issued_on desc, certificate_id desc"#,
            p.id
        )
        .fetch_all(&state.pool)
        .await?
        .into_iter()
        .map(|c| CertificateRow {
            id: c.certificate_id,
            decision_number: c.decision_number,
            stars: c.stars,
            awarding_level: c.awarding_level,
            awarding_body: c.awarding_body,
            issued_on: c.issued_on.to_string(),
            expires_on: c.expires_on.to_string(),
            verification: c.verification,
            status: c.status,
            rejection_reason: c.rejection_reason,
            revoked_reason: c.revoked_reason,
            revoked_on: c.revoked_on.map(|d| d.to_string()),
            has_scan: c.has_scan,
        })
        .collect();
    }
    let listed = product.is_some_and(|p| state.catalog.snapshot().row_of.contains_key(&p.id));
    let page = ProductPage {
        csrf: &session.data.csrf,
        member,
        values,
        errors,
        product: product.map(|p| ProductState {
            id: p.id,
            images: &p.images,
            hidden: p.hidden,
            stock: p.stock,
            slug: &p.slug,
            listed,
            can_add_image: p.images.len() < MAX_IMAGES,
        }),
        certificates,
        can_add_image: product.is_none_or(|p| p.images.len() < MAX_IMAGES),
        stock_reasons: STOCK_REASONS
            .iter()
            .map(|(k, l)| Choice { key: k, label: l })
            .collect(),
        producer_types: producer_types(),
        sectors: sectors(),
        more,
    };
    Ok(show(status, "producer/product.html", &page))
}

/// The product page again with what was typed and what is wrong with it.
pub(super) async fn product_form_again(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    product: Option<&OwnedProduct>,
    values: &BTreeMap<String, String>,
    errors: &Errors,
    more: ProductExtras<'_>,
) -> Result<Response, AppError> {
    render_product(
        state,
        StatusCode::UNPROCESSABLE_ENTITY,
        member,
        session,
        product,
        values,
        errors,
        more,
    )
    .await
}

pub(super) async fn new_product_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
) -> Result<Response, AppError> {
    // nothing pre-filled: an example in the field would be typed after ("hộphộp")
    let values: BTreeMap<String, String> = BTreeMap::new();
    render_product(
        &state,
        StatusCode::OK,
        &member,
        &session,
        None,
        &values,
        &Errors::new(),
        ProductExtras::default(),
    )
    .await
}

/// Whether this producer may store one more upload now: within its quota (room and files) and
/// its hourly pace. A producer waiting for approval gets only what approval needs. Answers the
/// reason when not.
pub(super) async fn upload_refusal(
    state: &AppState,
    member: &ProducerMember,
) -> Result<Option<String>, AppError> {
    let pending = !member.is_approved();
    let quota = if pending {
        crate::media::PENDING_QUOTA
    } else {
        crate::media::APPROVED_QUOTA
    };
    let (bytes, files) = crate::media::usage(&state.pool, member.producer_id).await?;
    if bytes + crate::media::MAX_UPLOAD_BYTES as i64 > quota.bytes || files >= quota.files {
        return Ok(Some(if pending {
            format!(
                "Khi chờ phê duyệt, gian hàng được tải lên tối đa {} tệp ({} MB). Hãy chờ cán bộ tỉnh phê duyệt rồi tải thêm.",
                quota.files,
                quota.bytes / 1024 / 1024
            )
        } else {
            format!(
                "Gian hàng đã dùng hết dung lượng tải lên ({} tệp, {} MB). Hãy xoá bớt ảnh không dùng.",
                quota.files,
                quota.bytes / 1024 / 1024
            )
        }));
    }
    if let Some(wait) = crate::auth::session::rate_limit(
        state,
        &format!("upload:producer:{}", member.producer_id),
        quota.per_hour,
        3600,
    )
    .await?
    {
        return Ok(Some(format!(
            "Gian hàng đã tải lên {} tệp trong một giờ qua, mức tối đa. Vui lòng thử lại sau {} phút.",
            quota.per_hour,
            wait.div_ceil(60)
        )));
    }
    Ok(None)
}

/// An uploaded picture, stored and counted against the producer's quota; or the field's error.
pub(super) async fn take_image(
    state: &AppState,
    member: &ProducerMember,
    form: &UploadForm,
    errors: &mut Errors,
) -> Result<Option<String>, AppError> {
    if form.too_big.iter().any(|f| f == "image") {
        errors.insert("image", crate::media::UploadError::TooBig.to_string());
        return Ok(None);
    }
    let Some(bytes) = form.file("image").cloned() else {
        return Ok(None);
    };
    if let Some(why) = upload_refusal(state, member).await? {
        errors.insert("image", why);
        return Ok(None);
    }
    match state.media.store_product_image(bytes).await {
        Ok((url, size)) => {
            crate::media::record(&state.pool, member.producer_id, &url, "picture", size).await?;
            Ok(Some(url))
        }
        Err(e) => {
            errors.insert("image", e.to_string());
            Ok(None)
        }
    }
}

pub(super) async fn create_product(
    State(state): State<AppState>,
    member: ProducerMember,
    form: UploadForm,
) -> Result<Response, AppError> {
    let values = field_map(&form.fields);
    let mut errors = match ProductDraft::parse(&values, true) {
        Ok(_) => Errors::new(),
        Err(e) => e,
    };
    // the picture is checked even when other fields are wrong, so every problem shows at once
    let image = if errors.is_empty() {
        take_image(&state, &member, &form, &mut errors).await?
    } else {
        if form.too_big.iter().any(|f| f == "image") {
            errors.insert("image", crate::media::UploadError::TooBig.to_string());
        }
        None
    };
    if !errors.is_empty() {
        return product_form_again(
            &state,
            &member,
            &form.session,
            None,
            &values,
            &errors,
            ProductExtras::default(),
        )
        .await;
    }
    let draft = ProductDraft::parse(&values, true).expect("checked above");
    let commune = sqlx::query_scalar!(
        "select commune_code from producer where producer_id = $1",
        member.producer_id
    )
    .fetch_one(&state.pool)
    .await?;
    let mut tx =
        crate::audit::begin(&state.pool, member.user.user_id, "product.create", None).await?;
    let slug = crate::import::free_slug(&mut tx, "product", &draft.name, commune).await?;
    let images: Vec<String> = image.into_iter().collect();
    let id = sqlx::query_scalar!(
        r#"insert into product (producer_id, slug, name, sector, story, price_vnd, stock, unit, weight_grams, images,
                               length_cm, width_cm, height_cm, name_en, story_en)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           on conflict do nothing returning product_id"#,
        member.producer_id,
        slug,
        draft.name,
        draft.sector.key(),
        draft.story,
        draft.price.amount(),
        draft.stock,
        draft.unit,
        draft.weight_grams,
        &images,
        draft.dims_cm.map(|d| d.0),
        draft.dims_cm.map(|d| d.1),
        draft.dims_cm.map(|d| d.2),
        draft.name_en,
        draft.story_en
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        let mut errors = Errors::new();
        errors.insert("name", "Bạn đã có một sản phẩm cùng tên.".into());
        return product_form_again(
            &state,
            &member,
            &form.session,
            None,
            &values,
            &errors,
            ProductExtras::default(),
        )
        .await;
    };
    tx.commit().await?;
    Ok(to(format!("/producer/products/{id}?ok=created")))
}

pub(super) async fn product_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Id(id): Id,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    let product = owned_product(&state, &member, id).await?;
    render_product(
        &state,
        StatusCode::OK,
        &member,
        &session,
        Some(&product),
        &product.values,
        &Errors::new(),
        ProductExtras {
            notice: notice_text(n.ok.as_deref()),
            ..Default::default()
        },
    )
    .await
}

pub(super) async fn update_product(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    form: UploadForm,
) -> Result<Response, AppError> {
    let product = owned_product(&state, &member, id).await?;
    let values = field_map(&form.fields);
    let mut errors = match ProductDraft::parse(&values, false) {
        Ok(_) => Errors::new(),
        Err(e) => e,
    };
    if form.file("image").is_some() && product.images.len() >= MAX_IMAGES {
        errors.insert(
            "image",
            format!("Mỗi sản phẩm có tối đa {MAX_IMAGES} ảnh. Hãy xoá bớt ảnh cũ trước."),
        );
    }
    let image = if errors.is_empty() {
        take_image(&state, &member, &form, &mut errors).await?
    } else {
        None
    };
    if !errors.is_empty() {
        return product_form_again(
            &state,
            &member,
            &form.session,
            Some(&product),
            &values,
            &errors,
            ProductExtras::default(),
        )
        .await;
    }
    let draft = ProductDraft::parse(&values, false).expect("checked above");
    let mut tx =
        crate::audit::begin(&state.pool, member.user.user_id, "product.update", None).await?;
    let result = sqlx::query!(
        r#"update product set name = $3, sector = $4, story = $5, price_vnd = $6, unit = $7, weight_grams = $8,
               length_cm = $10, width_cm = $11, height_cm = $12, name_en = $13, story_en = $14,
               images = case when $9::text is null then images
                             -- a photo replaces the drawn demo picture: it becomes the cover
                             else array_append(array(select i from unnest(images) as i where i not like '/img/demo/%'), $9) end
           where product_id = $1 and producer_id = $2"#,
        id,
        member.producer_id,
        draft.name,
        draft.sector.key(),
        draft.story,
        draft.price.amount(),
        draft.unit,
        draft.weight_grams,
        image,
        draft.dims_cm.map(|d| d.0),
        draft.dims_cm.map(|d| d.1),
        draft.dims_cm.map(|d| d.2),
        draft.name_en,
        draft.story_en
    )
    .execute(&mut *tx)
    .await;
    if let Err(sqlx::Error::Database(e)) = &result {
        if e.is_unique_violation() {
            let mut errors = Errors::new();
            errors.insert("name", "Bạn đã có một sản phẩm cùng tên.".into());
            return product_form_again(
                &state,
                &member,
                &form.session,
                Some(&product),
                &values,
                &errors,
                ProductExtras::default(),
            )
            .await;
        }
    }
    result?;
    // the certificate names the product: a new name or sector must be checked again by staff
    let renamed = product.values.get("name").map(String::as_str) != Some(draft.name.as_str())
        || product.values.get("sector").map(String::as_str) != Some(draft.sector.key());
    let sent_back = if renamed {
        sqlx::query!(
            "update certificate set verification = 'pending', verified_by = null, verified_at = null
             where product_id = $1 and verification = 'verified' and status = 'active'",
            id
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
    } else {
        0
    };
    tx.commit().await?;
    state.catalog.refresh_after(&[id], &[]).await;
    let notice = if sent_back > 0 { "recheck" } else { "saved" };
    Ok(to(format!("/producer/products/{id}?ok={notice}")))
}

#[derive(Deserialize)]
pub(super) struct VisibilityForm {
    hidden: bool,
}

pub(super) async fn visibility(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<VisibilityForm>,
) -> Result<Response, AppError> {
    let action = if form.hidden {
        "product.hide"
    } else {
        "product.unhide"
    };
    let mut tx = crate::audit::begin(&state.pool, member.user.user_id, action, None).await?;
    let n = sqlx::query!(
        "update product set hidden = $3 where product_id = $1 and producer_id = $2",
        id,
        member.producer_id,
        form.hidden
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    state.catalog.refresh_after(&[id], &[]).await;
    Ok(to(format!(
        "/producer/products/{id}?ok={}",
        if form.hidden { "hidden" } else { "shown" }
    )))
}

#[derive(Deserialize)]
pub(super) struct ImageForm {
    image: String,
}

/// Puts one of the product's pictures first: the cover on cards and on the product page.
pub(super) async fn cover_image(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ImageForm>,
) -> Result<Response, AppError> {
    change_images(&state, &member, id, &form.image, ImageChange::Cover).await
}

pub(super) async fn remove_image(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ImageForm>,
) -> Result<Response, AppError> {
    change_images(&state, &member, id, &form.image, ImageChange::Remove).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ImageChange {
    Cover,
    Remove,
}

/// One picture of one of this producer's products made the cover or removed, logged.
pub(super) async fn change_images(
    state: &AppState,
    member: &ProducerMember,
    id: i64,
    image: &str,
    change: ImageChange,
) -> Result<Response, AppError> {
    let (action, done) = match change {
        ImageChange::Cover => ("product.image_cover", "image_cover"),
        ImageChange::Remove => ("product.image_remove", "image_removed"),
    };
    let mut tx = crate::audit::begin(&state.pool, member.user.user_id, action, None).await?;
    let n = sqlx::query!(
        "update product set images = case when $4 then array_prepend($3, array_remove(images, $3))
                                          else array_remove(images, $3) end
         where product_id = $1 and producer_id = $2 and images @> array[$3]",
        id,
        member.producer_id,
        image,
        change == ImageChange::Cover
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    state.catalog.refresh_after(&[id], &[]).await;
    Ok(to(format!("/producer/products/{id}?ok={done}")))
}

#[derive(Deserialize)]
pub(super) struct StockForm {
    #[serde(default)]
    delta: String,
    #[serde(default)]
    reason: String,
}

pub(super) const STOCK_REASONS: &[(&str, &str)] = &[
    ("restock", "Nhập thêm hàng"),
    ("count", "Kiểm kê lại"),
    ("damaged", "Hàng hư hỏng, hết hạn"),
    ("offline_sale", "Bán ngoài sàn"),
    ("other", "Lý do khác"),
];

pub(super) async fn adjust_stock(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { form, session }: CheckedForm<StockForm>,
) -> Result<Response, AppError> {
    let product = owned_product(&state, &member, id).await?;
    let mut errors = Errors::new();
    let delta = form
        .delta
        .trim()
        .trim_start_matches('+')
        .replace(['.', ' '], "")
        .parse::<i32>()
        .ok()
        .filter(|d| *d != 0 && d.abs() <= crate::producer::MAX_STOCK);
    if delta.is_none() {
        errors.insert(
            "delta",
            "Nhập số lượng thay đổi, ví dụ 20 (nhập thêm) hoặc -3 (bớt đi).".into(),
        );
    }
    let reason = STOCK_REASONS
        .iter()
        .find(|(k, _)| *k == form.reason)
        .map(|(_, label)| *label);
    if reason.is_none() {
        errors.insert("reason", "Vui lòng chọn lý do thay đổi tồn kho.".into());
    }
    let (Some(delta), Some(reason)) = (delta, reason) else {
        return stock_error(&state, &member, &session, &product, &form, errors).await;
    };
    let mut tx = crate::audit::begin(
        &state.pool,
        member.user.user_id,
        "product.stock",
        Some(reason),
    )
    .await?;
    // one conditional statement: stock never goes below zero, whatever else runs at the same time
    let updated = crate::inventory::adjust(&mut tx, id, member.producer_id, delta).await?;
    if updated.is_none() {
        errors.insert(
            "delta",
            format!(
                "Tồn kho không thể âm hoặc vượt 1.000.000: hiện còn {} {}.",
                product.stock, product.values["unit"]
            ),
        );
        return stock_error(&state, &member, &session, &product, &form, errors).await;
    }
    tx.commit().await?;
    state.catalog.refresh_after(&[id], &[]).await;
    Ok(to(format!("/producer/products/{id}?ok=stock")))
}

pub(super) async fn stock_error(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    product: &OwnedProduct,
    form: &StockForm,
    errors: Errors,
) -> Result<Response, AppError> {
    let extra = ProductExtras {
        stock_values: Some(StockValues {
            delta: &form.delta,
            reason: &form.reason,
        }),
        ..Default::default()
    };
    product_form_again(
        state,
        member,
        session,
        Some(product),
        &product.values,
        &errors,
        extra,
    )
    .await
}
