//! Progress on stderr: indicatif spinners on a TTY, plain prefixed lines otherwise, nothing with
//! `-q`. Every line passes through the redactor first.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::redact::Redactor;

#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    mode: Mode,
    multi: MultiProgress,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Quiet,
    Plain,
    Fancy,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Fancy
        } else {
            Mode::Plain
        };
        let multi = MultiProgress::with_draw_target(match mode {
            Mode::Fancy => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        Progress {
            inner: Arc::new(Inner { mode, multi }),
        }
    }

    /// A progress line for one agent.
    pub fn task(&self, name: &str, redactor: Redactor) -> Task {
        let bar = match self.inner.mode {
            Mode::Fancy => {
                let bar = self.inner.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} {elapsed:.dim}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(name.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                Some(bar)
            }
            _ => None,
        };
        Task {
            name: name.to_string(),
            mode: self.inner.mode,
            bar,
            started: Instant::now(),
            redactor,
        }
    }
}

pub struct Task {
    name: String,
    mode: Mode,
    bar: Option<ProgressBar>,
    started: Instant,
    redactor: Redactor,
}

impl Task {
    pub fn phase(&self, phase: &str) {
        let phase = self.redactor.redact(phase);
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => eprintln!(
                "[{}] {phase} ({:.1}s)",
                self.name,
                self.started.elapsed().as_secs_f64()
            ),
            Mode::Fancy => {
                if let Some(bar) = &self.bar {
                    bar.set_message(phase);
                }
            }
        }
    }

    /// A line that stays (warnings, tool output with -v).
    pub fn line(&self, text: &str) {
        let text = self.redactor.redact(text);
        match (&self.bar, self.mode) {
            (_, Mode::Quiet) => {}
            (Some(bar), _) => bar.println(format!("[{}] {text}", self.name)),
            (None, _) => eprintln!("[{}] {text}", self.name),
        }
    }

    pub fn finish(&self, summary: &str) {
        let summary = self.redactor.redact(summary);
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => eprintln!(
                "[{}] {summary} ({:.1}s)",
                self.name,
                self.started.elapsed().as_secs_f64()
            ),
            Mode::Fancy => {
                if let Some(bar) = &self.bar {
                    bar.finish_with_message(summary);
                }
            }
        }
    }
}
