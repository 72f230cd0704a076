//! `/producer/...`: registration, products, pictures, stock, certificates, members.

use super::{CertificateDraft, Errors, MAX_IMAGES, ProducerDraft, ProductDraft};
use crate::auth::{CurrentUser, ProducerMember, Session};
use crate::error::AppError;
use crate::forms::{CheckedForm, Id, UPLOAD_BODY_LIMIT, UploadForm, field_map};
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/producer", get(home))
        .route("/producer/register", get(register_page).post(register))
        .route("/producer/profile", get(profile_page).post(profile))
        .route(
            "/producer/products/new",
            get(new_product_page).post(create_product),
        )
        .route(
            "/producer/products/{id}",
            get(product_page).post(update_product),
        )
        .route("/producer/products/{id}/visibility", post(visibility))
        .route("/producer/products/{id}/images/remove", post(remove_image))
        .route("/producer/products/{id}/images/cover", post(cover_image))
        .route("/producer/products/{id}/stock", post(adjust_stock))
        .route(
            "/producer/products/{id}/certificates",
            post(submit_certificate),
        )
        .route("/producer/certificates/{id}/scan", get(scan))
        .route("/producer/members", get(members_page))
        .route("/producer/members/invite", post(invite))
        .route("/producer/members/{id}/remove", post(remove_member))
        .route("/invite/{token}", get(invite_page).post(accept_invite))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))
}

/// Messages after a redirect, by key: nothing a visitor types is echoed.
#[derive(Deserialize)]
struct Notice {
    ok: Option<String>,
}

fn notice_text(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "registered" => {
            "Đã gửi đăng ký. Cán bộ OCOP của tỉnh sẽ xem xét và phê duyệt; bạn có thể thêm sản phẩm ngay bây giờ."
        }
        "profile" => "Đã lưu thông tin chủ thể.",
        "created" => "Đã tạo sản phẩm. Hãy khai báo giấy chứng nhận OCOP để sản phẩm được bày bán.",
        "saved" => "Đã lưu thay đổi.",
        "recheck" => {
            "Đã lưu. Vì tên hoặc nhóm sản phẩm đã đổi, giấy chứng nhận OCOP được gửi lại cho cán bộ tỉnh xác nhận; sản phẩm tạm ngừng bày bán đến khi được xác nhận."
        }
        "hidden" => "Sản phẩm đã được ẩn khỏi sàn.",
        "shown" => "Sản phẩm đã hiện lại trên sàn (nếu đủ điều kiện).",
        "image_removed" => "Đã xoá ảnh.",
        "image_cover" => {
            "Đã đặt làm ảnh bìa: ảnh này hiện đầu tiên trên trang sản phẩm và trong danh sách."
        }
        "stock" => "Đã cập nhật tồn kho.",
        "certificate" => "Đã gửi giấy chứng nhận. Cán bộ của tỉnh sẽ đối chiếu và xác nhận.",
        "member_removed" => "Đã xoá thành viên.",
        "joined" => "Bạn đã tham gia chủ thể OCOP.",
        _ => return None,
    })
}

fn page(session: &Session, extra: Value) -> Value {
    let mut ctx = json!({ "csrf": session.data.csrf, "values": {}, "errors": {} });
    if let (Value::Object(base), Value::Object(more)) = (&mut ctx, extra) {
        base.extend(more);
    }
    ctx
}

fn show(status: StatusCode, template: &str, ctx: &Value) -> Response {
    (status, render_page(template, ctx)).into_response()
}

fn to(path: String) -> Response {
    Redirect::to(&path).into_response()
}

fn provinces_and_communes(state: &AppState, province: Option<i16>) -> Value {
    state.catalog.snapshot().admin.picker(province)
}

fn choices() -> Value {
    json!({
        "producer_types": crate::domain::ProducerType::ALL.iter().map(|t| json!({"key": t.key(), "label": t.label()})).collect::<Vec<_>>(),
        "sectors": crate::domain::Sector::ALL.iter().map(|t| json!({"key": t.key(), "label": t.label()})).collect::<Vec<_>>(),
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}

// ---------- home ----------

#[derive(Serialize)]
struct ProductLine {
    id: i64,
    name: String,
    slug: String,
    price_vnd: i64,
    stock: i32,
    unit: String,
    image: Option<String>,
    state: &'static str,
    listed: bool,
}

async fn home(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    let Some(member) = ProducerMember::of(&state, user.clone()).await? else {
        let ctx = page(
            &session,
            json!({ "user": user, "staff": user.role.is_staff() }),
        );
        return Ok(show(StatusCode::OK, "producer/welcome.html", &ctx));
    };
    let rows = sqlx::query!(
        r#"
        select p.product_id, p.name, p.slug, p.price_vnd, p.stock, p.unit, p.hidden, p.images,
               c.verification as "verification?", c.status as "cert_status?", c.expires_on as "expires_on?"
        from product p
        left join lateral (
            select verification, status, expires_on from certificate c
            where c.product_id = p.product_id and c.verification <> 'rejected'
            order by (c.verification = 'verified') desc, c.issued_on desc, c.certificate_id desc limit 1
        ) c on true
        where p.producer_id = $1
        order by p.created_at desc, p.product_id desc
        "#,
        member.producer_id
    )
    .fetch_all(&state.pool)
    .await?;
    let snapshot = state.catalog.snapshot();
    let today = crate::domain::vn_today();
    let mut lines = Vec::with_capacity(rows.len());
    let (mut units, mut value, mut low, mut listed_count) = (0i64, 0i64, 0, 0);
    for r in rows {
        let listed = snapshot.row_of.contains_key(&r.product_id);
        let state_label = if listed {
            "Đang bán"
        } else if r.hidden {
            "Đang ẩn"
        } else if !member.is_approved() {
            "Chờ duyệt chủ thể"
        } else {
            match (
                r.verification.as_deref(),
                r.cert_status.as_deref(),
                r.expires_on,
            ) {
                (None, _, _) => "Chưa có chứng nhận OCOP",
                (Some("pending"), _, _) => "Chờ xác nhận chứng nhận",
                (_, Some("revoked"), _) => "Chứng nhận đã bị thu hồi",
                (_, _, Some(e)) if e <= today => "Chứng nhận đã hết hạn",
                _ => "Đang cập nhật",
            }
        };
        listed_count += listed as i32;
        units += r.stock as i64;
        value += r.stock as i64 * r.price_vnd;
        low += (r.stock < 5) as i32;
        lines.push(ProductLine {
            id: r.product_id,
            name: r.name,
            slug: r.slug,
            price_vnd: r.price_vnd,
            stock: r.stock,
            unit: r.unit,
            image: r.images.first().map(|u| crate::media::thumbnail_url(u)),
            state: state_label,
            listed,
        });
    }
    // the last 30 days as the province's dashboard counts them (Vietnamese days, today included);
    // sold means paid by the one definition both use (`order_is_paid`: online money received, or
    // cash once delivered; not refunded)
    let since = crate::domain::vn_today() - time::Duration::days(29);
    let sales = sqlx::query!(
        r#"select count(*) filter (where o.status not in ('cancelled', 'pending_payment')) as "orders!",
                  coalesce(sum(o.goods_total) filter (where order_is_paid(o.status, g.payment_method)), 0)::bigint as "sold!",
                  count(*) filter (where o.status in ('placed', 'paid')) as "to_confirm!",
                  count(*) filter (where o.status = 'confirmed') as "to_ship!"
           from shop_order o join order_group g using (order_group_id)
           where o.producer_id = $1 and (o.created_at at time zone 'Asia/Ho_Chi_Minh')::date >= $2"#,
        member.producer_id,
        since
    )
    .fetch_one(&state.pool)
    .await?;
    let top: Vec<Value> = sqlx::query!(
        r#"select l.name, sum(l.quantity)::bigint as "quantity!", sum(l.line_total)::bigint as "value!"
           from order_line l join shop_order o using (order_id)
           where o.producer_id = $1 and (o.created_at at time zone 'Asia/Ho_Chi_Minh')::date >= $2
             and o.status not in ('cancelled', 'pending_payment', 'refunded')
           group by l.name order by 3 desc limit 5"#,
        member.producer_id,
        since
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|t| json!({ "name": t.name, "quantity": t.quantity, "value": t.value }))
    .collect();
    let ctx = page(
        &session,
        json!({
            "member": member,
            "sales": { "orders": sales.orders, "sold": sales.sold, "to_confirm": sales.to_confirm, "to_ship": sales.to_ship, "top": top },
            "notice": notice_text(n.ok.as_deref()),
            "products": lines,
            "summary": { "products": lines_len(&lines), "listed": listed_count, "units": units, "stock_value": value, "low": low },
        }),
    );
    Ok(show(StatusCode::OK, "producer/home.html", &ctx))
}

fn lines_len(l: &[ProductLine]) -> usize {
    l.len()
}

// ---------- registration and profile ----------

fn producer_form_ctx(
    state: &AppState,
    session: &Session,
    values: &BTreeMap<String, String>,
    errors: &Errors,
    editing: bool,
) -> Value {
    let province = values.get("province").and_then(|p| p.parse().ok());
    merge(
        merge(provinces_and_communes(state, province), choices()),
        page(
            session,
            json!({ "values": values, "errors": errors, "editing": editing }),
        ),
    )
}

async fn register_page(
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
    let ctx = producer_form_ctx(&state, &session, &values, &Errors::new(), false);
    Ok(show(StatusCode::OK, "producer/register.html", &ctx))
}

async fn register(
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
        let ctx = producer_form_ctx(&state, &session, &values, &Errors::new(), false);
        return Ok(show(StatusCode::OK, "producer/register.html", &ctx));
    }
    let admin = state.catalog.snapshot().admin.clone();
    let draft = match ProducerDraft::parse(&values, &admin) {
        Ok(d) => d,
        Err(errors) => {
            let ctx = producer_form_ctx(&state, &session, &values, &errors, false);
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
                                 registration_no, story, status, email)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)
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
        user.email
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(producer_id) = inserted else {
        let mut errors = Errors::new();
        errors.insert("name", "Xã này đã có một chủ thể OCOP cùng tên. Nếu đó là đơn vị của bạn, hãy nhờ chủ tài khoản mời bạn làm thành viên.".into());
        let ctx = producer_form_ctx(&state, &session, &values, &errors, false);
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

async fn profile_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
) -> Result<Response, AppError> {
    member.owner()?;
    let r = sqlx::query!(
        "select name, producer_type, province_code, commune_code, address, phone, registration_no, story
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
        ("story", r.story),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let ctx = merge(
        producer_form_ctx(&state, &session, &values, &Errors::new(), true),
        json!({ "member": member }),
    );
    Ok(show(StatusCode::OK, "producer/register.html", &ctx))
}

async fn profile(
    State(state): State<AppState>,
    member: ProducerMember,
    CheckedForm { form, session }: CheckedForm<BTreeMap<String, String>>,
) -> Result<Response, AppError> {
    member.owner()?;
    let values: BTreeMap<String, String> = form.into_iter().filter(|(k, _)| k != "csrf").collect();
    let admin = state.catalog.snapshot().admin.clone();
    let rerender = |errors: &Errors, status| {
        let ctx = merge(
            producer_form_ctx(&state, &session, &values, errors, true),
            json!({ "member": member }),
        );
        show(status, "producer/register.html", &ctx)
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
        draft.story
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

// ---------- products ----------

struct OwnedProduct {
    id: i64,
    images: Vec<String>,
    values: BTreeMap<String, String>,
    hidden: bool,
    stock: i32,
    slug: String,
}

/// A product of this member's producer, or 404.
async fn owned_product(
    state: &AppState,
    member: &ProducerMember,
    id: i64,
) -> Result<OwnedProduct, AppError> {
    let r = sqlx::query!(
        "select product_id, name, sector, story, price_vnd, stock, unit, weight_grams, images, hidden, slug
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
        ("price", r.price_vnd.to_string()),
        ("unit", r.unit),
        (
            "weight_grams",
            r.weight_grams.map(|w| w.to_string()).unwrap_or_default(),
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

async fn product_ctx(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    product: Option<&OwnedProduct>,
    values: &BTreeMap<String, String>,
    errors: &Errors,
    extra: Value,
) -> Result<Value, AppError> {
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
        .map(|c| {
            json!({
                "id": c.certificate_id, "decision_number": c.decision_number, "stars": c.stars,
                "awarding_level": c.awarding_level, "awarding_body": c.awarding_body,
                "issued_on": c.issued_on.to_string(), "expires_on": c.expires_on.to_string(),
                "verification": c.verification, "status": c.status, "rejection_reason": c.rejection_reason,
                "revoked_reason": c.revoked_reason, "revoked_on": c.revoked_on.map(|d| d.to_string()), "has_scan": c.has_scan,
            })
        })
        .collect();
    }
    let listed = product.is_some_and(|p| state.catalog.snapshot().row_of.contains_key(&p.id));
    let product_json = product.map(|p| {
        json!({ "id": p.id, "images": p.images, "hidden": p.hidden, "stock": p.stock, "slug": p.slug, "listed": listed,
                "can_add_image": p.images.len() < MAX_IMAGES })
    });
    Ok(merge(
        merge(
            choices(),
            page(
                session,
                json!({
                    "member": member, "values": values, "errors": errors, "product": product_json, "certificates": certificates,
                    "can_add_image": product.is_none_or(|p| p.images.len() < MAX_IMAGES),
                    "stock_reasons": STOCK_REASONS.iter().map(|(k, l)| json!({ "key": k, "label": l })).collect::<Vec<_>>(),
                }),
            ),
        ),
        extra,
    ))
}

/// The product page again with what was typed and what is wrong with it.
async fn product_form_again(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    product: Option<&OwnedProduct>,
    values: &BTreeMap<String, String>,
    errors: &Errors,
    extra: Value,
) -> Result<Response, AppError> {
    let ctx = product_ctx(state, member, session, product, values, errors, extra).await?;
    Ok(show(
        StatusCode::UNPROCESSABLE_ENTITY,
        "producer/product.html",
        &ctx,
    ))
}

async fn new_product_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
) -> Result<Response, AppError> {
    // nothing pre-filled: an example in the field would be typed after ("hộphộp")
    let values: BTreeMap<String, String> = BTreeMap::new();
    let ctx = product_ctx(
        &state,
        &member,
        &session,
        None,
        &values,
        &Errors::new(),
        json!({}),
    )
    .await?;
    Ok(show(StatusCode::OK, "producer/product.html", &ctx))
}

/// Whether this producer may store one more upload now: within its quota (room and files) and
/// its hourly pace. A producer waiting for approval gets only what approval needs. Answers the
/// reason when not.
async fn upload_refusal(
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
async fn take_image(
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

async fn create_product(
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
            json!({}),
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
        r#"insert into product (producer_id, slug, name, sector, story, price_vnd, stock, unit, weight_grams, images)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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
        &images
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
            json!({}),
        )
        .await;
    };
    tx.commit().await?;
    Ok(to(format!("/producer/products/{id}?ok=created")))
}

async fn product_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Id(id): Id,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    let product = owned_product(&state, &member, id).await?;
    let ctx = product_ctx(
        &state,
        &member,
        &session,
        Some(&product),
        &product.values,
        &Errors::new(),
        json!({ "notice": notice_text(n.ok.as_deref()) }),
    )
    .await?;
    Ok(show(StatusCode::OK, "producer/product.html", &ctx))
}

async fn update_product(
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
            json!({}),
        )
        .await;
    }
    let draft = ProductDraft::parse(&values, false).expect("checked above");
    let mut tx =
        crate::audit::begin(&state.pool, member.user.user_id, "product.update", None).await?;
    let result = sqlx::query!(
        r#"update product set name = $3, sector = $4, story = $5, price_vnd = $6, unit = $7, weight_grams = $8,
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
        image
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
                json!({}),
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
struct VisibilityForm {
    hidden: bool,
}

async fn visibility(
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
struct ImageForm {
    image: String,
}

/// Puts one of the product's pictures first: the cover on cards and on the product page.
async fn cover_image(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ImageForm>,
) -> Result<Response, AppError> {
    change_images(&state, &member, id, &form.image, ImageChange::Cover).await
}

async fn remove_image(
    State(state): State<AppState>,
    member: ProducerMember,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<ImageForm>,
) -> Result<Response, AppError> {
    change_images(&state, &member, id, &form.image, ImageChange::Remove).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ImageChange {
    Cover,
    Remove,
}

/// One picture of one of this producer's products made the cover or removed, logged.
async fn change_images(
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
struct StockForm {
    #[serde(default)]
    delta: String,
    #[serde(default)]
    reason: String,
}

const STOCK_REASONS: &[(&str, &str)] = &[
    ("restock", "Nhập thêm hàng"),
    ("count", "Kiểm kê lại"),
    ("damaged", "Hàng hư hỏng, hết hạn"),
    ("offline_sale", "Bán ngoài sàn"),
    ("other", "Lý do khác"),
];

async fn adjust_stock(
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
        .filter(|d| *d != 0 && d.abs() <= super::MAX_STOCK);
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

async fn stock_error(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    product: &OwnedProduct,
    form: &StockForm,
    errors: Errors,
) -> Result<Response, AppError> {
    let extra = json!({ "stock_values": { "delta": form.delta, "reason": form.reason } });
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

async fn submit_certificate(
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
            json!({ "cert_values": values, "open_certificate": true }),
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
async fn scan(
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

// ---------- members and invitations ----------

const INVITE_TTL_SECS: u64 = 7 * 24 * 3600;

#[derive(Serialize, Deserialize)]
struct Invitation {
    producer_id: i64,
    login: String,
    invited_by: i64,
}

/// Invitations a producer may send per 24 hours.
const INVITES_PER_DAY: u32 = 10;

fn invite_key(state: &AppState, token: &str) -> String {
    format!("ocop:{}:invite:{token}", state.config.redis_namespace())
}

async fn members_ctx(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    extra: Value,
) -> Result<Value, AppError> {
    let members: Vec<Value> = sqlx::query!(
        r#"select u.user_id, u.display_name, u.email, u.phone, m.role, m.created_at
           from producer_member m join app_user u using (user_id)
           where m.producer_id = $1 order by m.role = 'owner' desc, m.created_at"#,
        member.producer_id
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|m| json!({ "user_id": m.user_id, "name": m.display_name, "login": m.email.or(m.phone), "owner": m.role == "owner" }))
    .collect();
    Ok(merge(
        page(session, json!({ "member": member, "members": members })),
        extra,
    ))
}

async fn members_page(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Query(n): Query<Notice>,
) -> Result<Response, AppError> {
    let ctx = members_ctx(
        &state,
        &member,
        &session,
        json!({ "notice": notice_text(n.ok.as_deref()) }),
    )
    .await?;
    Ok(show(StatusCode::OK, "producer/members.html", &ctx))
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    login: String,
}

async fn invite(
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
            let ctx = members_ctx(
                &state,
                &member,
                &session,
                json!({ "values": { "login": form.login }, "errors": { "login": msg } }),
            )
            .await?;
            return Ok(show(
                StatusCode::UNPROCESSABLE_ENTITY,
                "producer/members.html",
                &ctx,
            ));
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
    let ctx = members_ctx(
        &state,
        &member,
        &session,
        json!({ "invite_link": link, "invited": login.as_str() }),
    )
    .await?;
    Ok(show(StatusCode::OK, "producer/members.html", &ctx))
}

/// The members page again, with why the invitation was not sent.
async fn invite_refused(
    state: &AppState,
    member: &ProducerMember,
    session: &Session,
    typed: &str,
    message: String,
) -> Result<Response, AppError> {
    let ctx = members_ctx(
        state,
        member,
        session,
        json!({ "values": { "login": typed }, "errors": { "login": message } }),
    )
    .await?;
    Ok(show(
        StatusCode::UNPROCESSABLE_ENTITY,
        "producer/members.html",
        &ctx,
    ))
}

async fn remove_member(
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

async fn load_invitation(state: &AppState, token: &str) -> Result<Option<Invitation>, AppError> {
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

fn invitation_matches(user: &CurrentUser, inv: &Invitation) -> bool {
    user.email.as_deref() == Some(inv.login.as_str())
        || user.phone.as_deref() == Some(inv.login.as_str())
}

async fn invite_page(
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
    let ctx = page(
        &session,
        json!({ "token": token, "producer_name": producer, "problem": problem }),
    );
    Ok(show(
        if problem.is_some() {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        },
        "producer/invite.html",
        &ctx,
    ))
}

async fn accept_invite(
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
