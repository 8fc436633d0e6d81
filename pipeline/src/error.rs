//! The library's error type and the exit codes it maps to.
//!
//! Exit codes are a contract with cron (see the README); they are defined here, once.

use std::path::PathBuf;

/// Process exit codes. Never renumber these.
pub mod exit_code {
    /// The run completed and every quality gate passed.
    pub const SUCCESS: i32 = 0;
    /// The run could not complete: unreadable input, I/O failure, broken invariant.
    pub const RUNTIME_FAILURE: i32 = 1;
    /// Bad command line or bad configuration; nothing was run.
    pub const CONFIG_ERROR: i32 = 2;
    /// The run completed and was committed, but one or more quality gates failed.
    pub const GATES_FAILED: i32 = 3;
    /// The run completed and was committed, but one or more rules could not be
    /// executed (they are marked `error` in rule_results.parquet).
    pub const RULE_ERRORS: i32 = 4;
    /// Another run holds the lock on the output directory; nothing was run.
    pub const LOCKED: i32 = 5;
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid. `message` names the key and what is allowed.
    #[error("invalid configuration in {}:\n{message}", path.display())]
    Config { path: PathBuf, message: String },

    /// The command line asked for something impossible.
    #[error("{0}")]
    Usage(String),

    /// An input file cannot be read as declared (as opposed to a bad row, which is
    /// quarantined).
    #[error("cannot read {}: {message}", path.display())]
    Input { path: PathBuf, message: String },

    #[error("{context} {}: {source}", path.display())]
    Io {
        context: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Another process holds the run lock.
    #[error(
        "another recon run is using the output directory {} (lock file {}{}); wait for it to finish or stop it",
        dir.display(), lock.display(), holder.as_deref().map(|h| format!(", held by {h}")).unwrap_or_default()
    )]
    Locked {
        dir: PathBuf,
        lock: PathBuf,
        holder: Option<String>,
    },

    /// A run-time check of an invariant failed (e.g. row accounting).
    #[error("invariant violated: {0}")]
    Invariant(String),

    #[error("{context}: {source}")]
    DataFusion {
        context: String,
        #[source]
        source: Box<datafusion::error::DataFusionError>,
    },

    #[error("{context}: {source}")]
    Arrow {
        context: String,
        #[source]
        source: datafusion::arrow::error::ArrowError,
    },

    #[error("{context}: {source}")]
    Parquet {
        context: String,
        #[source]
        source: datafusion::parquet::errors::ParquetError,
    },

    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } | Error::Usage(_) => exit_code::CONFIG_ERROR,
            Error::Locked { .. } => exit_code::LOCKED,
            _ => exit_code::RUNTIME_FAILURE,
        }
    }

    pub fn io(context: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            context,
            path: path.into(),
            source,
        }
    }

    pub fn parquet(
        context: impl Into<String>,
        source: datafusion::parquet::errors::ParquetError,
    ) -> Self {
        Error::Parquet {
            context: context.into(),
            source,
        }
    }

    pub fn arrow(context: impl Into<String>, source: datafusion::arrow::error::ArrowError) -> Self {
        Error::Arrow {
            context: context.into(),
            source,
        }
    }

    pub fn datafusion(
        context: impl Into<String>,
        source: datafusion::error::DataFusionError,
    ) -> Self {
        Error::DataFusion {
            context: context.into(),
            source: Box::new(source),
        }
    }
}
