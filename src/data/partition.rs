//! A sub-grid's own partition of the data (the spec's `"split"` key).
//!
//! The study's three grids did not run on one split: grid B pre-shuffled the rows and held
//! out 30 % twice, grids A and C held out 20 % twice, and grid C's cross-validation was
//! `KFold`, not `StratifiedKFold`. A spec states that by giving a sub-grid a `"split"`
//! object whose keys override the spec's `dataset` split keys and `cv.splitter`:
//!
//! ```json
//! {"split": {"preshuffle": 42, "test_fraction": 0.3, "validation_fraction": 0.3}, "epochs": [30], …}
//! ```
//!
//! A configuration measured on another partition is another experiment, so the partition
//! is part of its identity: the spec resolves each `"split"` against its own sections into
//! a full [`Partition`] (or `null` where it comes out as the spec's own split), and a
//! configuration carries it among its hyperparameters, in its canonical form, its id and
//! its training key. A configuration on the spec's own split carries none, so every sweep
//! that does not ask for the key keeps its ids and results.

use super::split::Splitter;
use super::{DatasetSpec, Stratify};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Everything that decides which rows train, validate, test and form each fold, besides
/// the data file and the fold count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub test_fraction: f64,
    pub validation_fraction: f64,
    pub seed: u64,
    pub stratify: Stratify,
    /// `null`: no pre-shuffle.
    pub preshuffle: Option<u64>,
    pub splitter: Splitter,
}

/// The keys a `"split"` object accepts.
pub const KEYS: [&str; 6] = [
    "preshuffle",
    "seed",
    "splitter",
    "stratify",
    "test_fraction",
    "validation_fraction",
];

impl Partition {
    /// The partition a spec's `dataset` and `cv.splitter` give.
    pub fn of(dataset: &DatasetSpec, splitter: Splitter) -> Self {
        Partition {
            test_fraction: dataset.test_fraction,
            validation_fraction: dataset.validation_fraction,
            seed: dataset.seed,
            stratify: dataset.stratify,
            preshuffle: dataset.preshuffle,
            splitter,
        }
    }

    /// `base` with the keys of a `"split"` object set over it; the error names the key
    /// and says what it expected.
    pub fn over(base: &Partition, split: &Value) -> Result<Partition, (String, String)> {
        let Value::Object(obj) = split else {
            return Err((
                String::new(),
                format!(
                    "expected an object of split keys ({}), got {split}",
                    KEYS.join(", ")
                ),
            ));
        };
        let mut full: Map<String, Value> = match serde_json::to_value(base) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for (k, v) in obj {
            if !KEYS.contains(&k.as_str()) {
                return Err((k.clone(), format!("not a split key; accepted: {} (folds and repeats are the spec's, for every sub-grid)", KEYS.join(", "))));
            }
            full.insert(k.clone(), v.clone());
        }
        let p: Partition = serde_json::from_value(Value::Object(full))
            .map_err(|e| (String::new(), e.to_string()))?;
        p.check()?;
        Ok(p)
    }

    /// A stored (full) partition, as a configuration's hyperparameters hold it.
    pub fn from_stored(v: &Value) -> Result<Partition, String> {
        let p: Partition = serde_json::from_value(v.clone())
            .map_err(|e| format!("a full split object ({}): {e}", KEYS.join(", ")))?;
        p.check().map_err(|(k, m)| format!("{k}: {m}"))?;
        Ok(p)
    }

    fn check(&self) -> Result<(), (String, String)> {
        for (key, v) in [
            ("test_fraction", self.test_fraction),
            ("validation_fraction", self.validation_fraction),
        ] {
            if !(v > 0.0 && v < 1.0) {
                return Err((key.into(), format!("{v}: expected a fraction in (0, 1)")));
            }
        }
        if let Some(s) = self.preshuffle {
            if u32::try_from(s).is_err() {
                return Err((
                    "preshuffle".into(),
                    format!("{s}: expected an integer in [0, 2^32) (NumPy's RandomState seeds)"),
                ));
            }
        }
        Ok(())
    }

    /// Its canonical JSON value (every key, in a fixed order).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The dataset section with this partition's keys.
    pub fn apply(&self, dataset: &DatasetSpec) -> DatasetSpec {
        DatasetSpec {
            test_fraction: self.test_fraction,
            validation_fraction: self.validation_fraction,
            seed: self.seed,
            stratify: self.stratify,
            preshuffle: self.preshuffle,
            ..dataset.clone()
        }
    }

    /// A configuration's stored `split` as a table cell: `spec` for the spec's own
    /// partition, else its keys in short (`t0.3 v0.3 s42 pre42 onehot kfold`).
    pub fn cell(stored: Option<&Value>) -> String {
        match stored.filter(|v| !v.is_null()).map(Partition::from_stored) {
            None => "spec".into(),
            Some(Err(_)) => stored.map(Value::to_string).unwrap_or_default(),
            Some(Ok(p)) => {
                let mut parts = vec![
                    format!("t{}", p.test_fraction),
                    format!("v{}", p.validation_fraction),
                    format!("s{}", p.seed),
                ];
                parts.extend(p.preshuffle.map(|s| format!("pre{s}")));
                parts.push(match p.stratify {
                    Stratify::Labels => "labels".into(),
                    Stratify::Onehot => "onehot".into(),
                });
                parts.push(match p.splitter {
                    Splitter::Stratified => "stratified".into(),
                    Splitter::Kfold => "kfold".into(),
                });
                parts.join(" ")
            }
        }
    }

    /// A short description: "test 0.3, validation 0.3 of the rest, seed 42, pre-shuffled (42), one-hot strata, KFold".
    pub fn describe(&self) -> String {
        let mut parts = vec![format!(
            "test {}, validation {} of the rest, seed {}",
            self.test_fraction, self.validation_fraction, self.seed
        )];
        if let Some(s) = self.preshuffle {
            parts.push(format!("pre-shuffled ({s})"));
        }
        if self.stratify == Stratify::Onehot {
            parts.push("strata on one-hot rows".into());
        }
        parts.push(match self.splitter {
            Splitter::Stratified => "StratifiedKFold".into(),
            Splitter::Kfold => "KFold".into(),
        });
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Partition {
        Partition::of(&DatasetSpec::new("x.csv"), Splitter::Stratified)
    }

    #[test]
    fn keys_set_over_the_base_and_a_stored_form_reads_back() {
        let p = Partition::over(&base(), &json!({"preshuffle": 42, "test_fraction": 0.2, "splitter": "kfold", "stratify": "onehot"})).unwrap();
        assert_eq!(p.preshuffle, Some(42));
        assert_eq!(p.test_fraction, 0.2);
        assert_eq!(p.validation_fraction, base().validation_fraction);
        assert_eq!(p.splitter, Splitter::Kfold);
        assert_eq!(Partition::from_stored(&p.to_value()).unwrap(), p);
        assert_eq!(
            Partition::over(&p, &p.to_value()).unwrap(),
            p,
            "a resolved split resolves to itself"
        );
    }

    #[test]
    fn mistakes_name_the_key() {
        let (k, m) = Partition::over(&base(), &json!({"folds": 5})).unwrap_err();
        assert_eq!(k, "folds");
        assert!(m.contains("accepted: preshuffle"), "{m}");
        let (k, _) = Partition::over(&base(), &json!({"test_fraction": 1.5})).unwrap_err();
        assert_eq!(k, "test_fraction");
        let (_, m) = Partition::over(&base(), &json!({"splitter": "shuffled"})).unwrap_err();
        assert!(m.contains("shuffled"), "{m}");
        assert!(Partition::over(&base(), &json!([1])).is_err());
        assert!(Partition::from_stored(&json!({"test_fraction": 0.2})).is_err());
    }
}
