//! Cross-origin reads of the open catalog API: a provincial tourism portal's page may call
//! `GET /api/v1/products` from the visitor's browser when its origin is in `CORS_ORIGINS`.
//! Only the read-only catalog and search endpoints; never the stats API, which takes a token.

use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The open, read-only endpoints.
fn open_api(path: &str) -> bool {
    ["/api/v1/products", "/api/v1/provinces", "/api/v1/search"]
        .iter()
        .any(|p| {
            path == *p || path.starts_with(&format!("{p}/")) || path.starts_with(&format!("{p}?"))
        })
}

/// The origin to allow for this request, if the configuration allows it.
fn allowed(config: &str, origin: &str) -> Option<HeaderValue> {
    let list: Vec<&str> = config
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if list.contains(&"*") {
        return Some(HeaderValue::from_static("*"));
    }
    list.contains(&origin)
        .then(|| HeaderValue::from_str(origin).ok())
        .flatten()
}

pub async fn cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if state.config.cors_origins.is_empty() || !open_api(&path) {
        return next.run(req).await;
    }
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let allow = origin
        .as_deref()
        .and_then(|o| allowed(&state.config.cors_origins, o));
    // the preflight a browser sends before a GET carrying If-None-Match
    if req.method() == Method::OPTIONS {
        let mut res = StatusCode::NO_CONTENT.into_response();
        if let Some(a) = allow {
            let h = res.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, a);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("If-None-Match"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
            h.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        return res;
    }
    let mut res = next.run(req).await;
    if let Some(a) = allow {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, a);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("ETag"),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_and_open_endpoints_are_shared() {
        let list = "https://dulich.quangninh.gov.vn, https://app.example.vn";
        assert!(allowed(list, "https://app.example.vn").is_some());
        assert!(allowed(list, "https://evil.example").is_none());
        assert_eq!(allowed("*", "https://any.example").unwrap(), "*");
        assert!(open_api("/api/v1/products") && open_api("/api/v1/search/suggest"));
        assert!(!open_api("/api/v1/stats/summary") && !open_api("/api/v1/productsx"));
    }
}
