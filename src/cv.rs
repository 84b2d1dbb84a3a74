//! K-fold cross-validation of one configuration, and the study's weighted score.
//!
//! [`CvData`] does the once-per-dataset work (read, split, fit the preprocessing on
//! the training part, assign stratified folds); [`CvData::fold`] hands out one fold's
//! rows, which `train::train_fold` turns into tensors. The scheduler runs folds as
//! independent jobs; [`run_folds`] is the simple in-process runner `gridsweep cv` uses.
//! The score rule and the summary of a configuration's folds are in [`crate::score`]
//! (re-exported here).

pub use crate::score::{mean_std, summarize, CvSummary, DeltaKind, ScoreRule, W1, W2};

use crate::data::partition::Partition;
use crate::data::preprocess::Preprocessor;
use crate::data::split::Splitter;
use crate::data::{self, DataError, DatasetSpec, Prepared};
use crate::fold::FoldResult;
use crate::params::HyperParams;
use crate::train::{self, FoldData, FoldError, Silent};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tch::Device;

/// The dataset, split and preprocessed, with the training part cut into folds.
pub struct CvData {
    pub prepared: Prepared,
    pub preprocessor: Preprocessor,
    pub folds: usize,
    /// Repeats of the k-fold split (1: plain k-fold).
    pub repeats: usize,
    /// Preprocessed training part, row-major.
    pub train_x: Vec<f32>,
    pub train_y: Vec<i64>,
    /// Validation fold (0..folds) of each training row: the first repeat, scikit-learn's
    /// `StratifiedKFold(shuffle=False)`.
    pub fold_of: Vec<usize>,
    /// The same for each further repeat.
    pub repeat_fold_of: Vec<Vec<usize>>,
}

impl CvData {
    pub fn load(spec: &DatasetSpec, folds: usize) -> Result<Self, DataError> {
        Self::load_repeated(spec, folds, 1, 0, Splitter::Stratified)
    }

    /// K-fold repeated `repeats` times: repeat 0 is [`CvData::load`]'s folds; repeat r
    /// stratifies a permutation of the training rows drawn from `(seed, r)`, so each
    /// repeat is a new stratified split, the same for every configuration.
    ///
    /// `splitter`: stratified k-fold, or plain (unshuffled) k-fold.
    pub fn load_repeated(
        spec: &DatasetSpec,
        folds: usize,
        repeats: usize,
        seed: u64,
        splitter: Splitter,
    ) -> Result<Self, DataError> {
        if folds < 2 {
            return Err(DataError::BadOption {
                key: "folds",
                value: folds.to_string(),
                expected: "at least 2",
            });
        }
        let prepared = data::prepare(spec, folds)?;
        let raw_train = prepared.dataset.x.select(&prepared.train);
        let preprocessor = Preprocessor::fit(&raw_train).map_err(|c| DataError::EmptyFeature {
            file: prepared.dataset.file.clone(),
            column: prepared.dataset.feature_names[c].clone(),
        })?;
        let train_x = preprocessor.transform(&raw_train);
        let labels = prepared.train_y();
        let fold_of = splitter.folds(&labels, folds);
        let repeat_fold_of = (1..repeats.max(1))
            .map(|r| {
                use rand::seq::SliceRandom;
                let mut order: Vec<usize> = (0..labels.len()).collect();
                order.shuffle(&mut crate::rng::stream(
                    seed,
                    r as u64,
                    crate::rng::Stream::Repeat,
                ));
                let permuted: Vec<usize> = order.iter().map(|&i| labels[i]).collect();
                let mut of = vec![0; labels.len()];
                for (p, f) in splitter.folds(&permuted, folds).into_iter().enumerate() {
                    of[order[p]] = f;
                }
                of
            })
            .collect();
        Ok(CvData {
            repeats: repeats.max(1),
            repeat_fold_of,
            train_y: labels.iter().map(|&y| y as i64).collect(),
            prepared,
            preprocessor,
            folds,
            train_x,
            fold_of,
        })
    }

    pub fn n_features(&self) -> usize {
        self.prepared.dataset.x.cols
    }

    pub fn n_classes(&self) -> usize {
        self.prepared.dataset.n_classes()
    }

    /// Folds of a configuration: folds × repeats.
    pub fn total_folds(&self) -> usize {
        self.folds * self.repeats
    }

    /// Fold `index` (0..total_folds): split `index % folds` of repeat `index / folds`;
    /// its rows are the validation part, all other training rows train.
    pub fn fold(&self, index: usize) -> FoldData {
        let (repeat, k) = (index / self.folds, index % self.folds);
        let assignment = if repeat == 0 {
            &self.fold_of
        } else {
            &self.repeat_fold_of[repeat - 1]
        };
        let nf = self.n_features();
        let mut f = FoldData {
            n_features: nf,
            n_classes: self.n_classes(),
            train_x: Vec::new(),
            train_y: Vec::new(),
            val_x: Vec::new(),
            val_y: Vec::new(),
        };
        for (r, &fold) in assignment.iter().enumerate() {
            let row = &self.train_x[r * nf..(r + 1) * nf];
            if fold == k {
                f.val_x.extend_from_slice(row);
                f.val_y.push(self.train_y[r]);
            } else {
                f.train_x.extend_from_slice(row);
                f.train_y.push(self.train_y[r]);
            }
        }
        f
    }
}

/// A sweep's data on each partition its configurations use: the spec's own, and one
/// per sub-grid `"split"` (see [`crate::data::partition`]). Each is split,
/// preprocessed (fitted on its own training part) and cut into folds once.
pub struct CvSets {
    /// The spec's own partition.
    pub base: std::sync::Arc<CvData>,
    /// The others, in the order first met.
    pub others: Vec<(Partition, std::sync::Arc<CvData>)>,
    dataset: DatasetSpec,
    seed: u64,
}

impl CvSets {
    /// Loads the spec's own partition (`dataset`, `splitter`) and each distinct one of
    /// `partitions` (`None`: the spec's own).
    pub fn load<'a>(
        dataset: &DatasetSpec,
        folds: usize,
        repeats: usize,
        seed: u64,
        splitter: Splitter,
        partitions: impl IntoIterator<Item = Option<&'a Partition>>,
    ) -> Result<Self, DataError> {
        let base = std::sync::Arc::new(CvData::load_repeated(
            dataset, folds, repeats, seed, splitter,
        )?);
        let mut sets = CvSets {
            base,
            others: Vec::new(),
            dataset: dataset.clone(),
            seed,
        };
        sets.add(partitions)?;
        Ok(sets)
    }

    /// Loads each of `partitions` not loaded yet (a sweep may hold configurations of an
    /// earlier spec version, on partitions the present spec no longer names).
    pub fn add<'a>(
        &mut self,
        partitions: impl IntoIterator<Item = Option<&'a Partition>>,
    ) -> Result<(), DataError> {
        let (folds, repeats) = (self.base.folds, self.base.repeats);
        for p in partitions.into_iter().flatten() {
            if self.others.iter().any(|(q, _)| q == p) {
                continue;
            }
            let data = CvData::load_repeated(
                &p.apply(&self.dataset),
                folds,
                repeats,
                self.seed,
                p.splitter,
            )?;
            self.others.push((p.clone(), std::sync::Arc::new(data)));
        }
        Ok(())
    }

    /// The data of a configuration's partition (`None`: the spec's own); `None` when it
    /// was not loaded.
    pub fn get(&self, partition: Option<&Partition>) -> Option<&std::sync::Arc<CvData>> {
        match partition {
            None => Some(&self.base),
            Some(p) => self.others.iter().find(|(q, _)| q == p).map(|(_, d)| d),
        }
    }

    /// Every partition's data, the spec's own first.
    pub fn all(&self) -> impl Iterator<Item = (Option<&Partition>, &std::sync::Arc<CvData>)> {
        std::iter::once((None, &self.base)).chain(self.others.iter().map(|(p, d)| (Some(p), d)))
    }
}

/// Runs every fold of one configuration on `jobs` threads with `threads_per_job`
/// LibTorch threads each. Results come back in fold order.
pub fn run_folds(
    data: &CvData,
    params: &HyperParams,
    seed: u64,
    device: Device,
    jobs: usize,
    threads_per_job: usize,
) -> Vec<Result<FoldResult, FoldError>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<FoldResult, FoldError>>>> =
        Mutex::new((0..data.folds).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, data.folds) {
            s.spawn(|| {
                // Per thread: OpenMP's thread count is a per-thread setting.
                tch::set_num_threads(threads_per_job as i32);
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= data.folds {
                        break;
                    }
                    let r = train::train_fold(
                        &data.fold(k),
                        params,
                        seed,
                        k as u64,
                        device,
                        &mut Silent,
                    );
                    results.lock().unwrap_or_else(|e| e.into_inner())[k] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or(Err(FoldError::Cancelled)))
        .collect()
}
