//! One place renders every page with the shared Tera. Templates are compiled into the binary
//! (see build.rs) and parsed once per process.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use tera::{Tera, Value};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

pub fn template_names() -> impl Iterator<Item = &'static str> {
    embedded::TEMPLATES
        .iter()
        .map(|(name, _)| *name)
        .filter(|n| n.ends_with(".html"))
}

use crate::i18n::Lang;

/// A template's source, as embedded.
pub fn template_source(name: &str) -> Option<&'static str> {
    embedded::TEMPLATES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
}

/// The templates, speaking the current request's language.
pub fn tera() -> &'static Tera {
    tera_for(crate::i18n::current())
}

/// One parsed set of templates per language: `t(k="…")` is bound to it.
pub fn tera_for(lang: Lang) -> &'static Tera {
    static TERAS: OnceLock<Vec<Tera>> = OnceLock::new();
    let all = TERAS.get_or_init(|| {
        Lang::all()
            .map(|l| build(l).unwrap_or_else(|e| panic!("templates do not parse: {e:?}")))
            .collect()
    });
    &all[lang.index()]
}

pub fn build(lang: Lang) -> tera::Result<Tera> {
    let mut tera = Tera::default();
    // `{{ t(k="cart-items", count=n) }}`: a message of locales/, with its values; a key no
    // language has fails the render (and so the tests that render every template)
    tera.register_function("t", move |args: &HashMap<String, Value>| {
        let key = args
            .get("k")
            .and_then(Value::as_str)
            .ok_or_else(|| tera::Error::msg("t() needs k=\"message-id\""))?;
        let mut fa = fluent_bundle::FluentArgs::new();
        for (name, v) in args.iter().filter(|(n, _)| n.as_str() != "k") {
            fa.set(name.clone(), crate::i18n::fluent_value(v));
        }
        let fa = (args.len() > 1).then_some(&fa);
        lang.try_format(key, fa)
            .or_else(|| Lang::vi().try_format(key, fa))
            .map(Value::String)
            .ok_or_else(|| tera::Error::msg(format!("no message {key:?} in locales/")))
    });
    tera.add_raw_templates(embedded::TEMPLATES.iter().copied())?;
    tera.autoescape_on(vec![".html", ".svg"]);
    tera.set_escape_fn(escape_html);
    tera.register_filter("vnd", vnd_filter);
    tera.register_filter("date_vn", date_vn_filter);
    tera.register_filter("thousands", thousands_filter);
    tera.register_filter("per_mille", per_mille_filter);
    tera.register_filter("time_vn", time_vn_filter);
    tera.register_filter("short_count", short_count_filter);
    tera.register_filter("day_month", day_month_filter);
    tera.register_filter("thumb", |v: &Value, _: &HashMap<String, Value>| {
        let url = v
            .as_str()
            .ok_or_else(|| tera::Error::msg("thumb expects a URL"))?;
        Ok(Value::String(crate::media::thumbnail_url(url)))
    });
    Ok(tera)
}

/// Renders `template` with `page` as its context; a failure is logged and becomes a plain 500.
pub fn render_page<T: Serialize>(template: &str, page: &T) -> Response {
    match render(template, page) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template, error = ?e, "template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Đã có lỗi xảy ra phía máy chủ.",
            )
                .into_response()
        }
    }
}

/// A piece of a page (a product card) rendered alone, in the current language, with `value` as
/// `name` in its context.
pub fn render_fragment<T: Serialize>(
    template: &str,
    name: &str,
    value: &T,
) -> tera::Result<String> {
    let mut context = tera::Context::new();
    context.insert(name, value);
    context.insert("lang", crate::i18n::current().code());
    tera_for(crate::i18n::current()).render(template, &context)
}

pub fn render<T: Serialize>(template: &str, page: &T) -> tera::Result<String> {
    let mut context = tera::Context::from_serialize(page)?;
    let lang = crate::i18n::current();
    context.insert("lang", lang.code());
    let mut here = crate::i18n::here_full();
    // a page that names its own address (cached pages do) is known by it, whatever query
    // string the first visitor sent
    if let Some(canonical) = context.get("canonical").and_then(|v| v.as_str()) {
        here.path_and_query = canonical.to_string();
    }
    // the switch and the `hreflang` links: this page in every language
    let alternates: Vec<serde_json::Value> = Lang::all()
        .map(|l| {
            serde_json::json!({
                "code": l.code(),
                "name": l.format("language-name", None),
                "href": here.in_lang(l),
                "current": l == lang,
            })
        })
        .collect();
    context.insert("alternates", &alternates);
    context.insert("origin", &here.origin);
    context.insert("here", &here.in_lang(lang));
    tera_for(lang).render(template, &context)
}

/// Rendered answers for one catalog snapshot. Pages depend only on the snapshot, the URL and the
/// day (nothing per visitor yet), so a snapshot can keep what it rendered; a catalog change makes a
/// new snapshot and with it an empty cache, so nothing stale is ever served. (Search answers also
/// carry the search index's version in their key.)
pub struct PageCache {
    entries: RwLock<crate::memo::Bounded<String, Cached>>,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache {
            entries: RwLock::new(crate::memo::Bounded::new(crate::memo::budgets().pages)),
        }
    }
}

/// One kept answer: its type, its bytes and its entity tag (a hash of the bytes, so a client
/// that has them gets a 304; see `not_modified`).
struct Cached {
    content_type: &'static str,
    body: Bytes,
    etag: axum::http::HeaderValue,
}

impl Cached {
    fn new(content_type: &'static str, body: Bytes) -> Cached {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        body.hash(&mut h);
        let etag = axum::http::HeaderValue::from_str(&format!("\"{:016x}\"", h.finish()))
            .expect("hex is a valid header");
        Cached {
            content_type,
            body,
            etag,
        }
    }

    fn response(&self) -> Response {
        (
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static(self.content_type),
                ),
                (axum::http::header::ETAG, self.etag.clone()),
            ],
            self.body.clone(),
        )
            .into_response()
    }
}

/// Answers 304 Not Modified, without a body, when the client already holds the answer's entity
/// tag (`If-None-Match`): for the catalog's cached pages and API answers.
pub async fn not_modified(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let asked = req
        .headers()
        .get(axum::http::header::IF_NONE_MATCH)
        .cloned();
    let res = next.run(req).await;
    if let (Some(asked), Some(etag)) = (asked, res.headers().get(axum::http::header::ETAG)) {
        let held = asked.to_str().unwrap_or_default();
        let tag = etag.to_str().unwrap_or_default();
        if res.status() == StatusCode::OK
            && (held.trim() == "*"
                || held
                    .split(',')
                    .any(|t| t.trim().trim_start_matches("W/") == tag))
        {
            let mut headers = res.headers().clone();
            headers.remove(axum::http::header::CONTENT_TYPE);
            headers.remove(axum::http::header::CONTENT_LENGTH);
            let mut answer = StatusCode::NOT_MODIFIED.into_response();
            *answer.headers_mut() = headers;
            return answer;
        }
    }
    res
}

impl PageCache {
    /// The same address renders differently in each language.
    fn in_lang(key: &str) -> String {
        format!("{}|{key}", crate::i18n::current().code())
    }

    /// The cached answer for `key`, if there is one.
    pub fn cached(&self, key: &str) -> Option<Response> {
        let entries = self.entries.read().expect("page cache lock");
        entries.get(&Self::in_lang(key)).map(Cached::response)
    }

    /// The cached answer for `key`, or `render`'s, kept for next time when it succeeded.
    pub fn get_or_render(
        &self,
        key: String,
        content_type: &'static str,
        render: impl FnOnce() -> Result<String, String>,
    ) -> Response {
        self.get_or_make(key, content_type, || render().map(Bytes::from))
    }

    /// `get_or_render` for any bytes (a picture).
    pub fn get_or_make(
        &self,
        key: String,
        content_type: &'static str,
        render: impl FnOnce() -> Result<Bytes, String>,
    ) -> Response {
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        match render() {
            Ok(body) => {
                let cached = Cached::new(content_type, body);
                let answer = cached.response();
                let key = Self::in_lang(&key);
                // bounded in bytes: free-form parameters (price ranges) must not grow it
                let size = 128 + key.len() + cached.body.len();
                let mut entries = self.entries.write().expect("page cache lock");
                entries.insert(key, cached, size);
                answer
            }
            Err(e) => {
                tracing::error!(error = %e, "rendering failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Đã có lỗi xảy ra phía máy chủ.",
                )
                    .into_response()
            }
        }
    }

    /// A page rendered from `template`, through the cache.
    pub fn page<T: Serialize>(
        &self,
        key: String,
        template: &str,
        page: impl FnOnce() -> T,
    ) -> Response {
        self.get_or_render(key, "text/html; charset=utf-8", || {
            render(template, &page()).map_err(|e| format!("{template}: {e:?}"))
        })
    }

    /// A JSON answer, through the cache.
    pub fn json<T: Serialize>(&self, key: String, value: impl FnOnce() -> T) -> Response {
        self.get_or_render(key, "application/json", || {
            serde_json::to_string(&value()).map_err(|e| e.to_string())
        })
    }
}

#[derive(Serialize)]
pub struct ErrorPage {
    pub status: u16,
    pub title: &'static str,
    pub message: String,
}

/// The five characters that matter in HTML text and quoted attributes. Tera's own escaper also
/// rewrites "/", which turns "12/QĐ-UBND" and every URL into noise for people copying text.
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + 8);
    // the five are ASCII: runs between them are copied whole
    let mut start = 0;
    for (i, b) in input.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&input[start..i]);
        out.push_str(entity);
        start = i + 1;
    }
    out.push_str(&input[start..]);
    out
}

fn vnd_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let amount = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("vnd expects an integer"))?;
    Ok(Value::String(crate::domain::Vnd::format(amount)))
}

fn thousands_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let n = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("thousands expects an integer"))?;
    let s = crate::domain::Vnd::format(n);
    Ok(Value::String(s.trim_end_matches("\u{a0}₫").to_string()))
}

/// Per mille → a percentage written the Vietnamese way: 473 → "47,3%", 40 → "4%".
pub fn per_mille(value: i64) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let v = value.unsigned_abs();
    if v % 10 == 0 {
        format!("{sign}{}%", v / 10)
    } else {
        format!("{sign}{},{}%", v / 10, v % 10)
    }
}

fn per_mille_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let n = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("per_mille expects an integer"))?;
    Ok(Value::String(per_mille(n)))
}

/// A count as shops show it beside a product: 950 → "950", 1_234 → "1,2k", 2_500_000 → "2,5tr".
pub fn short_count(n: i64) -> String {
    let short = |n: i64, unit: i64, suffix: &str| {
        let tenths = n * 10 / unit;
        if tenths % 10 == 0 {
            format!("{}{suffix}", tenths / 10)
        } else {
            format!("{},{}{suffix}", tenths / 10, tenths % 10)
        }
    };
    if n < 1_000 {
        n.to_string()
    } else if n < 1_000_000 {
        short(n, 1_000, "k")
    } else {
        short(n, 1_000_000, "tr")
    }
}

fn short_count_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let n = value
        .as_i64()
        .ok_or_else(|| tera::Error::msg("short_count expects an integer"))?;
    Ok(Value::String(short_count(n)))
}

/// "2026-05-10" → "10/05/2026", the way dates are written in Vietnam.
fn date_vn_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = value
        .as_str()
        .ok_or_else(|| tera::Error::msg("date_vn expects a YYYY-MM-DD string"))?;
    let mut parts = s.splitn(3, '-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d)) => {
            Ok(Value::String(format!("{}/{m}/{y}", &d[..d.len().min(2)])))
        }
        _ => Err(tera::Error::msg("date_vn expects a YYYY-MM-DD string")),
    }
}

/// "2026-12-05" → "05/12": a date this year or next, where the year goes without saying.
fn day_month_filter(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let full = date_vn_filter(value, args)?;
    let s = full.as_str().unwrap_or_default();
    Ok(Value::String(s.get(..5).unwrap_or(s).to_string()))
}

/// "14:05 24/11/2026", in Vietnam time.
pub fn format_vn_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(crate::domain::VN_OFFSET);
    format!(
        "{:02}:{:02} {:02}/{:02}/{}",
        t.hour(),
        t.minute(),
        t.day(),
        t.month() as u8,
        t.year()
    )
}

/// A timestamp as serde writes it (or RFC 3339, as API answers carry it), shown in Vietnam time.
fn time_vn_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let rfc3339 = value.as_str().and_then(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    });
    let t: time::OffsetDateTime = match rfc3339 {
        Some(t) => t,
        None => serde_json::from_value(value.clone())
            .map_err(|e| tera::Error::msg(format!("time_vn expects a timestamp: {e}")))?,
    };
    Ok(Value::String(format_vn_time(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_show_in_vietnam_time() {
        let t = time::macros::datetime!(2026-11-24 20:30 UTC);
        let serialized = serde_json::to_value(t).unwrap();
        assert_eq!(
            time_vn_filter(&serialized, &HashMap::new()).unwrap(),
            Value::String("03:30 25/11/2026".into())
        );
        let rfc3339 = Value::String("2026-11-24T20:30:00Z".into());
        assert_eq!(
            time_vn_filter(&rfc3339, &HashMap::new()).unwrap(),
            Value::String("03:30 25/11/2026".into())
        );
    }

    #[test]
    fn a_cached_answer_is_rendered_once_and_reused() {
        let cache = PageCache::default();
        let mut renders = 0;
        for _ in 0..3 {
            let _ = cache.json("k".into(), || {
                renders += 1;
                1
            });
        }
        assert_eq!(renders, 1, "rendered once, then served from the cache");
        assert!(cache.cached("k").is_some());
        assert!(cache.cached("other").is_none());
    }

    #[test]
    fn shares_are_written_with_a_decimal_comma() {
        assert_eq!(per_mille(473), "47,3%");
        assert_eq!(per_mille(40), "4%");
        assert_eq!(per_mille(0), "0%");
        assert_eq!(per_mille(1000), "100%");
        assert_eq!(per_mille(-125), "-12,5%");
    }

    #[test]
    fn sold_counts_are_shortened_the_way_shops_show_them() {
        assert_eq!(short_count(950), "950");
        assert_eq!(short_count(1_000), "1k");
        assert_eq!(short_count(1_234), "1,2k");
        assert_eq!(short_count(999_999), "999,9k");
        assert_eq!(short_count(2_500_000), "2,5tr");
    }

    #[test]
    fn html_escaping_covers_text_and_attributes_but_leaves_slashes() {
        assert_eq!(
            escape_html(r#"<a href="x">'12/QĐ' & co</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;12/QĐ&#39; &amp; co&lt;/a&gt;"
        );
    }
}
