//! recon: a batch master-data reconciliation pipeline.
//!
//! Stages, each a module with one entry function (see DESIGN.md):
//! [`extract`] → rules → matching → golden → scorecard, orchestrated by [`pipeline`] and
//! written by [`output`].

pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod fuzzing;
pub mod golden;
pub mod logging;
pub mod matching;
pub mod normalize;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod query;
pub mod rules;
pub mod scorecard;
pub mod sql;
pub mod util;

pub use config::Config;
pub use error::{Error, Result, exit_code};
