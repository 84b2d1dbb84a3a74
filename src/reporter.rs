//! Progress display. All indicatif code lives here, and it only reads [`Event`]s.
//!
//! On a terminal: an overall bar (folds done of total, rate, ETA), one line per worker
//! (configuration, fold, epoch, loss) and the best score so far. Otherwise (a pipe, a
//! log file, CI): plain lines, one per finished fold and per completed configuration.
//! `--quiet` keeps only the closing summary.

use crate::sched::{Event, RunSummary};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::mpsc::Receiver;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bars,
    Lines,
    Quiet,
}

impl Mode {
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// Consumes events until the channel closes; returns the run's summary if one came.
pub fn report(mode: Mode, events: Receiver<Event>) -> Option<RunSummary> {
    let mut r = Reporter::new(mode);
    let mut summary = None;
    for e in events {
        if let Event::Finished(s) = &e {
            summary = Some(s.clone());
        }
        r.handle(&e);
    }
    r.finish();
    summary
}

/// While the bars are drawn the terminal does not echo control characters: the `^C`
/// it would print on Ctrl-C lands inside indicatif's area, which then leaves a frozen
/// copy of the overall bar behind. The setting is restored when the reporter ends, and
/// at process exit (a third Ctrl-C exits at once).
struct QuietControlChars;

#[cfg(unix)]
static SAVED_TERMIOS: std::sync::Mutex<Option<libc::termios>> = std::sync::Mutex::new(None);

#[cfg(unix)]
extern "C" fn restore_termios() {
    if let Ok(mut saved) = SAVED_TERMIOS.lock() {
        if let Some(t) = saved.take() {
            // SAFETY: restores the attributes read from the same descriptor.
            unsafe { libc::tcsetattr(libc::STDERR_FILENO, libc::TCSANOW, &t) };
        }
    }
}

impl QuietControlChars {
    fn new() -> Option<Self> {
        #[cfg(unix)]
        {
            // SAFETY: plain termios calls on standard error, a terminal in Bars mode.
            unsafe {
                let mut t: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(libc::STDERR_FILENO, &mut t) != 0
                    || t.c_lflag & libc::ECHOCTL == 0
                {
                    return None;
                }
                *SAVED_TERMIOS.lock().ok()? = Some(t);
                libc::atexit(restore_termios);
                let mut quiet = t;
                quiet.c_lflag &= !libc::ECHOCTL;
                libc::tcsetattr(libc::STDERR_FILENO, libc::TCSANOW, &quiet);
            }
            Some(QuietControlChars)
        }
        #[cfg(not(unix))]
        None
    }
}

impl Drop for QuietControlChars {
    fn drop(&mut self) {
        #[cfg(unix)]
        restore_termios();
    }
}

struct Reporter {
    mode: Mode,
    _quiet_ctrl: Option<QuietControlChars>,
    multi: MultiProgress,
    overall: Option<ProgressBar>,
    best: Option<ProgressBar>,
    workers: Vec<Option<ProgressBar>>,
    worker_label: Vec<String>,
    done: u64,
    total: u64,
    best_score: Option<(String, f64)>,
    /// The sweep's name (the bar's prefix, with the rung for successive halving).
    sweep: String,
    /// A race's barrier was said to be filled with folds trained ahead (once a stage).
    ahead_said: bool,
}

impl Reporter {
    fn new(mode: Mode) -> Self {
        let multi = MultiProgress::with_draw_target(match mode {
            Mode::Bars => ProgressDrawTarget::stderr_with_hz(8),
            _ => ProgressDrawTarget::hidden(),
        });
        Reporter {
            mode,
            _quiet_ctrl: if mode == Mode::Bars {
                QuietControlChars::new()
            } else {
                None
            },
            multi,
            overall: None,
            best: None,
            workers: Vec::new(),
            worker_label: Vec::new(),
            done: 0,
            total: 0,
            best_score: None,
            sweep: String::new(),
            ahead_said: false,
        }
    }

    /// A warning: shown in every mode, `--quiet` included.
    fn warn(&self, s: String) {
        match self.mode {
            Mode::Bars => {
                let _ = self.multi.println(s);
            }
            _ => eprintln!("{s}"),
        }
    }

    fn line(&self, s: String) {
        match self.mode {
            Mode::Bars => {
                let _ = self.multi.println(s);
            }
            Mode::Lines => eprintln!("{s}"),
            Mode::Quiet => {}
        }
    }

    fn handle(&mut self, e: &Event) {
        match e {
            Event::Started { .. } => self.started(e),
            Event::FoldStarted { .. } => self.fold_started(e),
            Event::Epoch { worker, epoch, epochs, loss } => {
                if let (Some(Some(w)), Some(l)) = (self.workers.get(*worker), self.worker_label.get(*worker)) {
                    w.set_message(format!("{l}  epoch {epoch}/{epochs}  loss {loss:.4}"));
                }
            }
            Event::FoldDone { worker, config_id, fold, val_accuracy, fit_seconds } => {
                self.advance(*worker);
                if self.mode == Mode::Lines {
                    self.line(format!(
                        "[{:>5}/{}] {config_id} fold {fold}: val {val_accuracy:.4} ({fit_seconds:.1} s)",
                        self.done, self.total
                    ));
                }
            }
            Event::FoldFailed { worker, config_id, fold, error } => {
                self.advance(*worker);
                self.line(format!("[{:>5}/{}] {config_id} fold {fold}: FAILED: {error}", self.done, self.total));
            }
            Event::RaceStage { stage, left, dropped, folds } => {
                self.ahead_said = false;
                (self.done, self.total) = (0, *folds);
                if let Some(o) = &self.overall {
                    o.set_length(self.total);
                    o.set_position(0);
                    o.reset_eta();
                    o.set_prefix(format!("{} race, barrier {}", self.sweep, stage + 1));
                }
                self.line(format!(
                    "race: barrier {stage} decided: {} on to their next fold, {} left the race as credibly worse",
                    crate::text::count(*left, "configuration goes", "configurations go"),
                    dropped
                ));
            }
            Event::RaceEnded { stage, left, dropped, why } => {
                self.line(format!(
                    "race: barrier {stage} decided: {dropped} left the race as credibly worse; it is over with {} left: {why}",
                    crate::text::count(*left, "configuration", "configurations")
                ));
            }
            Event::RungPromoted { bracket, rung, configurations, pruned, folds, weak } => {
                // Plain halving's progress is its rung's: it starts again. Hyperband's
                // is its brackets' rungs in progress: the new rung's folds add to it.
                match bracket {
                    None => (self.done, self.total) = (0, *folds),
                    Some(_) => self.total += *folds,
                }
                if let Some(o) = &self.overall {
                    o.set_length(self.total);
                    if bracket.is_none() {
                        o.set_position(0);
                        o.reset_eta();
                        o.set_prefix(format!("{} rung {rung}", self.sweep));
                    }
                }
                let which = bracket.map(|b| format!("bracket {b}: ")).unwrap_or_default();
                self.line(format!(
                    "{which}rung {} complete: {configurations} configuration(s) go on to rung {rung} ({folds} fold(s) to continue), {pruned} pruned",
                    rung - 1
                ));
                if let Some(w) = weak {
                    self.warn(format!("warning: {w}"));
                }
            }
            Event::TrainingAhead { .. } if self.ahead_said => {}
            Event::TrainingAhead { .. } => {
                self.ahead_said = true;
                self.line("race: the barrier waits on its last folds; idle workers train next folds ahead meanwhile (kept for the configurations that go on)".into());
            }
            Event::FoldNotNeeded {
                worker,
                config_id,
                fold,
                race_over,
            } => {
                self.advance(*worker);
                let why = if *race_over {
                    "the race ended at its last barrier without needing it"
                } else {
                    "its configuration left the race at a barrier, or the race ended first"
                };
                self.line(format!("{config_id} fold {fold}: trained ahead while the race's barrier waited; {why}: not recorded"));
            }
            Event::FoldLost { worker, config_id, fold } => {
                self.advance(*worker);
                self.line(format!("{config_id} fold {fold}: its lease expired and another worker took it over; this result was not recorded (the other's is)"));
            }
            Event::UnknownConfiguration { config_id, fold } => {
                self.line(format!(
                    "{config_id} fold {fold}: a configuration this run's spec does not have (another spec version added it): released; this process claims no more (run that spec, or `resume`, to train it)"
                ));
            }
            Event::Aborted { .. } => {
                self.clear();
                eprintln!("Ctrl-C a third time: exiting now; the running folds return to pending when their leases expire, or at once when a run starts on this host");
            }
            Event::StateRefused { config_id, fold, why, .. } => {
                self.line(format!("{config_id} fold {fold}: its saved training state was not used ({why}); it trains from its start"));
            }
            Event::FoldAbandoned { worker, config_id, fold } => {
                if let Some(Some(w)) = self.workers.get(*worker) {
                    w.set_message("abandoned");
                }
                self.line(format!("{config_id} fold {fold}: abandoned, back to pending"));
            }
            Event::Best { config_id, score } => {
                self.best_score = Some((config_id.clone(), *score));
                if let Some(b) = &self.best {
                    b.set_message(format!("best score {score:.4} ({config_id})"));
                }
            }
            Event::ConfigCompleted { config_id, score, mean_val_accuracy, staged } => {
                // The sweep's best comes from the database (an `Event::Best` before this).
                let (bid, bs) = self.best_score.clone().unwrap_or_default();
                if let Some(b) = &self.best {
                    b.set_message(format!("best score {bs:.4} ({bid}); last complete {config_id}: score {score:.4}, val {mean_val_accuracy:.4}"));
                }
                if self.mode == Mode::Lines {
                    let what = if *staged { "done with this stage" } else { "complete" };
                    self.line(format!("configuration {config_id} {what}: score {score:.4}, mean val {mean_val_accuracy:.4} (best {bs:.4}, {bid})"));
                }
            }
            // The message goes on a line of its own above the bars, and the bar's own
            // message stays short: a bar line wider than the terminal wraps, which
            // squeezes the bar and leaves a frozen copy of it behind on every redraw.
            Event::Stopping { running } => {
                self.state("stopping", format!("Ctrl-C: no new folds; finishing {running} running (Ctrl-C again to abandon them)"));
            }
            Event::Abandoning { running } => {
                self.state("abandoning", format!("Ctrl-C again: abandoning {running} running fold(s); they return to pending"));
            }
            Event::Terminating { running } => self.state(
                "terminating",
                format!("SIGTERM: saving the training states of {running} running fold(s); they return to pending and the next run continues them"),
            ),
            Event::WaitingForDatabase { error, patience_seconds } => self.state(
                "waiting for the database",
                format!("the database is unreachable ({error}); retrying for up to {patience_seconds:.0} s, finished results kept"),
            ),
            Event::DatabaseBack { waited_seconds } => self.state("", format!("the database is back after {waited_seconds:.1} s")),
            Event::Finished(s) => {
                self.clear();
                eprintln!("{}", summary_text(s));
            }
        }
    }

    /// The run's state in the bar's message (kept short), and what happened on a line.
    fn state(&self, short: &str, line: String) {
        if let Some(o) = &self.overall {
            o.set_message(short.to_string());
        }
        self.line(line);
    }

    fn started(&mut self, e: &Event) {
        let Event::Started {
            sweep,
            configs,
            new_configs,
            counts,
            jobs,
            threads_per_job,
            fuse,
            device,
            data,
            rung,
            best,
        } = e
        else {
            return;
        };
        // A halving run's progress is its current rung's folds; the next rung's
        // replace them when it is promoted.
        (self.done, self.total) = match rung {
            Some(r) => (r.done, r.total),
            None => ((counts.done + counts.failed) as u64, counts.total() as u64),
        };
        self.best_score = best.clone();
        self.sweep = sweep.clone();
        if self.mode != Mode::Quiet {
            eprintln!(
                "sweep {sweep}: {} ({new_configs} new), {} folds: {} done, {} failed, {} to run; {jobs} job(s) × {threads_per_job} thread(s) on {device}",
                crate::text::count(*configs, "configuration", "configurations"), counts.total(), counts.done, counts.failed, counts.pending + counts.running
            );
            eprintln!("data: {data}");
            if *fuse > 1 {
                eprintln!("fused: each job trains up to {fuse} folds of one network shape and batch size as one");
            }
            if let Some(r) = rung {
                let what = match r.brackets {
                    0 => "race".to_string(),
                    1 => "successive halving".into(),
                    n => format!("hyperband, {n} brackets"),
                };
                if r.rungs.is_empty() {
                    // Nothing in progress: the search ended in an earlier run.
                    let over = if r.brackets == 0 {
                        "the race is over"
                    } else {
                        "every rung is decided"
                    };
                    eprintln!("{what}: {over}; nothing is left to train");
                } else {
                    eprintln!(
                        "{what}: {}, {} of {} folds done",
                        r.label(),
                        r.done,
                        r.total
                    );
                }
            }
        }
        if self.mode == Mode::Bars {
            let bar = self.multi.add(ProgressBar::new(self.total));
            bar.set_style(
                ProgressStyle::with_template("{prefix:.bold} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} folds  {per_sec}  ETA {eta}  {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(match rung {
                // Hyperband's rungs move bracket by bracket: the prefix names the search.
                Some(r) if r.brackets > 1 => format!("{sweep} hyperband"),
                Some(r) => format!("{sweep} {}", r.label()),
                None => sweep.clone(),
            });
            bar.set_position(self.done);
            bar.reset_eta();
            let best = self.multi.add(ProgressBar::new_spinner());
            best.set_style(
                ProgressStyle::with_template("  {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            best.set_message(match &self.best_score {
                Some((id, score)) => format!("best score {score:.4} ({id})"),
                None => "best score: none complete yet".into(),
            });
            self.overall = Some(bar);
            self.best = Some(best);
            self.workers = (0..*jobs)
                .map(|_| {
                    let w = self.multi.add(ProgressBar::new_spinner());
                    w.set_style(
                        ProgressStyle::with_template("  {prefix} {wide_msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    Some(w)
                })
                .collect();
            for (i, w) in self.workers.iter().flatten().enumerate() {
                w.set_prefix(format!("w{i}"));
                w.set_message("idle");
            }
        }
        self.worker_label = vec![String::new(); *jobs];
    }

    fn fold_started(&mut self, e: &Event) {
        let Event::FoldStarted {
            worker,
            config_id,
            label,
            fold,
            epochs,
            from_epoch,
            until,
        } = e
        else {
            return;
        };
        let mut text = if label.is_empty() {
            format!("{config_id} fold {fold}")
        } else {
            format!("{config_id} ({label}) fold {fold}")
        };
        if until < epochs {
            text.push_str(&format!(" to epoch {until}"));
        }
        if let Some(Some(w)) = self.workers.get(*worker) {
            let from = if *from_epoch > 0 { " (continued)" } else { "" };
            w.set_message(format!("{text}  epoch {from_epoch}/{epochs}{from}"));
        }
        if *from_epoch > 0 {
            self.line(format!(
                "{text}: continues from its saved state at epoch {from_epoch}"
            ));
        }
        if let Some(l) = self.worker_label.get_mut(*worker) {
            *l = text;
        }
    }

    fn advance(&mut self, worker: usize) {
        self.done += 1;
        if let Some(o) = &self.overall {
            o.set_position(self.done);
        }
        if let Some(Some(w)) = self.workers.get(worker) {
            w.set_message("idle");
        }
    }

    fn clear(&mut self) {
        for w in self.workers.iter_mut() {
            if let Some(w) = w.take() {
                w.finish_and_clear();
            }
        }
        if let Some(b) = self.best.take() {
            b.finish_and_clear();
        }
        if let Some(o) = self.overall.take() {
            o.finish_and_clear();
        }
    }

    fn finish(&mut self) {
        self.clear();
        let _ = self.multi.clear();
        std::thread::sleep(Duration::from_millis(0));
    }
}

pub fn summary_text(s: &RunSummary) -> String {
    let c = &s.counts;
    let mut t = format!(
        "sweep {}: {} of {} folds done, {} failed, {} pending{}; this run: {} done{}, {} failed{} in {:.1} s",
        s.sweep,
        c.done,
        c.total(),
        c.failed,
        c.pending,
        if c.running > 0 { format!(", {} running elsewhere", c.running) } else { String::new() },
        s.done,
        // A fold of a staged search trains once per rung it reaches: two different counts.
        match (s.staged, s.not_needed) {
            (_, n) if n > 0 => format!(" (of which {n} trained ahead at a race's barrier and not needed, their configuration gone from the race or the race ended: not recorded)"),
            (true, _) => " (rung spans: a fold trains once per rung it reaches)".to_string(),
            _ => String::new(),
        },
        s.failed,
        if s.abandoned > 0 { format!(", {} abandoned", s.abandoned) } else { String::new() },
        s.wall_seconds
    );
    if let Some((id, score)) = &s.best {
        t.push_str(&format!(
            "\nbest score of the sweep so far: {score:.4} ({id})"
        ));
    }
    if s.terminated() {
        t.push_str(&format!(
            "\nended by SIGTERM (exit code 143): running folds saved their training states and are pending; run it again (or `{}`) to continue",
            s.resume_hint
        ));
    } else if s.interrupted() {
        t.push_str(&format!(
            "\ninterrupted before the end (exit code 130): run it again (or `{}`) to continue",
            s.resume_hint
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(done: usize, not_needed: usize, staged: bool) -> RunSummary {
        RunSummary {
            sweep: "s".into(),
            counts: crate::domain::Counts {
                pending: 0,
                running: 0,
                done: 12,
                failed: 0,
            },
            done,
            failed: 0,
            abandoned: 0,
            not_needed,
            stopped: None,
            wall_seconds: 1.0,
            best: None,
            resume_hint: String::new(),
            staged,
            stages_left: false,
        }
    }

    /// A race stopped by Ctrl-C between its stages has no fold pending, and is not over
    /// (new-user check of issue 42): the run says so, and exits 130.
    #[test]
    fn a_staged_search_stopped_between_stages_is_interrupted() {
        let mut s = summary(12, 0, true);
        s.stopped = Some(crate::sched::Stopped::Interrupted);
        assert!(!s.interrupted(), "a search that ended is not interrupted");
        s.stages_left = true;
        assert!(s.interrupted());
        assert!(summary_text(&s).contains("interrupted before the end (exit code 130)"));
    }

    #[test]
    fn the_summary_says_which_of_this_runs_folds_were_trained_ahead_and_not_needed() {
        let t = summary_text(&summary(14, 2, false));
        assert!(
            t.contains("this run: 14 done (of which 2 trained ahead at a race's barrier"),
            "{t}"
        );
        assert!(!summary_text(&summary(12, 0, false)).contains("trained ahead"));
        assert!(summary_text(&summary(20, 0, true)).contains("rung spans"));
    }
}
