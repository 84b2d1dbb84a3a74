//! A regression random forest grown the way scikit-learn's `RandomForestRegressor`
//! grows one with its defaults (what Optuna's fANOVA fits): each tree on a bootstrap
//! sample of the rows, every feature tried at every split in a random order, the split
//! that most lowers the squared error, thresholds midway between neighbouring values,
//! leaves the mean of their rows.
//!
//! Written here rather than taken from a crate because fANOVA reads the trees' splits
//! and boxes, which the forest crates keep private. Grid data has few distinct values
//! per feature, so a node's best split is found from per-value sums in one pass over
//! its rows instead of a sort.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// A node: a split (`feature` ≥ 0; rows with `x[feature] <= threshold` go left) or a
/// leaf (`feature` < 0) predicting `value`. Children come after their parent.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub feature: i32,
    pub threshold: f64,
    pub left: usize,
    pub right: usize,
    pub value: f64,
}

#[derive(Debug, Clone)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

/// The features of a data set, each as the index of its value among the feature's
/// sorted distinct values.
struct Levels {
    /// Per feature, its distinct values, ascending.
    values: Vec<Vec<f64>>,
    /// Per row, per feature (row-major): the index of the row's value.
    codes: Vec<u32>,
    /// The most values of a feature.
    widest: usize,
}

impl Levels {
    fn new(x: &[Vec<f64>], n_features: usize) -> Levels {
        let mut values = Vec::with_capacity(n_features);
        let mut codes = vec![0u32; x.len() * n_features];
        for f in 0..n_features {
            let mut v: Vec<f64> = x.iter().map(|r| r[f]).collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            for (i, r) in x.iter().enumerate() {
                codes[i * n_features + f] = v.partition_point(|&a| a < r[f]) as u32;
            }
            values.push(v);
        }
        let widest = values.iter().map(Vec::len).max().unwrap_or(0);
        Levels {
            values,
            codes,
            widest,
        }
    }
}

/// Grows `n_trees` trees on rows `x` (each of the same length) and targets `y`, at most
/// `max_depth` deep; the same seed grows the same forest.
pub fn grow(x: &[Vec<f64>], y: &[f64], n_trees: usize, max_depth: usize, seed: u64) -> Vec<Tree> {
    let n_features = x.first().map_or(0, |r| r.len());
    let levels = Levels::new(x, n_features);
    // Each tree its own generator, so that trees grow in parallel and the forest does
    // not depend on the thread count.
    (0..n_trees)
        .into_par_iter()
        .map(|t| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let sample: Vec<usize> = (0..y.len()).map(|_| rng.gen_range(0..y.len())).collect();
            let mut tree = Tree { nodes: Vec::new() };
            let cells = levels.widest * n_features;
            let mut g = Grower {
                levels: &levels,
                y,
                rng: &mut rng,
                max_depth,
                n_features,
                count: vec![0; cells],
                sums: vec![0.0; cells],
            };
            g.node(&mut tree, sample, 0);
            tree
        })
        .collect()
}

struct Grower<'a> {
    levels: &'a Levels,
    y: &'a [f64],
    rng: &'a mut Xoshiro256PlusPlus,
    max_depth: usize,
    n_features: usize,
    /// Per feature, per value (`widest` apart): rows and sum of targets (reused).
    count: Vec<usize>,
    sums: Vec<f64>,
}

impl Grower<'_> {
    /// Adds the node of `rows` (and its subtree) to `tree`; returns its index.
    fn node(&mut self, tree: &mut Tree, rows: Vec<usize>, depth: usize) -> usize {
        let n = rows.len() as f64;
        let sum: f64 = rows.iter().map(|&i| self.y[i]).sum();
        let mean = sum / n;
        let impurity = rows
            .iter()
            .map(|&i| (self.y[i] - mean).powi(2))
            .sum::<f64>()
            / n;
        let at = tree.nodes.len();
        tree.nodes.push(Node {
            feature: -1,
            threshold: -2.0,
            left: 0,
            right: 0,
            value: mean,
        });
        if depth >= self.max_depth || rows.len() < 2 || impurity <= f64::EPSILON {
            return at;
        }
        let Some((feature, threshold)) = self.best_split(&rows, sum) else {
            return at;
        };
        let nf = self.n_features;
        let (l, r): (Vec<usize>, Vec<usize>) = rows.into_iter().partition(|&i| {
            self.levels.values[feature][self.levels.codes[i * nf + feature] as usize] <= threshold
        });
        let left = self.node(tree, l, depth + 1);
        let right = self.node(tree, r, depth + 1);
        tree.nodes[at] = Node {
            feature: feature as i32,
            threshold,
            left,
            right,
            value: mean,
        };
        at
    }

    /// The split with the largest proxy improvement (Σ²left/nleft + Σ²right/nright),
    /// features visited in a random order, the first best kept (as scikit-learn's
    /// splitter); None when every feature is constant on these rows.
    fn best_split(&mut self, rows: &[usize], total: f64) -> Option<(usize, f64)> {
        let mut order: Vec<usize> = (0..self.n_features).collect();
        order.shuffle(self.rng);
        let n = rows.len() as f64;
        let mut best: Option<(f64, usize, f64)> = None;
        // One pass over the rows counts every feature's values.
        let (nf, kw) = (self.n_features, self.levels.widest);
        self.count.fill(0);
        self.sums.fill(0.0);
        for &i in rows {
            let codes = &self.levels.codes[i * nf..(i + 1) * nf];
            for (f, &c) in codes.iter().enumerate() {
                self.count[f * kw + c as usize] += 1;
                self.sums[f * kw + c as usize] += self.y[i];
            }
        }
        for f in order {
            let k = self.levels.values[f].len();
            let (count, sums) = (
                &self.count[f * kw..f * kw + k],
                &self.sums[f * kw..f * kw + k],
            );
            // Cut between each present value and the next present one.
            let (mut nl, mut sl) = (0.0, 0.0);
            let mut below: Option<usize> = None;
            for c in 0..k {
                if count[c] == 0 {
                    continue;
                }
                if let Some(b) = below {
                    let (nr, sr) = (n - nl, total - sl);
                    let proxy = sl * sl / nl + sr * sr / nr;
                    if best.is_none_or(|(p, _, _)| proxy > p) {
                        let v = &self.levels.values[f];
                        let mut threshold = v[b] / 2.0 + v[c] / 2.0;
                        // As scikit-learn: a midpoint that rounds up to the upper value
                        // would send it left.
                        if threshold == v[c] || threshold.is_infinite() {
                            threshold = v[b];
                        }
                        best = Some((proxy, f, threshold));
                    }
                }
                nl += count[c] as f64;
                sl += sums[c];
                below = Some(c);
            }
        }
        best.map(|(_, f, t)| (f, t))
    }
}

impl Tree {
    /// The tree's prediction for one row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            let n = &self.nodes[i];
            if n.feature < 0 {
                return n.value;
            }
            i = if row[n.feature as usize] <= n.threshold {
                n.left
            } else {
                n.right
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deep_tree_fits_distinct_rows_exactly() {
        let x: Vec<Vec<f64>> = (0..40)
            .map(|i| vec![(i % 5) as f64, (i / 5) as f64])
            .collect();
        let y: Vec<f64> = x.iter().map(|r| r[0] * 10.0 + r[1]).collect();
        let trees = grow(&x, &y, 4, 64, 1);
        // Every row a bootstrap drew is predicted exactly; the forest's mean is close.
        for t in &trees {
            assert!(
                t.nodes
                    .iter()
                    .enumerate()
                    .all(|(i, n)| n.feature < 0 || (n.left > i && n.right > i)),
                "children after parents"
            );
            let hits = x.iter().zip(&y).filter(|(r, &v)| t.predict(r) == v).count();
            assert!(hits >= 20, "{hits}");
        }
        assert_eq!(grow(&x, &y, 4, 64, 1)[3].nodes, trees[3].nodes, "seeded");
    }

    #[test]
    fn a_constant_target_is_one_leaf() {
        let x: Vec<Vec<f64>> = (0..10).map(|i| vec![i as f64]).collect();
        let trees = grow(&x, &[0.5; 10], 2, 64, 0);
        assert!(trees
            .iter()
            .all(|t| t.nodes.len() == 1 && t.nodes[0].value == 0.5));
    }

    #[test]
    fn depth_is_capped() {
        let x: Vec<Vec<f64>> = (0..64).map(|i| vec![i as f64]).collect();
        let y: Vec<f64> = (0..64).map(|i| i as f64).collect();
        let t = &grow(&x, &y, 1, 1, 0)[0];
        assert_eq!(t.nodes.len(), 3);
    }
}
