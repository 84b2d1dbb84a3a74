//! Search strategies: which configurations of the expanded grid a sweep trains, and
//! how far.
//!
//! - `grid` (the default): every distinct training of the grid, to its configured epochs.
//! - `random`: `n` distinct trainings drawn from the grid with a seed. The draw is one
//!   seeded permutation of the grid's distinct trainings, of which the sweep takes the
//!   first `n`: raising `n` keeps the first ones and adds more, and re-running adds only
//!   what is new.
//! - `halving`: synchronous successive halving with epochs as the resource. Rung `r`
//!   trains every surviving configuration's folds to `min(epochs, min_epochs·factor^r)`
//!   epochs; when the rung is complete the best ⌈n/factor⌉ by the sweep's score at that
//!   rung go on, the others are pruned, until the survivors reach their configured
//!   epochs. A fold continues from its saved training state, so a configuration that
//!   reaches the end has bit for bit the results a plain grid run gives it.
//!
//! - `hyperband` (Li et al., JMLR 2018): brackets of successive halving that start at
//!   each rung of the ladder `min_epochs·factor^k`, so that a misleading cheap rung
//!   costs one bracket, not the answer. Bracket s (s = s_max … 0) starts at the
//!   ladder's rung s_max − s with the paper's n_s = ⌈(s_max+1)/(s+1)·factor^s⌉
//!   trainings. The trainings are one seeded permutation of the grid's distinct ones
//!   (as `random`), dealt to the brackets in that order by [`deal`], which is
//!   prefix-stable and gives each bracket exactly n_s when the sample is Σ n_s (the
//!   default; `sample` sets another total, shared in the same proportions). No
//!   training is in two brackets. The brackets run at once: a worker that finds one
//!   bracket waiting on its rung takes another's folds.
//!
//! The rung state lives in the database (folds' budgets, configurations' rungs, the
//! sweep's current rung), so a halving sweep resumes at any moment and runs on several
//! processes and machines like any other; the promotion rule below is a pure function
//! of the rung's scores (ties by grid position), so its outcome does not depend on
//! which process promotes or when.

use crate::config::Config;
use crate::domain::{RungCandidate, RungDecision, RungPlan, RungScore};
use crate::params::HyperParams;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The spec's `search` section.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "strategy", rename_all = "lowercase", deny_unknown_fields)]
pub enum Search {
    #[default]
    Grid,
    Random {
        n: usize,
        /// Default: the spec's seed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
        /// Draw from each sub-grid in proportion to its trainings ([`sample_stratified`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stratify: bool,
    },
    Halving {
        #[serde(default = "default_factor")]
        factor: u32,
        min_epochs: u32,
        /// Start from a random sample of this many trainings instead of the whole grid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sample: Option<usize>,
        /// The sample's seed (default: the spec's seed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
        /// Draw the sample from each sub-grid in proportion to its trainings.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stratify: bool,
    },
    Hyperband {
        #[serde(default = "default_factor")]
        factor: u32,
        min_epochs: u32,
        /// Trainings in all brackets (default: the paper's Σ n_s), capped by the grid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sample: Option<usize>,
        /// The draw's seed (default: the spec's seed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
        /// Draw from each sub-grid in proportion to its trainings.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stratify: bool,
    },
    /// Racing over folds at full epochs ([`crate::race`]).
    Race {
        /// The posterior probability at which a configuration is credibly worse.
        #[serde(default = "default_confidence")]
        confidence: f64,
        /// The region of practical equivalence, ± this much score.
        #[serde(default = "default_rope")]
        rope: f64,
        /// Folds every configuration trains before the first drop.
        #[serde(default = "default_min_folds")]
        min_folds: u32,
        /// Repeats of the k-fold at most (default: the spec's `cv.repeats`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_repeats: Option<u32>,
        /// The fold-fits the race may spend ([`crate::race::Budget`]); none: as many as
        /// its repeats give.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget: Option<crate::race::Budget>,
        /// The pick among the configurations left.
        #[serde(default)]
        prefer: crate::tieset::Prefer,
        /// Start from a random sample of this many trainings instead of the whole grid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sample: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seed: Option<u64>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stratify: bool,
    },
}

fn default_factor() -> u32 {
    3
}

fn default_confidence() -> f64 {
    crate::race::DEFAULT_CONFIDENCE
}

fn default_rope() -> f64 {
    crate::race::DEFAULT_ROPE
}

fn default_min_folds() -> u32 {
    crate::race::DEFAULT_MIN_FOLDS
}

/// Successive halving's two numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halving {
    pub factor: u32,
    pub min_epochs: u32,
}

impl Halving {
    /// The epochs a configuration of `epochs` trains to in rung `rung`.
    pub fn budget(&self, rung: u32, epochs: u32) -> u32 {
        let mut b = self.min_epochs as u64;
        for _ in 0..rung {
            b = b.saturating_mul(self.factor as u64);
            if b >= epochs as u64 {
                break;
            }
        }
        b.min(epochs as u64) as u32
    }

    /// How many of `n` configurations of a complete rung go on.
    pub fn survivors(&self, n: usize) -> usize {
        n.div_ceil(self.factor as usize)
    }

    /// The rungs of `n` configurations of (at most) `epochs` epochs: configurations and
    /// epoch budget per rung, up to the rung that reaches `epochs`.
    pub fn rungs(&self, n: usize, epochs: u32) -> Vec<(usize, u32)> {
        let (mut n, mut out) = (n, Vec::new());
        for r in 0.. {
            let b = self.budget(r, epochs);
            out.push((n, b));
            if b >= epochs {
                break;
            }
            n = self.survivors(n);
        }
        out
    }

    /// The most fold-epochs per fold those rungs train, each epoch once (a promoted
    /// fold continues from its saved state).
    pub fn fold_epochs(&self, n: usize, epochs: u32) -> u64 {
        let mut prev = 0u64;
        self.rungs(n, epochs)
            .into_iter()
            .map(|(n, b)| {
                let spent = n as u64 * (b as u64 - prev);
                prev = b as u64;
                spent
            })
            .sum()
    }
}

/// Hyperband's brackets for configurations of at most `max_epochs`, from s_max down to
/// 0: each a successive halving starting at the ladder's rung s_max − s, and the
/// paper's number of trainings for it, n_s = ⌈(s_max+1)/(s+1)·factor^s⌉.
pub fn hyperband(factor: u32, min_epochs: u32, max_epochs: u32) -> Vec<(Halving, usize)> {
    let ladder = Halving { factor, min_epochs };
    let s_max = ladder.rungs(1, max_epochs).len() as u32 - 1;
    (0..=s_max)
        .rev()
        .map(|s| {
            let start = ladder.budget(s_max - s, max_epochs);
            let n = ((s_max + 1) as f64 / (s + 1) as f64 * (factor as f64).powi(s as i32)).ceil()
                as usize;
            (
                Halving {
                    factor,
                    min_epochs: start,
                },
                n,
            )
        })
        .collect()
}

/// Deals `n` items, in order, to brackets of the given sizes: each next item goes to
/// the bracket with the largest size/(dealt + 1) (D'Hondt), ties to the earlier
/// bracket. The first k items are dealt alike whatever `n` (prefix-stable), the shares
/// stay in proportion to the sizes, and n = Σ sizes gives each bracket exactly its
/// size. Returns each item's bracket.
pub fn deal(sizes: &[usize], n: usize) -> Vec<usize> {
    let mut dealt = vec![0usize; sizes.len()];
    (0..n)
        .map(|_| {
            let mut best = 0;
            for b in 1..sizes.len() {
                // size_b/(dealt_b+1) > size_best/(dealt_best+1), in integers.
                if sizes[b] * (dealt[best] + 1) > sizes[best] * (dealt[b] + 1) {
                    best = b;
                }
            }
            dealt[best] += 1;
            best
        })
        .collect()
}

/// The largest configured epochs of a grid: the top of a staged search's ladder.
pub fn max_epochs(configs: &[Config]) -> u32 {
    configs.iter().map(|c| c.params.epochs).max().unwrap_or(0)
}

/// A configuration of a complete rung, as the promotion sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RungEntry {
    pub config_id: String,
    pub position: i64,
    /// The sweep's score at this rung; None when a fold failed (never promoted).
    pub score: Option<f64>,
}

/// Successive halving's decision on complete rung `rung`: the best ⌈n/factor⌉ go on
/// to the next budget, unless every configuration is already complete (the last rung).
/// Each rung score is of its summary's epochs, or of the rung's budget for one that
/// ran to its end. Stored hyperparameters that cannot be read are an error, not a
/// budget of 0.
pub fn plan_rung(h: &Halving, rung: u32, candidates: &[RungCandidate]) -> Result<RungPlan, String> {
    let epochs: Vec<u32> = candidates
        .iter()
        .map(|c| {
            let obj: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&c.params_json).map_err(|e| {
                    format!(
                        "configuration {}: its stored hyperparameters are not JSON: {e}",
                        c.config_id
                    )
                })?;
            HyperParams::from_object(&obj)
                .map(|p| p.epochs)
                .map_err(|e| {
                    format!(
                        "configuration {}: its stored hyperparameters are unreadable: {e}",
                        c.config_id
                    )
                })
        })
        .collect::<Result<_, String>>()?;
    let last = !candidates
        .iter()
        .any(|c| c.scored && c.resource_epochs.is_some());
    let entries: Vec<RungEntry> = candidates
        .iter()
        .map(|c| RungEntry {
            config_id: c.config_id.clone(),
            position: c.position,
            score: c.score,
        })
        .collect();
    let kept = if last {
        HashSet::new()
    } else {
        promoted(h, &entries)
    };
    let decisions = candidates
        .iter()
        .zip(&epochs)
        .map(|(c, &e)| RungDecision {
            epochs: c.resource_epochs.unwrap_or(h.budget(rung, e) as i64),
            next_budget: kept
                .contains(&c.config_id)
                .then(|| h.budget(rung + 1, e) as i64),
        })
        .collect();
    Ok(RungPlan { last, decisions })
}

/// The configurations that go on from a complete rung: the best ⌈n/factor⌉ by score,
/// ties by grid position; configurations without a score never go on.
pub fn promoted(h: &Halving, entries: &[RungEntry]) -> HashSet<String> {
    let mut ranked: Vec<&RungEntry> = entries
        .iter()
        .filter(|e| e.score.is_some_and(|s| s.is_finite()))
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .unwrap()
            .total_cmp(&a.score.unwrap())
            .then(a.position.cmp(&b.position))
    });
    ranked
        .into_iter()
        .take(h.survivors(entries.len()))
        .map(|e| e.config_id.clone())
        .collect()
}

/// The configurations of a rung of `n` whose saved states can go: settled ones (every
/// fold done at the rung's budget, `settled`) that cannot be among the ⌈n/factor⌉ that
/// go on, because that many settled ones already rank above them (by score, then grid
/// position, as [`promoted`]); more results can only add rivals. Only those that still
/// hold states are named: this runs after every rung summary, and naming the ones
/// already dropped again made each call cost the whole rung (on the study's whole
/// space, most of the run's time).
pub fn hopeless(h: &Halving, n: usize, settled: &[RungCandidate]) -> Vec<String> {
    let keep = h.survivors(n);
    let mut ranked: Vec<&RungCandidate> = settled
        .iter()
        .filter(|c| c.score.is_some_and(|s| s.is_finite()))
        .collect();
    ranked.sort_by(|a, b| {
        b.score
            .unwrap()
            .total_cmp(&a.score.unwrap())
            .then(a.position.cmp(&b.position))
    });
    ranked
        .into_iter()
        .skip(keep)
        .filter(|c| c.holds_state)
        .map(|c| c.config_id.clone())
        .collect()
}

/// Below this rank agreement between a complete rung and the one before it, the
/// cheaper rung is said to mislead (see `rung_agreement`). Chosen from the replay of
/// the study's 324 full runs (docs/less-work.md): halving by 3 from 5 epochs, whose
/// winner is within 0.002 of the best in 86 % of 81-configuration samples, has rungs
/// agreeing 0.19 and 0.22; from 10, 15 and 20 epochs (95.5 % to 99 %), 0.42 to 0.51.
pub const WEAK_AGREEMENT: f64 = 0.3;

/// How far a complete rung `rung` (≥ 1) of `bracket` ranks the configurations it holds as the rung
/// before did: Spearman's ρ between their scores at the two rungs (None with fewer
/// than 3 such configurations). Low agreement means the earlier, cheaper rung chose
/// its survivors on a ranking that more epochs overturn.
pub fn rung_agreement(scores: &[RungScore], bracket: i64, rung: i64) -> Option<f64> {
    let before: std::collections::HashMap<&str, f64> = scores
        .iter()
        .filter(|s| s.bracket == bracket && s.rung == rung - 1)
        .filter_map(|s| Some((s.config_id.as_str(), s.score?)))
        .collect();
    let pairs: Vec<(f64, f64)> = scores
        .iter()
        .filter(|s| s.bracket == bracket && s.rung == rung)
        .filter_map(|s| Some((*before.get(s.config_id.as_str())?, s.score?)))
        .collect();
    crate::score::spearman(&pairs)
}

/// What to tell the user when rung `rung` of a bracket (halving `h`; `bracket`: its
/// number in a Hyperband sweep, None for plain halving) disagrees with the rung
/// before it: which rungs, and what to change. `epochs`: the largest configured epochs.
pub fn weak_rung_advice(
    h: &Halving,
    bracket: Option<u32>,
    rung: u32,
    agreement: f64,
    epochs: u32,
) -> String {
    let (cheap, dear) = (h.budget(rung - 1, epochs), h.budget(rung, epochs));
    let (which, change) = match bracket {
        None => (String::new(), format!("raise min_epochs to {dear}, or use hyperband")),
        Some(b) => (format!("bracket {b}: "), format!("the brackets that start at more epochs hedge it; if it recurs, raise min_epochs to {dear}")),
    };
    format!(
        "{which}rung {} ({cheap} epochs) ranked the configurations unlike rung {rung} ({dear} epochs) does (Spearman {agreement:.2} < {WEAK_AGREEMENT}): \
         its pruning may have lost the best; {change}",
        rung - 1
    )
}

/// A key of a strategy: its name, its least value (`None`: any integer ≥ 0), and
/// whether it is required. Race's keys that are not integers are named in
/// [`OTHER_KEYS`].
type StrategyKey = (&'static str, Option<u64>, bool);

/// Keys whose values are not integers, and what they take.
const OTHER_KEYS: [(&str, &str); 5] = [
    ("stratify", "true or false"),
    (
        "budget",
        "a multiple > 0 (at most 1e6) of the plain k-fold grid's fold-fits (1.0: the grid's cost), or {\"fold_fits\": N} with N ≥ 1",
    ),
    ("confidence", "a probability in (0.5, 1)"),
    ("rope", "a score difference ≥ 0"),
    ("prefer", "one of score, smallest, fastest"),
];

/// The keys each strategy takes.
const STRATEGY_KEYS: [(&str, &[StrategyKey]); 5] = [
    ("grid", &[]),
    // (key, least value, required)
    (
        "random",
        &[
            ("n", Some(1), true),
            ("seed", None, false),
            ("stratify", None, false),
        ],
    ),
    (
        "halving",
        &[
            ("factor", Some(2), false),
            ("min_epochs", Some(1), true),
            ("sample", Some(1), false),
            ("seed", None, false),
            ("stratify", None, false),
        ],
    ),
    (
        "hyperband",
        &[
            ("factor", Some(2), false),
            ("min_epochs", Some(1), true),
            ("sample", Some(1), false),
            ("seed", None, false),
            ("stratify", None, false),
        ],
    ),
    (
        "race",
        &[
            ("confidence", None, false),
            ("rope", None, false),
            ("min_folds", Some(2), false),
            ("max_repeats", Some(1), false),
            ("budget", None, false),
            ("prefer", None, false),
            ("sample", Some(1), false),
            ("seed", None, false),
            ("stratify", None, false),
        ],
    ),
];

/// Checks a spec's `search` section as written, before it is read into a [`Search`],
/// so that a mistake is named by its key and what was expected (`factor: expected an
/// integer ≥ 2, got 1.5`) rather than by a parser's type names. Err: (key, message).
pub fn check_json(v: &serde_json::Value) -> Result<(), (String, String)> {
    let Some(obj) = v.as_object() else {
        return Err((
            String::new(),
            format!("expected an object such as {{\"strategy\": \"random\", \"n\": 50}}, got {v}"),
        ));
    };
    let names: Vec<&str> = STRATEGY_KEYS.iter().map(|(n, _)| *n).collect();
    let strategy = match obj.get("strategy") {
        None => {
            return Err((
                "strategy".into(),
                format!("missing: one of {}", names.join(", ")),
            ))
        }
        Some(serde_json::Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err((
                "strategy".into(),
                format!("expected one of {}, got {other}", names.join(", ")),
            ))
        }
    };
    let Some((_, keys)) = STRATEGY_KEYS.iter().find(|(n, _)| *n == strategy) else {
        return Err((
            "strategy".into(),
            format!("expected one of {}, got \"{strategy}\"", names.join(", ")),
        ));
    };
    for (k, value) in obj.iter().filter(|(k, _)| k.as_str() != "strategy") {
        let Some((_, least, _)) = keys.iter().find(|(name, ..)| name == k) else {
            let takes: Vec<&str> = keys.iter().map(|(n, ..)| *n).collect();
            return Err((
                k.clone(),
                if takes.is_empty() {
                    format!("strategy {strategy} takes no other key")
                } else {
                    format!(
                        "not a key of strategy {strategy} (it takes {})",
                        takes.join(", ")
                    )
                },
            ));
        };
        if let Some((_, expected)) = OTHER_KEYS.iter().find(|(name, _)| name == k) {
            // A budget object's own keys are named, as the search's are.
            if let (true, Some(o)) = (k == "budget", value.as_object()) {
                if let Some(bad) = o.keys().find(|key| *key != "fold_fits") {
                    return Err((
                        k.clone(),
                        format!("`{bad}` is not a key of a budget object (it takes fold_fits: {{\"fold_fits\": N}}); expected {expected}, got {value}"),
                    ));
                }
            }
            let fits = match k.as_str() {
                "stratify" => value.is_boolean(),
                "confidence" => value.as_f64().is_some_and(|p| p > 0.5 && p < 1.0),
                "rope" => value.as_f64().is_some_and(|r| r >= 0.0 && r.is_finite()),
                "budget" => serde_json::from_value::<crate::race::Budget>(value.clone())
                    .is_ok_and(|b| b.check().is_ok()),
                _ => value
                    .as_str()
                    .is_some_and(|p| ["score", "smallest", "fastest"].contains(&p)),
            };
            if !fits {
                return Err((k.clone(), format!("expected {expected}, got {value}")));
            }
            continue;
        }
        let least = least.unwrap_or(0);
        let fits = match value.as_u64() {
            Some(n) => n >= least && (*k == "seed" || n <= u32::MAX as u64),
            None => false,
        };
        if !fits {
            return Err((
                k.clone(),
                format!("expected an integer ≥ {least}, got {value}"),
            ));
        }
    }
    for (k, _, required) in keys.iter() {
        if *required && !obj.contains_key(*k) {
            let what = match *k {
                "n" => "how many distinct trainings to draw",
                _ => "the epochs of the first rung",
            };
            return Err((
                k.to_string(),
                format!("missing: {what} (strategy {strategy})"),
            ));
        }
    }
    Ok(())
}

impl Search {
    /// Checks the numbers; the message names the key.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Search::Grid => Ok(()),
            Search::Random { n: 0, .. } => Err("n: expected at least 1".into()),
            Search::Random { .. } => Ok(()),
            Search::Halving { factor, .. } | Search::Hyperband { factor, .. } if factor < 2 => {
                Err(format!("factor: {factor}: expected at least 2"))
            }
            Search::Halving { min_epochs: 0, .. } | Search::Hyperband { min_epochs: 0, .. } => {
                Err("min_epochs: expected at least 1".into())
            }
            Search::Halving {
                sample: Some(0), ..
            }
            | Search::Hyperband {
                sample: Some(0), ..
            } => Err("sample: expected at least 1".into()),
            Search::Halving { .. } | Search::Hyperband { .. } => Ok(()),
            Search::Race { confidence, .. } if !(confidence > 0.5 && confidence < 1.0) => Err(
                format!("confidence: {confidence}: expected a probability in (0.5, 1)"),
            ),
            Search::Race { rope, .. } if !(rope >= 0.0 && rope.is_finite()) => {
                Err(format!("rope: {rope}: expected a score difference ≥ 0"))
            }
            Search::Race { min_folds, .. } if min_folds < 2 => Err(format!(
                "min_folds: {min_folds}: expected at least 2 (a paired test needs two folds)"
            )),
            Search::Race {
                max_repeats: Some(0),
                ..
            } => Err("max_repeats: expected at least 1".into()),
            Search::Race {
                sample: Some(0), ..
            } => Err("sample: expected at least 1".into()),
            Search::Race {
                budget: Some(b), ..
            } => b.check().map_err(|m| format!("budget: {m}")),
            Search::Race { .. } => Ok(()),
        }
    }

    /// The trainings the search draws from the grid, where it draws a sample.
    pub fn sample_size(&self) -> Option<usize> {
        match *self {
            Search::Grid => None,
            Search::Random { n, .. } => Some(n),
            Search::Halving { sample, .. }
            | Search::Hyperband { sample, .. }
            | Search::Race { sample, .. } => sample,
        }
    }

    /// Racing's settings, for a race.
    pub fn race(&self) -> Option<crate::race::Race> {
        match *self {
            Search::Race {
                confidence,
                rope,
                min_folds,
                max_repeats,
                budget,
                prefer,
                ..
            } => Some(crate::race::Race {
                ties: crate::tieset::Settings {
                    confidence,
                    rope,
                    prefer,
                },
                min_folds,
                max_repeats,
                budget,
            }),
            _ => None,
        }
    }

    /// Successive halving's factor and first rung (also Hyperband's ladder).
    pub fn halving(&self) -> Option<Halving> {
        match *self {
            Search::Halving {
                factor, min_epochs, ..
            }
            | Search::Hyperband {
                factor, min_epochs, ..
            } => Some(Halving { factor, min_epochs }),
            _ => None,
        }
    }

    /// A staged search's brackets over a grid whose largest configured epochs are
    /// `max_epochs`, with the trainings each is meant to have: halving is one bracket
    /// (of every selected training), hyperband the paper's; empty for grid and random.
    pub fn brackets(&self, max_epochs: u32) -> Vec<(Halving, usize)> {
        match *self {
            Search::Halving {
                factor, min_epochs, ..
            } => vec![(Halving { factor, min_epochs }, usize::MAX)],
            Search::Hyperband {
                factor, min_epochs, ..
            } => hyperband(factor, min_epochs, max_epochs),
            _ => Vec::new(),
        }
    }

    /// The bracket of each of `selected` (as [`Search::select`] gives them, in draw
    /// order), for a grid whose largest configured epochs are `max_epochs`.
    pub fn assign(&self, selected: &[Config], max_epochs: u32) -> Vec<usize> {
        match self {
            Search::Hyperband { .. } => deal(
                &self
                    .brackets(max_epochs)
                    .iter()
                    .map(|b| b.1)
                    .collect::<Vec<_>>(),
                selected.len(),
            ),
            _ => vec![0; selected.len()],
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Search::Grid => "grid",
            Search::Random { .. } => "random",
            Search::Halving { .. } => "halving",
            Search::Hyperband { .. } => "hyperband",
            Search::Race { .. } => "race",
        }
    }

    /// The configurations the sweep trains, out of the expanded grid's (in grid order
    /// for grid and halving, in draw order for a sample and for hyperband). `subgrids`
    /// holds the sub-grid that first produced each of `configs` ([`Expansion::subgrid`]),
    /// which a stratified draw shares the sample by.
    ///
    /// [`Expansion::subgrid`]: crate::spec::Expansion::subgrid
    pub fn select(&self, configs: &[Config], subgrids: &[usize], spec_seed: u64) -> Vec<Config> {
        let draw = |n: usize, seed: Option<u64>, stratify: bool| {
            sample_stratified(
                configs,
                if stratify { subgrids } else { &[] },
                n,
                seed.unwrap_or(spec_seed),
            )
        };
        match *self {
            Search::Grid
            | Search::Halving { sample: None, .. }
            | Search::Race { sample: None, .. } => configs.to_vec(),
            Search::Random { n, seed, stratify }
            | Search::Halving {
                sample: Some(n),
                seed,
                stratify,
                ..
            }
            | Search::Race {
                sample: Some(n),
                seed,
                stratify,
                ..
            } => draw(n, seed, stratify),
            Search::Hyperband {
                sample: n,
                seed,
                stratify,
                ..
            } => {
                let n = n.unwrap_or_else(|| {
                    self.brackets(max_epochs(configs)).iter().map(|b| b.1).sum()
                });
                draw(n, seed, stratify)
            }
        }
    }
}

/// `n` distinct trainings of `configs` drawn in proportion to the strata (`strata[i]`
/// is the stratum of `configs[i]`, 0 where `strata` is shorter; a training's stratum is
/// that of its first row): each stratum's trainings in one seeded permutation, and
/// each next draw from the stratum furthest below its share of the draws so far. So every prefix of the draw holds each
/// stratum within about one training of its share (unlike [`deal`]'s D'Hondt, which
/// favours the largest), the draw is prefix-stable in `n`, and `n` = all trainings
/// takes them all. A plain [`sample`] of a union of unequal sub-grids can
/// miss a small one; this cannot.
pub fn sample_stratified(configs: &[Config], strata: &[usize], n: usize, seed: u64) -> Vec<Config> {
    let mut seen = HashSet::new();
    let mut members: Vec<Vec<&Config>> = Vec::new();
    for (i, c) in configs.iter().enumerate() {
        if seen.insert(c.training_key.as_str()) {
            let s = strata.get(i).copied().unwrap_or(0);
            if members.len() <= s {
                members.resize_with(s + 1, Vec::new);
            }
            members[s].push(c);
        }
    }
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    for m in members.iter_mut() {
        m.shuffle(&mut rng);
    }
    let sizes: Vec<i128> = members.iter().map(|m| m.len() as i128).collect();
    let total: i128 = sizes.iter().sum();
    let mut taken = vec![0i128; sizes.len()];
    (0..n.min(total as usize) as i128)
        .map(|k| {
            // The stratum furthest below its share of k + 1 draws, (k+1)·size/total −
            // taken, times total to stay in integers; ties to the earlier one. The
            // deficits sum to one draw, so the one picked is > 0 behind and a full
            // stratum (deficit ≤ 0) is never picked.
            let deficit = |s: usize| (k + 1) * sizes[s] - taken[s] * total;
            let s = (1..sizes.len()).fold(
                0,
                |best, s| if deficit(s) > deficit(best) { s } else { best },
            );
            taken[s] += 1;
            members[s][taken[s] as usize - 1].clone()
        })
        .collect()
}

/// `n` distinct trainings of `configs` (the first row of each), the first `n` of one
/// seeded permutation: prefix-stable in `n`. (One stratum of [`sample_stratified`]:
/// its shuffle of the distinct trainings is this permutation.)
pub fn sample(configs: &[Config], n: usize, seed: u64) -> Vec<Config> {
    sample_stratified(configs, &[], n, seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::HyperParams;

    fn grid(n: usize) -> Vec<Config> {
        (0..n)
            .map(|i| {
                Config::new(HyperParams {
                    learning_rate: 1e-4 * (i + 1) as f64,
                    ..HyperParams::default()
                })
            })
            .collect()
    }

    #[test]
    fn budgets_grow_by_the_factor_up_to_the_epochs() {
        let h = Halving {
            factor: 3,
            min_epochs: 5,
        };
        let b: Vec<u32> = (0..5).map(|r| h.budget(r, 60)).collect();
        assert_eq!(b, vec![5, 15, 45, 60, 60]);
        assert_eq!(h.budget(0, 3), 3);
        assert_eq!(h.survivors(120), 40);
        assert_eq!(h.survivors(40), 14);
        assert_eq!(h.survivors(1), 1);
        assert_eq!(
            Halving {
                factor: 1000,
                min_epochs: 1000
            }
            .budget(40, 60),
            60
        );
        assert_eq!(
            h.rungs(120, 60),
            vec![(120, 5), (40, 15), (14, 45), (5, 60)]
        );
        assert_eq!(h.fold_epochs(120, 60), 120 * 5 + 40 * 10 + 14 * 30 + 5 * 15);
    }

    #[test]
    fn promotion_keeps_the_best_by_score_then_position() {
        let h = Halving {
            factor: 2,
            min_epochs: 1,
        };
        let e = |id: &str, position, score| RungEntry {
            config_id: id.into(),
            position,
            score,
        };
        let entries = [
            e("a", 0, Some(0.3)),
            e("b", 1, Some(0.5)),
            e("c", 2, Some(0.5)),
            e("d", 3, None),
            e("f", 4, Some(f64::NAN)),
        ];
        // ⌈5/2⌉ = 3 places; only three have a score; b before c by position.
        let kept = promoted(&h, &entries);
        assert_eq!(
            kept,
            ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
        );
        let kept = promoted(
            &Halving {
                factor: 3,
                min_epochs: 1,
            },
            &entries,
        );
        assert_eq!(kept, ["b", "c"].iter().map(|s| s.to_string()).collect());
    }

    #[test]
    fn a_rung_plan_promotes_the_best_and_refuses_unreadable_rows() {
        let h = Halving {
            factor: 2,
            min_epochs: 5,
        };
        let c = |id: &str, position, score: Option<f64>, resource: Option<i64>, epochs: u32| {
            RungCandidate {
                config_id: id.into(),
                position,
                params_json: format!(r#"{{"epochs": {epochs}}}"#),
                scored: score.is_some(),
                score,
                mean_val_accuracy: score,
                resource_epochs: resource,
                holds_state: resource.is_some(),
            }
        };
        // Rung 0 of 5-epoch budgets: ⌈3/2⌉ go on, to 10 epochs (or b's own 8); the one
        // without a score (a failed fold) never does.
        let plan = plan_rung(
            &h,
            0,
            &[
                c("a", 0, Some(0.4), Some(5), 40),
                c("b", 1, Some(0.6), Some(5), 8),
                c("f", 2, None, Some(5), 40),
            ],
        )
        .unwrap();
        assert!(!plan.last);
        assert_eq!(
            plan.decisions,
            vec![
                RungDecision {
                    epochs: 5,
                    next_budget: Some(10)
                },
                RungDecision {
                    epochs: 5,
                    next_budget: Some(8)
                },
                RungDecision {
                    epochs: 5,
                    next_budget: None
                },
            ]
        );
        // Every one complete: the last rung, nothing goes on; a complete one's rung
        // score is of the rung's budget for its epochs.
        let plan = plan_rung(&h, 1, &[c("a", 0, Some(0.4), None, 8)]).unwrap();
        assert!(plan.last);
        assert_eq!(
            plan.decisions,
            vec![RungDecision {
                epochs: 8,
                next_budget: None
            }]
        );
        // A stored row that cannot be read is an error, not a budget of 0.
        let mut bad = c("x", 0, Some(0.5), Some(5), 40);
        bad.params_json = r#"{"epochs": "many"}"#.into();
        assert!(plan_rung(&h, 0, &[bad])
            .unwrap_err()
            .contains("configuration x"));
    }

    #[test]
    fn random_samples_are_reproducible_and_prefix_stable() {
        let g = grid(50);
        let ids = |v: Vec<Config>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
        let ten = ids(sample(&g, 10, 1));
        assert_eq!(ten, ids(sample(&g, 10, 1)));
        let twenty = ids(sample(&g, 20, 1));
        assert_eq!(&twenty[..10], &ten[..]);
        assert_ne!(ten, ids(sample(&g, 10, 2)));
        assert_eq!(ids(sample(&g, 500, 1)).len(), 50);
        let distinct: HashSet<_> = twenty.iter().collect();
        assert_eq!(distinct.len(), 20);
    }

    #[test]
    fn stratified_samples_keep_each_subgrid_in_proportion() {
        // Sub-grids of 60, 30 and 10 trainings, the small one last (as the study's C).
        let g = grid(100);
        let strata: Vec<usize> = (0..100)
            .map(|i| {
                if i < 60 {
                    0
                } else if i < 90 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let stratum = |c: &Config| strata[g.iter().position(|x| x.id == c.id).unwrap()];
        let count = |v: &[Config]| {
            (0..3)
                .map(|s| v.iter().filter(|c| stratum(c) == s).count())
                .collect::<Vec<_>>()
        };
        let twenty = sample_stratified(&g, &strata, 20, 7);
        assert_eq!(count(&twenty), vec![12, 6, 2]);
        // Every prefix is within one training of its share; the draw is prefix-stable,
        // reproducible, distinct, and seeded.
        let fifty = sample_stratified(&g, &strata, 50, 7);
        assert_eq!(
            fifty[..20].iter().map(|c| &c.id).collect::<Vec<_>>(),
            twenty.iter().map(|c| &c.id).collect::<Vec<_>>()
        );
        for k in 1..=50 {
            for (s, n) in count(&fifty[..k]).into_iter().enumerate() {
                let share = k as f64 * [60.0, 30.0, 10.0][s] / 100.0;
                assert!(
                    (n as f64 - share).abs() <= 1.0,
                    "prefix {k}, stratum {s}: {n} for a share of {share}"
                );
            }
        }
        assert_eq!(
            fifty.iter().map(|c| &c.id).collect::<HashSet<_>>().len(),
            50
        );
        assert_ne!(
            twenty.iter().map(|c| &c.id).collect::<Vec<_>>(),
            sample_stratified(&g, &strata, 20, 8)
                .iter()
                .map(|c| &c.id)
                .collect::<Vec<_>>()
        );
        // The whole grid, and beyond, is every training once.
        assert_eq!(
            count(&sample_stratified(&g, &strata, 500, 7)),
            vec![60, 30, 10]
        );
        // Through the strategy: "stratify" draws so, and reads from JSON.
        let s: Search = serde_json::from_str(r#"{"strategy": "halving", "min_epochs": 5, "sample": 20, "seed": 7, "stratify": true}"#).unwrap();
        assert_eq!(count(&s.select(&g, &strata, 0)), vec![12, 6, 2]);
        assert!(
            check_json(&serde_json::json!({"strategy": "random", "n": 3, "stratify": 1}))
                .unwrap_err()
                .1
                .contains("true or false")
        );
    }

    #[test]
    fn search_sections_parse_and_check() {
        let s: Search =
            serde_json::from_str(r#"{"strategy": "halving", "min_epochs": 5}"#).unwrap();
        assert_eq!(
            s,
            Search::Halving {
                factor: 3,
                min_epochs: 5,
                sample: None,
                seed: None,
                stratify: false
            }
        );
        let s: Search =
            serde_json::from_str(r#"{"strategy": "random", "n": 200, "seed": 1}"#).unwrap();
        assert_eq!(
            s,
            Search::Random {
                n: 200,
                seed: Some(1),
                stratify: false
            }
        );
        assert!(serde_json::from_str::<Search>(r#"{"strategy": "bayes"}"#).is_err());
        assert!(
            serde_json::from_str::<Search>(r#"{"strategy": "random", "n": 3, "m": 1}"#).is_err()
        );
        assert!(Search::Halving {
            factor: 1,
            min_epochs: 5,
            sample: None,
            seed: None,
            stratify: false
        }
        .check()
        .unwrap_err()
        .contains("factor"));
    }

    #[test]
    fn hyperband_brackets_are_the_papers() {
        // Ladder 5, 15, 45, 60: s_max = 3; n_s = ⌈4/(s+1)·3^s⌉ = 27, 12, 6, 4.
        let b = hyperband(3, 5, 60);
        assert_eq!(
            b.iter()
                .map(|(h, n)| (h.min_epochs, *n))
                .collect::<Vec<_>>(),
            vec![(5, 27), (15, 12), (45, 6), (60, 4)]
        );
        // Each bracket climbs the same ladder from its start.
        assert_eq!(b[1].0.rungs(12, 60), vec![(12, 15), (4, 45), (2, 60)]);
        // R = 81 = 3^4: the paper's own table (n = 81, 34, 15, 8, 5).
        let b = hyperband(3, 1, 81);
        assert_eq!(
            b.iter()
                .map(|(h, n)| (h.min_epochs, *n))
                .collect::<Vec<_>>(),
            vec![(1, 81), (3, 34), (9, 15), (27, 8), (81, 5)]
        );
        assert_eq!(hyperband(3, 5, 5).len(), 1);
    }

    #[test]
    fn dealing_is_exact_proportional_and_prefix_stable() {
        let sizes = [27, 12, 6, 4];
        let all = deal(&sizes, 49);
        for (b, &n) in sizes.iter().enumerate() {
            assert_eq!(all.iter().filter(|&&x| x == b).count(), n, "bracket {b}");
        }
        // Prefix-stable: a smaller sample deals its items alike.
        assert_eq!(deal(&sizes, 20), all[..20]);
        // A sample beyond Σ n_s goes on in proportion.
        let twice = deal(&sizes, 98);
        assert_eq!(&twice[..49], &all[..]);
        assert_eq!(twice.iter().filter(|&&x| x == 0).count(), 54);
        // The largest bracket first, the others as their shares come due.
        assert_eq!(&all[..7], &[0, 0, 1, 0, 0, 1, 2]);
    }

    #[test]
    fn hyperband_draws_reproducibly_without_overlap() {
        let g: Vec<Config> = (0..200)
            .map(|i| {
                Config::new(HyperParams {
                    learning_rate: 1e-5 * (i + 1) as f64,
                    epochs: 9,
                    ..HyperParams::default()
                })
            })
            .collect();
        let s = Search::Hyperband {
            factor: 3,
            min_epochs: 1,
            sample: None,
            seed: Some(4),
            stratify: false,
        };
        // Ladder 1, 3, 9: n = 9, 5, 3.
        let picked = s.select(&g, &[], 0);
        assert_eq!(picked.len(), 17);
        assert_eq!(
            picked.iter().map(|c| &c.id).collect::<HashSet<_>>().len(),
            17
        );
        assert_eq!(
            picked.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
            s.select(&g, &[], 0)
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        );
        let brackets = s.assign(&picked, max_epochs(&g));
        assert_eq!(
            (0..3)
                .map(|b| brackets.iter().filter(|&&x| x == b).count())
                .collect::<Vec<_>>(),
            vec![9, 5, 3]
        );
        // A larger sample keeps the first draws and their brackets.
        let more = Search::Hyperband {
            factor: 3,
            min_epochs: 1,
            sample: Some(40),
            seed: Some(4),
            stratify: false,
        };
        let picked40 = more.select(&g, &[], 0);
        assert_eq!(
            picked40[..17].iter().map(|c| &c.id).collect::<Vec<_>>(),
            picked.iter().map(|c| &c.id).collect::<Vec<_>>()
        );
        assert_eq!(more.assign(&picked40, 9)[..17], brackets[..]);
        // The whole grid when it is smaller than Σ n_s.
        assert_eq!(s.select(&g[..10], &[], 0).len(), 10);
        let h: Search =
            serde_json::from_str(r#"{"strategy": "hyperband", "min_epochs": 5}"#).unwrap();
        assert_eq!(
            h,
            Search::Hyperband {
                factor: 3,
                min_epochs: 5,
                sample: None,
                seed: None,
                stratify: false
            }
        );
        assert!(
            check_json(&serde_json::json!({"strategy": "hyperband", "factor": 1, "min_epochs": 5}))
                .unwrap_err()
                .0
                == "factor"
        );
    }
}
