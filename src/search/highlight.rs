//! Marks the words of a name that a query matched, the same way whichever backend found it.

use super::Terms;
use crate::domain::fold_vietnamese;
use crate::render::escape_html;

/// How many characters at the start of `word` (folded) the query words match, if any: the whole
/// word for an exact or one-typo match, the typed part for a prefix of the last query word.
fn matched_len(word: &str, terms: &Terms) -> Option<usize> {
    let last = terms.words.len().checked_sub(1)?;
    let n = word.chars().count();
    terms.words.iter().enumerate().find_map(|(i, t)| {
        if word == t
            || (Terms::typo_allowed(t) && within_one_edit(word, t))
            || super::vocabulary::synonyms(t).iter().any(|s| s == word)
        {
            Some(n)
        } else if i == last && word.starts_with(t.as_str()) {
            Some(t.chars().count())
        } else {
            None
        }
    })
}

/// Whether `text` matches every query word somewhere (for producers and provinces).
pub fn matches_all(text: &str, terms: &Terms) -> bool {
    matches_all_folded(&fold_vietnamese(text), terms)
}

/// `matches_all` for text folded beforehand.
pub fn matches_all_folded(folded: &str, terms: &Terms) -> bool {
    let last = terms.words.len().saturating_sub(1);
    !terms.is_empty()
        && terms.words.iter().enumerate().all(|(i, t)| {
            folded.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
                w == t
                    || (i == last && w.starts_with(t.as_str()))
                    || (Terms::typo_allowed(t) && within_one_edit(w, t))
            })
        })
}

/// `name` as HTML, escaped, with the matched parts in `<mark>`.
pub fn highlight(name: &str, terms: &Terms) -> String {
    let mut out = String::with_capacity(name.len() + 32);
    let chars: Vec<char> = name.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            out.push_str(&escape_html(&chars[i].to_string()));
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_alphanumeric() {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        // folding keeps one character for one, so positions carry over
        match matched_len(&fold_vietnamese(&word), terms) {
            Some(n) => {
                let marked: String = chars[start..start + n.min(i - start)].iter().collect();
                let rest: String = chars[start + n.min(i - start)..i].iter().collect();
                out.push_str("<mark>");
                out.push_str(&escape_html(&marked));
                out.push_str("</mark>");
                out.push_str(&escape_html(&rest));
            }
            None => out.push_str(&escape_html(&word)),
        }
    }
    out
}

/// Levenshtein distance ≤ 1 (one insertion, deletion or substitution), without a matrix or an
/// allocation. Folded words are ASCII, so bytes are characters.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if prefix == short.len() {
        return true;
    }
    if short.len() == long.len() {
        short[prefix + 1..] == long[prefix + 1..]
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_ignore_diacritics_and_keep_the_original_letters() {
        let t = Terms::parse("banh da");
        assert_eq!(
            highlight("Bánh đa Kế", &t),
            "<mark>Bánh</mark> <mark>đa</mark> Kế"
        );
        let t = Terms::parse("tra hoa v");
        assert_eq!(
            highlight("Trà hoa vàng", &t),
            "<mark>Trà</mark> <mark>hoa</mark> <mark>v</mark>àng"
        );
        let t = Terms::parse("thai nguyn");
        assert_eq!(
            highlight("Chè Thái Nguyên", &t),
            "Chè <mark>Thái</mark> <mark>Nguyên</mark>"
        );
    }

    #[test]
    fn highlights_escape_everything_else() {
        let t = Terms::parse("mat");
        assert_eq!(
            highlight("<b>Mật</b> ong & co", &t),
            "&lt;b&gt;<mark>Mật</mark>&lt;/b&gt; ong &amp; co"
        );
    }

    #[test]
    fn one_edit_means_one() {
        assert!(within_one_edit("nguyn", "nguyen"));
        assert!(within_one_edit("nguyan", "nguyen"));
        assert!(within_one_edit("nguyen", "nguyen"));
        assert!(!within_one_edit("ngyn", "nguyen"));
        assert!(!within_one_edit("abcde", "edcba"));
    }

    #[test]
    fn producers_and_provinces_match_every_word() {
        assert!(matches_all("Quảng Ninh", &Terms::parse("quang ni")));
        assert!(!matches_all("Quảng Ninh", &Terms::parse("quang tri")));
        assert!(matches_all(
            "HTX Miến dong Bình Liêu",
            &Terms::parse("binh lieu")
        ));
    }
}
