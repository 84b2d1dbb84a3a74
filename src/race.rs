//! Racing (`"search": {"strategy": "race", …}`): configurations race over folds at their
//! full epochs, and the credibly worse ones drop out at each barrier.
//!
//! F-Race and irace (Birattari et al. 2002; López-Ibáñez et al. 2016) race candidates
//! over instances; here the instances are the folds of repeated k-fold CV (`cv.repeats`),
//! repeat 0's folds first, so every configuration is compared on the same splits and the
//! comparisons are paired. A stage is one fold: its barrier is reached when every
//! configuration still in the race has it. Then, once they have `min_folds` folds:
//! - every configuration credibly worse than the leader leaves the race: the tie set's
//!   test ([`crate::tieset`]: paired fold differences, their variance pooled across the
//!   configurations so that it can act after the first folds, Nadeau & Bengio's
//!   correction, a ROPE);
//! - the race stops when one configuration is left, when all that are left are
//!   practically equivalent to the leader (each within the ROPE with probability ≥
//!   `confidence`), or at `max_repeats` repeats; otherwise the ones left get their next
//!   fold. So a further repeat is added only while the top is undecided.
//!
//! The decision is a pure function of the stored fold results of the stage (ties by
//! grid position), taken inside the store's transaction at the barrier, so the outcome
//! does not depend on jobs, processes, kills or the order folds finished in. A fold of a
//! race is the same fold of the repeated grid (the same split, the same seeds): its
//! results are a repeated grid's, bit for bit.

use crate::domain::{Ahead, RaceDecision, RaceEntry};
use crate::score::ScoreRule;
use crate::tieset::{self, Candidate, Settings};

// The defaults are the setting `scripts/race-protocol.py choose` picked on the choosing
// truths (4 HPOBench tables and study truth 1, each judged on held-out repeats); what
// they do on the truths they were not chosen on is reported in docs/less-work.md
// ("What the racing figures are worth"). Until 2026-12-07 the confidence was 0.8.
pub const DEFAULT_CONFIDENCE: f64 = 0.7;
pub const DEFAULT_ROPE: f64 = tieset::DEFAULT_ROPE;
pub const DEFAULT_MIN_FOLDS: u32 = 2;
/// The largest budget multiple a spec may give.
pub const MAX_MULTIPLE: f64 = 1e6;

/// A race's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Race {
    pub ties: Settings,
    pub min_folds: u32,
    /// Repeats at most (None: the spec's `cv.repeats`).
    pub max_repeats: Option<u32>,
    /// The fold-fits it may spend (None: as many as its repeats give).
    pub budget: Option<Budget>,
}

/// A race's budget (`"budget"` in the spec's `search`): the fold-fits it may spend in
/// all, configurations dropped included, as a multiple of the plain k-fold grid's (a
/// number: `1.0` is k per configuration, the grid's cost) or as a count
/// (`{"fold_fits": N}`). What dropping the credibly worse saves buys further stages
/// (more repeats) for the configurations left; the race ends at the barrier whose next
/// stage would pass the budget.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Budget {
    Multiple(f64),
    FoldFits {
        #[serde(rename = "fold_fits")]
        fold_fits: u64,
    },
}

impl Budget {
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Budget::Multiple(m) if !(m > 0.0 && m.is_finite()) => Err(format!(
                "{m}: expected a multiple > 0 of the plain k-fold grid's fold-fits"
            )),
            // No race spends a million grids: a larger multiple is a slip (and would
            // overflow the fold-fits count); no budget is no key.
            Budget::Multiple(m) if m > MAX_MULTIPLE => Err(format!(
                "{m}: expected a multiple of at most {MAX_MULTIPLE} of the plain k-fold grid's fold-fits (leave budget out for a race without one)"
            )),
            Budget::FoldFits { fold_fits: 0 } => Err("fold_fits: expected at least 1".into()),
            _ => Ok(()),
        }
    }

    /// The fold-fits, for `trainings` configurations in a k-fold CV (a multiple is
    /// rounded down).
    pub fn fold_fits(&self, trainings: usize, k: usize) -> usize {
        match *self {
            Budget::Multiple(m) => (m * (trainings * k) as f64 + 1e-9).floor() as usize,
            Budget::FoldFits { fold_fits } => fold_fits as usize,
        }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::Multiple(m) => write!(f, "{m}× the plain grid's fold-fits"),
            Budget::FoldFits { fold_fits } => write!(f, "{fold_fits} fold-fits"),
        }
    }
}

impl Race {
    /// The most folds a configuration runs: k × the repeats it may use.
    pub fn max_folds(&self, k: usize, repeats: usize) -> usize {
        k * self
            .max_repeats
            .map_or(repeats, |m| (m as usize).min(repeats))
            .max(1)
    }

    /// The folds every configuration starts with.
    pub fn first_folds(&self, k: usize, repeats: usize) -> usize {
        (self.min_folds as usize).clamp(1, self.max_folds(k, repeats))
    }

    /// The budget in fold-fits for `trainings` configurations, checked against the
    /// first stage: Err names what the first stage needs when the budget is below it.
    pub fn budget_fits(
        &self,
        trainings: usize,
        k: usize,
        repeats: usize,
    ) -> Result<Option<usize>, String> {
        let Some(b) = self.budget else {
            return Ok(None);
        };
        let fits = b.fold_fits(trainings, k);
        let first = trainings * self.first_folds(k, repeats);
        if fits < first {
            let is = match b {
                Budget::Multiple(_) => format!("{b} is {fits} fold-fits"),
                Budget::FoldFits { .. } => b.to_string(),
            };
            return Err(format!(
                "budget: {is} for {trainings} configuration(s), below the {first} of the race's first stage ({} fold(s) each, min_folds); raise the budget to at least {:.3}× or {{\"fold_fits\": {first}}}",
                self.first_folds(k, repeats),
                // Rounded up: a multiple rounded down could still fall short.
                (first as f64 / (trainings * k).max(1) as f64 * 1000.0 - 1e-9).ceil() / 1000.0
            ));
        }
        Ok(Some(fits))
    }
}

/// What a barrier needs besides the stored results: the race, the k of the k-fold, the
/// most folds, the sweep's score rule, and the data's (features, classes) for
/// parameter counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub race: Race,
    pub k: usize,
    pub max_folds: usize,
    pub rule: ScoreRule,
    pub dims: Option<(usize, usize)>,
    /// The budget in fold-fits ([`Race::budget_fits`]).
    pub budget: Option<usize>,
}

/// The decision at a barrier on the store's entries (see [`decide`]), `spent` the
/// fold-fits the race has created so far (its dropped configurations' included); an
/// entry whose stored hyperparameters cannot be read is an error.
pub fn plan(rules: &Rules, entries: &[RaceEntry], spent: usize) -> Result<RaceDecision, String> {
    let entrants = entries
        .iter()
        .map(|e| {
            let params = crate::config::params_object(&e.params_json)
                .and_then(|o| {
                    crate::params::HyperParams::from_object(&o).map_err(|err| err.to_string())
                })
                .map_err(|why| format!("configuration {}: {why}", e.config_id))?;
            let (train, val): (Vec<f64>, Vec<f64>) =
                e.folds.iter().map(|&(_, t, v, _)| (t, v)).unzip();
            Ok(Entrant {
                config_id: e.config_id.clone(),
                position: e.position,
                score: score_of_means(&rules.rule, &train, &val),
                folds: e
                    .folds
                    .iter()
                    .map(|&(f, t, v, s)| (f, rules.rule.score(t, v), s))
                    .collect(),
                failed: e.failed,
                parameters: rules.dims.map(|(nf, nc)| params.parameter_count(nf, nc)),
            })
        })
        .collect::<Result<Vec<Entrant>, String>>()?;
    let left = rules.budget.map(|b| b.saturating_sub(spent));
    let stage = decide(&rules.race, rules.k, rules.max_folds, &entrants, left);
    Ok(RaceDecision {
        drop: stage.drop,
        next_fold: stage.next_fold,
        hold: stage.hold,
        scores: stage.scores,
        ended: stage.ended,
    })
}

/// While a barrier waits on its last folds: at most `idle` folds for idle workers to
/// train ahead, given the configurations still in the race ([`Ahead`]): the next ones
/// in order, one per configuration and round, the configurations best first by the
/// mean score of their done folds (those likeliest to go on; none yet: last, in grid
/// order), where the race may still use them. Whether they count is for the barriers
/// to decide: a fold trained ahead is kept when the race sends its configuration that
/// far, deleted when it drops it; so the order changes only how much of that work is
/// kept, never a result.
pub fn speculate(rules: &Rules, race: &[Ahead], idle: usize) -> Vec<(String, i64)> {
    let mut order: Vec<(&Ahead, Option<f64>)> = race
        .iter()
        .map(|a| (a, a.means.map(|(t, v)| rules.rule.score(t, v))))
        .collect();
    order.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut out = Vec::new();
    let mut depth: Vec<i64> = order.iter().map(|(a, _)| a.folds + a.ahead).collect();
    while out.len() < idle {
        let before = out.len();
        for (i, (a, _)) in order.iter().enumerate() {
            if out.len() >= idle {
                break;
            }
            if (depth[i] as usize) < rules.max_folds {
                out.push((a.config_id.clone(), depth[i]));
                depth[i] += 1;
            }
        }
        if out.len() == before {
            break;
        }
    }
    out
}

/// The study's rule on folds: the score of the mean train and validation accuracies
/// (None without folds). It orders the race, as it orders `rank`, the exports and the
/// study's table; the paired test looks at the per-fold scores.
pub fn score_of_means(rule: &ScoreRule, train: &[f64], val: &[f64]) -> Option<f64> {
    let n = train.len().min(val.len());
    (n > 0).then(|| {
        rule.score(
            train[..n].iter().sum::<f64>() / n as f64,
            val[..n].iter().sum::<f64>() / n as f64,
        )
    })
}

/// A configuration still in the race, at a barrier.
#[derive(Debug, Clone)]
pub struct Entrant {
    pub config_id: String,
    pub position: i64,
    /// Its score by the sweep's rule over its folds so far ([`score_of_means`]): what
    /// ranks it, and makes the leader.
    pub score: Option<f64>,
    /// (fold, score by the sweep's rule, fit seconds) of each done fold.
    pub folds: Vec<(i64, f64, f64)>,
    /// A fold of it failed: it cannot be compared, and leaves.
    pub failed: bool,
    /// Its parameter count, when known (`prefer: smallest` at the end).
    pub parameters: Option<usize>,
}

/// What a barrier decides.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Configurations that leave the race.
    pub drop: Vec<String>,
    /// The fold each configuration left trains next (None: the race is over).
    pub next_fold: Option<i64>,
    /// Configurations left that train no next fold: a budget's last stage, which it
    /// pays for the leaders only.
    pub hold: Vec<String>,
    /// Each entrant's score over its folds so far ([`Entrant::score`]), in the
    /// entrants' order.
    pub scores: Vec<Option<f64>>,
    /// Why the race ended, when it did.
    pub ended: Option<String>,
}

/// The decision at a barrier: `entrants` (every configuration still in the race, in
/// grid order), a k-fold CV of at most `max_folds` folds, `budget_left` the fold-fits
/// the race's budget leaves (None: no budget). A next stage costs one fold-fit per
/// configuration left; one that the budget cannot pay for ends the race.
pub fn decide(
    race: &Race,
    k: usize,
    max_folds: usize,
    entrants: &[Entrant],
    budget_left: Option<usize>,
) -> Stage {
    let scores: Vec<Option<f64>> = entrants
        .iter()
        .map(|e| {
            if e.failed || e.folds.is_empty() {
                None
            } else {
                e.score
            }
        })
        .collect();
    let mut drop: Vec<String> = entrants
        .iter()
        .zip(&scores)
        .filter(|(e, s)| e.failed || s.is_none())
        .map(|(e, _)| e.config_id.clone())
        .collect();
    // Ranked by the study's rule (the score of the mean accuracies), ties by grid
    // position; the leader is the first.
    let mut live: Vec<(&Entrant, f64)> = entrants
        .iter()
        .zip(&scores)
        .filter_map(|(e, s)| Some((e, (*s)?)))
        .collect();
    live.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.position.cmp(&b.0.position)));
    let folds = live.iter().map(|(e, _)| e.folds.len()).min().unwrap_or(0);
    let mut all_equivalent = false;
    if folds >= race.min_folds as usize && live.len() > 1 {
        let candidates: Vec<Candidate> = live
            .iter()
            .enumerate()
            .map(|(i, (e, s))| Candidate {
                config_id: e.config_id.clone(),
                rank: i + 1,
                score: *s,
                folds: e.folds.iter().map(|f| (f.0, f.1)).collect(),
                parameters: e.parameters,
                fit_seconds: None,
            })
            .collect();
        if let Some(t) = tieset::tie_set(&candidates, k, &race.ties) {
            drop.extend(
                t.verdicts
                    .iter()
                    .filter(|v| !v.tied)
                    .map(|v| v.config_id.clone()),
            );
            let members: Vec<&tieset::Verdict> = t.verdicts.iter().filter(|v| v.tied).collect();
            all_equivalent = members.len() > 1
                && members[1..]
                    .iter()
                    .all(|v| v.p_equivalent >= race.ties.confidence);
            live.retain(|(e, _)| t.members.contains(&e.config_id));
        }
    }
    let ended = if live.len() <= 1 {
        Some(match live.first() {
            Some((e, _)) => format!("{} is the only configuration left", e.config_id),
            None => "no configuration is left".into(),
        })
    } else if all_equivalent {
        Some(format!(
            "the {} left are practically equivalent (within ±{} with probability ≥ {})",
            live.len(),
            race.ties.rope,
            race.ties.confidence
        ))
    } else if folds >= max_folds {
        Some(format!("{max_folds} folds, the most the race may use; {} are left, not credibly worse than the leader", live.len()))
    } else {
        budget_left.filter(|&b| b == 0).map(|_| {
            let most = live.iter().map(|(e, _)| e.folds.len()).max().unwrap_or(0);
            let after = if most > folds { format!("{folds} to {most}") } else { folds.to_string() };
            format!("the budget: all of it spent; {} are left after {after} folds, not credibly worse than the leader", live.len())
        })
    };
    // A next stage the budget cannot pay for in full: its last fold-fits go to the
    // leaders (by the study's rule), the others stay in the race as they are, and the
    // budget, then spent, ends the race at the next barrier.
    let hold: Vec<String> = match budget_left {
        Some(b) if ended.is_none() && b < live.len() => {
            live[b..].iter().map(|(e, _)| e.config_id.clone()).collect()
        }
        _ => Vec::new(),
    };
    Stage {
        drop,
        next_fold: ended.is_none().then_some(folds as i64),
        hold,
        scores,
        ended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn race() -> Race {
        Race {
            ties: Settings::default(),
            min_folds: 3,
            max_repeats: None,
            budget: None,
        }
    }

    fn entrant(id: &str, position: i64, scores: &[f64]) -> Entrant {
        Entrant {
            config_id: id.into(),
            position,
            score: (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64),
            folds: scores
                .iter()
                .enumerate()
                .map(|(i, &s)| (i as i64, s, 1.0))
                .collect(),
            failed: false,
            parameters: None,
        }
    }

    fn noise(i: usize, c: usize) -> f64 {
        (((i * 7 + c * 13) % 5) as f64 - 2.0) * 0.002
    }

    #[test]
    fn before_min_folds_nothing_drops() {
        let e = [entrant("a", 0, &[0.6, 0.6]), entrant("b", 1, &[0.1, 0.1])];
        let s = decide(&race(), 3, 30, &e, None);
        assert!(s.drop.is_empty());
        assert_eq!(s.next_fold, Some(2));
    }

    #[test]
    fn the_clearly_worse_drop_and_a_clear_winner_ends_the_race() {
        let e: Vec<Entrant> = (0..6)
            .map(|c| {
                entrant(
                    &format!("c{c}"),
                    c as i64,
                    &(0..3)
                        .map(|i| if c == 0 { 0.65 } else { 0.55 } + noise(i, c))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let s = decide(&race(), 3, 30, &e, None);
        assert_eq!(s.drop.len(), 5, "{s:?}");
        assert_eq!(s.next_fold, None);
        assert!(s.ended.unwrap().contains("c0 is the only"));
    }

    #[test]
    fn a_true_tie_ends_as_equivalent_or_at_the_last_fold() {
        // Equal configurations up to fold noise: no one is credibly worse; with a wide ROPE they are
        // practically equivalent at once, with a narrow one the race runs to the end.
        let e: Vec<Entrant> = (0..4)
            .map(|c| {
                entrant(
                    &format!("c{c}"),
                    c as i64,
                    &(0..6).map(|i| 0.6 + noise(i, c)).collect::<Vec<_>>(),
                )
            })
            .collect();
        let wide = Race {
            ties: Settings {
                rope: 0.05,
                ..Settings::default()
            },
            ..race()
        };
        let s = decide(&wide, 3, 30, &e, None);
        assert!(s.drop.is_empty());
        assert!(s.ended.unwrap().contains("practically equivalent"));
        let narrow = Race {
            ties: Settings {
                rope: 0.0,
                ..Settings::default()
            },
            ..race()
        };
        let s = decide(&narrow, 3, 6, &e, None);
        assert!(s.drop.is_empty(), "{s:?}");
        assert!(s.ended.unwrap().contains("6 folds"));
        let s = decide(&narrow, 3, 9, &e, None);
        assert_eq!(s.next_fold, Some(6));
    }

    #[test]
    fn a_stage_the_budget_cannot_pay_for_ends_the_race() {
        let narrow = Race {
            ties: Settings {
                rope: 0.0,
                ..Settings::default()
            },
            ..race()
        };
        let e: Vec<Entrant> = (0..4)
            .map(|c| {
                entrant(
                    &format!("c{c}"),
                    c as i64,
                    &(0..3).map(|i| 0.6 + noise(i, c)).collect::<Vec<_>>(),
                )
            })
            .collect();
        // Four left: a next stage costs 4 fold-fits.
        let s = decide(&narrow, 3, 30, &e, Some(4));
        assert_eq!((s.next_fold, s.hold.len()), (Some(3), 0));
        // Three left in the budget: the last stage trains the 3 leaders; the fourth
        // by the rule stays as it is.
        let s = decide(&narrow, 3, 30, &e, Some(3));
        assert_eq!(s.next_fold, Some(3));
        assert!(s.drop.is_empty());
        let mut ranked: Vec<(f64, String)> = e
            .iter()
            .map(|x| (x.score.unwrap(), x.config_id.clone()))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let last = ranked[3].1.clone();
        assert_eq!(s.hold, std::slice::from_ref(&last));
        // Spent: the race ends, on unequal folds.
        let mut e = e;
        for x in e.iter_mut().filter(|x| x.config_id != last) {
            x.folds.push((3, 0.6, 1.0));
        }
        let s = decide(&narrow, 3, 30, &e, Some(0));
        assert_eq!(s.next_fold, None);
        assert!(s.ended.unwrap().contains("after 3 to 4 folds"));
    }

    #[test]
    fn a_budget_is_a_multiple_of_the_grid_or_a_count_and_pays_for_the_first_stage() {
        let b: Budget = serde_json::from_str("1.5").unwrap();
        assert_eq!(b.fold_fits(10, 3), 45);
        let b: Budget = serde_json::from_str(r#"{"fold_fits": 50}"#).unwrap();
        assert_eq!(b.fold_fits(10, 3), 50);
        assert!(Budget::Multiple(0.0).check().is_err());
        assert!(Budget::FoldFits { fold_fits: 0 }.check().is_err());
        let r = Race {
            min_folds: 2,
            budget: Some(Budget::Multiple(0.6)),
            ..race()
        };
        // 10 configurations × 2 first folds = 20 > 0.6 × 30 = 18.
        let e = r.budget_fits(10, 3, 5).unwrap_err();
        assert!(e.contains("below the 20 of the race's first stage"), "{e}");
        // The multiple it names pays for the first stage (2/6 is 0.334×, not 0.333×).
        let low = Race {
            budget: Some(Budget::Multiple(0.3)),
            ..r
        };
        let e = low.budget_fits(7, 6, 5).unwrap_err();
        assert!(e.contains("at least 0.334×"), "{e}");
        let named = Race {
            budget: Some(Budget::Multiple(0.334)),
            ..r
        };
        assert!(named.budget_fits(7, 6, 5).is_ok());
        let r = Race {
            budget: Some(Budget::Multiple(1.0)),
            ..r
        };
        assert_eq!(r.budget_fits(10, 3, 5), Ok(Some(30)));
        assert_eq!(race().budget_fits(10, 3, 5), Ok(None));
    }

    #[test]
    fn a_failed_configuration_leaves() {
        let mut e = vec![
            entrant("a", 0, &[0.6, 0.61, 0.6]),
            entrant("b", 1, &[0.6, 0.6, 0.61]),
            entrant("c", 2, &[0.6]),
        ];
        e[2].failed = true;
        let s = decide(
            &Race {
                ties: Settings {
                    rope: 0.0,
                    ..Settings::default()
                },
                ..race()
            },
            3,
            30,
            &e,
            None,
        );
        assert_eq!(s.drop, ["c"]);
        assert_eq!(s.scores[2], None);
        assert_eq!(s.next_fold, Some(3));
    }

    #[test]
    fn training_ahead_goes_round_the_race_best_first_within_the_idle_and_the_most_folds() {
        let rules = Rules {
            race: race(),
            k: 3,
            max_folds: 5,
            rule: ScoreRule::default(),
            dims: None,
            budget: None,
        };
        let a = |id: &str, folds: i64, ahead: i64, val: Option<f64>| Ahead {
            config_id: id.into(),
            folds,
            ahead,
            means: val.map(|v| (v, v)),
        };
        // b scores best, c has no done fold yet, a is between.
        let race3 = [
            a("a", 2, 0, Some(0.5)),
            a("b", 2, 1, Some(0.6)),
            a("c", 2, 0, None),
        ];
        let ids = |v: Vec<(String, i64)>| {
            v.into_iter()
                .map(|(a, f)| format!("{a}{f}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(speculate(&rules, &race3, 2)), ["b3", "a2"]);
        assert_eq!(
            ids(speculate(&rules, &race3, 7)),
            ["b3", "a2", "c2", "b4", "a3", "c3", "a4"]
        );
        // Nothing past the most folds, however many are idle.
        assert_eq!(speculate(&rules, &race3, 100).len(), 2 + 3 + 3);
        assert!(speculate(&rules, &[a("a", 5, 0, Some(0.5))], 4).is_empty());
        assert!(speculate(&rules, &race3, 0).is_empty());
    }

    /// Under the relative Δ the mean of the per-fold scores and the score of the mean
    /// accuracies rank differently; the race ranks by the latter, as `rank` does.
    #[test]
    fn the_race_ranks_by_the_score_of_the_mean_accuracies() {
        use crate::score::DeltaKind;
        let rule = ScoreRule {
            delta: DeltaKind::Relative,
            w1: 0.4,
            w2: 1.0,
        };
        let rules = Rules {
            race: Race {
                min_folds: 10,
                ..race()
            },
            k: 3,
            max_folds: 30,
            rule,
            dims: None,
            budget: None,
        };
        // a: steady; b: one fold with a low validation accuracy, whose relative Δ weighs
        // heavily in that fold's score but little in the score of the means.
        let entry = |id: &str, position: i64, folds: &[(f64, f64)]| RaceEntry {
            config_id: id.into(),
            position,
            params_json: "{}".into(),
            folds: folds
                .iter()
                .enumerate()
                .map(|(i, &(t, v))| (i as i64, t, v, 1.0))
                .collect(),
            failed: false,
        };
        let a = entry("a", 0, &[(0.70, 0.645), (0.70, 0.645), (0.70, 0.645)]);
        let b = entry("b", 1, &[(0.70, 0.70), (0.70, 0.70), (0.70, 0.54)]);
        let per_fold = |e: &RaceEntry| {
            e.folds
                .iter()
                .map(|&(_, t, v, _)| rule.score(t, v))
                .sum::<f64>()
                / 3.0
        };
        let of_means = |e: &RaceEntry| {
            let (t, v): (Vec<f64>, Vec<f64>) = e.folds.iter().map(|&(_, t, v, _)| (t, v)).unzip();
            score_of_means(&rule, &t, &v).unwrap()
        };
        assert!(
            per_fold(&a) > per_fold(&b) && of_means(&b) > of_means(&a),
            "the two rules disagree here"
        );
        let d = plan(&rules, &[a.clone(), b.clone()], 6).unwrap();
        assert_eq!(d.scores, vec![Some(of_means(&a)), Some(of_means(&b))]);
    }

    #[test]
    fn max_folds_take_the_spec_repeats_or_fewer() {
        assert_eq!(race().max_folds(3, 10), 30);
        assert_eq!(
            Race {
                max_repeats: Some(4),
                ..race()
            }
            .max_folds(3, 10),
            12
        );
        assert_eq!(
            Race {
                max_repeats: Some(40),
                ..race()
            }
            .max_folds(3, 10),
            30
        );
        assert_eq!(race().first_folds(3, 1), 3);
    }
}
