//! `ocop-market import FILE`: a province's OCOP list, as provinces publish it (CSV or XLSX).
//!
//! Each row is checked on its own; a bad row is reported with its line number and reason and
//! nothing of it is written, good rows go in. A producer is recognised by its name within its
//! commune and a product by its name within its producer, so importing the same file again
//! changes nothing.

use crate::domain::{ProducerType, Sector, Stars, Vnd, default_expiry, slugify, vn_today};
use sqlx::PgPool;
use std::collections::HashMap;
use std::path::Path;
use time::Date;

pub const COLUMNS: &[&str] = &[
    "producer_name",
    "producer_type",
    "province_code",
    "commune_code",
    "product_name",
    "sector",
    "stars",
    "decision_number",
    "issued_on",
    "price_vnd",
    "stock",
    "unit",
    "story",
];
/// Columns a file may leave out: the story, and the package's weight (g) and size (cm, "20x15x10")
/// the carriers quote by. Left out or empty, what the product has is kept.
const OPTIONAL: &[&str] = &["story", "weight_grams", "size_cm"];

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("không đọc được tệp {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("tệp thiếu cột: {0}")]
    MissingColumns(String),
    #[error("chỉ nhận tệp .csv hoặc .xlsx")]
    UnknownFormat,
    #[error("lỗi cơ sở dữ liệu: {0}")]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Default)]
pub struct Report {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// "dòng N: lý do", in file order
    pub problems: Vec<String>,
    /// rows imported whose certificate is no longer valid: recorded, not listed
    pub expired: usize,
}

impl Report {
    pub fn summary(&self) -> String {
        format!(
            "Nhập xong {} dòng: {} mới, {} cập nhật, {} không đổi, {} lỗi{}.",
            self.rows,
            self.created,
            self.updated,
            self.unchanged,
            self.failed,
            if self.expired > 0 {
                format!(
                    ", {} có chứng nhận đã hết hạn (đã lưu, không hiển thị)",
                    self.expired
                )
            } else {
                String::new()
            }
        )
    }
}

/// One data row: its line in the file and its cells by column name.
struct RawRow {
    line: usize,
    cells: HashMap<String, String>,
}

/// A row that passed every check: ready to write.
#[derive(Debug)]
struct Row {
    producer_name: String,
    producer_type: ProducerType,
    province_code: i16,
    commune_code: i32,
    product_name: String,
    sector: Sector,
    stars: Stars,
    decision_number: String,
    issued_on: Date,
    price_vnd: i64,
    stock: i32,
    unit: String,
    story: String,
    weight_grams: Option<i32>,
    dims_cm: Option<(i16, i16, i16)>,
}

pub async fn import_file(
    pool: &PgPool,
    path: &Path,
    progress: bool,
) -> Result<Report, ImportError> {
    let rows = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("csv") => read_csv(path)?,
        Some("xlsx") => read_xlsx(path)?,
        _ => return Err(ImportError::UnknownFormat),
    };
    import_rows(pool, rows, progress).await
}

fn header_key(h: &str) -> String {
    h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase()
}

fn check_header(headers: &[String]) -> Result<(), ImportError> {
    let missing: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| !OPTIONAL.contains(c) && !headers.iter().any(|h| h == c))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ImportError::MissingColumns(missing.join(", ")))
    }
}

fn read_csv(path: &Path) -> Result<Vec<RawRow>, ImportError> {
    let read_err = |e: &dyn std::fmt::Display| ImportError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| read_err(&e))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| read_err(&e))?
        .iter()
        .map(header_key)
        .collect();
    check_header(&headers)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| read_err(&e))?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let cells = headers
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_string))
            .collect();
        rows.push(RawRow { line, cells });
    }
    Ok(rows)
}

fn read_xlsx(path: &Path) -> Result<Vec<RawRow>, ImportError> {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let read_err = |e: &dyn std::fmt::Display| ImportError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut book: Xlsx<_> = open_workbook(path).map_err(|e: calamine::XlsxError| read_err(&e))?;
    let sheet = book
        .worksheet_range_at(0)
        .ok_or_else(|| read_err(&"tệp không có trang tính nào"))?
        .map_err(|e| read_err(&e))?;
    let start_row = sheet.start().map(|(r, _)| r as usize).unwrap_or(0);
    let mut iter = sheet.rows();
    let headers: Vec<String> = iter
        .next()
        .map(|r| r.iter().map(|c| header_key(&c.to_string())).collect())
        .unwrap_or_default();
    check_header(&headers)?;
    let cell_text = |c: &Data| -> String {
        match c {
            // spreadsheets keep dates as serial numbers: give them back as YYYY-MM-DD
            Data::DateTime(d) => excel_date(d.as_f64())
                .map(|d| d.to_string())
                .unwrap_or_default(),
            Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
            other => other.to_string(),
        }
    };
    let mut rows = Vec::new();
    for (i, r) in iter.enumerate() {
        if r.iter().all(|c| cell_text(c).trim().is_empty()) {
            continue;
        }
        let cells = headers
            .iter()
            .cloned()
            .zip(r.iter().map(|c| cell_text(c).trim().to_string()))
            .collect();
        // line numbers as a spreadsheet shows them: header on line 1
        rows.push(RawRow {
            line: start_row + i + 2,
            cells,
        });
    }
    Ok(rows)
}

/// Excel counts days from 1899-12-30 (the 1900 date system, valid from March 1900 on).
fn excel_date(serial: f64) -> Option<Date> {
    let epoch = time::macros::date!(1899 - 12 - 30);
    epoch.checked_add(time::Duration::days(serial.floor() as i64))
}

/// Checks one row against the rules and the map of Vietnam; every reason is reported.
fn parse_row(raw: &RawRow, admin: &crate::catalog::snapshot::Admin) -> Result<Row, String> {
    let get = |k: &str| raw.cells.get(k).map(|s| s.trim()).unwrap_or("");
    let mut reasons: Vec<String> = Vec::new();
    let mut need = |k: &str, label: &str| {
        let v = get(k).to_string();
        if v.is_empty() {
            reasons.push(format!("thiếu {label} ({k})"));
        }
        v
    };
    let producer_name = need("producer_name", "tên chủ thể");
    let product_name = need("product_name", "tên sản phẩm");
    let decision_number = need("decision_number", "số quyết định");
    let unit = need("unit", "đơn vị tính");
    let producer_type = ProducerType::parse_loose(get("producer_type"));
    if producer_type.is_none() {
        reasons.push(format!("loại chủ thể \"{}\" không hợp lệ (hợp tác xã, doanh nghiệp, hộ kinh doanh, tổ hợp tác)", get("producer_type")));
    }
    let sector = Sector::parse_loose(get("sector"));
    if sector.is_none() {
        reasons.push(format!(
            "ngành \"{}\" không thuộc 6 ngành OCOP",
            get("sector")
        ));
    }
    let stars = Stars::parse(get("stars"));
    if stars.is_none() {
        reasons.push(format!("số sao \"{}\" phải là 3, 4 hoặc 5", get("stars")));
    }
    let province_code = get("province_code")
        .parse::<i16>()
        .ok()
        .filter(|c| admin.province(*c).is_some());
    if province_code.is_none() {
        reasons.push(format!(
            "mã tỉnh \"{}\" không có trong 34 tỉnh/thành",
            get("province_code")
        ));
    }
    let commune_code = get("commune_code").parse::<i32>().ok();
    match (
        commune_code.map(|c| admin.commune(c).map(|c| c.province_code)),
        province_code,
    ) {
        (Some(Some(p)), Some(province)) if p != province => reasons.push(format!(
            "xã/phường {} không thuộc {}",
            get("commune_code"),
            admin.province(province).expect("checked").name
        )),
        (Some(Some(_)), _) => {}
        _ => reasons.push(format!(
            "mã xã/phường \"{}\" không tồn tại",
            get("commune_code")
        )),
    }
    let issued_on = Date::parse(
        get("issued_on"),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok();
    match issued_on {
        None => reasons.push(format!(
            "ngày cấp \"{}\" phải có dạng YYYY-MM-DD",
            get("issued_on")
        )),
        Some(d) if d > vn_today() => reasons.push(format!("ngày cấp {d} nằm trong tương lai")),
        Some(_) => {}
    }
    let price_vnd = Vnd::parse_amount(get("price_vnd")).and_then(Vnd::price);
    if price_vnd.is_none() {
        reasons.push(format!(
            "giá \"{}\" phải là số đồng từ 1 đến 1.000.000.000",
            get("price_vnd")
        ));
    }
    let stock = get("stock").parse::<i32>().ok().filter(|s| *s >= 0);
    if stock.is_none() {
        reasons.push(format!(
            "tồn kho \"{}\" phải là số nguyên không âm",
            get("stock")
        ));
    }
    for (value, label) in [
        (&producer_name, "tên chủ thể"),
        (&product_name, "tên sản phẩm"),
    ] {
        if !value.is_empty()
            && (value.chars().count() < 2
                || value.chars().count() > 200
                || slugify(value).is_empty())
        {
            reasons.push(format!("{label} \"{value}\" không hợp lệ"));
        }
    }
    if unit.chars().count() > 40 {
        reasons.push("đơn vị tính dài quá 40 ký tự".into());
    }
    let weight_grams = match get("weight_grams").replace(['.', ' '], "") {
        w if w.is_empty() => None,
        w => {
            let g = w
                .parse::<i32>()
                .ok()
                .filter(|g| (1..=1_000_000).contains(g));
            if g.is_none() {
                reasons.push(format!(
                    "khối lượng \"{w}\" phải là số gam từ 1 đến 1.000.000"
                ));
            }
            g
        }
    };
    let dims_cm = match get("size_cm") {
        "" => None,
        d => {
            let dims = crate::producer::parse_dims(d);
            if dims.is_none() {
                reasons.push(format!(
                    "kích thước \"{d}\" phải có dạng dài x rộng x cao, mỗi số từ 1 đến 200 cm"
                ));
            }
            dims
        }
    };
    if !reasons.is_empty() {
        return Err(reasons.join("; "));
    }
    Ok(Row {
        producer_name,
        producer_type: producer_type.expect("checked"),
        province_code: province_code.expect("checked"),
        commune_code: commune_code.expect("checked"),
        product_name,
        sector: sector.expect("checked"),
        stars: stars.expect("checked"),
        decision_number,
        issued_on: issued_on.expect("checked"),
        price_vnd: price_vnd.expect("checked").amount(),
        stock: stock.expect("checked"),
        unit,
        story: get("story").to_string(),
        weight_grams,
        dims_cm,
    })
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

async fn import_rows(
    pool: &PgPool,
    raw: Vec<RawRow>,
    progress: bool,
) -> Result<Report, ImportError> {
    let admin = crate::catalog::snapshot::Admin::load(pool).await?;
    let bar = if progress {
        indicatif::ProgressBar::new(raw.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} dòng {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut report = Report {
        rows: raw.len(),
        ..Default::default()
    };
    let today = vn_today();
    for r in &raw {
        bar.inc(1);
        let row = match parse_row(r, &admin) {
            Ok(row) => row,
            Err(reason) => {
                report.failed += 1;
                report.problems.push(format!("dòng {}: {reason}", r.line));
                continue;
            }
        };
        // each row in its own transaction: a failing row leaves nothing behind
        match write_row(
            pool,
            &row,
            &admin.province(row.province_code).expect("checked").name,
        )
        .await
        {
            Ok(outcome) => {
                match outcome {
                    Outcome::Created => report.created += 1,
                    Outcome::Updated => report.updated += 1,
                    Outcome::Unchanged => report.unchanged += 1,
                }
                if default_expiry(row.issued_on) <= today {
                    report.expired += 1;
                }
            }
            Err(e) => {
                report.failed += 1;
                let reason = match &e {
                    sqlx::Error::Database(db) => db.message().to_string(),
                    other => {
                        return Err(ImportError::Database(sqlx::Error::Protocol(
                            other.to_string(),
                        )));
                    }
                };
                report
                    .problems
                    .push(format!("dòng {}: không ghi được ({reason})", r.line));
            }
        }
    }
    bar.finish_and_clear();
    Ok(report)
}

async fn write_row(pool: &PgPool, row: &Row, province_name: &str) -> Result<Outcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let producer = sqlx::query!(
        "select producer_id, producer_type from producer where commune_code = $1 and lower(name) = lower($2)",
        row.commune_code,
        row.producer_name
    )
    .fetch_optional(&mut *tx)
    .await?;
    let mut changed = false;
    let mut created = false;
    let producer_id = match producer {
        Some(p) => {
            if p.producer_type != row.producer_type.key() {
                sqlx::query!(
                    "update producer set producer_type = $2 where producer_id = $1",
                    p.producer_id,
                    row.producer_type.key()
                )
                .execute(&mut *tx)
                .await?;
                changed = true;
            }
            p.producer_id
        }
        None => {
            let slug = free_slug(&mut tx, "producer", &row.producer_name, row.commune_code).await?;
            created = true;
            sqlx::query_scalar!(
                r#"insert into producer (slug, name, producer_type, province_code, commune_code, address, status)
                   values ($1, $2, $3, $4, $5, $6, 'approved') returning producer_id"#,
                slug,
                row.producer_name,
                row.producer_type.key(),
                row.province_code,
                row.commune_code,
                province_name,
            )
            .fetch_one(&mut *tx)
            .await?
        }
    };
    let product = sqlx::query!(
        "select product_id, sector, price_vnd, stock, unit, story, weight_grams, length_cm, width_cm, height_cm
         from product where producer_id = $1 and lower(name) = lower($2)",
        producer_id,
        row.product_name
    )
    .fetch_optional(&mut *tx)
    .await?;
    let product_id = match product {
        Some(p) => {
            let same = p.sector == row.sector.key()
                && p.price_vnd == row.price_vnd
                && p.stock == row.stock
                && p.unit == row.unit
                && p.story == row.story
                && row.weight_grams.is_none_or(|w| p.weight_grams == Some(w))
                && row.dims_cm.is_none_or(|d| {
                    (p.length_cm, p.width_cm, p.height_cm) == (Some(d.0), Some(d.1), Some(d.2))
                });
            if !same {
                sqlx::query!(
                    "update product set sector = $2, price_vnd = $3, stock = $4, unit = $5, story = $6,
                         weight_grams = coalesce($7, weight_grams), length_cm = coalesce($8, length_cm),
                         width_cm = coalesce($9, width_cm), height_cm = coalesce($10, height_cm)
                     where product_id = $1",
                    p.product_id,
                    row.sector.key(),
                    row.price_vnd,
                    row.stock,
                    row.unit,
                    row.story,
                    row.weight_grams,
                    row.dims_cm.map(|d| d.0),
                    row.dims_cm.map(|d| d.1),
                    row.dims_cm.map(|d| d.2)
                )
                .execute(&mut *tx)
                .await?;
                changed = true;
            }
            p.product_id
        }
        None => {
            let slug = free_slug(&mut tx, "product", &row.product_name, row.commune_code).await?;
            created = true;
            let image = format!("/img/demo/{slug}.svg");
            sqlx::query_scalar!(
                r#"insert into product (producer_id, slug, name, sector, story, price_vnd, stock, unit, images,
                                        weight_grams, length_cm, width_cm, height_cm)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, array[$9], $10, $11, $12, $13) returning product_id"#,
                producer_id,
                slug,
                row.product_name,
                row.sector.key(),
                row.story,
                row.price_vnd,
                row.stock,
                row.unit,
                image,
                row.weight_grams,
                row.dims_cm.map(|d| d.0),
                row.dims_cm.map(|d| d.1),
                row.dims_cm.map(|d| d.2),
            )
            .fetch_one(&mut *tx)
            .await?
        }
    };
    let level = row.stars.awarding_level();
    let body = if level == crate::domain::AwardingLevel::Central {
        "Bộ Nông nghiệp và Môi trường".to_string()
    } else {
        format!("UBND {province_name}")
    };
    let cert = sqlx::query!(
        r#"insert into certificate (product_id, stars, awarding_level, awarding_body, decision_number, issued_on, expires_on)
           values ($1, $2, $3, $4, $5, $6, $7)
           on conflict (product_id, decision_number) do update
              set stars = excluded.stars, awarding_level = excluded.awarding_level, issued_on = excluded.issued_on,
                  expires_on = excluded.expires_on
              where (certificate.stars, certificate.issued_on) is distinct from (excluded.stars, excluded.issued_on)"#,
        product_id,
        row.stars.get() as i16,
        level.key(),
        body,
        row.decision_number,
        row.issued_on,
        default_expiry(row.issued_on),
    )
    .execute(&mut *tx)
    .await?;
    changed |= cert.rows_affected() > 0;
    tx.commit().await?;
    Ok(if created {
        Outcome::Created
    } else if changed {
        Outcome::Updated
    } else {
        Outcome::Unchanged
    })
}

/// A slug nobody uses yet: the name's, then with the commune code, then numbered.
pub(crate) async fn free_slug(
    tx: &mut sqlx::PgConnection,
    table: &str,
    name: &str,
    commune: i32,
) -> Result<String, sqlx::Error> {
    let base = slugify(name);
    for candidate in [base.clone(), format!("{base}-{commune}")]
        .into_iter()
        .chain((2..50).map(|n| format!("{base}-{commune}-{n}")))
    {
        let taken = if table == "producer" {
            sqlx::query_scalar!(
                "select exists(select 1 from producer where slug = $1) as \"e!\"",
                candidate
            )
            .fetch_one(&mut *tx)
            .await?
        } else {
            sqlx::query_scalar!(
                "select exists(select 1 from product where slug = $1) as \"e!\"",
                candidate
            )
            .fetch_one(&mut *tx)
            .await?
        };
        if !taken {
            return Ok(candidate);
        }
    }
    Ok(format!("{base}-{commune}-{}", std::process::id()))
}
