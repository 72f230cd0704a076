//! Choosing the language of a request: `?lang=` (a shared link, or the switch) first, then the
//! `lang` cookie the switch leaves, then `Accept-Language`, then Vietnamese. The producer portal,
//! the back office and the API always answer in Vietnamese.

use super::{CURRENT, HERE, Here, Lang};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

pub const COOKIE: &str = "lang";

/// Areas whose users are Vietnamese staff and producers: always Vietnamese for now.
fn vietnamese_only(path: &str) -> bool {
    ["/producer", "/staff", "/api", "/metrics", "/sandbox"]
        .iter()
        .any(|p| {
            path.strip_prefix(p)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

pub async fn negotiate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let (asked, rest) = split_lang(req.uri());
    let lang = if vietnamese_only(&path) {
        Lang::vi()
    } else {
        asked
            .or_else(|| cookie_lang(req.headers()))
            .or_else(|| {
                req.headers()
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(accept_language)
            })
            .unwrap_or_default()
    };
    // the handlers see the address without `lang`: listings refuse parameters they do not know
    if asked.is_some() {
        if let Ok(uri) = rest.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
    }
    let here = Here {
        origin: state.config.public_url().trim_end_matches('/').to_string(),
        path_and_query: rest,
    };
    let mut res = CURRENT.scope(lang, HERE.scope(here, next.run(req))).await;
    if let Some(l) = asked.filter(|_| !vietnamese_only(&path)) {
        // remembered for a year, readable by nothing but the server's choice of words
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            l.code()
        )) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(lang.code()) {
        headers.insert(header::CONTENT_LANGUAGE, v);
    }
    // a shared cache must not hand one visitor's language to another
    headers.append(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    res
}

/// The language asked for in the query, and the address without that parameter.
fn split_lang(uri: &Uri) -> (Option<Lang>, String) {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return (None, path.to_string());
    };
    let mut asked = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("lang=") {
            Some(code) => {
                asked = asked.or(Lang::from_code(code));
                false
            }
            None => true,
        })
        .collect();
    if kept.is_empty() {
        (asked, path.to_string())
    } else {
        (asked, format!("{path}?{}", kept.join("&")))
    }
}

fn cookie_lang(headers: &axum::http::HeaderMap) -> Option<Lang> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, v)| Lang::from_code(v))
}

/// The best of our languages in an `Accept-Language` header ("en-US,en;q=0.9,vi;q=0.8" → en).
pub fn accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(u16, Lang)> = None;
    for item in header.split(',') {
        let mut parts = item.trim().split(';');
        let tag = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(lang) = Lang::from_code(primary) {
            let q = (q.clamp(0.0, 1.0) * 1000.0) as u16;
            if q > 0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
    }
    best.map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browsers_preferred_language_wins_by_its_weight() {
        let en = Lang::from_code("en").unwrap();
        assert_eq!(accept_language("en-US,en;q=0.9,vi;q=0.8"), Some(en));
        assert_eq!(accept_language("fr-FR,vi;q=0.9,en;q=0.5"), Some(Lang::vi()));
        assert_eq!(accept_language("fr, de"), None);
        assert_eq!(accept_language("en;q=0"), None);
    }

    #[test]
    fn the_portal_and_back_office_stay_vietnamese_but_producers_pages_do_not() {
        assert!(vietnamese_only("/producer"));
        assert!(vietnamese_only("/producer/orders"));
        assert!(vietnamese_only("/staff/reviews"));
        assert!(!vietnamese_only("/producers/ho-ba-che"));
        assert!(!vietnamese_only("/products"));
    }

    #[test]
    fn the_lang_parameter_is_taken_off_the_address() {
        let (l, rest) = split_lang(&"/products?stars=5&lang=en&page=2".parse().unwrap());
        assert_eq!(l, Lang::from_code("en"));
        assert_eq!(rest, "/products?stars=5&page=2");
        let (l, rest) = split_lang(&"/?lang=xx".parse().unwrap());
        assert_eq!(l, None);
        assert_eq!(rest, "/");
    }
}
