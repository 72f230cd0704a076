//! Settlement in the back office: the overview per province with each channel's expected
//! remittances, adjustments, payout runs (start, bank file, VietQR per line, confirm or fail),
//! the monthly withholding declaration, and commission rules. Province staff act on their
//! province only; every action goes to the audit log.

use super::*;
use crate::domain::{ProducerType, Sector, Vnd};
use crate::settlement::payouts::{self, LineStatus, Started};
use crate::settlement::rates::CommissionRule;
use crate::settlement::reports::{self, Period};
use axum::extract::Path;
use time::OffsetDateTime;

#[derive(Deserialize, Default)]
pub(super) struct MoneyQuery {
    month: Option<String>,
    ok: Option<String>,
}

/// A page shown again with a problem says so in its status.
fn status_for(problem: Option<&str>) -> StatusCode {
    if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

fn money_notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "adjusted" => "Đã ghi bút toán điều chỉnh.",
        "run" => "Đã lập đợt chi trả: số tiền của từng chủ thể đã được khoá.",
        "run_exists" => "Đợt chi trả hôm nay của tỉnh đã có: mở đợt đó bên dưới.",
        "confirmed" => "Đã xác nhận đã chuyển tiền.",
        "failed" => "Đã ghi nhận không thành công: tiền đã về lại số dư của chủ thể.",
        "rule" => "Đã đặt mức hoa hồng; mức mới áp dụng cho đơn đặt từ thời điểm hiệu lực.",
        "settings" => "Đã lưu phí kênh thanh toán và cách đối soát.",
        _ => return None,
    })
}

#[derive(Serialize)]
struct SettlementPage {
    month: String,
    month_label: String,
    provinces: Vec<reports::Overview>,
    remittances: Vec<reports::Remittance>,
    token: String,
    notice: Option<&'static str>,
    problem: Option<&'static str>,
}

pub(super) async fn settlement(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<MoneyQuery>,
) -> Result<Response, AppError> {
    let period = Period::asked(q.month.as_deref())?;
    settlement_view(
        &state,
        &staff,
        &session,
        period,
        money_notice(q.ok.as_deref()),
        None,
    )
    .await
}

async fn settlement_view(
    state: &AppState,
    staff: &Staff,
    session: &Session,
    period: Period,
    notice: Option<&'static str>,
    problem: Option<&'static str>,
) -> Result<Response, AppError> {
    let page = SettlementPage {
        month: period.key(),
        month_label: period.label(),
        provinces: reports::overview(&state.pool, staff.province, period).await?,
        remittances: reports::remittances(&state.pool, staff.province, 14).await?,
        token: crate::crypto::random_token(),
        notice,
        problem,
    };
    let status = status_for(problem);
    Ok(show(
        status,
        "staff/settlement.html",
        &framed(state, session, staff, page),
    ))
}

#[derive(Deserialize)]
pub(super) struct AdjustForm {
    producer: String,
    amount: String,
    direction: String,
    reason: String,
    token: String,
}

pub(super) async fn adjust(
    State(state): State<AppState>,
    staff: Staff,
    CheckedForm { form, session }: CheckedForm<AdjustForm>,
) -> Result<Response, AppError> {
    let month = Period::containing(OffsetDateTime::now_utc());
    let back = async |problem: &'static str| {
        settlement_view(&state, &staff, &session, month, None, Some(problem)).await
    };
    let producer = sqlx::query!(
        "select producer_id, province_code from producer where slug = $1 or producer_id::text = $1",
        form.producer.trim()
    )
    .fetch_optional(&state.pool)
    .await?;
    let Some(producer) = producer.filter(|p| staff.covers(p.province_code)) else {
        return back(
            "Không tìm thấy chủ thể trong phạm vi của bạn (nhập mã số hoặc đường dẫn của chủ thể).",
        )
        .await;
    };
    let Some(amount) = Vnd::parse_amount(&form.amount) else {
        return back("Số tiền không hợp lệ: nhập số đồng, ví dụ 150.000.").await;
    };
    let amount = if form.direction == "against" {
        Vnd::new(-amount)
    } else {
        Vnd::new(amount)
    };
    match crate::settlement::adjust(
        &state.pool,
        staff.user.user_id,
        producer.producer_id,
        amount,
        &form.reason,
        &form.token,
    )
    .await?
    {
        Ok(_) => Ok(Redirect::to("/staff/settlement?ok=adjusted").into_response()),
        Err(problem) => back(problem).await,
    }
}

#[derive(Serialize)]
struct PayoutsPage {
    runs: Vec<reports::RunSummary>,
    provinces: Vec<Choice>,
    notice: Option<&'static str>,
}

#[derive(Serialize)]
struct Choice {
    code: i16,
    name: String,
}

pub(super) async fn payouts_page(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<MoneyQuery>,
) -> Result<Response, AppError> {
    let provinces = state
        .catalog
        .snapshot()
        .admin
        .provinces
        .iter()
        .filter(|p| staff.covers(p.code))
        .map(|p| Choice {
            code: p.code,
            name: p.name.clone(),
        })
        .collect();
    let page = PayoutsPage {
        runs: reports::runs(&state.pool, staff.province, None).await?,
        provinces,
        notice: money_notice(q.ok.as_deref()),
    };
    Ok(show(
        StatusCode::OK,
        "staff/payouts.html",
        &framed(&state, &session, &staff, page),
    ))
}

#[derive(Deserialize)]
pub(super) struct RunForm {
    province: i16,
}

pub(super) async fn start_run(
    State(state): State<AppState>,
    staff: Staff,
    CheckedForm { form, .. }: CheckedForm<RunForm>,
) -> Result<Response, AppError> {
    if !staff.covers(form.province) {
        return Err(AppError::Forbidden);
    }
    let now = OffsetDateTime::now_utc();
    let started = payouts::start_run(
        &state.pool,
        form.province,
        crate::domain::vn_today(),
        Some(staff.user.user_id),
        now,
    )
    .await?;
    let (run, ok) = match started {
        Started::New { run_id, .. } => (run_id, "run"),
        Started::Exists { run_id } => (run_id, "run_exists"),
    };
    Ok(Redirect::to(&format!("/staff/payouts/{run}?ok={ok}")).into_response())
}

#[derive(Serialize)]
struct RunPage {
    run: reports::RunSummary,
    lines: Vec<reports::PayoutRow>,
    notice: Option<&'static str>,
    problem: Option<&'static str>,
}

pub(super) async fn run_page(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Path(id): Path<i64>,
    Query(q): Query<MoneyQuery>,
) -> Result<Response, AppError> {
    run_view(
        &state,
        &staff,
        &session,
        id,
        money_notice(q.ok.as_deref()),
        None,
    )
    .await
}

async fn run_view(
    state: &AppState,
    staff: &Staff,
    session: &Session,
    id: i64,
    notice: Option<&'static str>,
    problem: Option<&'static str>,
) -> Result<Response, AppError> {
    let Some((run, lines)) = reports::run_lines(&state.pool, id, staff.province).await? else {
        return Err(AppError::NotFound);
    };
    let page = RunPage {
        run,
        lines,
        notice,
        problem,
    };
    let status = status_for(problem);
    Ok(show(
        status,
        "staff/payout_run.html",
        &framed(state, session, staff, page),
    ))
}

pub(super) async fn bank_file(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let Some((run, lines)) = reports::run_lines(&state.pool, id, staff.province).await? else {
        return Err(AppError::NotFound);
    };
    let out = reports::bank_file(&lines).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(crate::export::csv_download(
        &format!("chi-tra-{}-{}.csv", run.province_code, run.run_on),
        out,
    ))
}

#[derive(Deserialize)]
pub(super) struct SettleForm {
    #[serde(default)]
    bank_ref: String,
    #[serde(default)]
    reason: String,
}

/// Confirms a line paid (with the bank's reference) or records it failed (with a reason).
pub(super) async fn settle(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, action)): Path<(i64, String)>,
    CheckedForm { form, session }: CheckedForm<SettleForm>,
) -> Result<Response, AppError> {
    let line = sqlx::query!(
        "select l.payout_run_id, pr.province_code from payout_line l join producer pr using (producer_id) where l.payout_line_id = $1",
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .filter(|l| staff.covers(l.province_code))
    .ok_or(AppError::NotFound)?;
    let run = line.payout_run_id;
    let problem =
        async |p: &'static str| run_view(&state, &staff, &session, run, None, Some(p)).await;
    let (to, text, action_key, ok) = match action.as_str() {
        "confirm" => (
            LineStatus::Paid,
            form.bank_ref.trim(),
            "payout.confirm",
            "confirmed",
        ),
        "fail" => (
            LineStatus::Failed,
            form.reason.trim(),
            "payout.fail",
            "failed",
        ),
        _ => return Err(AppError::NotFound),
    };
    if text.chars().count() < 3 || text.chars().count() > 200 {
        return problem(if to == LineStatus::Paid {
            "Nhập mã giao dịch ngân hàng của lệnh chuyển (có trên sao kê)."
        } else {
            "Nhập lý do chuyển tiền không thành công."
        })
        .await;
    }
    let mut tx =
        crate::audit::begin(&state.pool, staff.user.user_id, action_key, Some(text)).await?;
    // a line already paid can only come back (returned); one that failed stays failed
    let current: LineStatus = sqlx::query_scalar!(
        r#"select status as "s: LineStatus" from payout_line where payout_line_id = $1"#,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    let to = if to == LineStatus::Failed && current == LineStatus::Paid {
        LineStatus::Returned
    } else {
        to
    };
    let (bank_ref, note) = if to == LineStatus::Paid {
        (Some(text), None)
    } else {
        (None, Some(text))
    };
    match payouts::settle_line(&mut tx, id, to, bank_ref, note, Some(staff.user.user_id)).await? {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/staff/payouts/{run}?ok={ok}#line-{id}")).into_response())
        }
        Err(p) => {
            drop(tx);
            problem(p).await
        }
    }
}

#[derive(Serialize)]
struct TaxPage {
    month: String,
    month_label: String,
    prev: String,
    next: String,
    rows: Vec<reports::Withheld>,
    revenue: Vnd,
    returns: Vnd,
    vat: Vnd,
    pit: Vnd,
    missing_ids: usize,
}

pub(super) async fn tax(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<MoneyQuery>,
) -> Result<Response, AppError> {
    let period = Period::asked(q.month.as_deref())?;
    let rows = reports::withholding(&state.pool, period, staff.province).await?;
    let page = TaxPage {
        month: period.key(),
        month_label: period.label(),
        prev: period.prev().key(),
        next: period.next().key(),
        revenue: rows.iter().map(|r| r.revenue).sum(),
        returns: rows.iter().map(|r| r.returns).sum(),
        vat: rows.iter().map(|r| r.vat).sum(),
        pit: rows.iter().map(|r| r.pit).sum(),
        missing_ids: rows
            .iter()
            .filter(|r| r.tax_code.is_none() && r.citizen_id.is_none())
            .count(),
        rows,
    };
    Ok(show(
        StatusCode::OK,
        "staff/tax.html",
        &framed(&state, &session, &staff, page),
    ))
}

pub(super) async fn tax_csv(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<MoneyQuery>,
) -> Result<Response, AppError> {
    let period = Period::asked(q.month.as_deref())?;
    let rows = reports::withholding(&state.pool, period, staff.province).await?;
    let out = crate::export::csv_document(
        &[
            "STT",
            "Tỉnh, thành phố",
            "Người bán",
            "Loại hình",
            "Mã số thuế",
            "Số CCCD",
            "Doanh thu",
            "Hàng trả lại (giảm trừ)",
            "Thuế GTGT đã khấu trừ",
            "Thuế TNCN đã khấu trừ",
        ],
        rows.iter().enumerate().map(|(i, r)| {
            [
                (i + 1).to_string(),
                r.province.clone(),
                r.name.clone(),
                ProducerType::from_key(&r.producer_type)
                    .map(|t| t.label().to_string())
                    .unwrap_or_default(),
                r.tax_code.clone().unwrap_or_default(),
                r.citizen_id.clone().unwrap_or_default(),
                r.revenue.amount().to_string(),
                r.returns.amount().to_string(),
                r.vat.amount().to_string(),
                r.pit.amount().to_string(),
            ]
        }),
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let scope = staff
        .province
        .map_or("toan-quoc".to_string(), |p| p.to_string());
    Ok(crate::export::csv_download(
        &format!("khau-tru-thue-{scope}-{}.csv", period.key()),
        out,
    ))
}

#[derive(Serialize)]
struct CommissionPage {
    fees: Vec<FeeView>,
    settings: crate::settlement::rates::Settings,
    rules: Vec<RuleView>,
    sectors: Vec<(&'static str, &'static str)>,
    producer_types: Vec<(&'static str, &'static str)>,
    national: bool,
    problem: Option<&'static str>,
    notice: Option<&'static str>,
}

#[derive(Serialize)]
struct FeeView {
    method: &'static str,
    label: &'static str,
    percent: String,
    producer_pays: bool,
}

/// Basis points as Vietnamese write a percentage: "2,5".
fn percent(bp: i32) -> String {
    let whole = bp / 100;
    match bp % 100 {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole},{}", f / 10),
        f => format!("{whole},{f:02}"),
    }
}

/// A percentage as people type it ("2,5", "2.5", "0") in basis points, within `max` percent.
fn basis_points(input: &str, max: i32) -> Option<i32> {
    let t = input.trim().trim_end_matches('%').trim().replace(',', ".");
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .chars()
            .chain(frac.chars())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let bp =
        whole.parse::<i32>().ok()?.checked_mul(100)? + format!("{frac:0<2}").parse::<i32>().ok()?;
    (bp <= max * 100).then_some(bp)
}

#[derive(Serialize)]
struct RuleView {
    rule: CommissionRule,
    percent: String,
    scope: String,
}

pub(super) async fn commission(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<MoneyQuery>,
) -> Result<Response, AppError> {
    commission_view(
        &state,
        &staff,
        &session,
        money_notice(q.ok.as_deref()),
        None,
    )
    .await
}

async fn commission_view(
    state: &AppState,
    staff: &Staff,
    session: &Session,
    notice: Option<&'static str>,
    problem: Option<&'static str>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let rules = crate::settlement::rates::commission_rules(&mut conn).await?;
    drop(conn);
    let snapshot = state.catalog.snapshot();
    let rules = rules
        .into_iter()
        .filter(|r| staff.province.is_none() || r.province_code.is_none_or(|p| staff.covers(p)))
        .map(|r| {
            let mut scope = vec![];
            if let Some(p) = r.province_code.and_then(|p| snapshot.admin.province(p)) {
                scope.push(p.name.clone());
            }
            if let Some(id) = r.producer_id {
                scope.push(format!("chủ thể #{id}"));
            }
            if let Some(s) = r.sector {
                scope.push(s.label().to_string());
            }
            if let Some(t) = r.producer_type {
                scope.push(t.label().to_string());
            }
            RuleView {
                percent: format!("{}%", percent(r.rate_bp)),
                scope: if scope.is_empty() {
                    "Mặc định toàn quốc".into()
                } else {
                    scope.join(" · ")
                },
                rule: r,
            }
        })
        .collect();
    let mut conn = state.pool.acquire().await?;
    let rates = crate::settlement::rates::Rates::load(&mut conn).await?;
    drop(conn);
    let fees = rates
        .fees
        .0
        .iter()
        .map(|(method, fee)| FeeView {
            method: method.key(),
            label: method.label(),
            percent: percent(fee.rate_bp),
            producer_pays: fee.producer_pays,
        })
        .collect();
    let page = CommissionPage {
        fees,
        settings: rates.settings,
        rules,
        sectors: Sector::ALL.iter().map(|s| (s.key(), s.label())).collect(),
        producer_types: ProducerType::ALL
            .iter()
            .map(|t| (t.key(), t.label()))
            .collect(),
        national: staff.is_national(),
        problem,
        notice,
    };
    let status = status_for(problem);
    Ok(show(
        status,
        "staff/commission.html",
        &framed(state, session, staff, page),
    ))
}

#[derive(Deserialize)]
pub(super) struct RuleForm {
    #[serde(default)]
    sector: String,
    #[serde(default)]
    producer_type: String,
    #[serde(default)]
    producer: String,
    percent: String,
    #[serde(default)]
    valid_from: String,
    reason: String,
}

/// A new dated rule. Province staff set rules for their province; national staff for the
/// country (or any province's producer).
pub(super) async fn add_rule(
    State(state): State<AppState>,
    staff: Staff,
    CheckedForm { form, session }: CheckedForm<RuleForm>,
) -> Result<Response, AppError> {
    let back =
        async |p: &'static str| commission_view(&state, &staff, &session, None, Some(p)).await;
    // "2,5" or "2.5" percent, to the hundredth, read as whole basis points (never a float)
    let Some(rate_bp) = basis_points(&form.percent, 30) else {
        return back(
            "Mức hoa hồng là phần trăm từ 0 đến 30, tối đa hai chữ số thập phân (ví dụ 2,5).",
        )
        .await;
    };
    if form.reason.trim().chars().count() < 3 {
        return back("Vui lòng ghi lý do (ví dụ số quyết định của tỉnh).").await;
    }
    let sector = match form.sector.as_str() {
        "" => None,
        s => Some(Sector::from_key(s).ok_or(AppError::bad("bad_sector", "Ngành không hợp lệ."))?),
    };
    let producer_type = match form.producer_type.as_str() {
        "" => None,
        t => Some(
            ProducerType::from_key(t)
                .ok_or(AppError::bad("bad_type", "Loại hình không hợp lệ."))?,
        ),
    };
    let producer = match form.producer.trim() {
        "" => None,
        p => {
            let Some(found) = sqlx::query!(
                "select producer_id, province_code from producer where slug = $1 or producer_id::text = $1",
                p
            )
            .fetch_optional(&state.pool)
            .await?
            .filter(|f| staff.covers(f.province_code)) else {
                return back("Không tìm thấy chủ thể trong phạm vi của bạn.").await;
            };
            Some(found.producer_id)
        }
    };
    let now = OffsetDateTime::now_utc();
    let valid_from = match form.valid_from.trim() {
        "" => now,
        d => {
            match time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")) {
                Ok(day) => day.midnight().assume_offset(crate::domain::VN_OFFSET),
                Err(_) => return back("Ngày hiệu lực không hợp lệ.").await,
            }
        }
    };
    // a rate for orders already placed would change money already promised
    if valid_from < now - time::Duration::minutes(1) {
        return back("Ngày hiệu lực không được ở quá khứ: mức mới chỉ áp dụng cho đơn đặt sau đó.")
            .await;
    }
    let mut tx = crate::audit::begin(
        &state.pool,
        staff.user.user_id,
        "commission.rule",
        Some(form.reason.trim()),
    )
    .await?;
    sqlx::query!(
        "insert into commission_rule (province_code, producer_id, sector, producer_type, rate_bp, valid_from, reason, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        staff.province,
        producer,
        sector.map(Sector::key),
        producer_type.map(ProducerType::key),
        rate_bp,
        valid_from,
        form.reason.trim(),
        staff.user.user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/staff/commission?ok=rule").into_response())
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    fee_vietqr: String,
    fee_vnpay: String,
    fee_momo: String,
    fee_card: String,
    payer_vietqr: String,
    payer_vnpay: String,
    payer_momo: String,
    payer_card: String,
    return_window_days: String,
    payout_min: String,
    bank_change_hold_hours: String,
    payout_weekday: String,
}

/// National staff set the channels' fees (and who bears them) and how settlement runs. A fee
/// change applies to payments from then on; the return window to orders delivered from then on.
pub(super) async fn save_settings(
    State(state): State<AppState>,
    NationalStaff(staff): NationalStaff,
    CheckedForm { form, session }: CheckedForm<SettingsForm>,
) -> Result<Response, AppError> {
    let back =
        async |p: &'static str| commission_view(&state, &staff, &session, None, Some(p)).await;
    let mut fees = vec![];
    for (method, fee, payer) in [
        ("vietqr", &form.fee_vietqr, &form.payer_vietqr),
        ("vnpay", &form.fee_vnpay, &form.payer_vnpay),
        ("momo", &form.fee_momo, &form.payer_momo),
        ("card", &form.fee_card, &form.payer_card),
    ] {
        let Some(bp) = basis_points(fee, 10) else {
            return back(
                "Phí kênh thanh toán là phần trăm từ 0 đến 10, tối đa hai chữ số thập phân.",
            )
            .await;
        };
        if !matches!(payer.as_str(), "marketplace" | "producer") {
            return back("Chọn ai chịu phí của từng kênh.").await;
        }
        fees.push((method, bp, payer.clone()));
    }
    let number = |v: &str, range: std::ops::RangeInclusive<i64>| {
        Vnd::parse_amount(v).filter(|n| range.contains(n))
    };
    let (Some(window), Some(min), Some(hold), Some(weekday)) = (
        number(&form.return_window_days, 0..=60),
        number(&form.payout_min, 1..=100_000_000),
        number(&form.bank_change_hold_hours, 0..=720),
        number(&form.payout_weekday, 1..=7),
    ) else {
        return back("Kiểm tra lại: hạn đổi trả 0–60 ngày, mức chi trả tối thiểu từ 1 đồng, thời gian tạm dừng 0–720 giờ, ngày chi trả 1–7.").await;
    };
    let mut tx =
        crate::audit::begin(&state.pool, staff.user.user_id, "settlement.settings", None).await?;
    for (method, bp, payer) in fees {
        sqlx::query!(
            "update channel_fee set rate_bp = $2, payer = $3, updated_at = now() where method = $1",
            method,
            bp,
            payer
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        "update settlement_setting set return_window_days = $1, payout_min_vnd = $2, bank_change_hold_hours = $3, payout_weekday = $4",
        window as i32,
        min,
        hold as i32,
        weekday as i32
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/staff/commission?ok=settings").into_response())
}

#[derive(Deserialize)]
pub(super) struct CheckedIdentity {
    month: String,
}

/// Staff have compared a seller's tax code or CCCD with its papers.
pub(super) async fn identity_checked(
    State(state): State<AppState>,
    staff: Staff,
    Id(id): Id,
    CheckedForm { form, .. }: CheckedForm<CheckedIdentity>,
) -> Result<Response, AppError> {
    let province = sqlx::query_scalar!(
        "select province_code from producer where producer_id = $1 and (tax_code is not null or citizen_id is not null)",
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .filter(|p| staff.covers(*p))
    .ok_or(AppError::NotFound)?;
    let _ = province;
    let mut tx = crate::audit::begin(
        &state.pool,
        staff.user.user_id,
        "producer.identity_check",
        None,
    )
    .await?;
    sqlx::query!(
        "update producer set identity_checked_at = now(), identity_checked_by = $2 where producer_id = $1",
        id,
        staff.user.user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let month =
        Period::parse(&form.month).unwrap_or_else(|| Period::containing(OffsetDateTime::now_utc()));
    Ok(Redirect::to(&format!("/staff/tax?month={}", month.key())).into_response())
}
