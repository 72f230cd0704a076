//! `/staff/dashboard`: the numbers provinces report for a period, next to the previous period of the
//! same length, with breakdowns, a daily series drawn as SVG on the server, and every table as a
//! CSV that Excel opens with its Vietnamese intact. Province staff see their province; national
//! staff choose any or all.

use crate::auth::{Session, Staff};
use crate::error::AppError;
use crate::render::{escape_html, render_page};
use crate::state::AppState;
use crate::stats::{self, Summary};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use time::{Date, Duration};

#[derive(Deserialize, Default)]
pub struct DashboardQuery {
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    province: Option<String>,
    table: Option<String>,
    /// the series by day, week or month
    by: Option<String>,
}

/// The period asked for (Vietnamese days, both ends included) and the one before it.
fn periods(
    q: &DashboardQuery,
    today: Date,
) -> Result<((Date, Date), (Date, Date), &'static str), AppError> {
    let (from, to, name) = match q.period.as_deref().unwrap_or("30d") {
        "today" => (today, today, "today"),
        "7d" => (today - Duration::days(6), today, "7d"),
        "month" => (today.replace_day(1).expect("day 1"), today, "month"),
        "year" => (
            today
                .replace_day(1)
                .expect("day 1")
                .replace_month(time::Month::January)
                .expect("january"),
            today,
            "year",
        ),
        "custom" => {
            let parse = |s: Option<&String>| s.and_then(|s| crate::producer::parse_date(s));
            match (parse(q.from.as_ref()), parse(q.to.as_ref())) {
                (Some(f), Some(t)) if f <= t && (t - f).whole_days() <= 3 * 366 => (f, t, "custom"),
                _ => {
                    return Err(AppError::bad(
                        "bad_period",
                        "Khoảng thời gian không hợp lệ: chọn ngày bắt đầu không sau ngày kết thúc, tối đa 3 năm.",
                    ));
                }
            }
        }
        _ => (today - Duration::days(29), today, "30d"),
    };
    Ok(((from, to), compared_with(name, from, to), name))
}

/// The span a period is compared with: this year so far against the same days a year earlier,
/// this month so far against the same days of the month before, any other span against the
/// days just before it.
fn compared_with(name: &str, from: Date, to: Date) -> (Date, Date) {
    // 29 February and days a shorter month lacks fall back to that month's last day
    let shift = |d: Date, year: i32, month: time::Month| {
        let last = month.length(year);
        Date::from_calendar_date(year, month, d.day().min(last)).expect("a real day")
    };
    match name {
        "year" => (
            shift(from, from.year() - 1, from.month()),
            shift(to, to.year() - 1, to.month()),
        ),
        "month" => {
            let (year, month) = match from.month() {
                time::Month::January => (from.year() - 1, time::Month::December),
                m => (from.year(), m.previous()),
            };
            (shift(from, year, month), shift(to, year, month))
        }
        _ => {
            let length = (to - from).whole_days() + 1;
            (from - Duration::days(length), from - Duration::days(1))
        }
    }
}

/// The province this person may look at: their own, or (national) the one chosen, or all.
fn scope(staff: &Staff, asked: Option<&str>, state: &AppState) -> Option<i16> {
    match staff.province {
        Some(p) => Some(p),
        None => asked
            .and_then(|a| a.parse::<i16>().ok())
            .filter(|p| state.catalog.snapshot().admin.province(*p).is_some()),
    }
}

/// The period and place of a stats answer (documentation of `/api/v1/stats`; the handlers read
/// [`DashboardQuery`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct StatsParams {
    /// `today`, `7d`, `30d` (the default), `month`, `year`; ignored when `from` is given
    period: Option<String>,
    /// first day, `YYYY-MM-DD` (with `to`; at most 3 years)
    from: Option<String>,
    /// last day, `YYYY-MM-DD`
    to: Option<String>,
    /// a province code, for national staff (see `/api/v1/provinces`)
    province: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct StatsSummary {
    /// the province, or null for the whole country
    province: Option<i16>,
    from: Date,
    to: Date,
    /// the headline numbers, as on the dashboard
    #[schema(value_type = Object)]
    summary: Summary,
    /// listed and selling 3★+ products
    #[schema(value_type = Object)]
    reach: Reach,
}

#[derive(Serialize, utoipa::ToSchema)]
struct StatsTable {
    province: Option<i16>,
    from: Date,
    to: Date,
    table: String,
    rows: Vec<Row>,
}

#[derive(Serialize, Clone, utoipa::ToSchema)]
pub struct Row {
    pub label: String,
    /// none for the tables of products sold (a line is not an order)
    pub orders: Option<i64>,
    pub paid_orders: i64,
    pub value: i64,
}

/// Where this instance reads its numbers from (the rollups, unless told to use the orders).
fn stats_scope(state: &AppState, province: Option<i16>, from: Date, to: Date) -> stats::Scope {
    stats::Scope {
        source: if state.config.stats_from_orders {
            stats::Source::Orders
        } else {
            stats::Source::Rollups
        },
        ..stats::Scope::new(province, from, to)
    }
}

/// A breakdown with its keys turned into names people read.
async fn breakdown(
    state: &AppState,
    scope: &stats::Scope,
    table: &str,
) -> Result<Vec<Row>, AppError> {
    let t = stats::Table::from_key(table)
        .ok_or_else(|| AppError::bad("bad_table", "Bảng không tồn tại."))?;
    let b = stats::breakdown(&state.pool, scope, t, &[]).await?;
    Ok(label(state, t, b.rows))
}

fn label(state: &AppState, table: stats::Table, rows: Vec<stats::Row>) -> Vec<Row> {
    use stats::Table as T;
    let s = state.catalog.snapshot();
    rows.into_iter()
        .map(|r| {
            let label = match table {
                T::Commune => r
                    .key
                    .parse()
                    .ok()
                    .and_then(|c| s.admin.commune(c))
                    .map(|c| c.name.clone()),
                T::Province => r
                    .key
                    .parse()
                    .ok()
                    .and_then(|p| s.admin.province(p))
                    .map(|p| p.name.clone()),
                T::ProducerType => {
                    crate::domain::ProducerType::from_key(&r.key).map(|t| t.label().to_string())
                }
                T::Producer => r
                    .key
                    .parse()
                    .ok()
                    .and_then(|id| s.producers.get(&id))
                    .map(|p| p.name.clone()),
                T::Product => r
                    .key
                    .parse()
                    .ok()
                    .and_then(|id| s.products.get(&id))
                    .map(|p| p.name.clone()),
                T::Sector => crate::domain::Sector::from_key(&r.key).map(|t| t.label().to_string()),
                T::Stars => Some(format!("{} sao", r.key)),
                T::Method => {
                    crate::checkout::PaymentMethod::from_key(&r.key).map(|m| m.label().to_string())
                }
                T::Day | T::Week | T::Month => None,
            }
            .unwrap_or(r.key);
            Row {
                label,
                orders: (!table.counts_units()).then_some(r.orders),
                paid_orders: r.paid,
                value: r.value,
            }
        })
        .collect()
}

/// A day or month key of the series as written in Vietnam: "2026-11-30" → "30/11/2026",
/// "2026-11" → "11/2026"; anything else as it is.
fn day_label(key: &str) -> String {
    let parts: Vec<&str> = key.split('-').collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 => format!("{d}/{m}/{y}"),
        [y, m] if y.len() == 4 => format!("{m}/{y}"),
        _ => key.to_string(),
    }
}

/// Places ranked by value, one labelled horizontal bar each with its value written out: read at
/// a glance on a phone, no script, no style attribute (the CSP forbids them).
pub fn ranked_bars(rows: &[(String, i64)], title: &str) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    // large type: the chart is scaled down to a phone's width
    let (w, row_h, label_w) = (640.0_f64, 40.0_f64, 240.0_f64);
    let bar_w = w - label_w - 170.0;
    let mut svg = format!(
        r#"<svg class="chart ranking" viewBox="0 0 {w} {}" role="img" aria-label="{}"><title>{}</title>"#,
        row_h * rows.len() as f64,
        escape_html(title),
        escape_html(title)
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = i as f64 * row_h;
        let len = (bar_w * (*v as f64) / (max as f64)).max(2.0);
        svg.push_str(&format!(
            r##"<text x="{:.1}" y="{:.1}" font-size="19" text-anchor="end">{}</text><rect x="{label_w}" y="{:.1}" width="{len:.1}" height="{:.1}" rx="3" fill="#1b7a43"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" font-size="18">{}</text>"##,
            label_w - 8.0,
            y + row_h * 0.65,
            escape_html(label),
            y + 5.0,
            row_h - 10.0,
            escape_html(label),
            crate::domain::Vnd::format(*v),
            label_w + len + 6.0,
            y + row_h * 0.65,
            crate::domain::Vnd::format(*v)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// An amount short enough for an axis: 3_900_000_000 → "3,9 tỷ", 250_000_000 → "250 tr",
/// 45_000 → "45k".
fn axis_money(v: i64) -> String {
    let short = |unit: i64, name: &str| {
        let tenths = v * 10 / unit;
        if tenths % 10 == 0 || tenths >= 1000 {
            format!("{} {name}", tenths / 10)
        } else {
            format!("{},{} {name}", tenths / 10, tenths % 10)
        }
    };
    match v {
        1_000_000_000.. => short(1_000_000_000, "tỷ"),
        1_000_000.. => short(1_000_000, "tr"),
        1_000.. => short(1_000, "k").replace(" k", "k"),
        _ => v.to_string(),
    }
}

/// The top of an axis: the smallest 1, 2 or 5 × 10ⁿ at or above `max`, so ticks fall on round
/// values.
fn nice_ceiling(max: i64) -> i64 {
    let mut step = 1_i64;
    loop {
        for m in [1, 2, 5] {
            if step * m >= max {
                return step * m;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// Bars of money drawn on the server: no chart library, no CDN, readable without JavaScript. A
/// value axis with round ticks and grid lines, dates under the bars, and each bar's exact value
/// on hover (the page also lists every value for a tap).
pub fn bar_chart(points: &[(String, i64)], title: &str) -> String {
    let top = nice_ceiling(points.iter().map(|p| p.1).max().unwrap_or(0).max(1));
    let (w, h, left, right, head) = (640.0_f64, 180.0_f64, 72.0_f64, 12.0_f64, 10.0_f64);
    let n = points.len().max(1) as f64;
    let bar = (w - left - right) / n;
    let y_of = |v: i64| head + (h - head) * (1.0 - v as f64 / top as f64);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {}" role="img" aria-label="{}"><title>{}</title>"#,
        h + 24.0,
        escape_html(title),
        escape_html(title)
    );
    for tick in [0, top / 2, top] {
        let y = y_of(tick);
        svg.push_str(&format!(
            r##"<path d="M{left} {y:.1} H{}" stroke="#dfe5e1"/><text x="{}" y="{:.1}" font-size="15" text-anchor="end" fill="#5b6661">{}</text>"##,
            w - right,
            left - 6.0,
            y + 4.0,
            escape_html(&axis_money(tick))
        ));
    }
    for (i, (label, v)) in points.iter().enumerate() {
        let y = y_of(*v);
        let x = left + i as f64 * bar;
        svg.push_str(&format!(
            r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#1b7a43"><title>{}: {}</title></rect>"##,
            x + bar * 0.1,
            (bar * 0.8).max(1.0),
            (h - y).max(0.0),
            escape_html(label),
            crate::domain::Vnd::format(*v)
        ));
    }
    // under the bars: every label when they fit, else about six evenly spaced, first and last
    let every = if points.len() <= 12 {
        1
    } else {
        points.len().div_ceil(6)
    };
    for (i, (label, _)) in points.iter().enumerate() {
        let last = i + 1 == points.len();
        // the last label is always written; a regular one too close to it would overlap it
        if !last && (i % every != 0 || (i > 0 && points.len() - 1 - i <= every / 2)) {
            continue;
        }
        let anchor = match (i, every > 1) {
            (0, true) => "start",
            (_, true) if last => "end",
            _ => "middle",
        };
        let x = match anchor {
            "start" => left + i as f64 * bar,
            "end" => left + (i + 1) as f64 * bar,
            _ => left + (i as f64 + 0.5) * bar,
        };
        svg.push_str(&format!(
            r#"<text x="{x:.1}" y="{}" font-size="14" text-anchor="{anchor}">{}</text>"#,
            h + 18.0,
            escape_html(label)
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// What is not in the sales rollups: visits, the catalog's shares, newcomers.
#[derive(Serialize, Default, Debug, PartialEq)]
pub struct Reach {
    pub page_views: i64,
    pub product_views: i64,
    pub unique_visitors: i64,
    /// products with a verified, valid 3★+ certificate today, and how many of them are listed
    pub certified_products: i64,
    pub listed_products: i64,
    /// listed products with at least one paid unit in the period, per mille of the listed
    pub listed_sold_per_mille: i64,
    pub new_producers: i64,
    pub new_products: i64,
}

/// The products with a verified, valid 3★+ certificate today (how many), and the ids of those
/// listed, from the in-memory catalog.
fn certified(state: &AppState, province: Option<i16>) -> (i64, Vec<i64>) {
    let today = crate::domain::vn_today();
    let (mut certified, mut listed) = (0, vec![]);
    let s = state.catalog.snapshot();
    for p in s.products.values() {
        let Some(producer) = s.producers.get(&p.producer_id) else {
            continue;
        };
        if province.is_some_and(|code| code != producer.province_code) {
            continue;
        }
        if p.certificate.as_ref().is_some_and(|c| c.valid_on(today)) {
            certified += 1;
            if s.row_of.contains_key(&p.id) {
                listed.push(p.id);
            }
        }
    }
    (certified, listed)
}

/// Visits and newcomers (the catalog's shares are filled in by the caller).
pub async fn reach(
    state: &AppState,
    province: Option<i16>,
    from: Date,
    to: Date,
) -> Result<Reach, AppError> {
    let today = crate::domain::vn_today();
    let mut r = Reach::default();
    // finished days from Postgres, today from Redis
    let v = sqlx::query!(
        r#"select coalesce(sum(page_views), 0)::bigint as "pages!", coalesce(sum(product_views), 0)::bigint as "products!",
                  coalesce(sum(unique_visitors), 0)::bigint as "uniques!",
                  (select count(*) from producer where ($1::smallint is null or province_code = $1)
                     and (created_at at time zone 'Asia/Ho_Chi_Minh')::date between $2 and $3) as "producers!",
                  (select count(*) from product p join producer pr using (producer_id)
                    where ($1::smallint is null or pr.province_code = $1)
                      and (p.created_at at time zone 'Asia/Ho_Chi_Minh')::date between $2 and $3) as "new_products!"
           from visit_daily where day between $2 and $3 and day < $4
             and coalesce(province_code, 0) = coalesce($1::smallint, 0)"#,
        province,
        from,
        to,
        today
    )
    .fetch_one(&state.pool)
    .await?;
    r.page_views = v.pages;
    r.product_views = v.products;
    r.unique_visitors = v.uniques;
    r.new_producers = v.producers;
    r.new_products = v.new_products;
    if from <= today && today <= to {
        if let Ok(rows) = crate::visits::read_day(&state.redis, &state.visits, today).await {
            if let Some((_, pages, products, uniques)) =
                rows.into_iter().find(|row| row.0 == province)
            {
                r.page_views += pages;
                r.product_views += products;
                r.unique_visitors += uniques;
            }
        }
    }
    Ok(r)
}

/// The headline of a period with everything the API and the page show beside it: the counts of
/// active producers and products sold, reach, and the top producers and products. The queries
/// run side by side on separate connections.
async fn overview(
    state: &AppState,
    scope: &stats::Scope,
) -> Result<(Summary, Reach, Vec<Row>, Vec<Row>), AppError> {
    let (certified_products, listed) = certified(state, scope.province);
    let pool = &state.pool;
    let (reach_now, mut now, producers, products) = tokio::try_join!(
        reach(state, scope.province, scope.from, scope.to),
        async { Ok(Summary::headline(pool, scope).await?) },
        async { Ok(stats::breakdown(pool, scope, stats::Table::Producer, &[]).await?) },
        async { Ok(stats::breakdown(pool, scope, stats::Table::Product, &listed).await?) },
    )?;
    now.active_producers = producers.with_paid;
    now.products_sold = products.with_paid;
    let listed_products = listed.len() as i64;
    let reach_now = Reach {
        certified_products,
        listed_products,
        listed_sold_per_mille: if listed_products == 0 {
            0
        } else {
            products.with_paid_among * 1000 / listed_products
        },
        ..reach_now
    };
    Ok((
        now,
        reach_now,
        label(state, stats::Table::Producer, producers.rows),
        label(state, stats::Table::Product, products.rows),
    ))
}

/// The change against the period compared with, in per mille (shown as "+12,5%").
fn change(now: i64, before: i64) -> Option<i64> {
    (before != 0).then(|| ((now - before) * 1000) / before.abs())
}

pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    session: Session,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, AppError> {
    let today = crate::domain::vn_today();
    let ((from, to), (pfrom, pto), period) = periods(&q, today)?;
    let province = scope(&staff, q.province.as_deref(), &state);
    let current = stats_scope(&state, province, from, to);
    let by = match q.by.as_deref() {
        Some("week") => "week",
        Some("month") => "month",
        _ => "day",
    };
    // a province breaks down by commune, the country by province
    let place = if province.is_some() {
        "commune"
    } else {
        "province"
    };
    let (overview, before, sector, stars, producer_type, places, series) = tokio::try_join!(
        overview(&state, &current),
        async {
            Ok(Summary::headline(&state.pool, &stats_scope(&state, province, pfrom, pto)).await?)
        },
        breakdown(&state, &current, "sector"),
        breakdown(&state, &current, "stars"),
        breakdown(&state, &current, "producer_type"),
        breakdown(&state, &current, place),
        breakdown(&state, &current, by),
    )?;
    let (now, reach_now, producers, products) = overview;
    // the places ranked by what they sold: provinces for the country, communes for a province
    let mut ranked: Vec<(String, i64)> = places
        .iter()
        .filter(|r| r.value > 0)
        .map(|r| (r.label.clone(), r.value))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(15);
    let ranking_svg = ranked_bars(
        &ranked,
        if province.is_some() {
            "Xã, phường bán được nhiều nhất"
        } else {
            "Tỉnh, thành bán được nhiều nhất"
        },
    );
    let tables: BTreeMap<&'static str, Vec<Row>> = [
        ("sector", sector),
        ("stars", stars),
        ("producer_type", producer_type),
        (place, places),
        ("producer", producers),
        ("product", products),
    ]
    .into_iter()
    .collect();
    let series: Vec<(String, i64)> = series
        .iter()
        .map(|r| (day_label(&r.label), r.value))
        .collect();
    let methods: Vec<(String, i64)> = now
        .by_method
        .iter()
        .map(|m| {
            // short names under the bars (the full ones are in the table)
            let name = match m.method.as_str() {
                "cod" => "Tiền mặt",
                "vietqr" => "VietQR",
                "vnpay" => "VNPAY",
                "momo" => "MoMo",
                "card" => "Thẻ",
                other => other,
            };
            (name.to_string(), m.value)
        })
        .collect();
    let snapshot = state.catalog.snapshot();
    let provinces: Vec<_> = snapshot
        .admin
        .provinces
        .iter()
        .map(|p| ProvinceChoice {
            code: p.code,
            name: &p.name,
            selected: Some(p.code) == province,
        })
        .collect();
    let compare = Compare {
        orders: change(now.orders, before.orders),
        paid_orders: change(now.paid_orders, before.paid_orders),
        gmv: change(now.gmv, before.gmv),
        average_order_value: change(now.average_order_value, before.average_order_value),
    };
    let periods_list = [
        ("today", "Hôm nay"),
        ("7d", "7 ngày"),
        ("30d", "30 ngày"),
        ("month", "Tháng này"),
        ("year", "Năm nay"),
        ("custom", "Tuỳ chọn"),
    ]
    .map(|(key, label)| PeriodChoice {
        key,
        label,
        selected: key == period,
    });
    let table_list = [
        ("sector", "Theo ngành hàng"),
        ("stars", "Theo hạng sao"),
        ("producer_type", "Theo loại hình chủ thể"),
        (
            place,
            if province.is_some() {
                "Theo xã, phường"
            } else {
                "Theo tỉnh, thành phố"
            },
        ),
        ("producer", "Chủ thể bán chạy"),
        ("product", "Sản phẩm bán chạy"),
    ]
    .map(|(key, title)| TableChoice {
        key,
        title,
        rows: tables.get(key).map(Vec::as_slice),
    });
    // what the marketplace earned and withheld over the same days (kept per day by the ledger)
    let money = sqlx::query!(
        r#"select coalesce(-sum(amount) filter (where account = 'commission'), 0)::bigint as "commission!: crate::domain::Vnd",
                  coalesce(-sum(amount) filter (where account in ('vat_withheld', 'pit_withheld')), 0)::bigint as "tax!: crate::domain::Vnd"
           from ledger_day where day between $1 and $2 and ($3::smallint is null or province_code = $3)"#,
        from,
        to,
        province
    )
    .fetch_one(&state.pool)
    .await?;
    let channels = channels(&state, province, from, to, &now).await?;
    // by the day the guests come: the period, and the 30 days after it (what is booked ahead)
    let visits = crate::experiences::by_visit_day(
        &state.pool,
        province,
        from,
        (to - from).whole_days() + 31,
    )
    .await?;
    let reviews = crate::reviews::stats(&state.pool, province, from, to).await?;
    // reviews per thousand paid orders of the same days: how often buyers speak up
    let review_rate_per_mille = if now.paid_orders > 0 {
        reviews.count * 1000 / now.paid_orders
    } else {
        0
    };
    let page = DashboardPage {
        channels,
        visits,
        reviews,
        review_rate_per_mille,
        commission: money.commission,
        tax_withheld: money.tax,
        periods: periods_list,
        table_list,
        csrf: &session.data.csrf,
        staff: staff.view(&state),
        scope_name: province
            .and_then(|p| snapshot.admin.province(p))
            .map(|p| p.name.clone()),
        provinces,
        can_choose: staff.is_national(),
        province,
        period,
        from: from.to_string(),
        to: to.to_string(),
        previous_from: pfrom.to_string(),
        previous_to: pto.to_string(),
        now: &now,
        before: &before,
        compare,
        tables: &tables,
        reach: &reach_now,
        by,
        series_svg: bar_chart(&series, "Giá trị hàng bán theo thời gian"),
        series_points: &series,
        ranking_svg,
        ranking_title: if province.is_some() {
            "Xã, phường bán được nhiều nhất"
        } else {
            "Tỉnh, thành bán được nhiều nhất"
        },
        methods_svg: bar_chart(&methods, "Giá trị theo cách thanh toán"),
        method_points: &methods,
        query: format!(
            "period={period}&from={from}&to={to}{}",
            province
                .map(|p| format!("&province={p}"))
                .unwrap_or_default()
        ),
    };
    Ok(render_page("staff/dashboard.html", &page))
}

/// Sales by channel: online orders (paid, GMV), fairs and sales points (paid till sales), and
/// the non-cash share over all of them.
#[derive(Serialize)]
struct Channels {
    rows: Vec<crate::fairs::ChannelNumbers>,
    sales: i64,
    value: i64,
    non_cash_value_per_mille: i64,
}

async fn channels(
    state: &AppState,
    province: Option<i16>,
    from: time::Date,
    to: time::Date,
    online: &Summary,
) -> Result<Channels, AppError> {
    let online_non_cash: i64 = online
        .by_method
        .iter()
        .filter(|m| m.method != "cod")
        .map(|m| m.value)
        .sum();
    let mut rows = vec![crate::fairs::ChannelNumbers {
        key: "online",
        label: "Trực tuyến",
        sales: online.paid_orders,
        value: online.gmv,
        non_cash_sales: online
            .by_method
            .iter()
            .filter(|m| m.method != "cod")
            .map(|m| m.paid_orders)
            .sum(),
        non_cash_value: online_non_cash,
        non_cash_value_per_mille: online.non_cash_value_per_mille,
    }];
    rows.extend(crate::fairs::channel_numbers(&state.pool, province, from, to).await?);
    let value: i64 = rows.iter().map(|r| r.value).sum();
    let non_cash: i64 = rows.iter().map(|r| r.non_cash_value).sum();
    Ok(Channels {
        sales: rows.iter().map(|r| r.sales).sum(),
        value,
        non_cash_value_per_mille: crate::fairs::per_mille(non_cash, value),
        rows,
    })
}

/// The dashboard: the period's headline numbers against the period before, charts, and the
/// breakdown tables.
#[derive(Serialize)]
struct DashboardPage<'a> {
    channels: Channels,
    /// booked experiences by the day of the visit (not of the order): (day, bookings, guests)
    visits: Vec<(time::Date, i64, i64)>,
    /// verified buyers' reviews written in the period
    reviews: crate::reviews::Stats,
    review_rate_per_mille: i64,
    /// the marketplace's commission income, and VAT + PIT withheld, over the period
    commission: crate::domain::Vnd,
    tax_withheld: crate::domain::Vnd,
    periods: [PeriodChoice; 6],
    table_list: [TableChoice<'a>; 6],
    csrf: &'a str,
    staff: serde_json::Value,
    scope_name: Option<String>,
    provinces: Vec<ProvinceChoice<'a>>,
    /// national staff may pick a province
    can_choose: bool,
    province: Option<i16>,
    period: &'a str,
    from: String,
    to: String,
    previous_from: String,
    previous_to: String,
    now: &'a Summary,
    before: &'a Summary,
    compare: Compare,
    tables: &'a BTreeMap<&'static str, Vec<Row>>,
    reach: &'a Reach,
    by: &'static str,
    series_svg: String,
    series_points: &'a [(String, i64)],
    ranking_svg: String,
    ranking_title: &'static str,
    methods_svg: String,
    method_points: &'a [(String, i64)],
    /// the period and scope, for the CSV links
    query: String,
}

/// Change against the period before, in tenths of a percent (none when there was nothing).
#[derive(Serialize)]
struct Compare {
    orders: Option<i64>,
    paid_orders: Option<i64>,
    gmv: Option<i64>,
    average_order_value: Option<i64>,
}

#[derive(Serialize)]
struct PeriodChoice {
    key: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Serialize)]
struct TableChoice<'a> {
    key: &'static str,
    title: &'static str,
    rows: Option<&'a [Row]>,
}

#[derive(Serialize)]
struct ProvinceChoice<'a> {
    code: i16,
    name: &'a str,
    selected: bool,
}

/// Who asks (by token), where and when, for the API: `from`/`to` make a custom period, else
/// `period` as on the page (30 days by default).
type ApiQuery = Result<Query<DashboardQuery>, axum::extract::rejection::QueryRejection>;

/// A query string that cannot be read (a parameter twice, say) as an API error, in JSON.
fn api_query(q: ApiQuery) -> Result<DashboardQuery, AppError> {
    q.map(|Query(q)| q).map_err(|_| {
        AppError::bad(
            "invalid_parameter",
            "Không đọc được tham số: mỗi tham số chỉ được có một lần.",
        )
    })
}

async fn api_scope(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    q: DashboardQuery,
) -> Result<(Option<i16>, Date, Date), AppError> {
    let staff = token_staff(state, headers).await?;
    let q = DashboardQuery {
        period: Some(if q.from.is_some() {
            "custom".into()
        } else {
            q.period.unwrap_or_else(|| "30d".into())
        }),
        ..q
    };
    let ((from, to), _, _) = periods(&q, crate::domain::vn_today())?;
    Ok((scope(&staff, q.province.as_deref(), state), from, to))
}

/// The stats API's part of the API description.
#[derive(utoipa::OpenApi)]
#[openapi(paths(api_summary, api_table))]
pub struct ApiDoc;

/// `GET /api/v1/stats/summary?province=&from=&to=` (and `/api/v1/stats/{table}`) for provincial
/// reporting systems: `Authorization: Bearer <staff API token>`, scoped like the person who made it.
#[utoipa::path(
    get, path = "/api/v1/stats/summary", tag = "stats",
    summary = "The province's indicators over a period",
    description = "Visits, orders, paid value, the share of non-cash payments and of listed 3★+ \
products that sold, as on the dashboard. Province staff always get their own province; national \
staff choose one with `province` or get the whole country.",
    params(StatsParams),
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "The indicators", body = StatsSummary),
        (status = 400, description = "A period that cannot be used", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or not a staff member's", body = crate::error::ErrorBody),
    )
)]
pub async fn api_summary(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    q: ApiQuery,
) -> Result<Response, crate::error::ApiError> {
    let (province, from, to) = api_scope(&state, &headers, api_query(q)?).await?;
    let (summary, reach, _, _) = overview(&state, &stats_scope(&state, province, from, to)).await?;
    Ok(axum::Json(StatsSummary {
        province,
        from,
        to,
        summary,
        reach,
    })
    .into_response())
}

#[utoipa::path(
    get, path = "/api/v1/stats/{table}", tag = "stats",
    summary = "The indicators broken down by one dimension",
    params(
        ("table" = String, Path, description = "What to break the period down by",
         pattern = "^(method|producer_type|commune|province|producer|product|sector|stars|day|week|month)$"),
        StatsParams,
    ),
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "One row per value", body = StatsTable),
        (status = 400, description = "An unknown table or a period that cannot be used", body = crate::error::ErrorBody),
        (status = 401, description = "No token, or not a staff member's", body = crate::error::ErrorBody),
    )
)]
pub async fn api_table(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    axum::extract::Path(table): axum::extract::Path<String>,
    q: ApiQuery,
) -> Result<Response, crate::error::ApiError> {
    let (province, from, to) = api_scope(&state, &headers, api_query(q)?).await?;
    let rows = breakdown(&state, &stats_scope(&state, province, from, to), &table).await?;
    Ok(axum::Json(StatsTable {
        province,
        from,
        to,
        table,
        rows,
    })
    .into_response())
}

fn hash_token(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The staff member a bearer token belongs to (still staff today), or 401.
async fn token_staff(state: &AppState, headers: &axum::http::HeaderMap) -> Result<Staff, AppError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AppError::LoginRequired)?;
    let user_id = sqlx::query_scalar!(
        "update staff_api_token set last_used_at = now() where token_hash = $1 returning user_id",
        hash_token(token.trim())
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::LoginRequired)?;
    let user = crate::auth::load_user(state, user_id)
        .await?
        .ok_or(AppError::LoginRequired)?;
    let province = match (user.role, user.province_code) {
        (crate::domain::Role::ProvinceStaff, Some(p)) => Some(p),
        (crate::domain::Role::NationalStaff | crate::domain::Role::Admin, _) => None,
        _ => return Err(AppError::LoginRequired),
    };
    Ok(Staff { user, province })
}

/// Makes an API token for this staff member; it is shown once.
pub async fn create_token(
    State(state): State<AppState>,
    staff: Staff,
    crate::forms::CheckedForm { form, session }: crate::forms::CheckedForm<
        std::collections::BTreeMap<String, String>,
    >,
) -> Result<Response, AppError> {
    let token = format!("ocop_{}", crate::crypto::random_token());
    let label: String = form
        .get("label")
        .map(|l| l.trim().chars().take(80).collect())
        .unwrap_or_default();
    sqlx::query!(
        "insert into staff_api_token (token_hash, user_id, label) values ($1, $2, $3)",
        hash_token(&token),
        staff.user.user_id,
        label
    )
    .execute(&state.pool)
    .await?;
    let page = json!({
        "csrf": session.data.csrf, "token": token, "label": label,
        "staff": staff.view(&state),
    });
    Ok(render_page("staff/token.html", &page))
}

/// One table as CSV, UTF-8 with a byte-order mark so Excel shows Vietnamese correctly.
pub async fn csv(
    State(state): State<AppState>,
    staff: Staff,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, AppError> {
    let today = crate::domain::vn_today();
    let ((from, to), _, _) = periods(&q, today)?;
    let province = scope(&staff, q.province.as_deref(), &state);
    let table = q.table.clone().unwrap_or_else(|| "sector".into());
    let rows = breakdown(&state, &stats_scope(&state, province, from, to), &table).await?;
    let out = crate::export::csv_document(
        &[
            "Mục",
            "Số đơn",
            "Đơn đã thanh toán / số lượng bán",
            "Giá trị (đồng)",
        ],
        rows.iter().map(|r| {
            [
                r.label.clone(),
                r.orders.map(|o| o.to_string()).unwrap_or_default(),
                r.paid_orders.to_string(),
                r.value.to_string(),
            ]
        }),
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(crate::export::csv_download(
        &format!("ocop-{table}-{from}-{to}.csv"),
        out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn this_year_is_compared_with_the_same_days_a_year_earlier() {
        assert_eq!(
            compared_with("year", date!(2026 - 01 - 01), date!(2026 - 11 - 30)),
            (date!(2025 - 01 - 01), date!(2025 - 11 - 30))
        );
        assert_eq!(
            compared_with("year", date!(2028 - 01 - 01), date!(2028 - 02 - 29)),
            (date!(2027 - 01 - 01), date!(2027 - 02 - 28))
        );
    }

    #[test]
    fn this_month_is_compared_with_the_same_days_of_the_month_before() {
        assert_eq!(
            compared_with("month", date!(2026 - 03 - 01), date!(2026 - 03 - 31)),
            (date!(2026 - 02 - 01), date!(2026 - 02 - 28))
        );
        assert_eq!(
            compared_with("month", date!(2026 - 01 - 01), date!(2026 - 01 - 15)),
            (date!(2025 - 12 - 01), date!(2025 - 12 - 15))
        );
    }

    #[test]
    fn the_ranking_names_each_place_and_writes_its_value() {
        let svg = ranked_bars(
            &[("Quảng Ninh".into(), 250_000), ("Hà Nội".into(), 100_000)],
            "Tỉnh, thành bán được nhiều nhất",
        );
        assert!(svg.contains(">Quảng Ninh</text>") && svg.contains(">250.000\u{a0}₫</text>"));
        assert!(!svg.contains("style="));
        assert_eq!(ranked_bars(&[], "x"), "");
    }

    #[test]
    fn a_chart_has_a_value_axis_with_round_ticks_and_dates_under_its_bars() {
        assert_eq!(nice_ceiling(3_700_000), 5_000_000);
        assert_eq!(nice_ceiling(1_000), 1_000);
        assert_eq!(nice_ceiling(1_001), 2_000);
        assert_eq!(axis_money(3_900_000_000), "3,9 tỷ");
        assert_eq!(axis_money(250_000_000), "250 tr");
        assert_eq!(axis_money(2_500_000), "2,5 tr");
        assert_eq!(axis_money(45_000), "45k");
        assert_eq!(axis_money(2_500), "2,5k");
        let days: Vec<(String, i64)> = (1..=30)
            .map(|d| (format!("{d:02}/11/2026"), d * 100_000))
            .collect();
        let svg = bar_chart(&days, "Theo ngày");
        assert!(
            svg.contains(">0</text>")
                && svg.contains(">2,5 tr</text>")
                && svg.contains(">5 tr</text>"),
            "ticks at 0, 2,5 tr and 5 tr: {svg}"
        );
        assert!(svg.contains(">01/11/2026</text>") && svg.contains(">30/11/2026</text>"));
        let written = svg.matches("/11/2026</text>").count();
        assert!(
            (4..=7).contains(&written),
            "about six dates under thirty bars, not {written}"
        );
        assert!(svg.contains("<title>15/11/2026: 1.500.000\u{a0}₫</title>"));
    }

    #[test]
    fn chart_axes_write_days_and_months_the_vietnamese_way() {
        assert_eq!(day_label("2026-11-30"), "30/11/2026");
        assert_eq!(day_label("2026-11"), "11/2026");
        assert_eq!(day_label("Hà Nội"), "Hà Nội");
    }

    #[test]
    fn other_spans_are_compared_with_the_days_just_before() {
        assert_eq!(
            compared_with("7d", date!(2026 - 11 - 24), date!(2026 - 11 - 30)),
            (date!(2026 - 11 - 17), date!(2026 - 11 - 23))
        );
    }
}
