//! Synonyms and stop words, read from the same `search/products.json` that configures
//! Meilisearch, so the Postgres backend applies the very same lists.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

struct Vocabulary {
    stop_words: HashSet<String>,
    /// one-word synonyms: "che" → ["tra"]
    synonyms: HashMap<String, Vec<String>>,
    /// every synonym of one or two words, whatever its length: "honey" → ["mat ong"],
    /// "fish sauce" → ["nuoc mam"] (visitors search in English for Vietnamese names)
    phrases: HashMap<String, Vec<String>>,
}

fn vocabulary() -> &'static Vocabulary {
    static V: OnceLock<Vocabulary> = OnceLock::new();
    V.get_or_init(|| {
        let json: serde_json::Value = serde_json::from_str(super::meili::SETTINGS_JSON)
            .expect("search/products.json is JSON");
        let stop_words = json["stopWords"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str())
            .map(str::to_string)
            .collect();
        let mut synonyms: HashMap<String, Vec<String>> = HashMap::new();
        let mut phrases: HashMap<String, Vec<String>> = HashMap::new();
        if let Some(map) = json["synonyms"].as_object() {
            for (word, targets) in map {
                if word.split(' ').count() <= 2 {
                    phrases.entry(word.clone()).or_default().extend(
                        targets
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|t| t.as_str())
                            .map(str::to_string),
                    );
                }
                // multi-word entries ("nuoc mam") need phrase matching; single words are what
                // shoppers type and what both backends can expand the same way
                if word.contains(' ') {
                    continue;
                }
                let singles = targets
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str())
                    .filter(|t| !t.contains(' '))
                    .map(str::to_string);
                synonyms.entry(word.clone()).or_default().extend(singles);
            }
        }
        Vocabulary {
            stop_words,
            synonyms,
            phrases,
        }
    })
}

pub fn is_stop_word(word: &str) -> bool {
    vocabulary().stop_words.contains(word)
}

pub fn synonyms(word: &str) -> &'static [String] {
    vocabulary()
        .synonyms
        .get(word)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// What `words` (one or two, space-separated) mean as whole phrases, any length each.
pub fn phrase_synonyms(words: &str) -> &'static [String] {
    vocabulary()
        .phrases
        .get(words)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_file_is_what_meilisearch_accepts() {
        let settings = crate::search::meili::settings();
        assert!(settings.searchable_attributes.is_some());
        assert!(settings.filterable_attributes.is_some());
        assert!(settings.synonyms.is_some() && settings.stop_words.is_some());
    }

    #[test]
    fn both_backends_share_synonyms_and_stop_words() {
        assert_eq!(synonyms("che"), ["tra"]);
        assert_eq!(synonyms("tra"), ["che"]);
        assert!(synonyms("banh").is_empty());
        assert!(is_stop_word("va") && !is_stop_word("banh"));
    }
}
