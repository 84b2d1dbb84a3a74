//! Stratified splits, as scikit-learn allocates them.
//!
//! `stratified_split` is `train_test_split(..., stratify=y, random_state=seed)`, i.e.
//! `StratifiedShuffleSplit`, step for step and with NumPy's random generator
//! (`numpy_rng`): the same seed picks the same rows as in the study.
//!
//! `stratified_kfold` is `StratifiedKFold(shuffle=False)` exactly: classes ordered by
//! first appearance, per-fold counts by a round robin over the sorted labels, and each
//! class's rows assigned to folds in blocks, in data order. `kfold` is plain
//! `KFold(shuffle=False)`: contiguous blocks, the first `n % k` one row longer (what
//! `GridSearchCV(cv=3)` uses when `y` is one-hot, which scikit-learn takes for
//! multilabel and will not stratify).
//!
//! `onehot_order` is the class order a split stratified on one-hot rows sees:
//! scikit-learn joins each row of `pd.get_dummies(labels)` (columns in sorted label
//! order) into a string and sorts those, which puts the class of the last column first
//! ("0 … 0 1" before "0 … 1 0"): the sorted classes reversed. `preshuffle` is
//! `df.sample(frac=1, random_state=seed)`: NumPy's `RandomState(seed).permutation(n)`.

use super::numpy_rng::RandomState;

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
pub fn approximate_mode(
    class_counts: &[usize],
    n_draws: usize,
    rng: &mut RandomState,
) -> Vec<usize> {
    let total: usize = class_counts.iter().sum();
    let continuous: Vec<f64> = class_counts
        .iter()
        .map(|&c| c as f64 / total as f64 * n_draws as f64)
        .collect();
    let mut floored: Vec<usize> = continuous.iter().map(|c| c.floor() as usize).collect();
    let mut need = n_draws.saturating_sub(floored.iter().sum());
    if need > 0 {
        let remainder: Vec<f64> = continuous
            .iter()
            .zip(&floored)
            .map(|(c, f)| c - *f as f64)
            .collect();
        let mut values = remainder.clone();
        values.sort_by(|a, b| b.total_cmp(a));
        values.dedup();
        for value in values {
            let inds: Vec<usize> = (0..remainder.len())
                .filter(|&i| remainder[i] == value)
                .collect();
            let add_now = inds.len().min(need);
            for i in rng.choice_without_replacement(&inds, add_now) {
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

/// `train_test_split(rows, test_size=test_fraction, stratify=y[rows], random_state=seed)`:
/// (train, test), both in scikit-learn's (shuffled) order.
pub fn stratified_split(
    rows: &[usize],
    y: &[usize],
    test_fraction: f64,
    seed: u32,
) -> Result<(Vec<usize>, Vec<usize>), SplitError> {
    let n = rows.len();
    let labels: Vec<usize> = rows.iter().map(|&r| y[r]).collect();
    // np.unique: the classes present, in sorted order.
    let mut classes = labels.clone();
    classes.sort_unstable();
    classes.dedup();
    let class_indices: Vec<Vec<usize>> = classes
        .iter()
        .map(|&c| (0..n).filter(|&i| labels[i] == c).collect())
        .collect();
    let class_counts: Vec<usize> = class_indices.iter().map(Vec::len).collect();
    if let Some(k) = class_counts.iter().position(|&c| c < 2) {
        return Err(SplitError::ClassTooSmall {
            class: classes[k],
            rows: class_counts[k],
        });
    }
    let n_test = (test_fraction * n as f64).ceil() as usize;
    let n_train = n - n_test;
    if n_test < classes.len() || n_train < classes.len() {
        return Err(SplitError::PartTooSmall {
            rows: n_test.min(n_train),
            classes: classes.len(),
        });
    }
    let mut rng = RandomState::new(seed);
    let n_i = approximate_mode(&class_counts, n_train, &mut rng);
    let remaining: Vec<usize> = class_counts.iter().zip(&n_i).map(|(c, t)| c - t).collect();
    let t_i = approximate_mode(&remaining, n_test, &mut rng);

    let mut train = Vec::with_capacity(n_train);
    let mut test = Vec::with_capacity(n_test);
    for (k, members) in class_indices.iter().enumerate() {
        let perm = rng.permutation(members.len());
        let shuffled: Vec<usize> = perm.iter().map(|&p| members[p]).collect();
        train.extend_from_slice(&shuffled[..n_i[k]]);
        test.extend_from_slice(&shuffled[n_i[k]..n_i[k] + t_i[k]]);
    }
    let train = rng.permuted(&train);
    let test = rng.permuted(&test);
    Ok((
        train.iter().map(|&i| rows[i]).collect(),
        test.iter().map(|&i| rows[i]).collect(),
    ))
}

/// How a training part is cut into folds (`cv.splitter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Splitter {
    /// `StratifiedKFold(k)` (the default).
    #[default]
    Stratified,
    /// `KFold(k)`, unshuffled.
    Kfold,
}

impl Splitter {
    pub fn is_default(&self) -> bool {
        *self == Splitter::Stratified
    }

    /// The fold (0..k) of each row of `labels`, in their order.
    pub fn folds(self, labels: &[usize], k: usize) -> Vec<usize> {
        match self {
            Splitter::Stratified => stratified_kfold(labels, k),
            Splitter::Kfold => kfold(labels.len(), k),
        }
    }
}

/// `KFold(n_splits = k, shuffle = False)`: the fold of each of `n` rows; fold f holds
/// a contiguous block, the first `n % k` folds one row more.
pub fn kfold(n: usize, k: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    for f in 0..k {
        let size = n / k + usize::from(f < n % k);
        out.extend(std::iter::repeat_n(f, size));
    }
    out
}

/// The labels a split stratified on one-hot rows sees, as class indices in its order:
/// class `c` of `n_classes` (sorted names) becomes `n_classes - 1 - c`.
pub fn onehot_order(y: &[usize], n_classes: usize) -> Vec<usize> {
    y.iter().map(|&c| n_classes - 1 - c).collect()
}

/// `df.sample(frac=1, random_state=seed)`'s row order of `n` rows.
pub fn preshuffle(n: usize, seed: u32) -> Vec<usize> {
    RandomState::new(seed).permutation(n)
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
        let blocks = allocation
            .iter()
            .enumerate()
            .flat_map(|(f, per_class)| std::iter::repeat_n(f, per_class[c]));
        let members = encoded
            .iter()
            .enumerate()
            .filter(|(_, &e)| e == c)
            .map(|(i, _)| i);
        for (row, fold) in members.zip(blocks) {
            folds[row] = fold;
        }
    }
    folds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::counts;
    use crate::rng::{stream, Stream};
    use rand::seq::SliceRandom;

    #[test]
    fn stratified_kfold_matches_scikit_learn() {
        // StratifiedKFold(3).split(np.zeros(14), y): validation fold of each row, from
        // tests/reference/sklearn_reference.py (scikit-learn 1.7), committed as numbers.
        let y = [2, 0, 0, 1, 2, 2, 0, 1, 0, 2, 0, 1, 2, 0];
        let expected = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2];
        assert_eq!(stratified_kfold(&y, 3), expected);
    }

    #[test]
    fn kfold_proportions_within_one_row_per_class() {
        let mut rng = stream(7, 0, Stream::Shuffle);
        let mut y: Vec<usize> = (0..1000)
            .map(|i| [0, 0, 0, 1, 1, 2, 3, 4, 5, 5][i % 10])
            .collect();
        y.shuffle(&mut rng);
        let folds = stratified_kfold(&y, 3);
        let total = counts(&y, 6);
        for f in 0..3 {
            let in_fold: Vec<usize> = y
                .iter()
                .zip(&folds)
                .filter(|(_, &g)| g == f)
                .map(|(l, _)| *l)
                .collect();
            let c = counts(&in_fold, 6);
            for k in 0..6 {
                let ideal = total[k] as f64 / 3.0;
                assert!(
                    (c[k] as f64 - ideal).abs() <= 1.0,
                    "fold {f} class {k}: {} vs {ideal}",
                    c[k]
                );
            }
        }
    }

    #[test]
    fn split_matches_train_test_split() {
        // tests/reference/sklearn_reference.py: train_test_split(np.arange(40), test_size=0.3,
        // stratify=y, random_state=42), then the train part split again the same way.
        let y: Vec<usize> = (0..40)
            .map(|i| if i % 3 != 0 { i * 7 % 5 } else { 0 })
            .collect();
        let rows: Vec<usize> = (0..40).collect();
        let (train, test) = stratified_split(&rows, &y, 0.3, 42).unwrap();
        assert_eq!(
            train,
            [
                27, 6, 0, 2, 10, 16, 28, 20, 14, 22, 8, 35, 36, 38, 32, 11, 3, 34, 39, 24, 37, 18,
                33, 31, 19, 5, 1, 23
            ]
        );
        assert_eq!(test, [17, 7, 21, 13, 30, 4, 29, 26, 9, 15, 12, 25]);
        let (train2, val) = stratified_split(&train, &y, 0.3, 42).unwrap();
        assert_eq!(
            train2,
            [33, 31, 36, 39, 35, 11, 24, 6, 10, 0, 27, 1, 37, 28, 14, 8, 19, 32, 38]
        );
        assert_eq!(val, [23, 18, 2, 16, 20, 5, 3, 34, 22]);
    }

    /// The study's splits (tests/reference/split_reference.py, scikit-learn 1.9.1,
    /// pandas 3.1.1): 60 rows of six classes.
    fn study_like_labels() -> Vec<usize> {
        (0..60).map(|i| (i * 5 + i / 7) % 7 % 6).collect()
    }

    #[test]
    fn onehot_stratification_matches_train_test_split_on_get_dummies() {
        let y = study_like_labels();
        let strata = onehot_order(&y, 6);
        let rows: Vec<usize> = (0..60).collect();
        let (rest, test) = stratified_split(&rows, &strata, 0.2, 42).unwrap();
        assert_eq!(test, [43, 30, 22, 29, 18, 20, 23, 27, 40, 32, 15, 31]);
        let (train, val) = stratified_split(&rest, &strata, 0.2, 42).unwrap();
        assert_eq!(
            train,
            [
                16, 56, 42, 21, 26, 33, 49, 12, 4, 36, 9, 2, 24, 34, 8, 6, 48, 11, 38, 44, 41, 1,
                7, 28, 51, 54, 47, 45, 14, 35, 25, 52, 57, 13, 37, 46, 59, 58
            ]
        );
        assert_eq!(val, [39, 19, 10, 5, 50, 53, 3, 55, 0, 17]);
        // Stratified on the labels themselves, the draw differs.
        let (_, by_labels) = stratified_split(&rows, &y, 0.2, 42).unwrap();
        assert_ne!(by_labels, test);
    }

    #[test]
    fn preshuffle_matches_dataframe_sample_and_the_splits_after_it() {
        let y = study_like_labels();
        let order = preshuffle(60, 42);
        assert_eq!(
            order,
            [
                0, 5, 36, 45, 13, 54, 33, 48, 12, 57, 46, 50, 31, 3, 52, 17, 8, 6, 40, 4, 43, 19,
                34, 58, 25, 56, 15, 27, 9, 30, 26, 16, 24, 55, 11, 32, 53, 41, 37, 29, 44, 1, 21,
                2, 47, 39, 35, 23, 49, 10, 22, 18, 59, 20, 7, 42, 14, 28, 51, 38
            ]
        );
        let strata = onehot_order(&y, 6);
        let (rest, test) = stratified_split(&order, &strata, 0.3, 42).unwrap();
        assert_eq!(
            test,
            [38, 52, 13, 31, 34, 45, 3, 39, 29, 21, 44, 43, 22, 27, 30, 28, 55, 4]
        );
        let (train, _) = stratified_split(&rest, &strata, 0.3, 42).unwrap();
        assert_eq!(
            train,
            [
                51, 58, 16, 19, 9, 15, 7, 59, 26, 23, 40, 36, 35, 25, 57, 0, 1, 33, 53, 47, 24, 8,
                20, 12, 18, 11, 32, 37, 10
            ]
        );
    }

    #[test]
    fn kfold_matches_scikit_learn() {
        assert_eq!(
            kfold(20, 3),
            [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]
        );
        assert_eq!(Splitter::Kfold.folds(&[5; 20], 3), kfold(20, 3));
    }

    #[test]
    fn singleton_class_is_refused() {
        let y = vec![0, 0, 0, 1];
        let e = stratified_split(&[0, 1, 2, 3], &y, 0.5, 1).unwrap_err();
        assert_eq!(e, SplitError::ClassTooSmall { class: 1, rows: 1 });
    }
}
