//! Progress of a run: a one-line bar redrawn on a terminal (done/total, records/s, ETA), or a
//! plain log line every interval when standard error is not a terminal (CI, Kubernetes logs).

use std::{
    io::Write as _,
    time::{Duration, Instant},
};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Redraw a bar on standard error at most every 200 ms.
    Bar,
    /// Log a line every interval.
    Log(Duration),
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// A bar on a terminal, log lines every `interval` otherwise.
    pub fn for_stderr(interval: Duration) -> Self {
        use std::io::IsTerminal as _;
        if std::io::stderr().is_terminal() {
            Self::Bar
        } else {
            Self::Log(interval)
        }
    }
}

/// Counts records as they are written and reports.
#[derive(Debug)]
pub struct Progress {
    mode: ProgressMode,
    total: u64,
    done: u64,
    done_at_start: u64,
    started: Instant,
    last_report: Instant,
    reported_done: Option<u64>,
}

impl Progress {
    /// Starts counting; `done` records were already written by an earlier invocation.
    pub fn new(mode: ProgressMode, total: u64, done: u64) -> Self {
        let now = Instant::now();
        Self {
            mode,
            total,
            done,
            done_at_start: done,
            started: now,
            last_report: now,
            reported_done: None,
        }
    }

    /// One more record written.
    pub fn record_written(&mut self) {
        self.done += 1;
        let due = match self.mode {
            ProgressMode::Bar => Duration::from_millis(200),
            ProgressMode::Log(interval) => interval,
            ProgressMode::Quiet => return,
        };
        if self.last_report.elapsed() >= due || self.done == self.total {
            self.report();
            self.last_report = Instant::now();
        }
    }

    /// Reports the final count (unless just reported) and ends the bar's line.
    pub fn finish(&mut self) {
        if self.mode == ProgressMode::Quiet {
            return;
        }
        if self.reported_done != Some(self.done) {
            self.report();
        }
        if self.mode == ProgressMode::Bar {
            eprintln!();
        }
    }

    fn rate(&self) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64();
        if seconds > 0.0 {
            (self.done - self.done_at_start) as f64 / seconds
        } else {
            0.0
        }
    }

    fn eta(&self) -> String {
        let rate = self.rate();
        if rate <= 0.0 {
            return "--".to_owned();
        }
        let seconds = (self.total.saturating_sub(self.done) as f64 / rate).round() as u64;
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    }

    fn report(&mut self) {
        self.reported_done = Some(self.done);
        let fraction = if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        };
        match self.mode {
            ProgressMode::Bar => {
                const WIDTH: usize = 30;
                let filled = ((fraction * WIDTH as f64).round() as usize).min(WIDTH);
                let mut stderr = std::io::stderr().lock();
                // A failed progress write must not fail the run.
                let _ = write!(
                    stderr,
                    "\r[{}{}] {}/{} {:>5.1}%  {:.2} records/s  ETA {}   ",
                    "#".repeat(filled),
                    "-".repeat(WIDTH - filled),
                    self.done,
                    self.total,
                    fraction * 100.0,
                    self.rate(),
                    self.eta()
                );
                let _ = stderr.flush();
            }
            ProgressMode::Log(_) => tracing::info!(
                done = self.done,
                total = self.total,
                percent = format_args!("{:.1}", fraction * 100.0),
                records_per_second = format_args!("{:.2}", self.rate()),
                eta = %self.eta(),
                "re-verification progress"
            ),
            ProgressMode::Quiet => {}
        }
    }
}
