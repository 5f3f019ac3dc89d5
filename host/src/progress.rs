//! Progress of a run: a bar when stderr is a terminal, log lines (`-v`) otherwise.

use crate::job::JobOutcome;

/// Progress of a run: a bar when stderr is a terminal, log lines (`-v`) otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: std::cell::Cell<usize>,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        use std::io::IsTerminal as _;
        let bar = (std::io::stderr().is_terminal() && total > 1).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} exports {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress { bar, total, done: std::cell::Cell::new(0) }
    }

    pub fn done(&self, outcome: &JobOutcome) {
        self.done.set(self.done.get() + 1);
        match &self.bar {
            Some(bar) => {
                bar.set_message(outcome.subject.clone());
                bar.inc(1);
            }
            None => tracing::info!(
                "{} {} ({}/{})",
                outcome.subject,
                if outcome.succeeded() { "done" } else { "failed" },
                self.done.get(),
                self.total
            ),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
