//! The preview card a link to a product shows in Zalo, Facebook or a search engine when the
//! producer uploaded no photo: a 1200×630 PNG with the name, the OCOP stars, the price and the
//! producer, drawn with a bundled font (chat apps do not read SVG).

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{ImageEncoder, Rgb, RgbImage};

const W: u32 = 1200;
const H: u32 = 630;
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold-vi.ttf");

const GREEN: Rgb<u8> = Rgb([0x1f, 0x6b, 0x3a]);
const CREAM: Rgb<u8> = Rgb([0xff, 0xf8, 0xe6]);
const GOLD: Rgb<u8> = Rgb([0xf2, 0xc1, 0x2e]);
const INK: Rgb<u8> = Rgb([0x1d, 0x24, 0x1f]);

pub struct CardText<'a> {
    pub name: &'a str,
    pub stars: u8,
    pub price: &'a str,
    pub producer: &'a str,
    pub place: &'a str,
    pub brand: &'a str,
}

/// The card as PNG bytes.
pub fn render(t: &CardText) -> Result<Vec<u8>, String> {
    let font = FontRef::try_from_slice(FONT).map_err(|e| e.to_string())?;
    let mut img = RgbImage::from_pixel(W, H, CREAM);
    // a green band on the left with the brand, the product's words on the cream
    fill(&mut img, 0, 0, 28, H, GREEN);
    fill(&mut img, 0, H - 90, W, 90, GREEN);
    let mut y = 70.0;
    for line in wrap(&font, t.name, 68.0, (W - 140) as f32)
        .into_iter()
        .take(3)
    {
        draw(&mut img, &font, &line, 80.0, y, 68.0, INK);
        y += 84.0;
    }
    let stars: String = "★".repeat(t.stars.clamp(3, 5) as usize);
    draw(
        &mut img,
        &font,
        &format!("OCOP {stars}"),
        80.0,
        y + 20.0,
        52.0,
        Rgb([0x8a, 0x5a, 0x00]),
    );
    draw(&mut img, &font, t.price, 80.0, y + 100.0, 60.0, GREEN);
    let by = format!("{} · {}", t.producer, t.place);
    let by = wrap(&font, &by, 34.0, (W - 140) as f32)
        .into_iter()
        .next()
        .unwrap_or_default();
    draw(&mut img, &font, &by, 80.0, y + 170.0, 34.0, INK);
    draw(
        &mut img,
        &font,
        &format!("★ {}", t.brand),
        80.0,
        (H - 68) as f32,
        40.0,
        GOLD,
    );
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), W, H, image::ExtendedColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn fill(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, c: Rgb<u8>) {
    for yy in y..(y + h).min(H) {
        for xx in x..(x + w).min(W) {
            img.put_pixel(xx, yy, c);
        }
    }
}

fn width(font: &FontRef, text: &str, size: f32) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    text.chars()
        .map(|c| scaled.h_advance(font.glyph_id(c)))
        .sum()
}

/// Words in lines no wider than `max`; the last line that fits ends with "…" when cut.
fn wrap(font: &FontRef, text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width(font, &candidate, size) > max && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line = word.to_string();
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    for l in &mut lines {
        while width(font, l, size) > max && l.chars().count() > 1 {
            l.pop();
            l.pop();
            l.push('…');
        }
    }
    lines
}

/// `text` with its baseline at `y`, blended onto the picture.
fn draw(img: &mut RgbImage, font: &FontRef, text: &str, x: f32, y: f32, size: f32, c: Rgb<u8>) {
    let scale = PxScale::from(size);
    let scaled = font.as_scaled(scale);
    let mut caret = x;
    let mut prev = None;
    for ch in text.chars() {
        let id = font.glyph_id(ch);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(caret, y));
        caret += scaled.h_advance(id);
        prev = Some(id);
        let Some(outlined) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outlined.px_bounds();
        outlined.draw(|gx, gy, coverage| {
            let px = bounds.min.x as i32 + gx as i32;
            let py = bounds.min.y as i32 + gy as i32;
            if px < 0 || py < 0 || px >= W as i32 || py >= H as i32 {
                return;
            }
            let under = img.get_pixel_mut(px as u32, py as u32);
            for k in 0..3 {
                let a = coverage.clamp(0.0, 1.0);
                under.0[k] = (under.0[k] as f32 * (1.0 - a) + c.0[k] as f32 * a).round() as u8;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_is_a_png_of_the_size_chat_apps_expect() {
        let png = render(&CardText {
            name: "Mật ong bạc hà Đồng Văn, một cái tên rất dài để thử xuống dòng và cắt bớt chữ",
            stars: 5,
            price: "185.000 ₫",
            producer: "HTX Bình Liêu",
            place: "Quảng Ninh",
            brand: "Sàn OCOP",
        })
        .unwrap();
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!((img.width(), img.height()), (1200, 630));
        // text was drawn: the cream has dark pixels on it
        let rgb = img.to_rgb8();
        assert!(rgb.pixels().filter(|p| p.0[0] < 60).count() > 5_000);
    }
}
