//! `/staff/fx`: the indicative exchange rates visitors see beside prices ("≈ US$4.20"). National
//! staff keep them: no live feed reaches the marketplace, and every amount shown says it is only
//! indicative. A change reloads the catalog on every instance (`fx_rate`'s trigger).

use super::*;

#[derive(Serialize)]
struct Rate {
    currency: String,
    vnd_per_unit: String,
    updated_at: time::OffsetDateTime,
    updated_by: Option<String>,
}

async fn rates(state: &AppState) -> Result<Vec<Rate>, AppError> {
    Ok(sqlx::query!(
        r#"select f.currency, f.vnd_per_unit::text as "rate!", f.updated_at, u.display_name as "by?"
           from fx_rate f left join app_user u on u.user_id = f.updated_by order by f.currency"#
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|r| Rate {
        currency: r.currency,
        vnd_per_unit: r.rate,
        updated_at: r.updated_at,
        updated_by: r.by,
    })
    .collect())
}

#[derive(Deserialize)]
pub(super) struct FxQuery {
    ok: Option<String>,
}

pub(super) async fn fx_page(
    State(state): State<AppState>,
    NationalStaff(staff): NationalStaff,
    session: Session,
    Query(q): Query<FxQuery>,
) -> Result<Response, AppError> {
    let body = serde_json::json!({
        "rates": rates(&state).await?,
        "notice": q.ok.is_some().then_some("Đã lưu tỷ giá; trang sản phẩm hiện số mới ngay."),
        "error": Value::Null,
    });
    Ok(render_page(
        "staff/fx.html",
        &framed(&state, &session, &staff, body),
    ))
}

#[derive(Deserialize)]
pub(super) struct FxForm {
    currency: String,
    rate: String,
}

/// "26300", "26.300", "18,5": VND per unit, positive, at most 4 decimals.
fn parse_rate(s: &str) -> Option<String> {
    let s = s.trim().replace(' ', "");
    // a dot followed by three digits is a thousands separator, as Vietnamese write 26.300
    let s = if s.contains(',') {
        s.replace('.', "").replace(',', ".")
    } else if s.split('.').skip(1).all(|g| g.len() == 3) {
        s.replace('.', "")
    } else {
        s
    };
    let v: f64 = s.parse().ok()?;
    let decimals = s.split_once('.').map_or(0, |(_, d)| d.len());
    (v > 0.0 && v < 1e9 && decimals <= 4).then_some(s)
}

pub(super) async fn fx_save(
    State(state): State<AppState>,
    NationalStaff(staff): NationalStaff,
    CheckedForm { form, session }: CheckedForm<FxForm>,
) -> Result<Response, AppError> {
    let currency = form.currency.trim().to_ascii_uppercase();
    let rate = parse_rate(&form.rate);
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) || rate.is_none() {
        let body = serde_json::json!({
            "rates": rates(&state).await?,
            "notice": Value::Null,
            "error": "Mã tiền tệ là 3 chữ cái (USD, CNY, KRW…) và tỷ giá là số đồng cho một đơn vị, lớn hơn 0, ví dụ 26300 hoặc 18,5. Chưa có gì thay đổi.",
        });
        return Ok(show(
            StatusCode::UNPROCESSABLE_ENTITY,
            "staff/fx.html",
            &framed(&state, &session, &staff, body),
        ));
    }
    sqlx::query!(
        "insert into fx_rate (currency, vnd_per_unit, updated_at, updated_by) values ($1, $2::text::numeric, now(), $3)
         on conflict (currency) do update set vnd_per_unit = excluded.vnd_per_unit, updated_at = now(), updated_by = excluded.updated_by",
        currency,
        rate,
        staff.user.user_id
    )
    .execute(&state.pool)
    .await?;
    // this instance shows it at once; the others follow the notification
    if let Err(e) = state.catalog.refresh_all().await {
        tracing::warn!(error = %e, "catalog reload after a rate change failed");
    }
    Ok(Redirect::to("/staff/fx?ok=1").into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates_are_read_the_way_staff_type_them() {
        assert_eq!(parse_rate("26300").as_deref(), Some("26300"));
        assert_eq!(parse_rate("26.300").as_deref(), Some("26300"));
        assert_eq!(parse_rate("18,5").as_deref(), Some("18.5"));
        assert_eq!(parse_rate("0"), None);
        assert_eq!(parse_rate("abc"), None);
        assert_eq!(parse_rate("-5"), None);
    }
}
