//! The producer's money: balances, the next payout, statements per month (page, CSV, print), the
//! yearly certificate of tax withheld, and where to be paid (owner only, confirmed by password).

use super::*;
use crate::domain::{CitizenId, ProducerType, TaxCode};
use crate::settlement::payouts::{self, BANKS, BankDetails};
use crate::settlement::reports::{self, Period};
use time::OffsetDateTime;

#[derive(Deserialize)]
pub(super) struct MonthQuery {
    month: Option<String>,
    year: Option<i32>,
    ok: Option<String>,
}

#[derive(Serialize)]
struct MoneyPage<'a> {
    csrf: &'a str,
    member: &'a ProducerMember,
    held: Vnd,
    available: Vnd,
    in_flight: Vnd,
    paid_this_year: Vnd,
    next_payout: time::Date,
    payout_min: Vnd,
    account: Option<String>,
    payouts_from: Option<OffsetDateTime>,
    period: String,
    period_label: String,
    prev: String,
    next: Option<String>,
    statement: reports::Statement,
    notice: Option<&'static str>,
}

pub(super) async fn money(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
    Query(q): Query<MonthQuery>,
) -> Result<Response, AppError> {
    let period = Period::asked(q.month.as_deref())?;
    let now = OffsetDateTime::now_utc();
    let balances = crate::ledger::producer_balances(&state.pool, member.producer_id).await?;
    let (year_from, _) = reports::year_bounds(Period::containing(now).year);
    let flow = sqlx::query!(
        r#"select coalesce(sum(amount) filter (where status = 'sent'), 0)::bigint as "in_flight!: Vnd",
                  coalesce(sum(amount) filter (where status = 'paid' and settled_at >= $2), 0)::bigint as "paid!: Vnd"
           from payout_line where producer_id = $1"#,
        member.producer_id,
        year_from
    )
    .fetch_one(&state.pool)
    .await?;
    let mut conn = state.pool.acquire().await?;
    let settings = crate::settlement::rates::settings(&mut conn).await?;
    drop(conn);
    let account = payouts::details(&state.pool, member.producer_id).await?;
    let statement = reports::statement(
        &state.pool,
        member.producer_id,
        period.start(),
        period.end(),
    )
    .await?;
    let this_month = Period::containing(now);
    let page = MoneyPage {
        csrf: &session.data.csrf,
        member: &member,
        held: balances.held,
        available: balances.available,
        in_flight: flow.in_flight,
        paid_this_year: flow.paid,
        next_payout: payouts::next_payout_day(crate::domain::vn_today(), settings.payout_weekday),
        payout_min: settings.payout_min_vnd,
        account: account.as_ref().map(|(d, _)| {
            format!(
                "{} · {} · {}",
                payouts::bank_name(&d.bank_bin).unwrap_or("?"),
                d.masked(),
                d.holder_name
            )
        }),
        payouts_from: account.map(|(_, from)| from).filter(|from| *from > now),
        period: period.key(),
        period_label: period.label(),
        prev: period.prev().key(),
        next: (period != this_month).then(|| period.next().key()),
        statement,
        notice: match q.ok.as_deref() {
            Some("account") => Some("Đã lưu tài khoản nhận tiền và gửi thư báo cho chủ thể."),
            _ => None,
        },
    };
    Ok(show(StatusCode::OK, "producer/money.html", &page))
}

pub(super) async fn money_csv(
    State(state): State<AppState>,
    member: ProducerMember,
    Query(q): Query<MonthQuery>,
) -> Result<Response, AppError> {
    let period = Period::asked(q.month.as_deref())?;
    let s = reports::statement(
        &state.pool,
        member.producer_id,
        period.start(),
        period.end(),
    )
    .await?;
    let out = crate::export::csv_document(
        &[
            "Thời điểm",
            "Nghiệp vụ",
            "Đơn hàng",
            "Mã chi trả",
            "Tiền hàng và phí giao",
            "Hoa hồng",
            "Thuế GTGT khấu trừ",
            "Thuế TNCN khấu trừ",
            "Phí thanh toán",
            "Tiền mặt đã thu",
            "Chi trả",
            "Thực nhận",
        ],
        s.rows.iter().map(|r| {
            [
                crate::render::format_vn_time(r.at),
                r.event_label.to_string(),
                r.order_id.map(|o| o.to_string()).unwrap_or_default(),
                r.payout_reference.clone().unwrap_or_default(),
                r.gross.amount().to_string(),
                r.commission.amount().to_string(),
                r.vat.amount().to_string(),
                r.pit.amount().to_string(),
                r.fee.amount().to_string(),
                r.cash.amount().to_string(),
                r.payout.amount().to_string(),
                r.net.amount().to_string(),
            ]
        }),
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(crate::export::csv_download(
        &format!("sao-ke-{}-{}.csv", member.producer_slug, period.key()),
        out,
    ))
}

#[derive(Serialize)]
struct TaxPage<'a> {
    member: &'a ProducerMember,
    year: i32,
    months: Vec<reports::Withheld>,
    revenue: Vnd,
    returns: Vnd,
    vat: Vnd,
    pit: Vnd,
    withheld_for: bool,
    tax_code: Option<String>,
    citizen_id: Option<String>,
}

pub(super) async fn tax_certificate(
    State(state): State<AppState>,
    member: ProducerMember,
    Query(q): Query<MonthQuery>,
) -> Result<Response, AppError> {
    let year = q
        .year
        .filter(|y| (2025..=2100).contains(y))
        .unwrap_or_else(|| crate::domain::vn_today().year());
    let months = reports::yearly_certificate(&state.pool, member.producer_id, year).await?;
    let p = sqlx::query!(
        "select producer_type, tax_code, citizen_id from producer where producer_id = $1",
        member.producer_id
    )
    .fetch_one(&state.pool)
    .await?;
    let page = TaxPage {
        member: &member,
        year,
        revenue: months.iter().map(|m| m.revenue).sum(),
        returns: months.iter().map(|m| m.returns).sum(),
        vat: months.iter().map(|m| m.vat).sum(),
        pit: months.iter().map(|m| m.pit).sum(),
        months,
        withheld_for: crate::settlement::rates::withholds(ProducerType::from_key(&p.producer_type)),
        tax_code: p.tax_code,
        citizen_id: p.citizen_id,
    };
    Ok(show(StatusCode::OK, "producer/tax.html", &page))
}

#[derive(Serialize)]
struct AccountPage<'a> {
    csrf: &'a str,
    member: &'a ProducerMember,
    banks: Vec<BankChoice>,
    values: BTreeMap<String, String>,
    errors: BTreeMap<&'static str, &'static str>,
    household: bool,
    hold_hours: i32,
}

#[derive(Serialize)]
struct BankChoice {
    bin: &'static str,
    name: String,
}

fn banks() -> Vec<BankChoice> {
    BANKS
        .iter()
        .map(|(bin, short, full)| BankChoice {
            bin,
            name: format!("{short} – {full}"),
        })
        .collect()
}

async fn account_page(
    state: &AppState,
    session: &Session,
    member: &ProducerMember,
    values: BTreeMap<String, String>,
    errors: BTreeMap<&'static str, &'static str>,
) -> Result<Response, AppError> {
    let p = sqlx::query!(
        "select pr.producer_type, s.bank_change_hold_hours from producer pr, settlement_setting s where pr.producer_id = $1",
        member.producer_id
    )
    .fetch_one(&state.pool)
    .await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AccountPage {
        csrf: &session.data.csrf,
        member,
        banks: banks(),
        values,
        errors,
        household: crate::settlement::rates::withholds(ProducerType::from_key(&p.producer_type)),
        hold_hours: p.bank_change_hold_hours,
    };
    Ok(show(status, "producer/payout_account.html", &page))
}

pub(super) async fn account_form(
    State(state): State<AppState>,
    member: ProducerMember,
    session: Session,
) -> Result<Response, AppError> {
    if !member.is_owner {
        return Err(AppError::Forbidden);
    }
    let mut values = BTreeMap::new();
    if let Some((d, _)) = payouts::details(&state.pool, member.producer_id).await? {
        values.insert("bank_bin".into(), d.bank_bin);
        values.insert("account_no".into(), d.account_no);
        values.insert("holder_name".into(), d.holder_name);
    }
    let ids = sqlx::query!(
        "select tax_code, citizen_id from producer where producer_id = $1",
        member.producer_id
    )
    .fetch_one(&state.pool)
    .await?;
    values.insert("tax_code".into(), ids.tax_code.unwrap_or_default());
    values.insert("citizen_id".into(), ids.citizen_id.unwrap_or_default());
    account_page(&state, &session, &member, values, BTreeMap::new()).await
}

#[derive(Deserialize)]
pub(super) struct AccountForm {
    #[serde(default)]
    bank_bin: String,
    #[serde(default)]
    account_no: String,
    #[serde(default)]
    holder_name: String,
    #[serde(default)]
    tax_code: String,
    #[serde(default)]
    citizen_id: String,
    #[serde(default)]
    password: String,
}

/// Saves where the producer is paid and who it is for the tax office. The owner's password
/// confirms it; the owner is told by mail; a change holds payouts back for a while.
pub(super) async fn save_account(
    State(state): State<AppState>,
    member: ProducerMember,
    CheckedForm { form, session }: CheckedForm<AccountForm>,
) -> Result<Response, AppError> {
    if !member.is_owner {
        return Err(AppError::Forbidden);
    }
    let mut values = BTreeMap::new();
    values.insert("bank_bin".to_string(), form.bank_bin.clone());
    values.insert("account_no".to_string(), form.account_no.clone());
    values.insert("holder_name".to_string(), form.holder_name.clone());
    values.insert("tax_code".to_string(), form.tax_code.clone());
    values.insert("citizen_id".to_string(), form.citizen_id.clone());
    let mut errors = BTreeMap::new();
    let details = BankDetails::parse(&form.bank_bin, &form.account_no, &form.holder_name)
        .map_err(|e| {
            errors.insert(
                if e.contains("ngân hàng trong") {
                    "bank_bin"
                } else if e.contains("Số tài khoản") {
                    "account_no"
                } else {
                    "holder_name"
                },
                e,
            )
        })
        .ok();
    let tax_code = match form.tax_code.trim() {
        "" => None,
        t => TaxCode::parse(t)
            .map_err(|e| errors.insert("tax_code", e))
            .ok(),
    };
    let citizen_id = match form.citizen_id.trim() {
        "" => None,
        c => CitizenId::parse(c)
            .map_err(|e| errors.insert("citizen_id", e))
            .ok(),
    };
    let hash = sqlx::query_scalar!(
        "select password_hash from app_user where user_id = $1",
        member.user.user_id
    )
    .fetch_one(&state.pool)
    .await?;
    let password = form.password.clone();
    let password_ok = tokio::task::spawn_blocking(move || {
        crate::auth::identity::verify_password(&password, &hash)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    if !password_ok {
        errors.insert(
            "password",
            "Mật khẩu không đúng. Nhập mật khẩu đăng nhập của bạn để xác nhận thay đổi.",
        );
    }
    let (Some(details), true) = (details, errors.is_empty()) else {
        return account_page(&state, &session, &member, values, errors).await;
    };
    let held_until = payouts::save_details(
        &state.pool,
        member.producer_id,
        member.user.user_id,
        &details,
    )
    .await?;
    // a changed identity waits for staff to compare it with the papers again
    let mut tx =
        crate::audit::begin(&state.pool, member.user.user_id, "producer.identity", None).await?;
    sqlx::query!(
        "update producer set tax_code = $2, citizen_id = $3,
             identity_checked_at = case when (tax_code, citizen_id) is not distinct from ($2, $3) then identity_checked_at end,
             identity_checked_by = case when (tax_code, citizen_id) is not distinct from ($2, $3) then identity_checked_by end
         where producer_id = $1",
        member.producer_id,
        tax_code.as_ref().map(TaxCode::as_str),
        citizen_id.as_ref().map(CitizenId::as_str)
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let hold = match held_until {
        Some(t) => format!(
            "\nĐể phòng kẻ gian đổi tài khoản, các khoản chi trả tạm dừng đến {}.",
            crate::render::format_vn_time(t)
        ),
        None => String::new(),
    };
    state
        .mailer
        .notify(
            member.user.email.as_deref(),
            "Tài khoản nhận tiền trên sàn OCOP đã được cập nhật",
            format!(
                "Tài khoản nhận tiền của {} vừa được cập nhật: {} · {} · {}.{hold}\nNếu không phải bạn thay đổi, hãy đổi mật khẩu và gọi cán bộ OCOP của tỉnh ngay.\n{}/producer/money\n",
                member.producer_name,
                payouts::bank_name(&details.bank_bin).unwrap_or("?"),
                details.masked(),
                details.holder_name,
                state.config.public_url()
            ),
        )
        .await;
    Ok(to("/producer/money?ok=account".into()))
}
