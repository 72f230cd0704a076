//! `/staff/registry`: the reconciliation report of the latest registry sync, in the staff
//! member's scope. Staff apply what the registry says (an expiry date, the stars), dismiss it with
//! a note, or record that a producer missing from the marketplace was invited; and choose whether
//! their province's earlier expiry dates are applied by the sync itself.

use crate::auth::{Session, Staff};
use crate::error::AppError;
use crate::forms::CheckedForm;
use crate::render::render_page;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/registry", get(page))
        .route("/staff/registry/settings", post(settings))
        .route("/staff/registry/{id}/{action}", post(decide))
}

/// A finding as staff read it.
#[derive(Serialize)]
struct Row {
    id: i64,
    kind: String,
    label: &'static str,
    product_name: Option<String>,
    product_slug: Option<String>,
    province_name: Option<String>,
    ours_stars: Option<i16>,
    ours_expires_on: Option<time::Date>,
    registry: serde_json::Value,
    /// what "apply" would do, in words; none when there is nothing to apply
    apply: Option<&'static str>,
}

fn label(kind: &str) -> (&'static str, Option<&'static str>) {
    match kind {
        "stars_differ" => (
            "Hạng sao khác với cơ sở dữ liệu quốc gia",
            Some("Lấy hạng sao theo CSDL quốc gia"),
        ),
        "expiry_earlier" => (
            "CSDL quốc gia ghi hết hạn sớm hơn",
            Some("Lấy ngày hết hạn theo CSDL quốc gia"),
        ),
        "expiry_later" => (
            "CSDL quốc gia ghi hết hạn muộn hơn (có thể đã gia hạn)",
            Some("Lấy ngày hết hạn theo CSDL quốc gia"),
        ),
        "expired_in_registry" => (
            "CSDL quốc gia ghi đã hết hạn, trên sàn vẫn bán",
            Some("Lấy ngày hết hạn theo CSDL quốc gia (ngừng bán)"),
        ),
        "missing_in_registry" => ("Chứng nhận trên sàn không có trong CSDL quốc gia", None),
        "not_on_marketplace" => ("Sản phẩm OCOP của tỉnh chưa có trên sàn: mời chủ thể", None),
        _ => ("?", None),
    }
}

#[derive(Deserialize)]
struct Notice {
    ok: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<Notice>,
) -> Result<Response, AppError> {
    let rows = sqlx::query!(
        r#"select f.registry_finding_id, f.kind, f.registry, p.name as "product_name?", p.slug as "product_slug?",
                  pv.name as "province_name?", c.stars as "stars?", c.expires_on as "expires_on?"
           from registry_finding f
           left join product p on p.product_id = f.product_id
           left join certificate c on c.certificate_id = f.certificate_id
           left join province pv on pv.province_code = f.province_code
           where f.state = 'open' and ($1::smallint is null or f.province_code = $1)
           order by f.kind, f.registry_finding_id
           limit 500"#,
        staff.province
    )
    .fetch_all(&state.pool)
    .await?;
    let run = sqlx::query!(
        "select source, finished_at, products_read, matched from registry_run order by registry_run_id desc limit 1"
    )
    .fetch_optional(&state.pool)
    .await?;
    let auto = match staff.province {
        Some(p) => sqlx::query_scalar!(
            "select auto_earlier_expiry from registry_setting where province_code = $1",
            p
        )
        .fetch_optional(&state.pool)
        .await?
        .unwrap_or(false),
        None => false,
    };
    let findings: Vec<Row> = rows
        .into_iter()
        .map(|r| {
            let (label, apply) = label(&r.kind);
            Row {
                id: r.registry_finding_id,
                label,
                apply,
                kind: r.kind,
                product_name: r.product_name,
                product_slug: r.product_slug,
                province_name: r.province_name,
                ours_stars: r.stars,
                ours_expires_on: r.expires_on,
                registry: r.registry,
            }
        })
        .collect();
    Ok(render_page(
        "staff/registry.html",
        &serde_json::json!({
            "staff": staff.view(&state),
            "csrf": session.data.csrf,
            "findings": findings,
            "run": run.map(|r| serde_json::json!({
                "source": r.source, "finished_at": r.finished_at,
                "read": r.products_read, "matched": r.matched,
            })),
            "province": staff.province,
            "auto": auto,
            "notice": match q.ok.as_deref() {
                Some("applied") => Some("Đã áp dụng theo CSDL quốc gia; trang sản phẩm cập nhật ngay."),
                Some("dismissed") => Some("Đã bỏ qua phát hiện này."),
                Some("invited") => Some("Đã ghi nhận việc mời chủ thể."),
                Some("settings") => Some("Đã lưu cài đặt đồng bộ."),
                _ => None,
            },
        }),
    ))
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    note: String,
}

async fn decide(
    State(state): State<AppState>,
    staff: Staff,
    axum::extract::Path((id, action)): axum::extract::Path<(i64, String)>,
    CheckedForm { form, .. }: CheckedForm<DecideForm>,
) -> Result<Response, AppError> {
    let action = match action.as_str() {
        "apply" | "dismiss" | "invite" => action,
        _ => return Err(AppError::NotFound),
    };
    let mut tx = crate::audit::begin(
        &state.pool,
        staff.user.user_id,
        &format!("registry.{action}"),
        Some(form.note.trim()).filter(|n| !n.is_empty()),
    )
    .await?;
    let f = sqlx::query!(
        r#"select kind, province_code, certificate_id, product_id, registry from registry_finding
           where registry_finding_id = $1 and state = 'open' for update"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .filter(|f| f.province_code.is_some_and(|p| staff.covers(p)) || staff.is_national())
    .ok_or(AppError::NotFound)?;
    let state_after = match action.as_str() {
        "apply" => {
            let certificate = f.certificate_id.ok_or_else(|| {
                AppError::bad("nothing_to_apply", "Phát hiện này không có gì để áp dụng.")
            })?;
            match f.kind.as_str() {
                "stars_differ" => {
                    let stars = f.registry["ocop_star"]
                        .as_i64()
                        .filter(|s| (3..=5).contains(s));
                    let Some(stars) = stars else {
                        return Err(AppError::bad(
                            "nothing_to_apply",
                            "CSDL quốc gia không ghi hạng sao hợp lệ (3 đến 5).",
                        ));
                    };
                    sqlx::query!(
                        "update certificate set stars = $2::smallint,
                                awarding_level = case when $2::smallint = 5 then 'central' else 'provincial' end,
                                potential_five_star = potential_five_star and $2::smallint = 4
                         where certificate_id = $1",
                        certificate,
                        stars as i16
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                "expiry_earlier" | "expiry_later" | "expired_in_registry" => {
                    let date = f.registry["expiry_date"]
                        .as_str()
                        .and_then(|d| {
                            time::Date::parse(
                                d,
                                time::macros::format_description!("[year]-[month]-[day]"),
                            )
                            .ok()
                        })
                        .ok_or_else(|| {
                            AppError::bad(
                                "nothing_to_apply",
                                "CSDL quốc gia không ghi ngày hết hạn.",
                            )
                        })?;
                    let n = sqlx::query!(
                        "update certificate set expires_on = $2 where certificate_id = $1 and issued_on < $2",
                        certificate,
                        date
                    )
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n == 0 {
                        return Err(AppError::bad(
                            "nothing_to_apply",
                            "Ngày hết hạn của CSDL quốc gia không sau ngày cấp: hãy kiểm tra lại với hội đồng.",
                        ));
                    }
                }
                _ => {
                    return Err(AppError::bad(
                        "nothing_to_apply",
                        "Phát hiện này không có gì để áp dụng.",
                    ));
                }
            }
            "applied"
        }
        "invite" if f.kind == "not_on_marketplace" => "applied",
        "invite" => return Err(AppError::NotFound),
        _ => "dismissed",
    };
    sqlx::query!(
        "update registry_finding set state = $2, decided_by = $3, decided_at = now(), note = nullif($4, '')
         where registry_finding_id = $1",
        id,
        state_after,
        staff.user.user_id,
        form.note.trim()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if let Some(p) = f.product_id {
        state.catalog.refresh_after(&[p], &[]).await;
    }
    let ok = match (action.as_str(), state_after) {
        ("invite", _) => "invited",
        (_, "applied") => "applied",
        _ => "dismissed",
    };
    Ok(Redirect::to(&format!("/staff/registry?ok={ok}")).into_response())
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    auto_earlier_expiry: Option<String>,
}

async fn settings(
    State(state): State<AppState>,
    staff: Staff,
    CheckedForm { form, .. }: CheckedForm<SettingsForm>,
) -> Result<Response, AppError> {
    // a province's own choice: national staff have no province to set it for
    let Some(province) = staff.province else {
        return Err(AppError::bad(
            "province_only",
            "Cài đặt này là của từng tỉnh: cán bộ tỉnh lưu cho tỉnh mình.",
        ));
    };
    sqlx::query!(
        "insert into registry_setting (province_code, auto_earlier_expiry, updated_by) values ($1, $2, $3)
         on conflict (province_code) do update set auto_earlier_expiry = excluded.auto_earlier_expiry,
             updated_by = excluded.updated_by, updated_at = now()",
        province,
        form.auto_earlier_expiry.is_some(),
        staff.user.user_id
    )
    .execute(&state.pool)
    .await?;
    Ok(Redirect::to("/staff/registry?ok=settings").into_response())
}
