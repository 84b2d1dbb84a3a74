//! Which configuration wins as the score's weights change.
//!
//! The score ½·(w1·(1 − |Δacc|) + w2·val) ranks like w·(1 − |Δacc|) + (1 − w)·val with
//! w = w1 / (w1 + w2): only the weights' ratio matters. Each configuration is a line in
//! w, the winner at w is the top of the lines' upper envelope, so the winners over
//! w ∈ [0, 1] are a sequence of intervals found exactly (no sampling of w): from the
//! best validation accuracy at w = 0 to the smallest |Δacc| at w = 1, each change of
//! winner where the next steeper line crosses.

use crate::rank::Ranked;
use crate::score::ScoreRule;
use serde::Serialize;

/// A range of w over which one configuration wins.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Interval {
    pub from: f64,
    pub to: f64,
    pub config_id: String,
    /// Its rank under the sweep's own weights.
    pub rank: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sensitivity {
    /// The winners, w ascending; they cover [0, 1].
    pub intervals: Vec<Interval>,
    /// The sweep's own w = w1 / (w1 + w2).
    pub w: f64,
    /// The interval that holds it (its winner is the sweep's rank 1).
    pub current: usize,
    /// How far w can go down and up before another configuration wins.
    pub margin_down: f64,
    pub margin_up: f64,
}

/// w1 for a w, at the sweep's w2 (infinite at w = 1).
pub fn w1_at(w: f64, w2: f64) -> f64 {
    if w >= 1.0 {
        f64::INFINITY
    } else {
        w * w2 / (1.0 - w)
    }
}

/// [`w1_at`] as a table shows it: three decimals, ∞ at w = 1.
pub fn w1_text(w: f64, w2: f64) -> String {
    if w >= 1.0 {
        "∞".to_string()
    } else {
        format!("{:.3}", w1_at(w, w2))
    }
}

/// The winners over w ∈ [0, 1] of the complete configurations `ranked` (ranked by
/// `rule`; ties go to the lower rank, as in the ranking). None without configurations.
pub fn sensitivity(ranked: &[Ranked], rule: &ScoreRule) -> Option<Sensitivity> {
    // Each configuration: value at w = 0 (val) and slope (1 − |Δ|) − val.
    let lines: Vec<(f64, f64)> = ranked
        .iter()
        .map(|r| {
            let v = r.summary.mean_val_accuracy;
            let a = 1.0 - rule.delta(r.summary.mean_train_accuracy, v).abs();
            (v, a - v)
        })
        .collect();
    // The winner just after w0: highest value there, then steepest, then best rank.
    let better = |i: usize, j: usize, w: f64| {
        let (fi, fj) = (lines[i].0 + w * lines[i].1, lines[j].0 + w * lines[j].1);
        fi.total_cmp(&fj)
            .then(lines[i].1.total_cmp(&lines[j].1))
            .then(j.cmp(&i))
            .is_gt()
    };
    let mut current = (0..lines.len()).reduce(|b, i| if better(i, b, 0.0) { i } else { b })?;
    let mut from = 0.0;
    let mut intervals = Vec::new();
    loop {
        let (vc, sc) = lines[current];
        // The first steeper line to cross the current one after `from`.
        let mut next: Option<(f64, usize)> = None;
        for (i, &(v, s)) in lines.iter().enumerate() {
            if s <= sc {
                continue;
            }
            let at = ((vc - v) / (s - sc)).max(from);
            let take = match next {
                None => true,
                Some((w, j)) => at < w || (at == w && better(i, j, at + 1e-12)),
            };
            if take {
                next = Some((at, i));
            }
        }
        match next {
            Some((w, i)) if w < 1.0 => {
                intervals.push(Interval {
                    from,
                    to: w,
                    config_id: ranked[current].config_id.clone(),
                    rank: ranked[current].rank,
                });
                from = w;
                current = i;
            }
            _ => {
                intervals.push(Interval {
                    from,
                    to: 1.0,
                    config_id: ranked[current].config_id.clone(),
                    rank: ranked[current].rank,
                });
                break;
            }
        }
    }
    // Zero-width intervals (several lines crossing at one point) say nothing.
    if intervals.len() > 1 {
        intervals.retain(|i| i.to > i.from);
    }
    let w = rule.w1 / (rule.w1 + rule.w2);
    let current = intervals
        .iter()
        .position(|i| i.config_id == ranked[0].config_id && i.from <= w && w <= i.to)
        .unwrap_or_else(|| {
            intervals
                .iter()
                .position(|i| i.from <= w && w <= i.to)
                .unwrap_or(0)
        });
    let (margin_down, margin_up) = (w - intervals[current].from, intervals[current].to - w);
    Some(Sensitivity {
        intervals,
        w,
        current,
        margin_down,
        margin_up,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::DeltaKind;

    use crate::analyze::test_ranked as ranked;

    #[test]
    fn winners_by_weight_on_a_constructed_case() {
        let rule = ScoreRule {
            delta: DeltaKind::Absolute,
            w1: 0.5,
            w2: 1.0,
        };
        // (train, val): c0 the most accurate and overfit (Δ 0.2), c1 in between (Δ 0.05),
        // c2 the least overfit (Δ 0), c3 dominated by c1.
        let r = ranked(&[(0.9, 0.7), (0.7, 0.65), (0.5, 0.5), (0.75, 0.6)], &rule);
        let s = sensitivity(&r, &rule).unwrap();
        let ids: Vec<&str> = s.intervals.iter().map(|i| i.config_id.as_str()).collect();
        assert_eq!(ids, ["c0", "c1", "c2"]);
        // c0 vs c1: 0.7 + w·(0.8 − 0.7) = 0.65 + w·(0.95 − 0.65) → w = 0.25.
        // c1 vs c2: 0.65 + 0.3w = 0.5 + 0.5w → w = 0.75.
        assert!(
            (s.intervals[0].to - 0.25).abs() < 1e-12 && (s.intervals[1].to - 0.75).abs() < 1e-12,
            "{s:?}"
        );
        assert_eq!((s.intervals[0].from, s.intervals[2].to), (0.0, 1.0));
        // The sweep's w = 1/3 lies in c1's interval, which is rank 1.
        assert_eq!(s.current, 1);
        assert_eq!(s.intervals[1].rank, 1);
        assert!(
            (s.margin_down - (1.0 / 3.0 - 0.25)).abs() < 1e-12
                && (s.margin_up - (0.75 - 1.0 / 3.0)).abs() < 1e-12
        );
        assert!((w1_at(0.25, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn one_configuration_wins_everywhere() {
        let rule = ScoreRule::default();
        let r = ranked(&[(0.7, 0.7), (0.9, 0.6)], &rule);
        let s = sensitivity(&r, &rule).unwrap();
        assert_eq!(
            s.intervals,
            vec![Interval {
                from: 0.0,
                to: 1.0,
                config_id: "c0".into(),
                rank: 1
            }]
        );
        assert!(sensitivity(&[], &rule).is_none());
    }

    #[test]
    fn ties_go_to_the_better_rank() {
        let rule = ScoreRule::default();
        let r = ranked(&[(0.7, 0.6), (0.7, 0.6)], &rule);
        let s = sensitivity(&r, &rule).unwrap();
        assert_eq!(s.intervals.len(), 1);
        assert_eq!(s.intervals[0].config_id, "c0");
    }
}
