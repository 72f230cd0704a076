//! The audit log, for national staff.

use super::*;

pub(super) async fn audit(
    State(state): State<AppState>,
    NationalStaff(staff): NationalStaff,
    session: Session,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    const PAGE: i64 = 100;
    let entries = crate::audit::recent(&state.pool, None, q.before, PAGE).await?;
    let older = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.audit_id))
        .flatten();
    let page = AuditPage { entries, older };
    Ok(show(
        StatusCode::OK,
        "staff/audit.html",
        &framed(&state, &session, &staff, page),
    ))
}

/// The latest 100 entries of the audit log, and where the older ones start.
#[derive(Serialize)]
struct AuditPage {
    entries: Vec<crate::audit::Entry>,
    older: Option<i64>,
}
