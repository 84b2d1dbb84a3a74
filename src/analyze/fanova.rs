//! Hyperparameter importance by fANOVA (Hutter, Hoos & Leyton-Brown, ICML 2014), computed
//! as Optuna's `FanovaImportanceEvaluator` computes it, so that the two can be compared.
//!
//! A random forest ([`super::forest`], 64 trees, depth ≤ 64) learns the target from the
//! hyperparameters: numbers as they are, text one-hot (one column per value, box
//! [0, 1]). For each tree and hyperparameter, the variance of the tree's prediction
//! with every other hyperparameter averaged out over the search box (the marginal), as
//! a share of the tree's total variance; the importance is that share's mean over the
//! trees, and the importances are normalised to sum to 1. Like Optuna: only the
//! hyperparameters that every row has and that take more than one value; the search box
//! of a number is [smallest, largest] value seen.
//!
//! Both forests are random (and not the same random), so agreement with Optuna is
//! checked by order (the same top 3, Spearman over the parameters), not by digits.

use super::design::{Design, Encoding};
use super::forest::{self, Tree};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

/// Optuna's defaults.
pub const TREES: usize = 64;
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Importance {
    pub param: String,
    /// Share of the target's variance, normalised over the parameters (sums to 1).
    pub importance: f64,
    /// Standard deviation of the unnormalised share over the trees.
    pub std: f64,
}

/// The importances of the hyperparameters of `rows` for target `y` (one per row), most
/// important first; empty when no hyperparameter varies or the forest explains no
/// variance (every target the same).
pub fn importances(rows: &[&Map<String, Value>], y: &[f64], seed: u64) -> Vec<Importance> {
    // The parameters every row has that take more than one value, in name order.
    let design = Design::common(rows);
    let (params, width) = (&design.params, design.width);
    if params.is_empty() {
        return Vec::new();
    }
    let x: Vec<Vec<f64>> = rows.iter().map(|r| design.encode(r)).collect();
    let mut bounds = vec![[0.0, 1.0]; width];
    for (_, enc) in params {
        if let Encoding::Number { column } = enc {
            let lo = x.iter().map(|r| r[*column]).fold(f64::INFINITY, f64::min);
            let hi = x
                .iter()
                .map(|r| r[*column])
                .fold(f64::NEG_INFINITY, f64::max);
            bounds[*column] = [lo, hi];
        }
    }
    let forest = forest::grow(&x, y, TREES, MAX_DEPTH, seed);
    let trees: Vec<Marginals> = forest
        .par_iter()
        .map(|t| Marginals::new(t, &bounds))
        .collect();
    if trees.iter().all(|t| t.variance == 0.0) {
        return Vec::new();
    }
    let mut out: Vec<Importance> = params
        .iter()
        .map(|(key, enc)| {
            let columns: Vec<usize> = enc.columns().collect();
            let shares: Vec<f64> = trees
                .par_iter()
                .filter(|t| t.variance > 0.0)
                .map(|t| t.marginal_variance(&columns).max(0.0) / t.variance)
                .collect();
            let mean = shares.iter().sum::<f64>() / shares.len() as f64;
            let std = (shares.iter().map(|s| (s - mean).powi(2)).sum::<f64>()
                / shares.len() as f64)
                .sqrt();
            Importance {
                param: key.to_string(),
                importance: mean,
                std,
            }
        })
        .collect();
    let total: f64 = out.iter().map(|i| i.importance).sum();
    if total > 0.0 {
        for i in &mut out {
            i.importance /= total;
        }
    }
    out.sort_by(|a, b| {
        b.importance
            .total_cmp(&a.importance)
            .then(a.param.cmp(&b.param))
    });
    out
}

/// One tree, prepared for marginals: per node, the mean of its subtree's leaves over
/// the search box and the box's volume; per feature, the cells its thresholds cut
/// the box into.
struct Marginals<'a> {
    tree: &'a Tree,
    /// The search box.
    bounds: Vec<[f64; 2]>,
    /// Per node: (value, weight).
    stats: Vec<(f64, f64)>,
    /// Per feature: the midpoints and widths of the cells between its thresholds.
    midpoints: Vec<Vec<f64>>,
    sizes: Vec<Vec<f64>>,
    /// Per node, per feature: whether the node's subtree splits on it.
    splits_on: Vec<Vec<bool>>,
    /// The tree's variance over the box.
    variance: f64,
}

fn weighted_mean_variance(values: &[f64], weights: &[f64]) -> (f64, f64) {
    let w: f64 = weights.iter().sum();
    let mean = values.iter().zip(weights).map(|(v, w)| v * w).sum::<f64>() / w;
    let var = values
        .iter()
        .zip(weights)
        .map(|(v, w)| (v - mean).powi(2) * w)
        .sum::<f64>()
        / w;
    (mean, var)
}

impl<'a> Marginals<'a> {
    fn new(tree: &'a Tree, bounds: &[[f64; 2]]) -> Self {
        let n = tree.nodes.len();
        let width = bounds.len();
        let volume = |b: &[[f64; 2]]| b.iter().map(|[lo, hi]| hi - lo).product::<f64>();
        let mut stats = vec![(0.0, 0.0); n];
        let mut boxes: Vec<Option<Vec<[f64; 2]>>> = vec![None; n];
        boxes[0] = Some(bounds.to_vec());
        for i in 0..n {
            let b = boxes[i].take().unwrap_or_else(|| bounds.to_vec());
            let node = &tree.nodes[i];
            if node.feature < 0 {
                stats[i] = (node.value, volume(&b));
            } else {
                let f = node.feature as usize;
                let (mut l, mut r) = (b.clone(), b);
                l[f][1] = node.threshold;
                r[f][0] = node.threshold;
                boxes[node.left] = Some(l);
                boxes[node.right] = Some(r);
            }
        }
        let mut splits_on = vec![vec![false; width]; n];
        for i in (0..n).rev() {
            let node = &tree.nodes[i];
            if node.feature >= 0 {
                let (l, r) = (node.left, node.right);
                let (vl, wl) = stats[l];
                let (vr, wr) = stats[r];
                stats[i] = ((vl * wl + vr * wr) / (wl + wr), wl + wr);
                let mut s: Vec<bool> = splits_on[l]
                    .iter()
                    .zip(&splits_on[r])
                    .map(|(a, b)| *a || *b)
                    .collect();
                s[node.feature as usize] = true;
                splits_on[i] = s;
            }
        }
        let mut thresholds: Vec<Vec<f64>> = vec![Vec::new(); width];
        for node in tree.nodes.iter().filter(|n| n.feature >= 0) {
            thresholds[node.feature as usize].push(node.threshold);
        }
        let (mut midpoints, mut sizes) = (Vec::with_capacity(width), Vec::with_capacity(width));
        for (f, t) in thresholds.iter_mut().enumerate() {
            t.sort_by(f64::total_cmp);
            t.dedup();
            let edges: Vec<f64> = std::iter::once(bounds[f][0])
                .chain(t.iter().copied())
                .chain(std::iter::once(bounds[f][1]))
                .collect();
            midpoints.push(edges.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect());
            sizes.push(edges.windows(2).map(|w| w[1] - w[0]).collect());
        }
        let leaves: Vec<(f64, f64)> = tree
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.feature < 0)
            .map(|(i, _)| stats[i])
            .collect();
        let (values, weights): (Vec<f64>, Vec<f64>) = leaves.into_iter().unzip();
        let variance = weighted_mean_variance(&values, &weights).1;
        Marginals {
            tree,
            bounds: bounds.to_vec(),
            stats,
            midpoints,
            sizes,
            splits_on,
            variance,
        }
    }

    /// The variance, over the cells of `features`' thresholds, of the prediction with
    /// every other feature averaged out.
    fn marginal_variance(&self, features: &[usize]) -> f64 {
        let mut values = Vec::new();
        let mut weights = Vec::new();
        let mut cell = vec![0usize; features.len()];
        loop {
            let point: Vec<f64> = features
                .iter()
                .zip(&cell)
                .map(|(&f, &c)| self.midpoints[f][c])
                .collect();
            let size: f64 = features
                .iter()
                .zip(&cell)
                .map(|(&f, &c)| self.sizes[f][c])
                .product();
            let (v, w) = self.marginalized(features, &point);
            values.push(v);
            weights.push(w * size);
            // The next cell of the product, the last feature fastest.
            let mut k = features.len();
            loop {
                if k == 0 {
                    return weighted_mean_variance(&values, &weights).1;
                }
                k -= 1;
                cell[k] += 1;
                if cell[k] < self.midpoints[features[k]].len() {
                    break;
                }
                cell[k] = 0;
            }
        }
    }

    /// The prediction at `point` (values of `features`) averaged over the other
    /// features, and its weight.
    fn marginalized(&self, features: &[usize], point: &[f64]) -> (f64, f64) {
        // The box of the active features only: the others count with volume 1.
        let mut bx: Vec<[f64; 2]> = features.iter().map(|&f| self.bounds[f]).collect();
        let (mut sum_vw, mut sum_w) = (0.0, 0.0);
        self.visit(0, features, point, &mut bx, &mut sum_vw, &mut sum_w);
        (sum_vw / sum_w, sum_w)
    }

    /// Walks the subtree of node `i`: down the side of `point` where the node splits on
    /// an active feature, down both sides where the subtree below does, and otherwise
    /// takes the node's mean, weighted by its volume over the active box's.
    fn visit(
        &self,
        i: usize,
        features: &[usize],
        point: &[f64],
        bx: &mut [[f64; 2]],
        sum_vw: &mut f64,
        sum_w: &mut f64,
    ) {
        let node = &self.tree.nodes[i];
        if node.feature >= 0 {
            let f = node.feature as usize;
            if let Some(k) = features.iter().position(|&a| a == f) {
                let old = bx[k];
                if point[k] <= node.threshold {
                    bx[k][1] = node.threshold;
                    self.visit(node.left, features, point, bx, sum_vw, sum_w);
                } else {
                    bx[k][0] = node.threshold;
                    self.visit(node.right, features, point, bx, sum_vw, sum_w);
                }
                bx[k] = old;
                return;
            }
            if features.iter().any(|&a| self.splits_on[i][a]) {
                self.visit(node.left, features, point, bx, sum_vw, sum_w);
                self.visit(node.right, features, point, bx, sum_vw, sum_w);
                return;
            }
        }
        let (v, w) = self.stats[i];
        let w = w / bx.iter().map(|[lo, hi]| hi - lo).product::<f64>();
        *sum_vw += v * w;
        *sum_w += w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_parameter_that_drives_the_target_leads() {
        // y depends strongly on a, weakly on b, not at all on c (text) and d.
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for a in 0..5 {
            for b in 0..4 {
                for c in ["x", "y"] {
                    for d in [1, 2, 3] {
                        rows.push(obj(json!({"a": a, "b": b, "c": c, "d": d, "same": 7})));
                        y.push(a as f64 * 1.0 + b as f64 * 0.1 + if d == 2 { 0.001 } else { 0.0 });
                    }
                }
            }
        }
        let refs: Vec<&Map<String, Value>> = rows.iter().collect();
        let imp = importances(&refs, &y, 0);
        let names: Vec<&str> = imp.iter().map(|i| i.param.as_str()).collect();
        assert_eq!(&names[..2], &["a", "b"], "{imp:?}");
        assert!(!names.contains(&"same"), "constant parameters are left out");
        assert!(imp[0].importance > 0.9, "{imp:?}");
        assert!((imp.iter().map(|i| i.importance).sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(importances(&refs, &y, 0), imp, "seeded");
    }

    #[test]
    fn nothing_to_explain_is_empty() {
        let rows = [obj(json!({"a": 1})), obj(json!({"a": 2}))];
        let refs: Vec<&Map<String, Value>> = rows.iter().collect();
        assert!(importances(&refs, &[0.3, 0.3], 0).is_empty());
        let rows = [obj(json!({"a": 1})), obj(json!({"a": 1}))];
        let refs: Vec<&Map<String, Value>> = rows.iter().collect();
        assert!(importances(&refs, &[0.3, 0.4], 0).is_empty());
    }
}
