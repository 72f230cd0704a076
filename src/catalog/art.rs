//! Demo product pictures, drawn as SVG from the product's name and sector.

use crate::domain::Sector;

fn palette(sector: Sector) -> (&'static str, &'static str) {
    match sector {
        Sector::Food => ("#fff4d6", "#b87800"),
        Sector::Beverage => ("#e3f4e1", "#2f7a2e"),
        Sector::Herbal => ("#e7f1ee", "#2f7d6d"),
        Sector::Textile => ("#f5e6f0", "#a2457f"),
        Sector::Souvenir => ("#f2ebe3", "#8a5a2b"),
        Sector::Tourism => ("#e4eff8", "#2a6fa8"),
    }
}

/// What the picture shows: the product's kind when its name says it, else its sector's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Motif {
    Tea,
    Honey,
    Rice,
    FishSauce,
    Seafood,
    Coffee,
    Liquor,
    Cake,
    Noodles,
    Herb,
    Textile,
    Pottery,
    Homestay,
    Bowl,
    Bottle,
}

impl Motif {
    /// The motifs a banner may show (bowls and bottles are for products only).
    pub const FOR_BANNERS: [Motif; 13] = [
        Self::Tea,
        Self::Honey,
        Self::Rice,
        Self::FishSauce,
        Self::Seafood,
        Self::Coffee,
        Self::Liquor,
        Self::Cake,
        Self::Noodles,
        Self::Herb,
        Self::Textile,
        Self::Pottery,
        Self::Homestay,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::Tea => "tea",
            Self::Honey => "honey",
            Self::Rice => "rice",
            Self::FishSauce => "fish_sauce",
            Self::Seafood => "seafood",
            Self::Coffee => "coffee",
            Self::Liquor => "liquor",
            Self::Cake => "cake",
            Self::Noodles => "noodles",
            Self::Herb => "herb",
            Self::Textile => "textile",
            Self::Pottery => "pottery",
            Self::Homestay => "homestay",
            Self::Bowl => "bowl",
            Self::Bottle => "bottle",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Tea => "Chè, trà",
            Self::Honey => "Mật ong",
            Self::Rice => "Gạo, nếp",
            Self::FishSauce => "Nước mắm",
            Self::Seafood => "Hải sản",
            Self::Coffee => "Cà phê",
            Self::Liquor => "Rượu",
            Self::Cake => "Bánh, kẹo, mứt",
            Self::Noodles => "Miến, bún, phở",
            Self::Herb => "Dược liệu",
            Self::Textile => "Dệt, thổ cẩm",
            Self::Pottery => "Gốm sứ",
            Self::Homestay => "Du lịch, homestay",
            Self::Bowl => "Món ăn",
            Self::Bottle => "Đồ uống",
        }
    }

    pub fn from_key(key: &str) -> Option<Motif> {
        Self::FOR_BANNERS.into_iter().find(|m| m.key() == key)
    }
}

/// A banner's picture: the motif large, with a few of its smaller copies, in `fg` on `bg`
/// (a 360×240 drawing that scales with the banner).
pub fn banner_svg(m: Motif, fg: &str, bg: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 360 240" aria-hidden="true" focusable="false"><circle cx="230" cy="120" r="110" fill="{bg}"/><g transform="translate(230 124) scale(1.5)">{big}</g><g transform="translate(70 60) scale(.5)" opacity=".55">{small}</g><g transform="translate(90 190) scale(.4)" opacity=".4">{small}</g></svg>"#,
        big = drawing(m, fg, bg),
        small = drawing(m, fg, bg),
    )
}

fn motif(name: &str, sector: Sector) -> Motif {
    let n = format!(" {} ", crate::domain::fold_vietnamese(name));
    let has = |words: &[&str]| words.iter().any(|w| n.contains(&format!(" {w} ")));
    if has(&["homestay", "du lich", "trai nghiem", "lang nghe", "tour"]) {
        Motif::Homestay
    } else if has(&["mat ong"]) {
        Motif::Honey
    } else if has(&["ca phe"]) {
        Motif::Coffee
    } else if has(&["tra", "che"]) {
        Motif::Tea
    } else if has(&["nuoc mam", "mam"]) {
        Motif::FishSauce
    } else if has(&["ruou"]) {
        Motif::Liquor
    } else if has(&["tuong", "tinh dau", "dau an", "giam"]) {
        // tương, tinh dầu, dầu ăn, giấm: sauces and oils come in bottles
        Motif::Bottle
    } else if has(&["gao", "nep", "com"]) {
        Motif::Rice
    } else if has(&["mien", "bun", "pho", "mi"]) {
        Motif::Noodles
    } else if has(&["banh", "keo", "mut"]) {
        Motif::Cake
    } else if has(&["ca", "muc", "tom", "cha muc", "hai san"]) {
        Motif::Seafood
    } else if has(&["gom", "su", "binh", "lu"]) {
        Motif::Pottery
    } else if has(&["vai", "tho cam", "lua", "dan", "det", "may"]) {
        Motif::Textile
    } else if has(&[
        "sam", "tinh dau", "duoc", "thao", "nghe", "gung", "que", "hoi",
    ]) {
        Motif::Herb
    } else {
        match sector {
            Sector::Food => Motif::Bowl,
            Sector::Beverage => Motif::Bottle,
            Sector::Herbal => Motif::Herb,
            Sector::Textile => Motif::Textile,
            Sector::Souvenir => Motif::Pottery,
            Sector::Tourism => Motif::Homestay,
        }
    }
}

/// The motif drawn around (0, 0), about 100 wide, in the sector's colour `fg` on `bg`.
fn drawing(m: Motif, fg: &str, bg: &str) -> String {
    let leaf = |rot: i32, dx: i32| {
        format!(
            r#"<g transform="translate({dx} 0) rotate({rot})"><path d="M0 -44 C32 -30 34 14 0 44 C-34 14 -32 -30 0 -44Z" fill="{fg}"/><path d="M0 -36 V38" stroke="{bg}" stroke-width="3"/></g>"#
        )
    };
    match m {
        Motif::Tea | Motif::Herb => format!("{}{}", leaf(-28, -22), leaf(24, 22)),
        Motif::Honey => format!(
            r#"<rect x="-26" y="-46" width="52" height="14" rx="4" fill="{fg}"/><rect x="-36" y="-30" width="72" height="72" rx="16" fill="{fg}"/><path d="M-12 -2 l8 -5 8 5 v9 l-8 5 -8 -5z M4 -2 l8 -5 8 5 v9 l-8 5 -8 -5z M-4 12 l8 -5 8 5 v9 l-8 5 -8 -5z" fill="{bg}"/>"#
        ),
        Motif::Rice | Motif::Bowl => format!(
            r#"<path d="M-44 0 C-34 -40 34 -40 44 0Z" fill="{bg}" stroke="{fg}" stroke-width="4"/><path d="M-54 0 H54 C50 30 30 44 0 44 C-30 44 -50 30 -54 0Z" fill="{fg}"/><path d="M-22 -14 l4 -4 M0 -22 l3 -4 M20 -12 l4 -3" stroke="{fg}" stroke-width="3" stroke-linecap="round"/>"#
        ),
        Motif::Noodles => format!(
            r#"<path d="M-40 -6 q10 -10 20 0 t20 0 t20 0 t20 0 M-40 -18 q10 -10 20 0 t20 0 t20 0 t20 0" fill="none" stroke="{fg}" stroke-width="4"/><path d="M-54 0 H54 C50 30 30 44 0 44 C-30 44 -50 30 -54 0Z" fill="{fg}"/><path d="M20 -48 L52 -8 M30 -48 L58 -14" stroke="{fg}" stroke-width="4" stroke-linecap="round"/>"#
        ),
        Motif::FishSauce | Motif::Bottle | Motif::Liquor => format!(
            r#"<path d="M-10 -50 H10 V-32 C24 -24 26 -12 26 0 V44 H-26 V0 C-26 -12 -24 -24 -10 -32Z" fill="{fg}"/><rect x="-18" y="2" width="36" height="26" rx="4" fill="{bg}"/>{}"#,
            if m == Motif::FishSauce {
                format!(
                    r#"<path d="M-12 15 C-6 8 6 8 10 15 C6 22 -6 22 -12 15Z M10 15 l6 -5 v10z" fill="{fg}"/>"#
                )
            } else {
                format!(r#"<path d="M-10 15 h20" stroke="{fg}" stroke-width="3"/>"#)
            }
        ),
        Motif::Seafood => format!(
            r#"<path d="M-50 0 C-28 -30 22 -30 36 0 C22 30 -28 30 -50 0Z M36 0 L58 -20 V20Z" fill="{fg}"/><circle cx="-30" cy="-6" r="5" fill="{bg}"/><path d="M-8 -16 C0 -6 0 6 -8 16 M6 -16 C14 -6 14 6 6 16" fill="none" stroke="{bg}" stroke-width="3"/>"#
        ),
        Motif::Coffee => format!(
            r#"<path d="M-40 -20 H30 V12 C30 34 -40 34 -40 12Z" fill="{fg}"/><path d="M30 -10 C48 -10 48 16 30 16" fill="none" stroke="{fg}" stroke-width="6"/><path d="M-20 -30 c-6 -8 6 -12 0 -22 M0 -30 c-6 -8 6 -12 0 -22" fill="none" stroke="{fg}" stroke-width="4" stroke-linecap="round"/><path d="M-50 40 H42" stroke="{fg}" stroke-width="6" stroke-linecap="round"/>"#
        ),
        Motif::Cake => format!(
            r#"<ellipse cx="0" cy="26" rx="50" ry="14" fill="{fg}"/><rect x="-50" y="-10" width="100" height="36" fill="{fg}"/><ellipse cx="0" cy="-10" rx="50" ry="14" fill="{bg}" stroke="{fg}" stroke-width="4"/><path d="M-30 -12 h10 M-4 -6 h10 M20 -14 h10" stroke="{fg}" stroke-width="4" stroke-linecap="round"/>"#
        ),
        Motif::Pottery => format!(
            r#"<path d="M-16 -50 H16 V-40 C38 -24 44 10 24 44 H-24 C-44 10 -38 -24 -16 -40Z" fill="{fg}"/><path d="M-30 -4 H30 M-28 12 H28" stroke="{bg}" stroke-width="4"/><path d="M-20 4 l6 -6 6 6 6 -6 6 6 6 -6 6 6" fill="none" stroke="{bg}" stroke-width="3"/>"#
        ),
        Motif::Textile => format!(
            r#"<rect x="-52" y="-40" width="104" height="80" rx="6" fill="{fg}"/><path d="M-52 -20 H52 M-52 20 H52" stroke="{bg}" stroke-width="3"/><path d="M-44 0 l11 -12 11 12 -11 12z M-12 0 l12 -12 12 12 -12 12z M22 0 l11 -12 11 12 -11 12z" fill="{bg}"/><path d="M-44 -30 l8 -6 8 6 8 -6 8 6 8 -6 8 6 8 -6 8 6 8 -6 8 6 8 -6" fill="none" stroke="{bg}" stroke-width="2"/>"#
        ),
        Motif::Homestay => format!(
            r#"<path d="M-60 44 L-28 -6 L-4 28 L18 0 L60 44Z" fill="{fg}" opacity="0.35"/><path d="M-34 6 L0 -34 L34 6Z" fill="{fg}"/><rect x="-26" y="6" width="52" height="38" fill="{fg}"/><rect x="-8" y="20" width="16" height="24" fill="{bg}"/><rect x="-22" y="14" width="10" height="10" fill="{bg}"/>"#
        ),
    }
}

/// Five small stars, `n` of them filled: the OCOP rating, drawn (no font needed).
fn stars(n: u8, fg: &str) -> String {
    (0..5)
        .map(|i| {
            let x = 200 - 48 + i * 24;
            let fill = if i < n as i32 { fg } else { "none" };
            format!(
                r#"<path transform="translate({x} 278) scale(0.5)" d="M0 -18 L5.3 -5.6 18.8 -5.6 7.9 2.2 12 15 0 7.4 -12 15 -7.9 2.2 -18.8 -5.6 -5.3 -5.6Z" fill="{fill}" stroke="{fg}" stroke-width="2.5"/>"#
            )
        })
        .collect()
}

/// A product without a photo: an illustration of its kind, its name, and its stars.
pub fn demo_svg(name: &str, sector: Sector, rating: Option<u8>) -> String {
    let (bg, fg) = palette(sector);
    // a stable variation per product so the grid does not look copy-pasted
    let seed = name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    let (cx, cy, r) = (
        60 + seed % 280,
        40 + (seed / 7) % 120,
        50 + (seed / 13) % 60,
    );
    let title = xml_escape(name);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in name.split_whitespace() {
        if line.chars().count() + word.chars().count() > 20 && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines.truncate(2);
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!(r#"<text x="200" y="{}" text-anchor="middle" font-size="24" font-family="sans-serif" font-weight="700" fill="{fg}">{}</text>"#, 198 + i * 30, xml_escape(l)))
        .collect();
    let picture = drawing(motif(name, sector), fg, bg);
    let rated = rating.map(|n| stars(n, fg)).unwrap_or_default();
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" role="img" aria-label="{title}"><rect width="400" height="300" fill="{bg}"/><circle cx="{cx}" cy="{cy}" r="{r}" fill="{fg}" opacity="0.10"/><g transform="translate(200 92)">{picture}</g>{text}{rated}</svg>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_shows_the_kind_of_product_its_name_says() {
        assert_eq!(motif("Trà hoa vàng Ba Chẽ", Sector::Beverage), Motif::Tea);
        assert_eq!(motif("Mật ong bạc hà", Sector::Food), Motif::Honey);
        assert_eq!(motif("Nước mắm Cát Hải", Sector::Food), Motif::FishSauce);
        assert_eq!(motif("Gạo ST25", Sector::Food), Motif::Rice);
        assert_eq!(motif("Gốm Bát Tràng", Sector::Souvenir), Motif::Pottery);
        assert_eq!(motif("Homestay bản Lác", Sector::Tourism), Motif::Homestay);
        assert_eq!(motif("Chả mực Hạ Long", Sector::Food), Motif::Seafood);
        assert_eq!(motif("Đặc sản vùng cao", Sector::Food), Motif::Bowl);
        assert_eq!(motif("Tương Bần", Sector::Food), Motif::Bottle);
    }

    #[test]
    fn the_picture_carries_the_name_and_the_stars_and_no_letter_in_a_circle() {
        let svg = demo_svg("Mật ong <rừng>", Sector::Food, Some(4));
        assert!(svg.contains("Mật ong &lt;rừng&gt;"));
        assert_eq!(svg.matches("scale(0.5)").count(), 5);
        assert_eq!(
            svg.matches(r##"fill="#b87800" stroke"##).count(),
            4,
            "four of five filled"
        );
        assert!(!svg.contains("font-family=\"serif\""));
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
