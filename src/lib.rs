//! OCOP marketplace: a server-rendered shop for Vietnam's OCOP-certified local products.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod forms;
pub mod health;
pub mod import;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod orders;
pub mod payments;
pub mod producer;
pub mod render;
pub mod search;
pub mod seed;
pub mod staff;
pub mod stats;
pub mod visits;
