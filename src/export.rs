//! Files people open in a spreadsheet. Every CSV the system writes goes through here, so no cell
//! can become a formula: a cell a person typed (a product's name, say) that begins with `=`, `+`,
//! `-`, `@`, a tab or a carriage return is prefixed with `'`, as OWASP recommends. Plain numbers
//! (`-5`, `12,5`) stay numbers.

/// UTF-8 with a byte-order mark (so Excel shows Vietnamese correctly), every cell neutralised.
pub fn csv_document<I, R>(header: &[&str], rows: I) -> Result<String, csv::Error>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = String>,
{
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(header.iter().map(|h| neutralise(h)))?;
    for row in rows {
        let cells: Vec<String> = row.into_iter().map(|c| neutralise(&c)).collect();
        w.write_record(&cells)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    let mut out = String::from("\u{feff}");
    out.push_str(&String::from_utf8_lossy(&bytes));
    Ok(out)
}

/// A CSV document as a download named `filename`.
pub fn csv_download(filename: &str, document: String) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        document,
    )
        .into_response()
}

/// A cell that a spreadsheet will show as text, never evaluate.
pub fn neutralise(cell: &str) -> String {
    let number = {
        let digits = cell.strip_prefix('-').unwrap_or(cell);
        !digits.is_empty()
            && digits
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
            && digits.starts_with(|c: char| c.is_ascii_digit())
    };
    if !number && cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        assert_eq!(
            neutralise("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        for bad in ["+1+1", "-1+cmd", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralise(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(neutralise("-5"), "-5");
        assert_eq!(neutralise("12,5"), "12,5");
        assert_eq!(neutralise("Trà hoa vàng"), "Trà hoa vàng");
    }
}
