//! gridsweep: hyperparameter grid searches for dense networks on tabular data, with
//! the semantics of the study "The Genre Factor" (scikit-learn GridSearchCV + SciKeras
//! + Keras), on LibTorch.
//!
//! The flow, one module each: `params` (one configuration) → `data` (CSV,
//! preprocessing, splits) → `train` (model, optimizers, callbacks, one fold) → `cv`
//! (K folds of one configuration, the weighted score). The binary's commands live in
//! `cli`.

pub mod cli;
pub mod cv;
pub mod data;
pub mod device;
pub mod params;
pub mod rng;
pub mod train;
