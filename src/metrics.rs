//! Test-set metrics, computed as scikit-learn computes them.
//!
//! The study reported `classification_report`, `confusion_matrix` and per-class
//! precision-recall curves with their area by the trapezoid rule
//! (`auc(recall, precision)` over `precision_recall_curve`'s points, not average
//! precision). Following scikit-learn exactly keeps our figures comparable with the
//! study's; the unit tests check against numbers scikit-learn 1.7 produced
//! (`tests/reference/metrics_reference.py`).
//!
//! Everything starts from a confusion matrix of `f64`, so an *expected* confusion
//! matrix (random guessing) gets the same report as counted predictions.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    pub name: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Average {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// One class's precision-recall curve (one-vs-rest), in scikit-learn's order:
/// recall decreasing, ending at (recall 0, precision 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrCurve {
    pub class: String,
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    /// Area under the curve by the trapezoid rule.
    pub auc: f64,
    /// scikit-learn's `average_precision_score`: Σ (Rₙ − Rₙ₋₁)·Pₙ, a step function with
    /// no interpolation, so a constant score gets the class's share (chance) and not
    /// the trapezoid's (1 + share) / 2. None in evaluations stored before it existed.
    #[serde(default)]
    pub average_precision: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub accuracy: f64,
    pub classes: Vec<ClassReport>,
    pub macro_avg: Average,
    pub weighted_avg: Average,
    /// `confusion[true][predicted]`, counts (expected counts for random guessing).
    pub confusion: Vec<Vec<f64>>,
    /// Each row divided by its sum (the true class's recall profile).
    pub confusion_normalized: Vec<Vec<f64>>,
    pub pr_curves: Vec<PrCurve>,
}

impl Metrics {
    /// Mean average precision over the classes (None when a curve lacks it).
    pub fn macro_average_precision(&self) -> Option<f64> {
        if self.pr_curves.is_empty() {
            return None;
        }
        let ap: Option<Vec<f64>> = self.pr_curves.iter().map(|c| c.average_precision).collect();
        ap.map(|v| v.iter().sum::<f64>() / v.len() as f64)
    }

    pub fn macro_pr_auc(&self) -> f64 {
        if self.pr_curves.is_empty() {
            return f64::NAN;
        }
        self.pr_curves.iter().map(|c| c.auc).sum::<f64>() / self.pr_curves.len() as f64
    }
}

/// `precision / recall`-style ratio with scikit-learn's `zero_division=0`.
fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Vec<Vec<f64>> {
    let mut cm = vec![vec![0.0; n_classes]; n_classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        cm[t][p] += 1.0;
    }
    cm
}

/// Report of a (possibly expected) confusion matrix; `scores` (row-major,
/// `n_classes` per row, aligned with `y_true`) give the PR curves, if any.
pub fn from_confusion(
    cm: Vec<Vec<f64>>,
    class_names: &[String],
    y_true: &[usize],
    scores: Option<&[f64]>,
) -> Metrics {
    let k = class_names.len();
    let total: f64 = cm.iter().flatten().sum();
    let diag: f64 = (0..k).map(|i| cm[i][i]).sum();
    let mut classes = Vec::with_capacity(k);
    for (i, name) in class_names.iter().enumerate() {
        let row: f64 = cm[i].iter().sum();
        let col: f64 = cm.iter().map(|r| r[i]).sum();
        let precision = ratio(cm[i][i], col);
        let recall = ratio(cm[i][i], row);
        classes.push(ClassReport {
            name: name.clone(),
            precision,
            recall,
            f1: ratio(2.0 * precision * recall, precision + recall),
            support: row.round() as usize,
        });
    }
    let avg = |weight: &dyn Fn(&ClassReport) -> f64| {
        let w: f64 = classes.iter().map(weight).sum();
        let mean = |f: &dyn Fn(&ClassReport) -> f64| {
            ratio(classes.iter().map(|c| weight(c) * f(c)).sum::<f64>(), w)
        };
        Average {
            precision: mean(&|c| c.precision),
            recall: mean(&|c| c.recall),
            f1: mean(&|c| c.f1),
        }
    };
    let macro_avg = avg(&|_| 1.0);
    let weighted_avg = avg(&|c| c.support as f64);
    let confusion_normalized = cm
        .iter()
        .map(|r| {
            let s: f64 = r.iter().sum();
            r.iter().map(|v| ratio(*v, s)).collect()
        })
        .collect();
    let pr_curves = match scores {
        Some(s) => (0..k)
            .map(|c| {
                let truth: Vec<bool> = y_true.iter().map(|&t| t == c).collect();
                let col: Vec<f64> = s.iter().skip(c).step_by(k).copied().collect();
                let (precision, recall) = precision_recall_curve(&truth, &col);
                let auc = trapezoid_auc(&recall, &precision);
                let average_precision = Some(average_precision(&recall, &precision));
                PrCurve {
                    class: class_names[c].clone(),
                    precision,
                    recall,
                    auc,
                    average_precision,
                }
            })
            .collect(),
        None => Vec::new(),
    };
    Metrics {
        accuracy: ratio(diag, total),
        classes,
        macro_avg,
        weighted_avg,
        confusion: cm,
        confusion_normalized,
        pr_curves,
    }
}

/// Metrics of predictions: labels, and optional per-class scores for the curves.
pub fn evaluate(
    y_true: &[usize],
    y_pred: &[usize],
    scores: Option<&[f64]>,
    class_names: &[String],
) -> Metrics {
    let cm = confusion_matrix(y_true, y_pred, class_names.len());
    from_confusion(cm, class_names, y_true, scores)
}

/// scikit-learn's `precision_recall_curve(y_true, y_score)` (drop_intermediate=False):
/// one point per distinct score, recall decreasing, plus the final (recall 0,
/// precision 1). Returns (precision, recall).
pub fn precision_recall_curve(y_true: &[bool], scores: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Descending score; NaN last (scikit-learn refuses NaN, we only keep it from panicking).
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut tps = Vec::new();
    let mut fps = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, &r) in order.iter().enumerate() {
        if y_true[r] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_block = i + 1 == order.len() || scores[order[i + 1]] != scores[r];
        if last_of_block {
            tps.push(tp);
            fps.push(fp);
        }
    }
    let positives = tps.last().copied().unwrap_or(0.0);
    let mut precision: Vec<f64> = tps
        .iter()
        .zip(&fps)
        .map(|(t, f)| ratio(*t, t + f))
        .rev()
        .collect();
    let mut recall: Vec<f64> = tps
        .iter()
        .map(|t| if positives > 0.0 { t / positives } else { 1.0 })
        .rev()
        .collect();
    precision.push(1.0);
    recall.push(0.0);
    (precision, recall)
}

/// Area under a curve by the trapezoid rule, for x monotonic in either direction
/// (scikit-learn's `auc`).
pub fn trapezoid_auc(x: &[f64], y: &[f64]) -> f64 {
    let area: f64 = x
        .windows(2)
        .zip(y.windows(2))
        .map(|(xs, ys)| (xs[1] - xs[0]) * (ys[0] + ys[1]) / 2.0)
        .sum();
    area.abs()
}

/// scikit-learn's `average_precision_score` from `precision_recall_curve`'s points
/// (recall decreasing): −Σ (r[i+1] − r[i])·p[i].
pub fn average_precision(recall: &[f64], precision: &[f64]) -> f64 {
    -recall
        .windows(2)
        .zip(precision)
        .map(|(r, p)| (r[1] - r[0]) * p)
        .sum::<f64>()
}

/// Index of the largest value per row (ties: the first), as `argmax`.
pub fn argmax_rows(scores: &[f64], k: usize) -> Vec<usize> {
    scores
        .chunks(k)
        .map(|row| {
            let mut best = 0;
            for (i, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("c{i}")).collect()
    }

    // Inputs and expected values from tests/reference/metrics_reference.py (scikit-learn 1.7).
    const Y_TRUE: [usize; 12] = [0, 1, 2, 2, 1, 0, 2, 1, 1, 0, 2, 2];
    const Y_PRED: [usize; 12] = [0, 2, 2, 1, 1, 0, 2, 1, 0, 2, 2, 2];
    const SCORE_2: [f64; 12] = [0.1, 0.6, 0.8, 0.4, 0.3, 0.1, 0.9, 0.3, 0.2, 0.6, 0.8, 0.7];

    #[test]
    fn classification_report_matches_sklearn() {
        let m = evaluate(&Y_TRUE, &Y_PRED, None, &names(3));
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        close(m.accuracy, 0.6666666666666666);
        let p = [0.6666666666666666, 0.6666666666666666, 0.6666666666666666];
        let r = [0.6666666666666666, 0.5, 0.8];
        let f = [0.6666666666666666, 0.5714285714285714, 0.7272727272727273];
        for i in 0..3 {
            close(m.classes[i].precision, p[i]);
            close(m.classes[i].recall, r[i]);
            close(m.classes[i].f1, f[i]);
        }
        assert_eq!(
            m.classes.iter().map(|c| c.support).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        close(m.macro_avg.f1, 0.6551226551226551);
        close(m.weighted_avg.precision, 0.6666666666666666);
        close(m.weighted_avg.recall, 0.6666666666666666);
        close(m.weighted_avg.f1, 0.6601731601731602);
        assert_eq!(
            m.confusion,
            vec![
                vec![2.0, 0.0, 1.0],
                vec![1.0, 2.0, 1.0],
                vec![0.0, 1.0, 4.0]
            ]
        );
        close(m.confusion_normalized[1][0], 0.25);
    }

    #[test]
    fn precision_recall_curve_matches_sklearn() {
        let truth: Vec<bool> = Y_TRUE.iter().map(|&t| t == 2).collect();
        let (p, r) = precision_recall_curve(&truth, &SCORE_2);
        let ep = [
            0.4166666666666667,
            0.5,
            0.5555555555555556,
            0.7142857142857143,
            0.6666666666666666,
            1.0,
            1.0,
            1.0,
            1.0,
        ];
        let er = [1.0, 1.0, 1.0, 1.0, 0.8, 0.8, 0.6, 0.2, 0.0];
        assert_eq!(p.len(), ep.len());
        for i in 0..ep.len() {
            assert!(
                (p[i] - ep[i]).abs() < 1e-12 && (r[i] - er[i]).abs() < 1e-12,
                "point {i}: {} {}",
                p[i],
                r[i]
            );
        }
        assert!((trapezoid_auc(&r, &p) - 0.9380952380952381).abs() < 1e-12);
        // sklearn.metrics.average_precision_score(y == 2, score_2)
        assert!((average_precision(&r, &p) - 0.9428571428571428).abs() < 1e-12);
        // A constant score: average precision is the class's share, the trapezoid's
        // area (1 + share) / 2.
        let (p, r) = precision_recall_curve(&truth, &[0.5; 12]);
        assert!((average_precision(&r, &p) - 5.0 / 12.0).abs() < 1e-12);
        assert!((trapezoid_auc(&r, &p) - (1.0 + 5.0 / 12.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn expected_confusion_of_uniform_guessing() {
        // 3 classes with supports 3, 4, 5: guessing uniformly gets 1/3 right.
        let cm: Vec<Vec<f64>> = [3.0, 4.0, 5.0].iter().map(|n| vec![n / 3.0; 3]).collect();
        let m = from_confusion(cm, &names(3), &Y_TRUE, None);
        assert!((m.accuracy - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.classes[2].precision - 5.0 / 12.0).abs() < 1e-12);
        assert_eq!(m.classes[1].support, 4);
    }
}
