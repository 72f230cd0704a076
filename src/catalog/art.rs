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

pub fn demo_svg(name: &str, sector: Sector) -> String {
    let (bg, fg) = palette(sector);
    // no emoji: phones and servers without an emoji font would show empty boxes
    let initial = xml_escape(
        &name
            .chars()
            .next()
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default(),
    );
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
        if line.chars().count() + word.chars().count() > 18 && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines.truncate(3);
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!(r#"<text x="200" y="{}" text-anchor="middle" font-size="26" font-family="sans-serif" font-weight="700" fill="{fg}">{}</text>"#, 205 + i * 32, xml_escape(l)))
        .collect();
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" role="img" aria-label="{title}"><rect width="400" height="300" fill="{bg}"/><circle cx="{cx}" cy="{cy}" r="{r}" fill="{fg}" opacity="0.12"/><circle cx="200" cy="100" r="58" fill="{fg}"/><text x="200" y="126" text-anchor="middle" font-size="72" font-family="serif" font-weight="700" fill="{bg}">{initial}</text>{text}</svg>"#
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
