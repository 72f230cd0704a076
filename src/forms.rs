//! Form bodies for the back offices, CSRF-checked as they are read: a handler that takes
//! `CheckedForm<T>` or `UploadForm` cannot act on a POST that lacks this session's token (403,
//! nothing changed).

use crate::auth::Session;
use crate::error::AppError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// The largest upload request: one 5 MB file with room to notice it is too big.
pub const UPLOAD_BODY_LIMIT: usize = 12 * 1024 * 1024;

/// A urlencoded form whose `csrf` field matched the session, and the session.
pub struct CheckedForm<T> {
    pub form: T,
    pub session: Session,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CheckedForm<T> {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| AppError::bad("bad_form", "Biểu mẫu không đọc được."))?;
        let token = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if !session.csrf_ok(&token) {
            return Err(AppError::Forbidden);
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| AppError::bad("bad_form", "Biểu mẫu có giá trị không hợp lệ."))?;
        Ok(CheckedForm { form, session })
    }
}

/// A form whose only field is its CSRF token (a button that does one thing).
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// A multipart form: its text fields, and its files (the name a browser sent is ignored). A file
/// over the limit is kept out and named in `too_big`, so the form can say which field.
pub struct UploadForm {
    pub fields: HashMap<String, String>,
    pub files: HashMap<String, Vec<u8>>,
    pub too_big: Vec<String>,
    pub session: Session,
}

impl UploadForm {
    pub fn text(&self, name: &str) -> String {
        self.fields
            .get(name)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// The file sent under `name`, if one was chosen.
    pub fn file(&self, name: &str) -> Option<&Vec<u8>> {
        self.files.get(name).filter(|f| !f.is_empty())
    }
}

fn too_large() -> AppError {
    AppError::bad(
        "upload_too_large",
        "Tệp gửi lên quá lớn: tối đa 5 MB mỗi tệp. Chưa có gì thay đổi; vui lòng quay lại và chọn tệp nhỏ hơn.",
    )
}

impl FromRequest<AppState> for UploadForm {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let mut multipart = Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| AppError::bad("bad_form", "Biểu mẫu không đọc được."))?;
        let mut form = UploadForm {
            fields: HashMap::new(),
            files: HashMap::new(),
            too_big: vec![],
            session,
        };
        while let Some(mut field) = multipart.next_field().await.map_err(|_| too_large())? {
            let name = field.name().unwrap_or_default().to_string();
            if field.file_name().is_some() {
                let mut data = Vec::new();
                let mut over = false;
                while let Some(chunk) = field.chunk().await.map_err(|_| too_large())? {
                    if data.len() + chunk.len() > crate::media::MAX_UPLOAD_BYTES {
                        over = true;
                        data = Vec::new();
                    } else if !over {
                        data.extend_from_slice(&chunk);
                    }
                }
                if over {
                    form.too_big.push(name);
                } else {
                    form.files.insert(name, data);
                }
            } else {
                let text = field.text().await.map_err(|_| too_large())?;
                if text.len() > 20_000 {
                    return Err(AppError::bad("bad_form", "Nội dung quá dài."));
                }
                form.fields.insert(name, text);
            }
        }
        let token = form.fields.get("csrf").cloned().unwrap_or_default();
        if !form.session.csrf_ok(&token) {
            return Err(AppError::Forbidden);
        }
        Ok(form)
    }
}

/// The id in a path like `/producer/products/{id}`. Anything that is not an id is simply not
/// found, like an id that belongs to somebody else.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = AppError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, AppError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::NotFound)?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Id)
            .ok_or(AppError::NotFound)
    }
}

/// A form's fields as the map the domain parsers read.
pub fn field_map(fields: &HashMap<String, String>) -> std::collections::BTreeMap<String, String> {
    fields
        .iter()
        .filter(|(k, _)| k.as_str() != "csrf")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether a POST comes from our own pages. Forms on pages cached for everyone (add to cart)
/// cannot carry a per-session token, so they are protected the way OWASP recommends without
/// one: the browser's Origin (or Sec-Fetch-Site) must name this site, on top of SameSite=Lax
/// cookies, which cross-site POSTs do not carry.
pub fn same_origin(parts: &axum::http::request::Parts) -> bool {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    match (header("origin"), header("host")) {
        (Some("null"), _) => false,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// A urlencoded form posted from one of our own pages (see `same_origin`).
pub struct SameSiteForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for SameSiteForm<T> {
    type Rejection = AppError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (parts, body) = req.into_parts();
        if !same_origin(&parts) {
            return Err(AppError::Forbidden);
        }
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| AppError::bad("bad_form", "Biểu mẫu không đọc được."))?;
        serde_urlencoded::from_bytes(&bytes)
            .map(SameSiteForm)
            .map_err(|_| AppError::bad("bad_form", "Biểu mẫu có giá trị không hợp lệ."))
    }
}
