//! Stopping a run: signals as a typed escalation.
//!
//! A person at a terminal presses Ctrl-C once to let the running folds finish, again
//! to give up on them, and a third time to get out at once; a batch system sends
//! SIGTERM shortly before it kills a job. Each press moves one state machine forward,
//! and the dispatcher only reads what it says to do. The process's exit code comes
//! from where the machine ended ([`Stopped`]), decided by `main`, not by library code.

/// What arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (a batch system's time limit, `kill`).
    Terminate,
}

/// What the dispatcher is to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Claim nothing more; running folds finish.
    StopClaiming,
    /// Claim nothing more; running folds save their training states, stop within an
    /// epoch and return to pending.
    Abandon,
    /// Return at once, waiting for nothing (folds left running return at their lease's
    /// expiry, or at once when a run starts on this host).
    Abort,
    /// Nothing new (a repeated SIGTERM).
    Nothing,
}

/// How a run was stopped, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Stopped {
    /// Ctrl-C (once or twice).
    Interrupted,
    /// SIGTERM: running folds saved and released.
    Terminated,
    /// Ctrl-C three times: out at once.
    Aborted,
}

/// The escalation so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Escalation {
    interrupts: u32,
    terminated: bool,
    aborted: bool,
}

impl Escalation {
    /// The next step for `signal`.
    pub fn on(&mut self, signal: Signal) -> Action {
        match signal {
            Signal::Interrupt => {
                self.interrupts += 1;
                match self.interrupts {
                    1 if !self.terminated => Action::StopClaiming,
                    1 | 2 => Action::Abandon,
                    _ => {
                        self.aborted = true;
                        Action::Abort
                    }
                }
            }
            Signal::Terminate if self.terminated => Action::Nothing,
            Signal::Terminate => {
                self.terminated = true;
                Action::Abandon
            }
        }
    }

    /// Where it ended, if any signal came.
    pub fn stopped(&self) -> Option<Stopped> {
        if self.aborted {
            Some(Stopped::Aborted)
        } else if self.terminated {
            Some(Stopped::Terminated)
        } else if self.interrupts > 0 {
            Some(Stopped::Interrupted)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(signals: &[Signal]) -> (Vec<Action>, Option<Stopped>) {
        let mut e = Escalation::default();
        let actions = signals.iter().map(|s| e.on(*s)).collect();
        (actions, e.stopped())
    }

    #[test]
    fn ctrl_c_escalates_from_finishing_to_abandoning_to_leaving() {
        use Signal::*;
        assert_eq!(run(&[]), (vec![], None));
        assert_eq!(
            run(&[Interrupt]),
            (vec![Action::StopClaiming], Some(Stopped::Interrupted))
        );
        assert_eq!(
            run(&[Interrupt, Interrupt]),
            (
                vec![Action::StopClaiming, Action::Abandon],
                Some(Stopped::Interrupted)
            )
        );
        assert_eq!(
            run(&[Interrupt, Interrupt, Interrupt]),
            (
                vec![Action::StopClaiming, Action::Abandon, Action::Abort],
                Some(Stopped::Aborted)
            )
        );
    }

    #[test]
    fn sigterm_abandons_at_once_and_counts_once() {
        use Signal::*;
        assert_eq!(
            run(&[Terminate]),
            (vec![Action::Abandon], Some(Stopped::Terminated))
        );
        assert_eq!(
            run(&[Terminate, Terminate]),
            (
                vec![Action::Abandon, Action::Nothing],
                Some(Stopped::Terminated)
            )
        );
        // After SIGTERM the folds are already being given up: Ctrl-C goes on from there.
        assert_eq!(
            run(&[Terminate, Interrupt]),
            (
                vec![Action::Abandon, Action::Abandon],
                Some(Stopped::Terminated)
            )
        );
        assert_eq!(
            run(&[Interrupt, Terminate, Interrupt, Interrupt]),
            (
                vec![
                    Action::StopClaiming,
                    Action::Abandon,
                    Action::Abandon,
                    Action::Abort
                ],
                Some(Stopped::Aborted)
            )
        );
    }
}
