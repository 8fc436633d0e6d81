//! Benchmarks and a deterministic synthetic-data generator for recon.
//!
//! The generator (`cargo run -p recon-benches --release --bin generate`) writes the
//! exports of a CRM, a billing platform and an inventory system in the formats of
//! `fixtures/demo`, plus the ground truth (`truth.csv`) and the planted defects
//! (`defects.csv`) to measure matching and rule accuracy against.

pub mod customers;
pub mod fmt;
pub mod generate;
pub mod geo;
pub mod ids;
pub mod inventory;
pub mod invoices;
pub mod names;
pub mod out;
pub mod rng;
pub mod template;
pub mod vary;
pub mod words;

pub use generate::{Options, Summary, generate};

#[cfg(test)]
mod tests;
