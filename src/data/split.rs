//! Stratified splits, as scikit-learn allocates them.
//!
//! `stratified_split` follows `StratifiedShuffleSplit` (what `train_test_split(...,
//! stratify=y)` uses): the test part has `ceil(fraction · n)` rows, and each class gets
//! its share by scikit-learn's `_approximate_mode`, so the per-class counts are the
//! ones scikit-learn would produce. Which rows go where is drawn from our own seeded
//! stream, not NumPy's, so the rows themselves differ from the study's.
//!
//! `stratified_kfold` is `StratifiedKFold(shuffle=False)` exactly: classes ordered by
//! first appearance, per-fold counts by a round robin over the sorted labels, and each
//! class's rows assigned to folds in blocks, in data order.

use super::counts;
use crate::rng::Rng;
use rand::seq::SliceRandom;

#[derive(Debug, Clone, PartialEq)]
pub enum SplitError {
    /// A class has fewer than two rows, so it cannot be on both sides.
    ClassTooSmall { class: usize, rows: usize },
    /// The split leaves one side with fewer rows than classes.
    PartTooSmall { rows: usize, classes: usize },
}

impl SplitError {
    pub fn describe(&self, class_names: &[String]) -> String {
        match self {
            SplitError::ClassTooSmall { class, rows } => format!(
                "label `{}` has {} row(s); a stratified split needs at least 2",
                class_names.get(*class).map(String::as_str).unwrap_or("?"),
                rows
            ),
            SplitError::PartTooSmall { rows, classes } => format!(
                "one side of the split would have {rows} row(s), fewer than the {classes} classes"
            ),
        }
    }
}

/// scikit-learn's `_approximate_mode`: integer counts per class summing to `n_draws`,
/// proportional to `class_counts`, ties in the remainders broken at random.
pub fn approximate_mode(class_counts: &[usize], n_draws: usize, rng: &mut Rng) -> Vec<usize> {
    let total: usize = class_counts.iter().sum();
    let continuous: Vec<f64> = class_counts
        .iter()
        .map(|&c| c as f64 / total as f64 * n_draws as f64)
        .collect();
    let mut floored: Vec<usize> = continuous.iter().map(|c| c.floor() as usize).collect();
    let mut need = n_draws.saturating_sub(floored.iter().sum());
    if need > 0 {
        let remainder: Vec<f64> =
            continuous.iter().zip(&floored).map(|(c, f)| c - *f as f64).collect();
        let mut values = remainder.clone();
        values.sort_by(|a, b| b.total_cmp(a));
        values.dedup();
        for value in values {
            let mut inds: Vec<usize> = (0..remainder.len()).filter(|&i| remainder[i] == value).collect();
            inds.shuffle(rng);
            let add_now = inds.len().min(need);
            for &i in &inds[..add_now] {
                floored[i] += 1;
            }
            need -= add_now;
            if need == 0 {
                break;
            }
        }
    }
    floored
}

/// Splits `rows` (indices into `y`) into (train, test) with `ceil(test_fraction · n)`
/// test rows, stratified by class. Both parts come back shuffled.
pub fn stratified_split(
    rows: &[usize],
    y: &[usize],
    n_classes: usize,
    test_fraction: f64,
    rng: &mut Rng,
) -> Result<(Vec<usize>, Vec<usize>), SplitError> {
    let n = rows.len();
    let labels: Vec<usize> = rows.iter().map(|&r| y[r]).collect();
    let class_counts = counts(&labels, n_classes);
    if let Some((class, &c)) = class_counts.iter().enumerate().find(|(_, &c)| c == 1) {
        return Err(SplitError::ClassTooSmall { class, rows: c });
    }
    let present = class_counts.iter().filter(|&&c| c > 0).count();
    let n_test = (test_fraction * n as f64).ceil() as usize;
    let n_train = n - n_test;
    if n_test < present || n_train < present {
        return Err(SplitError::PartTooSmall {
            rows: n_test.min(n_train),
            classes: present,
        });
    }
    let n_i = approximate_mode(&class_counts, n_train, rng);
    let remaining: Vec<usize> = class_counts.iter().zip(&n_i).map(|(c, t)| c - t).collect();
    let t_i = approximate_mode(&remaining, n_test, rng);

    let mut train = Vec::with_capacity(n_train);
    let mut test = Vec::with_capacity(n_test);
    for k in 0..n_classes {
        let mut members: Vec<usize> =
            rows.iter().copied().filter(|&r| y[r] == k).collect();
        members.shuffle(rng);
        train.extend_from_slice(&members[..n_i[k]]);
        test.extend_from_slice(&members[n_i[k]..n_i[k] + t_i[k]]);
    }
    train.shuffle(rng);
    test.shuffle(rng);
    Ok((train, test))
}

/// `StratifiedKFold(n_splits = k, shuffle = False)`: the fold (0..k) of each row of
/// `labels`, where a fold is the validation part of that split.
pub fn stratified_kfold(labels: &[usize], k: usize) -> Vec<usize> {
    // Encode classes by order of first appearance, as scikit-learn does.
    let mut order: Vec<usize> = Vec::new();
    let mut code = std::collections::HashMap::new();
    for &l in labels {
        code.entry(l).or_insert_with(|| {
            order.push(l);
            order.len() - 1
        });
    }
    let encoded: Vec<usize> = labels.iter().map(|l| code[l]).collect();
    let n_classes = order.len();
    let mut sorted = encoded.clone();
    sorted.sort_unstable();
    // allocation[f][c]: rows of class c in fold f, a round robin over the sorted labels.
    let mut allocation = vec![vec![0usize; n_classes]; k];
    for (i, &c) in sorted.iter().enumerate() {
        allocation[i % k][c] += 1;
    }
    let mut folds = vec![0usize; labels.len()];
    for c in 0..n_classes {
        let blocks = (0..k).flat_map(|f| std::iter::repeat(f).take(allocation[f][c]));
        let members = encoded.iter().enumerate().filter(|(_, &e)| e == c).map(|(i, _)| i);
        for (row, fold) in members.zip(blocks) {
            folds[row] = fold;
        }
    }
    folds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Stream};

    #[test]
    fn kfold_matches_scikit_learn() {
        // StratifiedKFold(3).split(np.zeros(14), y): validation fold of each row, from
        // tests/reference/sklearn_reference.py (scikit-learn 1.7), committed as numbers.
        let y = [2, 0, 0, 1, 2, 2, 0, 1, 0, 2, 0, 1, 2, 0];
        let expected = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2];
        assert_eq!(stratified_kfold(&y, 3), expected);
    }

    #[test]
    fn kfold_proportions_within_one_row_per_class() {
        let mut rng = stream(7, 0, Stream::DataSplit);
        let mut y: Vec<usize> = (0..1000).map(|i| [0, 0, 0, 1, 1, 2, 3, 4, 5, 5][i % 10]).collect();
        y.shuffle(&mut rng);
        let folds = stratified_kfold(&y, 3);
        let total = counts(&y, 6);
        for f in 0..3 {
            let in_fold: Vec<usize> =
                y.iter().zip(&folds).filter(|(_, &g)| g == f).map(|(l, _)| *l).collect();
            let c = counts(&in_fold, 6);
            for k in 0..6 {
                let ideal = total[k] as f64 / 3.0;
                assert!((c[k] as f64 - ideal).abs() <= 1.0, "fold {f} class {k}: {} vs {ideal}", c[k]);
            }
        }
    }

    #[test]
    fn split_counts_follow_approximate_mode() {
        let y: Vec<usize> = (0..100).map(|i| if i < 37 { 0 } else if i < 59 { 1 } else { 2 }).collect();
        let rows: Vec<usize> = (0..100).collect();
        let mut rng = stream(42, 0, Stream::DataSplit);
        let (train, test) = stratified_split(&rows, &y, 3, 0.3, &mut rng).unwrap();
        assert_eq!(test.len(), 30);
        assert_eq!(train.len(), 70);
        let tc = counts(&test.iter().map(|&r| y[r]).collect::<Vec<_>>(), 3);
        // 0.3 · (37, 22, 41) = (11.1, 6.6, 12.3) for the test side → train gets
        // floor(0.7 · counts) + remainders: (25.9, 15.4, 28.7) → (26, 15, 29).
        assert_eq!(tc, vec![11, 7, 12]);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, rows);
    }

    #[test]
    fn singleton_class_is_refused() {
        let y = vec![0, 0, 0, 1];
        let mut rng = stream(1, 0, Stream::DataSplit);
        let e = stratified_split(&[0, 1, 2, 3], &y, 2, 0.5, &mut rng).unwrap_err();
        assert_eq!(e, SplitError::ClassTooSmall { class: 1, rows: 1 });
    }
}
