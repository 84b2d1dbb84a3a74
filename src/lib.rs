//! gridsweep: hyperparameter grid searches for dense networks on tabular data, with
//! the semantics of the study "The Genre Factor" (scikit-learn GridSearchCV + SciKeras
//! + Keras), on LibTorch.
//!
//! The flow, one module each: `params` (one configuration) → `data` (CSV,
//! preprocessing, splits) → `train` (model, optimizers, callbacks, one fold) → `cv`
//! (K folds of one configuration, the weighted score). The binary's commands live in
//! `cli`. Sweeps add `spec` (grid specs → configurations) → `sched` (dispatcher and
//! workers) → `store` (SQLite) → `rank` / `export`; `reporter` displays the
//! scheduler's events.

pub mod cli;
pub mod cv;
pub mod data;
pub mod device;
pub mod export;
pub mod params;
pub mod rank;
pub mod reporter;
pub mod rng;
pub mod sched;
pub mod spec;
pub mod store;
pub mod train;
