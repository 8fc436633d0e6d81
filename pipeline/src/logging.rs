//! Logging: `tracing` to stderr, as text for people or JSON lines for cron and log
//! shippers. `RUST_LOG` overrides the default filter. Log events carry counts, keys,
//! file names and timings — never field values.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::progress::Progress;

/// Format of log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber. `verbosity`: 0 = info, 1 = debug, 2+ = trace;
/// `quiet` shows warnings and errors only.
pub fn init(format: LogFormat, verbosity: u8, quiet: bool, progress: &Progress) {
    let level = if quiet {
        "warn"
    } else {
        match verbosity {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,recon={level}")));
    let writer = SuspendingStderr(progress.clone());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .compact()
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// Writes to stderr with progress bars suspended.
#[derive(Clone)]
struct SuspendingStderr(Progress);

impl<'a> MakeWriter<'a> for SuspendingStderr {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            buf: Vec::new(),
            progress: self.0.clone(),
        }
    }
}

/// Buffers one event and writes it in one go when dropped.
pub struct LineWriter {
    buf: Vec<u8>,
    progress: Progress,
}

impl Write for LineWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            self.progress.suspend(|| {
                let _ = std::io::stderr().write_all(&buf);
            });
        }
    }
}
