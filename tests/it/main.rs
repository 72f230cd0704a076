//! One test binary: every test starts the real app on a fresh database.

mod helpers;

mod abuse;
mod accounts;
mod addresses;
mod architecture;
mod banners;
mod browser;
mod catalog_api;
mod database;
mod experiences;
mod fairs;
mod import;
mod invoices;
mod journeys;
mod openapi;
mod operations;
mod orders;
mod pages;
mod payments;
mod portal;
mod promotions;
mod reconcile;
mod registry;
mod reviews;
mod search;
mod search_index;
mod seed;
mod settlement;
mod shipping;
mod stats;
mod visits;
