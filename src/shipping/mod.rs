//! Parcels: what a producer's part of an order weighs and measures, the carriers that quote and
//! carry it (`carriers`, one interface), the quotes a shopper picks from at checkout (`quotes`),
//! and the carriers each province offers.

pub mod carriers;
pub mod config;
pub mod http;
pub mod places;
pub mod quotes;
pub mod shipments;

use crate::domain::Vnd;
pub use carriers::{CarrierError, CarrierId, Parcel, Quote, Track};

/// What one unit of a product weighs when its producer has not said, by its unit of sale.
pub fn default_weight_g(unit: &str) -> i32 {
    let u = crate::domain::fold_vietnamese(unit);
    match u.trim() {
        "kg" | "kilogram" | "lit" | "bo" => 1000,
        "chai" | "binh" => 800,
        "hop" | "tui" | "can" => 500,
        "lo" | "hu" | "hop nho" => 400,
        "goi" | "thanh" | "banh" => 300,
        "cai" | "chiec" | "doi" => 300,
        _ => 500,
    }
}

/// One kind of item in a parcel: weight and size per unit (as entered, or by default), quantity.
#[derive(Debug, Clone, Copy)]
pub struct Piece {
    pub weight_g: i32,
    pub dims_cm: (i32, i32, i32),
    pub quantity: u32,
    pub price: Vnd,
}

impl Piece {
    pub fn new(
        weight_g: Option<i32>,
        dims_cm: Option<(i16, i16, i16)>,
        unit: &str,
        quantity: u32,
        price: Vnd,
    ) -> Piece {
        Piece {
            weight_g: weight_g
                .filter(|w| *w > 0)
                .unwrap_or_else(|| default_weight_g(unit)),
            dims_cm: dims_cm
                .map(|(l, w, h)| (i32::from(l), i32::from(w), i32::from(h)))
                .unwrap_or((15, 10, 8)),
            quantity,
            price,
        }
    }
}

/// The parcel for a producer's lines: weights add up; items stack, so the box is as long and wide
/// as the largest and as high as all of them, within what carriers take (200 cm, 50 kg).
pub fn parcel(pieces: &[Piece], cod: Vnd) -> Parcel {
    let mut p = Parcel {
        weight_g: 0,
        length_cm: 1,
        width_cm: 1,
        height_cm: 0,
        value: Vnd::ZERO,
        cod,
    };
    for piece in pieces {
        let q = piece.quantity as i32;
        p.weight_g += piece.weight_g.saturating_mul(q);
        let (l, w, h) = piece.dims_cm;
        p.length_cm = p.length_cm.max(l);
        p.width_cm = p.width_cm.max(w);
        p.height_cm += h.saturating_mul(q);
        p.value += piece.price.times(piece.quantity);
    }
    p.weight_g = p.weight_g.clamp(1, 50_000);
    p.height_cm = p.height_cm.clamp(1, 200);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parcel_weighs_its_pieces_with_defaults_by_unit_and_stacks_them() {
        let pieces = [
            Piece::new(Some(250), Some((12, 8, 6)), "hộp", 2, Vnd::new(120_000)),
            Piece::new(None, None, "Chai", 1, Vnd::new(300_000)),
        ];
        let p = parcel(&pieces, Vnd::ZERO);
        assert_eq!(
            p.weight_g,
            250 * 2 + 800,
            "a bottle weighs 800 g unless told"
        );
        assert_eq!((p.length_cm, p.width_cm, p.height_cm), (15, 10, 6 * 2 + 8));
        assert_eq!(p.value, Vnd::new(540_000));
        assert_eq!(p.band_g(), 1500);
        let heavy = [Piece::new(Some(30_000), None, "kg", 3, Vnd::new(1))];
        assert_eq!(
            parcel(&heavy, Vnd::ZERO).weight_g,
            50_000,
            "within a carrier's limit"
        );
    }
}
