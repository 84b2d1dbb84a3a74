//! Marginal effects within a group of configurations: for every value of every
//! hyperparameter that varies there, the mean of a target over the configurations that
//! have it, a 95 % confidence interval of that mean (Student t), and the distribution
//! (quartiles). The study drew this as one pairplot over all three of its grids; taken
//! per sub-grid, a value's mean compares like with like.

use serde::Serialize;
use serde_json::{Map, Value};
use statrs::distribution::{ContinuousCDF, StudentsT};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ValueStats {
    pub value: Value,
    pub n: usize,
    pub mean: f64,
    /// The 95 % interval of the mean (None for a single configuration).
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub min: f64,
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Marginal {
    pub param: String,
    /// Its values, ascending (numbers by value, text alphabetically).
    pub values: Vec<ValueStats>,
    /// Difference between the best and the worst value's mean.
    pub spread: f64,
}

/// Quantile `q` of sorted `v`, linear between order statistics (numpy's default).
fn quantile(v: &[f64], q: f64) -> f64 {
    let h = (v.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// The half-width factor of a 95 % interval of a mean of n values: t(0.975, n − 1).
pub fn t95(n: usize) -> Option<f64> {
    (n >= 2)
        .then(|| {
            StudentsT::new(0.0, 1.0, (n - 1) as f64)
                .ok()
                .map(|t| t.inverse_cdf(0.975))
        })
        .flatten()
}

fn order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.to_string().cmp(&b.to_string()),
    }
}

/// Marginals of `y` over the hyperparameters of `rows` that take more than one value
/// (a configuration without the key counts under null), largest spread first.
pub fn marginals(rows: &[&Map<String, Value>], y: &[f64]) -> Vec<Marginal> {
    let keys: std::collections::BTreeSet<&String> = rows.iter().flat_map(|r| r.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        let mut groups: Vec<(Value, Vec<f64>)> = Vec::new();
        for (r, &t) in rows.iter().zip(y) {
            let v = r.get(key.as_str()).cloned().unwrap_or(Value::Null);
            match groups.iter_mut().find(|(g, _)| *g == v) {
                Some((_, ys)) => ys.push(t),
                None => groups.push((v, vec![t])),
            }
        }
        if groups.len() < 2 {
            continue;
        }
        groups.sort_by(|a, b| order(&a.0, &b.0));
        let values: Vec<ValueStats> = groups
            .into_iter()
            .map(|(value, mut ys)| {
                ys.sort_by(f64::total_cmp);
                let n = ys.len();
                let mean = ys.iter().sum::<f64>() / n as f64;
                let (ci_low, ci_high) = match t95(n) {
                    Some(t) => {
                        let sd = (ys.iter().map(|x| (x - mean).powi(2)).sum::<f64>()
                            / (n - 1) as f64)
                            .sqrt();
                        let h = t * sd / (n as f64).sqrt();
                        (Some(mean - h), Some(mean + h))
                    }
                    None => (None, None),
                };
                ValueStats {
                    value,
                    n,
                    mean,
                    ci_low,
                    ci_high,
                    min: ys[0],
                    q1: quantile(&ys, 0.25),
                    median: quantile(&ys, 0.5),
                    q3: quantile(&ys, 0.75),
                    max: ys[n - 1],
                }
            })
            .collect();
        let means = values.iter().map(|v| v.mean);
        let spread =
            means.clone().fold(f64::NEG_INFINITY, f64::max) - means.fold(f64::INFINITY, f64::min);
        out.push(Marginal {
            param: key.clone(),
            values,
            spread,
        });
    }
    out.sort_by(|a, b| b.spread.total_cmp(&a.spread).then(a.param.cmp(&b.param)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn means_intervals_and_quartiles() {
        let rows: Vec<Map<String, Value>> = [1, 1, 1, 2, 2]
            .iter()
            .map(|b| json!({"b": b, "c": "x"}).as_object().cloned().unwrap())
            .collect();
        let refs: Vec<&Map<String, Value>> = rows.iter().collect();
        let m = marginals(&refs, &[1.0, 2.0, 3.0, 10.0, 10.0]);
        assert_eq!(m.len(), 1, "c does not vary");
        let v = &m[0].values;
        assert_eq!(
            (v[0].value.clone(), v[0].n, v[0].mean, v[0].median, v[0].q1),
            (json!(1), 3, 2.0, 2.0, 1.5)
        );
        // t(0.975, 2) = 4.302653; sd 1; half-width 4.302653 / √3.
        assert!((v[0].ci_high.unwrap() - (2.0 + 4.302652729749464 / 3f64.sqrt())).abs() < 1e-9);
        assert_eq!((v[1].ci_low, v[1].ci_high), (Some(10.0), Some(10.0)));
        assert_eq!(m[0].spread, 8.0);
        assert!(t95(1).is_none());
    }
}
