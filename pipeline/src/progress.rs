//! Progress bars on an interactive terminal; nothing at all otherwise.
//!
//! Bars are shown only when stderr is a terminal and `--quiet` was not given, so cron
//! mail and log files never fill with redraws. Log lines written while bars are shown
//! go through [`Progress::suspend`] so they do not tear the bars.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress display for one process.
#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars on stderr if it is a terminal and `quiet` is false.
    pub fn new(quiet: bool) -> Progress {
        if !quiet && std::io::stderr().is_terminal() {
            Progress {
                multi: Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            }
        } else {
            Progress::hidden()
        }
    }

    pub fn hidden() -> Progress {
        Progress { multi: None }
    }

    /// Runs `f` with the bars cleared (for writing log lines).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.multi {
            Some(m) => m.suspend(f),
            None => f(),
        }
    }

    /// A counting spinner for a stage: "extract  1,234,567 rows".
    pub fn counter(&self, stage: &str, unit: &str) -> Counter {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new_spinner());
            b.set_style(
                ProgressStyle::with_template(&format!(
                    "{{spinner}} {stage:<10} {{human_pos}} {unit} ({{per_sec}}, {{elapsed}})"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Counter { bar }
    }
}

/// A progress counter; does nothing when bars are hidden.
pub struct Counter {
    bar: Option<ProgressBar>,
}

impl Counter {
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
