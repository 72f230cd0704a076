//! The OCOP catalog: provinces and communes, producers, products and their certificates;
//! the shopper's pages and the JSON API over them.

pub mod art;
pub mod card;
pub mod facets;
pub mod http;
pub mod listing;
pub mod pages;
pub mod seo;
pub mod snapshot;
pub mod views;

pub use snapshot::Catalog;
