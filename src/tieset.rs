//! The tie set: the configurations the folds cannot tell from the best, and a pick among
//! them that says why.
//!
//! A cross-validated grid names one best configuration, but on noisy data most of its
//! lead is noise (the study's own repeats moved from rank 12 to rank 1,251). So every
//! ranking here comes with the set of configurations that are not credibly worse than
//! the leader, and a pick with its reason.
//!
//! **The test.** Each configuration is compared with the leader (rank 1 by the mean
//! score) on the folds both have, fold by fold: a sweep's configurations share its
//! splits, so the differences d = leader − other are paired. With 3 folds one
//! configuration's own differences give a variance with 2 degrees of freedom, far too
//! few to act on; so the variance of the differences is **pooled over every compared
//! configuration** (the sum of their squared deviations over the sum of their degrees of
//! freedom), which assumes that the fold-to-fold noise of a difference is about the same
//! for every pair. It is then corrected for the folds' overlapping training sets by
//! Nadeau & Bengio's factor (1/n + n_test/n_train; n_test/n_train = 1/(k − 1) for
//! k-fold), as `analyze`'s tests are. Following the Bayesian correlated t-test (Benavoli
//! et al. 2017), the posterior of a configuration's mean difference δ is Student t
//! (location d̄, that corrected scale, the pooled degrees of freedom), and with a region
//! of practical equivalence (ROPE, ± `rope` in score):
//! - it is **credibly worse** when P(δ > rope) ≥ `confidence`: it leaves the tie set;
//! - P(δ ≤ rope) is its probability of being the best or practically equivalent to it;
//! - P(|δ| ≤ rope) is its probability of being practically equivalent to the leader.
//!
//! Even with many folds the corrected variance never falls below σ²·n_test/n_train
//! (half the variance of the differences for 3-fold CV): repeats help, but a tie set
//! stays honest about what k-fold cannot separate.
//!
//! **The pick** (`prefer`): `score`, the leader; `smallest`, the tie set's member with
//! the fewest parameters (then the best score); `fastest`, the one with the least mean
//! fit time per fold (then the best score).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// How the pick among ties is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Prefer {
    /// The best mean score (the leader).
    #[default]
    Score,
    /// The fewest parameters, then the score.
    Smallest,
    /// The least mean fit time per fold, then the score.
    Fastest,
}

impl Prefer {
    pub fn name(self) -> &'static str {
        match self {
            Prefer::Score => "score",
            Prefer::Smallest => "smallest",
            Prefer::Fastest => "fastest",
        }
    }
}

/// The test's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The posterior probability at which a configuration counts as credibly worse.
    pub confidence: f64,
    /// The region of practical equivalence: ± this much score.
    pub rope: f64,
    pub prefer: Prefer,
}

/// The defaults: see docs/confidence.md ("The tie set") for how they were chosen.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;
pub const DEFAULT_ROPE: f64 = 0.002;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            confidence: DEFAULT_CONFIDENCE,
            rope: DEFAULT_ROPE,
            prefer: Prefer::Score,
        }
    }
}

/// A configuration as the test sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub config_id: String,
    /// Its rank by the mean score (1 is the leader).
    pub rank: usize,
    pub score: f64,
    /// (fold, score on that fold) for each done fold.
    pub folds: Vec<(i64, f64)>,
    /// Its network's parameter count, when known (for `prefer: smallest`).
    pub parameters: Option<usize>,
    /// Its mean fit seconds per fold, when known (for `prefer: fastest`).
    pub fit_seconds: Option<f64>,
}

/// A configuration against the leader.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub config_id: String,
    pub rank: usize,
    pub score: f64,
    /// Folds compared with the leader's.
    pub folds: usize,
    /// Mean of leader − this one over those folds.
    pub mean_difference: f64,
    /// P(δ ≤ rope): best, or practically equivalent to the best.
    pub p_not_worse: f64,
    /// P(|δ| ≤ rope): practically equivalent to the leader.
    pub p_equivalent: f64,
    /// In the tie set: not credibly worse (P(δ > rope) < confidence).
    pub tied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit_seconds: Option<f64>,
}

/// The tie set of a ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TieSet {
    pub settings: Settings,
    pub leader: String,
    /// Every compared configuration (the leader first), in rank order.
    pub verdicts: Vec<Verdict>,
    /// The members' ids, in rank order.
    pub members: Vec<String>,
    /// The pooled standard deviation of the fold differences, and its degrees of freedom.
    pub pooled_sd: f64,
    pub df: f64,
    /// The pick among the members, and why.
    pub pick: String,
    pub why: String,
}

/// The tie set of `candidates` (ranked, the leader first), on folds of a k-fold CV.
/// None when fewer than two configurations share at least two folds with the leader;
/// a lone configuration with folds (a race's last one) is its own tie set.
pub fn tie_set(candidates: &[Candidate], k: usize, settings: &Settings) -> Option<TieSet> {
    let leader = candidates.first()?;
    // The leader against itself: in the tie set, by definition.
    let leader_verdict = || Verdict {
        config_id: leader.config_id.clone(),
        rank: leader.rank,
        score: leader.score,
        folds: leader.folds.len(),
        mean_difference: 0.0,
        p_not_worse: 1.0,
        p_equivalent: 1.0,
        tied: true,
        parameters: leader.parameters,
        fit_seconds: leader.fit_seconds,
    };
    if candidates.len() == 1 && leader.folds.len() >= 2 {
        let v = leader_verdict();
        return Some(TieSet {
            settings: *settings,
            leader: leader.config_id.clone(),
            members: vec![leader.config_id.clone()],
            pooled_sd: f64::NAN,
            df: 0.0,
            pick: leader.config_id.clone(),
            why: "the only configuration compared".into(),
            verdicts: vec![v],
        });
    }
    // k = 1: the folds are replicates on one split (seeds of a tabular benchmark,
    // imported with `--foreign --cv-folds 1`), whose training sets do not differ: no
    // overlap term.
    let rho = if k == 1 { 0.0 } else { 1.0 / (k - 1) as f64 };
    // Paired differences with the leader, on the folds both have.
    let diffs: Vec<Vec<f64>> = candidates[1..]
        .iter()
        .map(|c| {
            c.folds
                .iter()
                .filter_map(|(f, s)| {
                    leader
                        .folds
                        .iter()
                        .find(|(lf, _)| lf == f)
                        .map(|(_, ls)| ls - s)
                })
                .collect()
        })
        .collect();
    let (mut ss, mut df) = (0.0, 0.0);
    for d in diffs.iter().filter(|d| d.len() >= 2) {
        let m = d.iter().sum::<f64>() / d.len() as f64;
        ss += d.iter().map(|x| (x - m).powi(2)).sum::<f64>();
        df += (d.len() - 1) as f64;
    }
    if df == 0.0 {
        return None;
    }
    let var = ss / df;
    let mut verdicts = vec![leader_verdict()];
    for (c, d) in candidates[1..].iter().zip(&diffs) {
        let n = d.len();
        let mean = if n == 0 {
            f64::NAN
        } else {
            d.iter().sum::<f64>() / n as f64
        };
        let (p_not_worse, p_equivalent) = if n == 0 {
            (f64::NAN, f64::NAN)
        } else {
            posterior(
                mean,
                (var * (1.0 / n as f64 + rho)).sqrt(),
                df,
                settings.rope,
            )
        };
        // Without shared folds nothing can be said: it stays in (honestly undecided).
        let tied = n == 0 || 1.0 - p_not_worse < settings.confidence;
        verdicts.push(Verdict {
            config_id: c.config_id.clone(),
            rank: c.rank,
            score: c.score,
            folds: n,
            mean_difference: mean,
            p_not_worse,
            p_equivalent,
            tied,
            parameters: c.parameters,
            fit_seconds: c.fit_seconds,
        });
    }
    let members: Vec<&Verdict> = verdicts.iter().filter(|v| v.tied).collect();
    let (pick, why) = pick(&members, settings.prefer);
    Some(TieSet {
        settings: *settings,
        leader: leader.config_id.clone(),
        members: members.iter().map(|v| v.config_id.clone()).collect(),
        pooled_sd: var.sqrt(),
        df,
        pick,
        why,
        verdicts,
    })
}

/// (P(δ ≤ rope), P(|δ| ≤ rope)) for δ ~ t(df, mean, scale).
fn posterior(mean: f64, scale: f64, df: f64, rope: f64) -> (f64, f64) {
    // NaN, zero, negative or infinite: no spread to integrate over.
    if scale.is_nan() || scale <= 0.0 || scale.is_infinite() {
        let not_worse = if mean <= rope { 1.0 } else { 0.0 };
        let equivalent = if mean.abs() <= rope { 1.0 } else { 0.0 };
        return (not_worse, equivalent);
    }
    match StudentsT::new(mean, scale, df) {
        Ok(t) => (t.cdf(rope), t.cdf(rope) - t.cdf(-rope)),
        Err(_) => (f64::NAN, f64::NAN),
    }
}

/// The pick among the members (rank order, the leader first) and why.
fn pick(members: &[&Verdict], prefer: Prefer) -> (String, String) {
    let leader = members[0];
    let n = members.len();
    let by = |key: &dyn Fn(&Verdict) -> Option<f64>, what: &str| -> (String, String) {
        let known: Vec<&&Verdict> = members
            .iter()
            .filter(|v| key(v).is_some_and(f64::is_finite))
            .collect();
        match known.iter().min_by(|a, b| key(a).unwrap().total_cmp(&key(b).unwrap()).then(a.rank.cmp(&b.rank))) {
            Some(v) if v.config_id != leader.config_id => (
                v.config_id.clone(),
                format!("{what} of the {n} the folds cannot tell apart (rank {}, {:.4} below the leader's score)", v.rank, leader.score - v.score),
            ),
            Some(v) => (v.config_id.clone(), format!("{what} of the {n} the folds cannot tell apart, and the best score")),
            None => (leader.config_id.clone(), format!("the best score ({what} cannot be told: the data these configurations were trained on is not at hand to count or time them)")),
        }
    };
    match prefer {
        Prefer::Score if n == 1 => (
            leader.config_id.clone(),
            "the best score, credibly better than every other".into(),
        ),
        Prefer::Score => (
            leader.config_id.clone(),
            format!(
                "the best mean score; {} not credibly worse",
                crate::text::count(n - 1, "other is", "others are")
            ),
        ),
        Prefer::Smallest => by(
            &|v: &Verdict| v.parameters.map(|p| p as f64),
            "the fewest parameters",
        ),
        Prefer::Fastest => by(&|v: &Verdict| v.fit_seconds, "the least fit time"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: &str, rank: usize, folds: &[f64], parameters: usize) -> Candidate {
        let score = folds.iter().sum::<f64>() / folds.len() as f64;
        Candidate {
            config_id: id.into(),
            rank,
            score,
            folds: folds
                .iter()
                .enumerate()
                .map(|(i, &s)| (i as i64, s))
                .collect(),
            parameters: Some(parameters),
            fit_seconds: Some(parameters as f64 / 100.0),
        }
    }

    /// A clear winner: everyone else is 0.05 lower on every fold, with fold noise of
    /// about 0.002; with 30 folds the tie set is the leader alone.
    #[test]
    fn a_clear_winner_stands_alone() {
        let noise = |i: usize, c: usize| ((i * 7 + c * 13) % 5) as f64 * 0.001;
        let folds = |base: f64, c: usize| (0..30).map(|i| base + noise(i, c)).collect::<Vec<_>>();
        let mut cands = vec![cand("best", 1, &folds(0.60, 0), 1000)];
        for c in 1..6 {
            cands.push(cand(&format!("c{c}"), c + 1, &folds(0.55, c), 10));
        }
        let t = tie_set(&cands, 3, &Settings::default()).unwrap();
        assert_eq!(t.members, ["best"]);
        assert_eq!(t.pick, "best");
        assert!(
            t.verdicts[1..].iter().all(|v| v.p_not_worse < 1e-6),
            "{:?}",
            t.verdicts
        );
        // Preferring the smallest cannot leave the tie set.
        let s = Settings {
            prefer: Prefer::Smallest,
            ..Settings::default()
        };
        assert_eq!(tie_set(&cands, 3, &s).unwrap().pick, "best");
    }

    /// A true tie: the same fold scores up to noise, in 30 folds; every one is in the set
    /// and practically equivalent, and `smallest` picks the smallest.
    #[test]
    fn a_true_tie_keeps_everyone_and_the_pick_says_why() {
        let folds = |c: usize| {
            (0..30)
                .map(|i| 0.60 + (((i * 31 + c * 17) % 11) as f64 - 5.0) * 0.0004)
                .collect::<Vec<_>>()
        };
        let cands: Vec<Candidate> = (0..5)
            .map(|c| cand(&format!("c{c}"), c + 1, &folds(c), 1000 - c * 100))
            .collect();
        let t = tie_set(&cands, 3, &Settings::default()).unwrap();
        assert_eq!(t.members.len(), 5, "{:?}", t.verdicts);
        assert!(
            t.verdicts.iter().all(|v| v.p_equivalent > 0.5),
            "{:?}",
            t.verdicts
        );
        assert_eq!(t.pick, "c0");
        let s = Settings {
            prefer: Prefer::Smallest,
            ..Settings::default()
        };
        let t = tie_set(&cands, 3, &s).unwrap();
        assert_eq!(t.pick, "c4");
        assert!(t.why.contains("fewest parameters of the 5"), "{}", t.why);
        let f = tie_set(
            &cands,
            3,
            &Settings {
                prefer: Prefer::Fastest,
                ..Settings::default()
            },
        )
        .unwrap();
        assert_eq!(f.pick, "c4");
    }

    /// Three folds decide little: a 0.01 lead with fold noise of 0.01 leaves a tie.
    #[test]
    fn three_folds_decide_little() {
        let cands = vec![
            cand("a", 1, &[0.62, 0.60, 0.61], 1),
            cand("b", 2, &[0.60, 0.61, 0.59], 1),
            cand("c", 3, &[0.50, 0.49, 0.51], 1),
        ];
        let t = tie_set(&cands, 3, &Settings::default()).unwrap();
        assert_eq!(t.members, ["a", "b"]);
        assert!(
            t.verdicts[1].p_not_worse > 0.05 && t.verdicts[1].p_not_worse < 0.5,
            "{:?}",
            t.verdicts[1]
        );
    }

    #[test]
    fn replicates_on_one_split_have_no_overlap_correction() {
        // k = 1 (seeds of a tabular benchmark): the same differences are more
        // telling than those of a 2-fold CV, whose factor doubles the variance.
        let cands = vec![
            cand("a", 1, &[0.62, 0.61, 0.63, 0.62], 1),
            cand("b", 2, &[0.61, 0.605, 0.615, 0.61], 1),
        ];
        let s = Settings {
            rope: 0.0,
            ..Settings::default()
        };
        let seeds = tie_set(&cands, 1, &s).unwrap();
        let folds = tie_set(&cands, 2, &s).unwrap();
        assert!(
            seeds.verdicts[1].p_not_worse < folds.verdicts[1].p_not_worse,
            "{seeds:?} {folds:?}"
        );
    }

    #[test]
    fn nothing_to_compare() {
        assert!(tie_set(&[], 3, &Settings::default()).is_none());
        assert!(tie_set(&[cand("a", 1, &[0.6], 1)], 3, &Settings::default()).is_none());
        assert!(tie_set(
            &[cand("a", 1, &[0.6], 1), cand("b", 2, &[0.5], 1)],
            3,
            &Settings::default()
        )
        .is_none());
    }

    #[test]
    fn a_lone_configuration_is_its_own_tie_set() {
        // A race's last one left: the tie set is it, and so is the pick.
        let t = tie_set(
            &[cand("a", 1, &[0.6, 0.61, 0.59], 1)],
            3,
            &Settings::default(),
        )
        .unwrap();
        assert_eq!(
            (t.members.clone(), t.pick.as_str(), t.verdicts.len()),
            (vec!["a".to_string()], "a", 1)
        );
    }
}
