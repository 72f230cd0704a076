//! Vietnamese text folding: the same rules serve slugs and loose matching.

/// Lower-cases and strips Vietnamese diacritics ("Đặc sản" → "dac san").
pub fn fold_vietnamese(input: &str) -> String {
    input
        .chars()
        .map(fold_char)
        .collect::<String>()
        .to_lowercase()
}

/// Vietnamese text without its diacritics, case kept, for a reader who cannot read them:
/// "Mật ong Đồng Văn" → "Mat ong Dong Van".
pub fn strip_diacritics(input: &str) -> String {
    input
        .chars()
        .map(|c| {
            let base = fold_char(c);
            if c.is_uppercase() {
                base.to_ascii_uppercase()
            } else {
                base
            }
        })
        .collect()
}

fn fold_char(c: char) -> char {
    const GROUPS: &[(&str, char)] = &[
        ("àáảãạăằắẳẵặâầấẩẫậ", 'a'),
        ("ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ", 'a'),
        ("èéẻẽẹêềếểễệ", 'e'),
        ("ÈÉẺẼẸÊỀẾỂỄỆ", 'e'),
        ("ìíỉĩị", 'i'),
        ("ÌÍỈĨỊ", 'i'),
        ("òóỏõọôồốổỗộơờớởỡợ", 'o'),
        ("ÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ", 'o'),
        ("ùúủũụưừứửữự", 'u'),
        ("ÙÚỦŨỤƯỪỨỬỮỰ", 'u'),
        ("ỳýỷỹỵ", 'y'),
        ("ỲÝỶỸỴ", 'y'),
        ("đĐ", 'd'),
    ];
    if c.is_ascii() {
        return c;
    }
    GROUPS
        .iter()
        .find(|(set, _)| set.contains(c))
        .map(|&(_, base)| base)
        .unwrap_or(c)
}

/// A URL-safe slug: "Mật ong bạc hà Đồng Văn" → "mat-ong-bac-ha-dong-van".
pub fn slugify(input: &str) -> String {
    let folded = fold_vietnamese(input);
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out.truncate(100);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_drop_diacritics_and_punctuation() {
        assert_eq!(
            slugify("Mật ong bạc hà Đồng Văn"),
            "mat-ong-bac-ha-dong-van"
        );
        assert_eq!(slugify("  Bánh đa Kế (500g)! "), "banh-da-ke-500g");
        assert_eq!(slugify("HTX Nông nghiệp Ỷ La"), "htx-nong-nghiep-y-la");
        assert_eq!(slugify("!!!"), "");
    }

    #[test]
    fn folding_makes_d_and_dj_equal() {
        assert_eq!(fold_vietnamese("Đặc sản"), "dac san");
        assert_eq!(fold_vietnamese("Thái Nguyên"), "thai nguyen");
    }
}
