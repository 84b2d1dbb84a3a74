//! The study's yardsticks for the dense net: always the most frequent genre, random
//! guessing, k-nearest neighbours and an RBF support vector machine.
//!
//! All of them see the same split and preprocessing as the network: fitted on the
//! training part (49 %), scored on the test part (30 %). They follow scikit-learn's
//! defaults where the study used them:
//! - `KNeighborsClassifier(n_neighbors=12)`: euclidean, uniform votes; scores are the
//!   neighbour fractions (`predict_proba`), ties go to the lower class index.
//! - `SVC()`: RBF kernel, C = 1, gamma = 1 / (n_features · Var(X)) ("scale"),
//!   one-vs-one with majority vote (ties: lower class index), solver tolerance 1e-3.
//!   The binary problems are solved by `linfa-svm` (an SMO solver after libsvm's).
//!   Curve scores are scikit-learn's one-vs-rest `decision_function`: votes plus
//!   the summed pair confidences squashed into (−⅓, ⅓).
//! - Random guessing is uniform over the classes: its report is the *expected* one
//!   (expected confusion matrix, accuracy 1/K), not one random draw.

use crate::metrics::{self, Metrics};
use linfa::prelude::*;
use linfa_svm::Svm;
use ndarray::{Array1, Array2, ArrayView1};
use serde::{Deserialize, Serialize};

/// Features of one part, row-major, with labels.
#[derive(Debug, Clone)]
pub struct Part<'a> {
    pub x: &'a [f64],
    pub y: &'a [usize],
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BaselineOptions {
    /// Neighbours of the KNN classifier (the study: 12).
    pub knn_k: usize,
    /// The SVM's C (scikit-learn's default: 1).
    pub svm_c: f64,
}

impl Default for BaselineOptions {
    fn default() -> Self {
        BaselineOptions {
            knn_k: 12,
            svm_c: 1.0,
        }
    }
}

/// One baseline's test metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Short key: most_frequent, random, knn, svm.
    pub key: String,
    /// For people: "KNN (k = 12)".
    pub label: String,
    pub metrics: Metrics,
    pub fit_seconds: f64,
}

impl Baseline {
    /// Most frequent and random guessing score every row alike: their PR curves are one
    /// point, and the trapezoid PR-AUC means nothing for them.
    pub fn constant_scores(&self) -> bool {
        matches!(self.key.as_str(), "most_frequent" | "random")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("the SVM for classes `{a}` vs `{b}` failed: {message}")]
    Svm {
        a: String,
        b: String,
        message: String,
    },
    #[error("k = {k} neighbours, but the training part has only {rows} rows")]
    TooFewRows { k: usize, rows: usize },
}

/// Predicted labels and per-class scores (row-major, one row per test row).
pub struct Predictions {
    pub labels: Vec<usize>,
    pub scores: Vec<f64>,
}

pub fn most_frequent(train_y: &[usize], n_test: usize, n_classes: usize) -> Predictions {
    let counts = crate::data::counts(train_y, n_classes);
    let best = metrics::argmax_rows(
        &counts.iter().map(|&c| c as f64).collect::<Vec<_>>(),
        n_classes,
    )[0];
    // DummyClassifier(strategy="most_frequent").predict_proba: one-hot on that class.
    let mut row = vec![0.0; n_classes];
    row[best] = 1.0;
    Predictions {
        labels: vec![best; n_test],
        scores: row.repeat(n_test),
    }
}

/// Expected metrics of guessing uniformly at random.
pub fn random_guess(test_y: &[usize], class_names: &[String]) -> Metrics {
    let k = class_names.len();
    let support = crate::data::counts(test_y, k);
    let cm = support
        .iter()
        .map(|&n| vec![n as f64 / k as f64; k])
        .collect();
    let scores = vec![1.0 / k as f64; test_y.len() * k];
    metrics::from_confusion(cm, class_names, test_y, Some(&scores))
}

/// Brute-force k-nearest neighbours, euclidean.
pub fn knn(
    train: &Part,
    test_x: &[f64],
    n_features: usize,
    n_classes: usize,
    k: usize,
) -> Result<Predictions, BaselineError> {
    let rows = train.y.len();
    if k == 0 || k > rows {
        return Err(BaselineError::TooFewRows { k, rows });
    }
    let mut labels = Vec::new();
    let mut scores = Vec::new();
    let mut dist: Vec<(f64, usize)> = Vec::with_capacity(rows);
    for q in test_x.chunks(n_features) {
        dist.clear();
        for (r, p) in train.x.chunks(n_features).enumerate() {
            let d: f64 = q.iter().zip(p).map(|(a, b)| (a - b) * (a - b)).sum();
            dist.push((d, r));
        }
        // Nearest first; equal distances by training row order.
        dist.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut votes = vec![0.0; n_classes];
        for &(_, r) in &dist[..k] {
            votes[train.y[r]] += 1.0;
        }
        labels.push(metrics::argmax_rows(&votes, n_classes)[0]);
        scores.extend(votes.iter().map(|v| v / k as f64));
    }
    Ok(Predictions { labels, scores })
}

/// scikit-learn's gamma = "scale": 1 / (n_features · variance of all training values).
pub fn gamma_scale(x: &[f64], n_features: usize) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    if var > 0.0 {
        1.0 / (n_features as f64 * var)
    } else {
        1.0
    }
}

/// RBF SVM, one-vs-one.
pub fn svm(
    train: &Part,
    test_x: &[f64],
    n_features: usize,
    class_names: &[String],
    c: f64,
) -> Result<Predictions, BaselineError> {
    let k = class_names.len();
    let gamma = gamma_scale(train.x, n_features);
    let test = Array2::from_shape_vec((test_x.len() / n_features, n_features), test_x.to_vec())
        .expect("test rows are whole");
    let n_test = test.nrows();
    let mut votes = vec![0.0; n_test * k];
    let mut confidence = vec![0.0; n_test * k];
    for a in 0..k {
        for b in a + 1..k {
            let rows: Vec<usize> = (0..train.y.len())
                .filter(|&r| train.y[r] == a || train.y[r] == b)
                .collect();
            let mut x = Vec::with_capacity(rows.len() * n_features);
            for &r in &rows {
                x.extend_from_slice(&train.x[r * n_features..(r + 1) * n_features]);
            }
            let x =
                Array2::from_shape_vec((rows.len(), n_features), x).expect("pair rows are whole");
            let y: Array1<bool> = rows.iter().map(|&r| train.y[r] == a).collect();
            let model = Svm::<f64, bool>::params()
                .gaussian_kernel(1.0 / gamma)
                .pos_neg_weights(c, c)
                .eps(1e-3)
                .fit(&Dataset::new(x, y))
                .map_err(|e| BaselineError::Svm {
                    a: class_names[a].clone(),
                    b: class_names[b].clone(),
                    message: e.to_string(),
                })?;
            for (i, row) in test.outer_iter().enumerate() {
                let d = decision(&model, row);
                // libsvm: positive decision votes for the first class of the pair.
                if d > 0.0 {
                    votes[i * k + a] += 1.0;
                } else {
                    votes[i * k + b] += 1.0;
                }
                confidence[i * k + a] += d;
                confidence[i * k + b] -= d;
            }
        }
    }
    let labels = metrics::argmax_rows(&votes, k);
    let scores = votes
        .iter()
        .zip(&confidence)
        .map(|(v, s)| v + s / (3.0 * (s.abs() + 1.0)))
        .collect();
    Ok(Predictions { labels, scores })
}

fn decision(model: &Svm<f64, bool>, row: ArrayView1<f64>) -> f64 {
    model.weighted_sum(&row) - model.rho
}

/// Every baseline on one split: fitted on `train`, scored on `test`.
pub fn run_all(
    train: &Part,
    test: &Part,
    n_features: usize,
    class_names: &[String],
    opts: BaselineOptions,
) -> Result<Vec<Baseline>, BaselineError> {
    let k = class_names.len();
    let timed = |key: &str, label: String, f: &dyn Fn() -> Result<Metrics, BaselineError>| {
        let t = std::time::Instant::now();
        let metrics = f()?;
        Ok::<_, BaselineError>(Baseline {
            key: key.into(),
            label,
            metrics,
            fit_seconds: t.elapsed().as_secs_f64(),
        })
    };
    let scored =
        |p: Predictions| metrics::evaluate(test.y, &p.labels, Some(&p.scores), class_names);
    Ok(vec![
        timed("svm", format!("SVM (RBF, C = {})", opts.svm_c), &|| {
            Ok(scored(svm(
                train,
                test.x,
                n_features,
                class_names,
                opts.svm_c,
            )?))
        })?,
        timed("knn", format!("KNN (k = {})", opts.knn_k), &|| {
            Ok(scored(knn(train, test.x, n_features, k, opts.knn_k)?))
        })?,
        timed("most_frequent", "most frequent".into(), &|| {
            Ok(scored(most_frequent(train.y, test.y.len(), k)))
        })?,
        timed("random", "random guess".into(), &|| {
            Ok(random_guess(test.y, class_names))
        })?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two features, three classes around (0,0), (2,0), (0,2), with a small
    /// deterministic jitter; shared with tests/reference/baselines_reference.py.
    fn blobs() -> (Vec<f64>, Vec<usize>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..30 {
            let c = i % 3;
            let (cx, cy) = [(0.0, 0.0), (2.0, 0.0), (0.0, 2.0)][c];
            let jx = ((i * 7 % 11) as f64 - 5.0) / 4.0;
            let jy = ((i * 5 % 13) as f64 - 6.0) / 4.0;
            x.extend([cx + jx, cy + jy]);
            y.push(c);
        }
        (x, y)
    }

    const QUERIES: [f64; 10] = [0.1, 0.2, 1.9, -0.3, -0.2, 2.2, 1.0, 1.0, 0.9, 0.1];

    #[test]
    fn knn_matches_sklearn() {
        let (x, y) = blobs();
        let p = knn(&Part { x: &x, y: &y }, &QUERIES, 2, 3, 5).unwrap();
        // KNeighborsClassifier(5).predict / predict_proba
        assert_eq!(p.labels, vec![0, 1, 2, 0, 0]);
        let expected_row4 = [0.6, 0.4, 0.0];
        for (c, want) in expected_row4.iter().enumerate() {
            assert!((p.scores[4 * 3 + c] - want).abs() < 1e-12);
        }
    }

    #[test]
    fn svm_matches_sklearn() {
        let (x, y) = blobs();
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert!((gamma_scale(&x, 2) - 0.30600860649205763).abs() < 1e-12);
        let p = svm(&Part { x: &x, y: &y }, &QUERIES, 2, &names, 1.0).unwrap();
        // SVC().predict and decision_function (ovr shape), scikit-learn 1.7
        assert_eq!(p.labels, vec![0, 1, 2, 2, 0]);
        let expected = [
            2.2186, -0.1973, 0.8956, 0.9435, 2.2279, -0.2206, 0.9264, -0.2272, 2.236, 1.0436,
            -0.0732, 2.0386, 2.183, 1.0744, -0.2002,
        ];
        for (i, e) in expected.iter().enumerate() {
            assert!(
                (p.scores[i] - e).abs() < 2e-3,
                "score {i}: {} vs {e}",
                p.scores[i]
            );
        }
    }

    #[test]
    fn most_frequent_and_random() {
        let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let p = most_frequent(&[1, 1, 0], 4, 2);
        assert_eq!(p.labels, vec![1; 4]);
        let m = random_guess(&[0, 0, 0, 1], &names);
        assert!((m.accuracy - 0.5).abs() < 1e-12);
    }
}
