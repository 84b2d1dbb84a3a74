//! What the study's own result file does not say, from its authors' code.
//!
//! "The Genre Factor"'s `HPO_combined.csv` (2,032 rows) joins three runs made on
//! different partitions and, for one of them, with another epoch count than it states
//! (issue 30; their repository Henry-Kr15/TheGenreFactor):
//! - grid A (rows 0–959, `scripts/NN_final.ipynb` at 0c270b4): `train_test_split(…,
//!   test_size=0.2, stratify=one-hot, random_state=42)` twice, StratifiedKFold(3), 60
//!   epochs: the study spec's own partition, as the file says;
//! - grid B (rows 960–1983, the same notebook at b3946e0): `df.sample(frac=1,
//!   random_state=42)` first, then `test_size=0.3` twice, and **30 epochs**: the
//!   file's 60 was written in by `combine_HP.ipynb` when the runs were joined;
//! - grid C (rows 1984–2031, the 48 rows whose callback columns are 0,
//!   `scripts/modular_NN_chain/hyperparameter_optimisation_multi.py` at 604b19a):
//!   `GridSearchCV(cv=3)` with a one-hot `y`, which scikit-learn splits with `KFold(3)`,
//!   unshuffled; its callbacks (EarlyStopping patience 20, ReduceLROnPlateau 0.1 / 5 /
//!   `min_lr` 1e-5), which the file leaves at 0, are filled in by every import
//!   (`import::GRID_C_CALLBACKS`).
//!
//! `import` recognises the file by its SHA-256 and gives grid B's rows their epochs
//! and partition and grid C's rows their partition, so that each row is the
//! configuration `search-spaces/genre-factor.json` plans, id for id, and says so. A file
//! with other bytes (edited, re-saved) is read as it stands.

use super::import::ImportedRow;
use crate::config::Config;
use crate::data::partition::Partition;
use crate::data::split::Splitter;
use crate::data::Stratify;
use crate::params::Protocol;

/// The SHA-256 of the study's `HPO_combined.csv` as its authors published it.
pub const STUDY_FILE_SHA256: &str =
    "c79d79c26cd4f6bf086cf4ff0eee7658ed526ddecb6f8361d0a4d0a6f0eb708f";

/// Grid B's rows (0-based, after the header).
const GRID_B_ROWS: std::ops::Range<usize> = 960..1984;

/// The partition of grids A and C: one-hot strata, 0.2 twice, seed 42.
fn study_partition(splitter: Splitter) -> Partition {
    Partition {
        test_fraction: 0.2,
        validation_fraction: 0.2,
        seed: 42,
        stratify: Stratify::Onehot,
        preshuffle: None,
        splitter,
    }
}

/// Grid B's partition: pre-shuffled with seed 42, one-hot strata, 0.3 twice.
pub fn grid_b_partition() -> Partition {
    Partition {
        test_fraction: 0.3,
        validation_fraction: 0.3,
        preshuffle: Some(42),
        ..study_partition(Splitter::Stratified)
    }
}

/// Grid C's partition: grid A's, cross-validated with `KFold(3)`.
pub fn grid_c_partition() -> Partition {
    study_partition(Splitter::Kfold)
}

/// Gives the study's rows what its authors' code ran (nothing, for a file of other
/// bytes); returns a sentence per correction, for `import` to say.
pub fn correct(sha256: &str, rows: &mut [ImportedRow]) -> Vec<String> {
    if sha256 != STUDY_FILE_SHA256 || rows.len() < GRID_B_ROWS.end {
        return Vec::new();
    }
    let (mut epochs, mut b, mut c) = (0, 0, 0);
    for (i, r) in rows.iter_mut().enumerate() {
        let mut p = r.config.params.clone();
        if GRID_B_ROWS.contains(&i) && p.protocol == Protocol::Notebook {
            if p.epochs == 60 {
                p.epochs = 30;
                epochs += 1;
            }
            p.split = Some(grid_b_partition());
            b += 1;
        } else if p.protocol == Protocol::GridSearchCv {
            p.split = Some(grid_c_partition());
            c += 1;
        } else {
            continue;
        }
        for (k, v) in [
            ("epochs", serde_json::json!(p.epochs)),
            (
                "split",
                p.split
                    .as_ref()
                    .map_or(serde_json::Value::Null, Partition::to_value),
            ),
        ] {
            r.stated.insert(k.into(), v);
        }
        r.config = Config::new(p);
    }
    let mut out = Vec::new();
    if b > 0 {
        out.push(format!(
            "grid B ({b} rows, lines {}–{}): epochs 60 → 30 ({epochs} rows; the file's 60 was written in when the runs were joined) and its own partition ({})",
            GRID_B_ROWS.start + 2,
            GRID_B_ROWS.end + 1,
            grid_b_partition().describe()
        ));
    }
    if c > 0 {
        out.push(format!(
            "grid C ({c} rows, callback columns 0): its callbacks (EarlyStopping 20, ReduceLROnPlateau 0.1 / 5, min_lr 1e-5) and its partition ({})",
            grid_c_partition().describe()
        ));
    }
    out
}
