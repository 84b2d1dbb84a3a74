//! The study's weighted score and a configuration's summary over its folds.
//!
//! Kept apart from cross-validation itself: the score rule is what a spec, the store,
//! the ranking, the exports and the report share, and none of them needs the data or
//! the training to use it.

use crate::fold::FoldResult;
use serde::Serialize;

/// Default weights of the study's score.
pub const W1: f64 = 0.5;
pub const W2: f64 = 1.0;

/// How Δacc is measured. The study's `HPO_combined.csv` holds the relative one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeltaKind {
    /// Δacc = mean_train − mean_val.
    #[default]
    Absolute,
    /// Δacc = (mean_train − mean_val) / mean_val, as the study's file and ranking code.
    Relative,
}

impl DeltaKind {
    pub fn name(self) -> &'static str {
        match self {
            DeltaKind::Absolute => "absolute",
            DeltaKind::Relative => "relative",
        }
    }
}

fn default_w1() -> f64 {
    W1
}

fn default_w2() -> f64 {
    W2
}

/// The study's weighted score: `score = ½·(w1·(1 − |Δacc|) + w2·acc_val)`, with the
/// absolute value of Δacc as the study's ranking code took it (a model that scores
/// better on validation than on training is no better for it). A spec's `score`
/// section; ranking recomputes it from the stored means, so other weights need no
/// retraining.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRule {
    #[serde(default)]
    pub delta: DeltaKind,
    #[serde(default = "default_w1")]
    pub w1: f64,
    #[serde(default = "default_w2")]
    pub w2: f64,
}

impl Default for ScoreRule {
    fn default() -> Self {
        ScoreRule {
            delta: DeltaKind::Absolute,
            w1: W1,
            w2: W2,
        }
    }
}

impl ScoreRule {
    pub fn delta(&self, mean_train: f64, mean_val: f64) -> f64 {
        match self.delta {
            DeltaKind::Absolute => mean_train - mean_val,
            DeltaKind::Relative => (mean_train - mean_val) / mean_val,
        }
    }

    pub fn score(&self, mean_train: f64, mean_val: f64) -> f64 {
        0.5 * (self.w1 * (1.0 - self.delta(mean_train, mean_val).abs()) + self.w2 * mean_val)
    }

    /// This rule with the given command-line overrides.
    pub fn overridden(self, w1: Option<f64>, w2: Option<f64>, delta: Option<DeltaKind>) -> Self {
        ScoreRule {
            delta: delta.unwrap_or(self.delta),
            w1: w1.unwrap_or(self.w1),
            w2: w2.unwrap_or(self.w2),
        }
    }

    /// One line for headers and reports.
    pub fn describe(&self) -> String {
        let delta = match self.delta {
            DeltaKind::Absolute => "Δacc = train − val",
            DeltaKind::Relative => "Δacc = (train − val) / val",
        };
        format!(
            "score = ½·(w1·(1 − |Δacc|) + w2·val acc), {delta}, w1 = {}, w2 = {}",
            self.w1, self.w2
        )
    }

    /// Finite, non-negative weights, not both zero.
    pub fn check(&self) -> Result<(), String> {
        for (k, w) in [("w1", self.w1), ("w2", self.w2)] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("{k} = {w}: expected a finite number ≥ 0"));
            }
        }
        if self.w1 == 0.0 && self.w2 == 0.0 {
            return Err("w1 and w2 are both 0: every configuration would score 0".into());
        }
        Ok(())
    }
}

impl DeltaKind {
    /// From its name, as the command line and specs write it.
    pub fn parse(s: &str) -> Option<DeltaKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "absolute" => Some(DeltaKind::Absolute),
            "relative" => Some(DeltaKind::Relative),
            _ => None,
        }
    }
}

/// Mean and population standard deviation (numpy's default, as GridSearchCV reports).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Spearman's ρ (Pearson on average ranks); None with fewer than 3 pairs or no spread.
pub fn spearman(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.len() < 3 {
        return None;
    }
    let ranks = |xs: Vec<f64>| {
        let mut idx: Vec<usize> = (0..xs.len()).collect();
        idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
        let mut r = vec![0.0; xs.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
                j += 1;
            }
            for &k in &idx[i..=j] {
                r[k] = (i + j) as f64 / 2.0;
            }
            i = j + 1;
        }
        r
    };
    let a = ranks(pairs.iter().map(|p| p.0).collect());
    let b = ranks(pairs.iter().map(|p| p.1).collect());
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

/// A configuration's summary over its folds.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CvSummary {
    pub mean_train_accuracy: f64,
    pub std_train_accuracy: f64,
    pub mean_val_accuracy: f64,
    pub std_val_accuracy: f64,
    pub mean_train_loss: f64,
    pub std_train_loss: f64,
    pub mean_val_loss: f64,
    pub std_val_loss: f64,
    /// Δacc of the score rule's kind: mean_train − mean_val, or that over mean_val.
    pub delta_accuracy: f64,
    pub score: f64,
    pub total_fit_seconds: f64,
}

pub fn summarize(folds: &[FoldResult], rule: &ScoreRule) -> CvSummary {
    let col = |f: fn(&FoldResult) -> f64| mean_std(&folds.iter().map(f).collect::<Vec<_>>());
    let (mean_train_accuracy, std_train_accuracy) = col(|f| f.train_accuracy);
    let (mean_val_accuracy, std_val_accuracy) = col(|f| f.val_accuracy);
    let (mean_train_loss, std_train_loss) = col(|f| f.train_loss);
    let (mean_val_loss, std_val_loss) = col(|f| f.val_loss);
    CvSummary {
        mean_train_accuracy,
        std_train_accuracy,
        mean_val_accuracy,
        std_val_accuracy,
        mean_train_loss,
        std_train_loss,
        mean_val_loss,
        std_val_loss,
        delta_accuracy: rule.delta(mean_train_accuracy, mean_val_accuracy),
        score: rule.score(mean_train_accuracy, mean_val_accuracy),
        total_fit_seconds: folds.iter().map(|f| f.fit_seconds).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ties take their average rank, as in scipy.stats.spearmanr: ([1, 2, 3, 4, 5],
    /// [5, 6, 7, 8, 7]) has ranks [0, 1, 2.5, 4, 2.5] for the second, so ρ = 8/√95; a
    /// perfect inversion is −1.
    #[test]
    fn spearman_is_scipys() {
        let pairs: Vec<(f64, f64)> =
            [(1.0, 5.0), (2.0, 6.0), (3.0, 7.0), (4.0, 8.0), (5.0, 7.0)].to_vec();
        assert!((spearman(&pairs).unwrap() - 8.0 / 95f64.sqrt()).abs() < 1e-12);
        assert_eq!(spearman(&[(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)]), Some(-1.0));
        assert_eq!(spearman(&[(1.0, 3.0), (2.0, 2.0)]), None);
    }

    fn rule(delta: DeltaKind, w1: f64, w2: f64) -> ScoreRule {
        ScoreRule { delta, w1, w2 }
    }

    #[test]
    fn weighted_score_formula() {
        // Δacc = 0.2 → ½·(0.5·0.8 + 1.0·0.6) = 0.5
        let s = rule(DeltaKind::Absolute, 0.5, 1.0).score(0.8, 0.6);
        assert!((s - 0.5).abs() < 1e-12);
        // w2 alone ranks by validation accuracy.
        assert!((rule(DeltaKind::Absolute, 0.0, 2.0).score(0.9, 0.7) - 0.7).abs() < 1e-12);
        // |Δacc|: validation above training is penalised like the reverse.
        let r = ScoreRule::default();
        assert!((r.score(0.6, 0.7) - 0.5 * (0.5 * 0.9 + 0.7)).abs() < 1e-12);
        assert!((r.delta(0.6, 0.7) + 0.1).abs() < 1e-12);
    }

    #[test]
    fn relative_delta_is_the_study_column() {
        // The study's delta_acc = (train − val) / val: 0.74 vs 0.66 → 0.1212…
        let r = rule(DeltaKind::Relative, 0.5, 1.0);
        assert!((r.delta(0.74, 0.66) - 0.08 / 0.66).abs() < 1e-12);
        assert!((r.score(0.74, 0.66) - 0.5 * (0.5 * (1.0 - 0.08 / 0.66) + 0.66)).abs() < 1e-12);
        assert!((r.score(0.60, 0.66) - 0.5 * (0.5 * (1.0 - 0.06 / 0.66) + 0.66)).abs() < 1e-12);
    }

    #[test]
    fn score_section_parses_with_defaults_and_refuses_unknown_keys() {
        let r: ScoreRule = serde_json::from_str(r#"{"delta": "relative"}"#).unwrap();
        assert_eq!(r, rule(DeltaKind::Relative, 0.5, 1.0));
        assert!(serde_json::from_str::<ScoreRule>(r#"{"delta": "ratio"}"#).is_err());
        assert!(serde_json::from_str::<ScoreRule>(r#"{"w3": 1}"#).is_err());
        assert!(rule(DeltaKind::Absolute, -1.0, 1.0).check().is_err());
        assert!(rule(DeltaKind::Absolute, 0.0, 0.0).check().is_err());
    }

    #[test]
    fn population_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        assert!((s - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }
}
