//! Is the winner really better? Paired comparisons of two configurations on their
//! fold-level scores (the same folds: a sweep's configurations share its splits).
//!
//! The folds of a cross-validation overlap in their training data, so their scores are
//! correlated and the plain paired t-test is overconfident. Both tests here correct the
//! variance by Nadeau & Bengio's factor (1/n + n_test/n_train), as scikit-learn's
//! example "Statistical comparison of models using grid search" does:
//! - the corrected resampled t-test: t = mean / corrected sd, df = n − 1, the one-sided
//!   p-value of "no better";
//! - the Bayesian correlated t-test (Benavoli et al. 2017): the posterior of the mean
//!   difference is Student t (df n − 1, location the mean, scale the corrected sd); the
//!   probability that one is better is its mass above 0.
//!
//! With 3 folds (df 2) these have little power; repeated cross-validation
//! (`cv.repeats`) gives them more folds.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PairedTest {
    /// Folds compared.
    pub n: usize,
    /// Mean of the differences (first − second).
    pub mean: f64,
    /// Their standard deviation, corrected for the folds' overlap.
    pub corrected_std: f64,
    /// The t statistic (None when every difference is the same).
    pub t: Option<f64>,
    /// One-sided p-value of |t| (as scikit-learn's example computes it).
    pub p_value: Option<f64>,
    /// Posterior probability that the first is better (mean difference above 0).
    pub p_first_better: f64,
}

/// The tests on the differences `d` (first − second) of n paired fold scores;
/// `test_over_train` is n_test / n_train of one fold (1 / (k − 1) for k-fold).
/// None for fewer than 2 differences.
pub fn paired(d: &[f64], test_over_train: f64) -> Option<PairedTest> {
    let n = d.len();
    if n < 2 {
        return None;
    }
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let corrected_std = ((1.0 / n as f64 + test_over_train) * var).sqrt();
    let df = (n - 1) as f64;
    if corrected_std == 0.0 || !corrected_std.is_finite() {
        let p = if mean > 0.0 {
            1.0
        } else if mean < 0.0 {
            0.0
        } else {
            0.5
        };
        return Some(PairedTest {
            n,
            mean,
            corrected_std,
            t: None,
            p_value: None,
            p_first_better: p,
        });
    }
    let standard = StudentsT::new(0.0, 1.0, df).ok()?;
    let t = mean / corrected_std;
    let p_value = standard.sf(t.abs());
    let posterior = StudentsT::new(mean, corrected_std, df).ok()?;
    Some(PairedTest {
        n,
        mean,
        corrected_std,
        t: Some(t),
        p_value: Some(p_value),
        p_first_better: posterior.sf(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scipy's numbers (tests/reference/stats_reference.py).
    #[test]
    fn matches_scipy() {
        let r: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/reference/stats_reference.json"))
                .unwrap();
        let cases = r["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 4);
        for c in cases {
            let d: Vec<f64> = c["differences"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            let got = paired(&d, c["test_over_train"].as_f64().unwrap()).unwrap();
            let close = |a: f64, key: &str| {
                let b = c[key].as_f64().unwrap();
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1e-3),
                    "{key}: {a} vs scipy {b} ({d:?})"
                );
            };
            close(got.mean, "mean");
            close(got.corrected_std, "corrected_std");
            close(got.t.unwrap(), "t");
            close(got.p_value.unwrap(), "p_value");
            close(got.p_first_better, "p_first_better");
            assert_eq!(got.n, d.len());
        }
    }

    #[test]
    fn degenerate_differences() {
        assert!(paired(&[0.1], 0.5).is_none());
        let same = paired(&[0.01, 0.01, 0.01], 0.5).unwrap();
        assert_eq!((same.t, same.p_first_better), (None, 1.0));
    }
}
