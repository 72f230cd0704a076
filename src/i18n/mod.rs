//! Languages of the shop. Every sentence a shopper reads lives in `locales/<language>/*.ftl`
//! (Project Fluent: plural rules, no sentence built by concatenation); a language is added by
//! adding its folder. The language of a request is chosen once, by `negotiate`, and read by the
//! templates (`t(k="…")`) and by Rust code (`tr`) through a task-local, so handlers need not pass
//! it around. The producer portal and the back office are rendered in Vietnamese by the same
//! mechanism, until their sentences are moved into the files too.

pub mod http;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use std::sync::OnceLock;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/locales.rs"));
}

/// One of the languages found in `locales/`: an index into them, cheap to copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lang(u8);

struct Locale {
    code: &'static str,
    bundle: FluentBundle<FluentResource>,
}

fn locales() -> &'static [Locale] {
    static L: OnceLock<Vec<Locale>> = OnceLock::new();
    L.get_or_init(|| {
        embedded::LOCALES
            .iter()
            .map(|(code, files)| {
                let id: unic_langid::LanguageIdentifier = code
                    .parse()
                    .unwrap_or_else(|e| panic!("locales/{code}: {e}"));
                let mut bundle = FluentBundle::new_concurrent(vec![id]);
                // the isolation marks Fluent puts around values show up as stray characters in
                // attributes and mail subjects
                bundle.set_use_isolating(false);
                for (file, source) in files.iter() {
                    let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(
                        |(_, errors)| panic!("locales/{code}/{file} does not parse: {errors:?}"),
                    );
                    bundle.add_resource(resource).unwrap_or_else(|errors| {
                        panic!("locales/{code}/{file}: duplicate messages {errors:?}")
                    });
                }
                Locale { code, bundle }
            })
            .collect()
    })
}

impl Lang {
    /// Vietnamese: the language of the marketplace, of its data and of every fallback.
    pub fn vi() -> Lang {
        Lang::from_code("vi").expect("locales/vi exists")
    }

    pub fn all() -> impl Iterator<Item = Lang> {
        (0..locales().len()).map(|i| Lang(i as u8))
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        locales()
            .iter()
            .position(|l| l.code.eq_ignore_ascii_case(code))
            .map(|i| Lang(i as u8))
    }

    /// This language's place among `all()`.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub fn code(self) -> &'static str {
        locales()[self.0 as usize].code
    }

    pub fn is_vi(self) -> bool {
        self.code() == "vi"
    }

    fn bundle(self) -> &'static FluentBundle<FluentResource> {
        &locales()[self.0 as usize].bundle
    }

    pub fn has(self, key: &str) -> bool {
        self.bundle().has_message(key)
    }

    /// The message `key` with `args`, or `None` when this language lacks it.
    pub fn try_format(self, key: &str, args: Option<&FluentArgs>) -> Option<String> {
        let bundle = self.bundle();
        let (id, attr) = match key.split_once('.') {
            Some((id, attr)) => (id, Some(attr)),
            None => (key, None),
        };
        let msg = bundle.get_message(id)?;
        let pattern = match attr {
            Some(a) => msg.get_attribute(a)?.value(),
            None => msg.value()?,
        };
        let mut errors = vec![];
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(
                key,
                lang = self.code(),
                ?errors,
                "translation formatted with errors"
            );
        }
        Some(text.into_owned())
    }

    /// The message in this language, else in Vietnamese (a shopper never sees a key); the tests
    /// check that every language has every key.
    pub fn format(self, key: &str, args: Option<&FluentArgs>) -> String {
        self.try_format(key, args)
            .or_else(|| Lang::vi().try_format(key, args))
            .unwrap_or_else(|| {
                tracing::error!(key, "no such message in locales/");
                key.to_string()
            })
    }

    /// Every message id of this language, for the completeness tests.
    pub fn keys(self) -> Vec<String> {
        let code = self.code();
        let files = embedded::LOCALES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, f)| *f)
            .unwrap_or(&[]);
        let mut keys = vec![];
        for (_, source) in files {
            let resource = FluentResource::try_new(source.to_string()).expect("parses");
            for entry in resource.entries() {
                if let fluent_syntax::ast::Entry::Message(m) = entry {
                    keys.push(m.id.name.to_string());
                    for a in &m.attributes {
                        keys.push(format!("{}.{}", m.id.name, a.id.name));
                    }
                }
            }
        }
        keys
    }
}

impl Default for Lang {
    fn default() -> Self {
        Lang::vi()
    }
}

impl serde::Serialize for Lang {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

tokio::task_local! {
    static CURRENT: Lang;
}

/// Where the current page lives without its `lang` parameter, for the switch and the `hreflang`
/// links; set beside the language.
#[derive(Clone, Debug, Default)]
pub struct Here {
    /// the shop's public address, "https://ocop.example.vn": pages shared elsewhere need it whole
    pub origin: String,
    pub path_and_query: String,
}

impl Here {
    /// This page in `lang`: Vietnamese is the plain address (the default every link shares).
    pub fn in_lang(&self, lang: Lang) -> String {
        if lang.is_vi() {
            return self.path_and_query.clone();
        }
        let sep = if self.path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}lang={}", self.path_and_query, lang.code())
    }
}

tokio::task_local! {
    pub(crate) static HERE: Here;
}

/// The current page's address without `lang` ("/" outside a request).
pub fn here_full() -> Here {
    HERE.try_with(Clone::clone).unwrap_or_else(|_| Here {
        origin: String::new(),
        path_and_query: "/".to_string(),
    })
}

/// The language of the request being answered (Vietnamese outside a request).
pub fn current() -> Lang {
    CURRENT.try_with(|l| *l).unwrap_or_default()
}

/// Runs `f` with `lang` as the current language: for mails and jobs that speak to a customer in
/// the language the order was placed in.
pub async fn with_lang<F: std::future::Future>(lang: Lang, f: F) -> F::Output {
    CURRENT.scope(lang, f).await
}

/// The message `key` in the current language.
pub fn tr(key: &str) -> String {
    current().format(key, None)
}

/// The message `key` in the current language, with named values.
pub fn tr_with(key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    let mut fa = FluentArgs::new();
    for (k, v) in args {
        fa.set(*k, v.clone());
    }
    current().format(key, Some(&fa))
}

/// A JSON value from a template as a Fluent value: numbers stay numbers, for plural rules.
pub fn fluent_value(v: &serde_json::Value) -> FluentValue<'static> {
    match v {
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => FluentValue::from(i),
            None => FluentValue::from(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => FluentValue::from(s.clone()),
        serde_json::Value::Bool(b) => FluentValue::from(b.to_string()),
        serde_json::Value::Null => FluentValue::None,
        other => FluentValue::from(other.to_string()),
    }
}

/// A closed set's label in the current language: the Rust label is the Vietnamese one (its single
/// owner); other languages carry `<set>-<key>` messages.
pub fn label(set: &str, key: &str, vietnamese: &'static str) -> String {
    label_in(current(), set, key, vietnamese)
}

/// `label` in a given language (mails to a customer speak the order's language).
pub fn label_in(lang: Lang, set: &str, key: &str, vietnamese: &'static str) -> String {
    if lang.is_vi() {
        return vietnamese.to_string();
    }
    lang.try_format(&format!("{set}-{key}"), None)
        .unwrap_or_else(|| crate::domain::strip_diacritics(vietnamese))
}

/// A province's or commune's name in the current language: the official English form where one
/// exists ("Thành phố Hồ Chí Minh" → "Ho Chi Minh City"), else the name without diacritics with
/// its kind in English ("Phường Hoàn Kiếm" → "Hoan Kiem Ward").
pub fn place(name: &str) -> String {
    let lang = current();
    if lang.is_vi() {
        return name.to_string();
    }
    let key = format!("place-{}", crate::domain::slugify(name));
    if let Some(official) = lang.try_format(&key, None) {
        return official;
    }
    for (prefix, kind) in [
        ("Thành phố ", "city"),
        ("Phường ", "ward"),
        ("Xã ", "commune"),
        ("Đặc khu ", "special-zone"),
        ("Tỉnh ", "province"),
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            let mut args = FluentArgs::new();
            args.set("name", crate::domain::strip_diacritics(rest));
            return lang.format(&format!("place-kind-{kind}"), Some(&args));
        }
    }
    crate::domain::strip_diacritics(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_message_vietnamese_has() {
        let vi: std::collections::BTreeSet<String> = Lang::vi().keys().into_iter().collect();
        assert!(vi.len() > 100, "the Vietnamese messages are there");
        for lang in Lang::all() {
            let theirs: std::collections::BTreeSet<String> = lang.keys().into_iter().collect();
            let missing: Vec<_> = vi.difference(&theirs).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.code());
        }
    }

    #[test]
    fn places_read_in_their_official_english_form_or_without_diacritics() {
        let en = Lang::from_code("en").unwrap();
        let run = |name: &'static str| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(with_lang(en, async move { place(name) }))
        };
        assert_eq!(run("Thành phố Hồ Chí Minh"), "Ho Chi Minh City");
        assert_eq!(run("Thành phố Hà Nội"), "Hanoi");
        assert_eq!(run("Quảng Ninh"), "Quang Ninh");
        assert_eq!(run("Phường Hoàn Kiếm"), "Hoan Kiem Ward");
        assert_eq!(
            place("Phường Hoàn Kiếm"),
            "Phường Hoàn Kiếm",
            "Vietnamese by default"
        );
    }

    #[test]
    fn every_closed_set_shown_to_shoppers_has_its_english_labels() {
        let en = Lang::from_code("en").unwrap();
        for lang in Lang::all().filter(|l| !l.is_vi()) {
            for s in crate::domain::Sector::ALL {
                assert!(
                    lang.has(&format!("sector-{}", s.key())),
                    "{} sector {}",
                    lang.code(),
                    s.key()
                );
            }
            for t in crate::domain::ProducerType::ALL {
                assert!(
                    lang.has(&format!("producer-type-{}", t.key())),
                    "{} {}",
                    lang.code(),
                    t.key()
                );
            }
            for s in crate::catalog::listing::Sort::ALL {
                assert!(
                    lang.has(&format!("sort-{}", s.key())),
                    "{} sort {}",
                    lang.code(),
                    s.key()
                );
            }
        }
        assert!(en.has("place-kind-ward"));
    }

    #[test]
    fn english_counts_with_plural_rules() {
        let en = Lang::from_code("en").unwrap();
        let mut a = FluentArgs::new();
        a.set("count", 1);
        assert_eq!(en.format("product-count", Some(&a)), "1 product");
        a.set("count", 3);
        assert_eq!(en.format("product-count", Some(&a)), "3 products");
    }

    #[test]
    fn vietnamese_names_are_transliterated_without_diacritics() {
        assert_eq!(
            crate::domain::strip_diacritics("Mật ong bạc hà Đồng Văn"),
            "Mat ong bac ha Dong Van"
        );
    }
}
