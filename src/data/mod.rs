//! Tabular data in: CSV reading, label selection, splits and preprocessing.
//!
//! The study's pipeline, step for step: read the CSV, keep the chosen genres, split
//! stratified into train (49 %), validation (21 %) and test (30 %), and fit every
//! transform (KNN imputation, quantile-to-normal, min-max to [-1, 1]) on the training
//! part only. Cross-validation then runs on the training part. Anything fitted on more
//! than the part it is meant for would leak, so [`Prepared`] keeps the raw parts and
//! each fold fits its own [`preprocess::Preprocessor`].

pub mod demo;
pub mod numpy_rng;
pub mod preprocess;
pub mod split;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the data comes from and how it is cut. Field names are the spec's `dataset` keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub path: PathBuf,
    #[serde(default = "default_label")]
    pub label: String,
    /// Columns that are neither features nor the label. A column named here that is
    /// absent is an error, except the default unnamed index column.
    #[serde(default = "default_drop")]
    pub drop: Vec<String>,
    /// Labels to keep; `None` keeps every row.
    #[serde(default)]
    pub keep_labels: Option<Vec<String>>,
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// Fraction of what remains after the test split.
    #[serde(default = "default_validation_fraction")]
    pub validation_fraction: f64,
    #[serde(default = "default_split_seed")]
    pub seed: u64,
}

pub const INDEX_COLUMN: &str = "Unnamed: 0";

fn default_label() -> String {
    "Genre".into()
}
fn default_drop() -> Vec<String> {
    vec![INDEX_COLUMN.into()]
}
fn default_test_fraction() -> f64 {
    0.3
}
fn default_validation_fraction() -> f64 {
    0.3
}
fn default_split_seed() -> u64 {
    42
}

impl DatasetSpec {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DatasetSpec {
            path: path.into(),
            label: default_label(),
            drop: default_drop(),
            keep_labels: None,
            test_fraction: default_test_fraction(),
            validation_fraction: default_validation_fraction(),
            seed: default_split_seed(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: line {line}: {message}")]
    Csv {
        file: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{file}: no column `{column}` ({what}); columns are: {columns}")]
    MissingColumn {
        file: PathBuf,
        column: String,
        what: &'static str,
        columns: String,
    },
    #[error("{file}: line {line}, column `{column}`: `{value}` is not a number (expected a numeric feature; empty, NaN or NA mean missing)")]
    NotNumeric {
        file: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    #[error("{file}: {message}")]
    Selection { file: PathBuf, message: String },
    #[error("{file}: the columns do not match the model's features: {}", describe_mismatch(missing, unexpected))]
    Columns { file: PathBuf, missing: Vec<String>, unexpected: Vec<String> },
    #[error("{file}: {message}")]
    TooFewRows { file: PathBuf, message: String },
    #[error("{file}: feature column `{column}` has no values in the training part; drop it")]
    EmptyFeature { file: PathBuf, column: String },
    #[error("dataset option `{key}` = {value}: expected {expected}")]
    BadOption {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// A dense row-major matrix of features; missing cells are NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix shape");
        Matrix { rows, cols, data }
    }

    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// The rows at `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(idx.len() * self.cols);
        for &r in idx {
            data.extend_from_slice(self.row(r));
        }
        Matrix::new(idx.len(), self.cols, data)
    }

    pub fn column(&self, c: usize) -> impl Iterator<Item = f64> + '_ {
        self.data.iter().skip(c).step_by(self.cols.max(1)).copied()
    }
}

/// The labelled table after reading and label selection.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub file: PathBuf,
    pub feature_names: Vec<String>,
    /// Sorted, as scikit-learn's `LabelEncoder` orders them.
    pub class_names: Vec<String>,
    pub x: Matrix,
    /// Class index per row.
    pub y: Vec<usize>,
}

impl Dataset {
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    pub fn class_counts(&self) -> Vec<usize> {
        counts(&self.y, self.n_classes())
    }
}

pub fn counts(y: &[usize], n_classes: usize) -> Vec<usize> {
    let mut c = vec![0; n_classes];
    for &k in y {
        c[k] += 1;
    }
    c
}

fn is_missing(cell: &str) -> bool {
    matches!(
        cell.trim(),
        "" | "nan" | "NaN" | "NAN" | "NA" | "N/A" | "null" | "NULL" | "None"
    )
}

/// The data file's bytes, or the built-in demo data for `builtin:demo`.
pub fn read_source(spec: &DatasetSpec) -> Result<Vec<u8>, DataError> {
    if spec.path.as_os_str() == crate::spec::BUILTIN_DEMO {
        let mut bytes = Vec::new();
        demo::write_rows(&mut bytes, demo::DEFAULT_ROWS, demo::DEFAULT_SEED).map_err(|source| DataError::Io {
            file: spec.path.clone(),
            source,
        })?;
        return Ok(bytes);
    }
    std::fs::read(&spec.path).map_err(|source| DataError::Io {
        file: spec.path.clone(),
        source,
    })
}

/// SHA-256 over the data's bytes and every option that decides what is read and how
/// it is split (not the path: the same file elsewhere is the same data).
pub fn fingerprint(spec: &DatasetSpec) -> Result<String, DataError> {
    let bytes = read_source(spec)?;
    Ok(fingerprint_bytes(spec, &bytes))
}

fn fingerprint_bytes(spec: &DatasetSpec, bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let options = serde_json::json!({
        "label": spec.label, "drop": spec.drop, "keep_labels": spec.keep_labels,
        "test_fraction": spec.test_fraction, "validation_fraction": spec.validation_fraction,
        "seed": spec.seed,
    });
    let mut h = Sha256::new();
    h.update(bytes);
    h.update(options.to_string().as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `spec.path` and keeps the selected labels.
pub fn load(spec: &DatasetSpec) -> Result<Dataset, DataError> {
    let bytes = read_source(spec)?;
    load_bytes(spec, &bytes)
}

fn load_bytes(spec: &DatasetSpec, bytes: &[u8]) -> Result<Dataset, DataError> {
    let file = spec.path.clone();
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(&file, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let columns = || headers.join(", ");
    let label_col = headers.iter().position(|h| *h == spec.label).ok_or_else(|| {
        DataError::MissingColumn {
            file: file.clone(),
            column: spec.label.clone(),
            what: "the label column",
            columns: columns(),
        }
    })?;
    let mut dropped = vec![false; headers.len()];
    for d in &spec.drop {
        match headers.iter().position(|h| h == d) {
            Some(i) => dropped[i] = true,
            None if d == INDEX_COLUMN => {}
            None => {
                return Err(DataError::MissingColumn {
                    file: file.clone(),
                    column: d.clone(),
                    what: "listed in `drop`",
                    columns: columns(),
                })
            }
        }
    }
    // pandas writes its index under an empty header when it has no name.
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            dropped[i] = true;
        }
    }
    let feature_cols: Vec<usize> =
        (0..headers.len()).filter(|&i| i != label_col && !dropped[i]).collect();
    if feature_cols.is_empty() {
        return Err(DataError::Selection {
            file,
            message: "no feature columns left after removing the label and dropped columns".into(),
        });
    }
    let keep: Option<BTreeMap<&str, usize>> = spec
        .keep_labels
        .as_ref()
        .map(|ls| ls.iter().map(|l| (l.as_str(), 0usize)).collect());
    let mut keep = keep;

    let mut data = Vec::new();
    let mut labels = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(&file, e)),
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let label = record.get(label_col).unwrap_or("").trim();
        if let Some(k) = keep.as_mut() {
            match k.get_mut(label) {
                Some(n) => *n += 1,
                None => continue,
            }
        }
        if label.is_empty() {
            return Err(DataError::Csv {
                file,
                line,
                message: format!("empty label in column `{}`", spec.label),
            });
        }
        for &c in &feature_cols {
            let cell = record.get(c).unwrap_or("");
            let v = if is_missing(cell) {
                f64::NAN
            } else {
                cell.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                    DataError::NotNumeric {
                        file: file.clone(),
                        line,
                        column: headers[c].clone(),
                        value: cell.to_string(),
                    }
                })?
            };
            data.push(v);
        }
        labels.push(label.to_string());
    }
    if let Some(k) = &keep {
        let absent: Vec<&str> = k.iter().filter(|(_, n)| **n == 0).map(|(l, _)| *l).collect();
        if !absent.is_empty() {
            return Err(DataError::Selection {
                file,
                message: format!(
                    "keep_labels {:?} match no row in column `{}`",
                    absent, spec.label
                ),
            });
        }
    }
    if labels.is_empty() {
        return Err(DataError::Selection {
            file,
            message: "the selection is empty: no data rows".into(),
        });
    }
    let mut class_names: Vec<String> = labels.clone();
    class_names.sort();
    class_names.dedup();
    if class_names.len() < 2 {
        return Err(DataError::Selection {
            file,
            message: format!("only one class ({}) in the selection; need at least two", class_names[0]),
        });
    }
    let y = labels
        .iter()
        .map(|l| class_names.binary_search(l).unwrap_or(0))
        .collect();
    let rows = labels.len();
    Ok(Dataset {
        file,
        feature_names: feature_cols.iter().map(|&c| headers[c].clone()).collect(),
        class_names,
        x: Matrix::new(rows, feature_cols.len(), data),
        y,
    })
}

fn describe_mismatch(missing: &[String], unexpected: &[String]) -> String {
    let list = |v: &[String]| v.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing {}", list(missing)));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected {}", list(unexpected)));
    }
    parts.join("; ")
}

/// Reads the feature columns `features` (in that order) of a CSV for prediction.
/// Columns in `ignored` (the label, the dropped ones) may be present; any other
/// column, or a missing feature, is refused with both lists named.
pub fn load_features(file: &Path, features: &[String], ignored: &[String]) -> Result<Matrix, DataError> {
    let bytes = std::fs::read(file).map_err(|source| DataError::Io { file: file.into(), source })?;
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes.as_slice());
    let headers: Vec<String> =
        rdr.headers().map_err(|e| csv_error(file, e))?.iter().map(|h| h.trim().to_string()).collect();
    let missing: Vec<String> = features.iter().filter(|f| !headers.contains(f)).cloned().collect();
    let unexpected: Vec<String> = headers
        .iter()
        .filter(|h| !h.is_empty() && !features.contains(h) && !ignored.contains(h))
        .cloned()
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        return Err(DataError::Columns { file: file.into(), missing, unexpected });
    }
    let cols: Vec<usize> = features.iter().map(|f| headers.iter().position(|h| h == f).unwrap_or(0)).collect();
    let mut data = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut rows = 0;
    while rdr.read_record(&mut record).map_err(|e| csv_error(file, e))? {
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        for &c in &cols {
            let cell = record.get(c).unwrap_or("");
            data.push(if is_missing(cell) {
                f64::NAN
            } else {
                cell.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| DataError::NotNumeric {
                    file: file.into(),
                    line,
                    column: headers[c].clone(),
                    value: cell.to_string(),
                })?
            });
        }
        rows += 1;
    }
    Ok(Matrix::new(rows, features.len(), data))
}

fn csv_error(file: &Path, e: csv::Error) -> DataError {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    match e.into_kind() {
        csv::ErrorKind::Io(source) => DataError::Io {
            file: file.to_path_buf(),
            source,
        },
        kind => DataError::Csv {
            file: file.to_path_buf(),
            line,
            message: match kind {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("{len} fields, expected {expected_len} as in the header"),
                csv::ErrorKind::Utf8 { err, .. } => format!("not UTF-8: {err}"),
                other => format!("{other:?}"),
            },
        },
    }
}

/// The dataset cut into its three parts (row indices into `dataset`).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub dataset: Dataset,
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

impl Prepared {
    pub fn train_y(&self) -> Vec<usize> {
        self.train.iter().map(|&i| self.dataset.y[i]).collect()
    }
}

/// Loads and splits: test = `test_fraction` of all rows, validation =
/// `validation_fraction` of the rest, both stratified and seeded. `folds` is checked
/// against the smallest class of the training part.
pub fn prepare(spec: &DatasetSpec, folds: usize) -> Result<Prepared, DataError> {
    for (key, v) in [
        ("test_fraction", spec.test_fraction),
        ("validation_fraction", spec.validation_fraction),
    ] {
        if !(v > 0.0 && v < 1.0) {
            return Err(DataError::BadOption {
                key,
                value: v.to_string(),
                expected: "a fraction in (0, 1)",
            });
        }
    }
    let seed = u32::try_from(spec.seed).map_err(|_| DataError::BadOption {
        key: "seed",
        value: spec.seed.to_string(),
        expected: "an integer in [0, 2^32) (NumPy's RandomState seeds)",
    })?;
    let dataset = load(spec)?;
    let file = dataset.file.clone();
    let too_few = |message: String| DataError::TooFewRows {
        file: file.clone(),
        message,
    };
    let all: Vec<usize> = (0..dataset.y.len()).collect();
    // As the study: train_test_split(random_state=seed) twice, each with a fresh generator.
    let (rest, test) = split::stratified_split(&all, &dataset.y, spec.test_fraction, seed)
        .map_err(|e| too_few(format!("test split: {}", e.describe(&dataset.class_names))))?;
    let (train, validation) = split::stratified_split(&rest, &dataset.y, spec.validation_fraction, seed)
        .map_err(|e| too_few(format!("validation split: {}", e.describe(&dataset.class_names))))?;
    let prepared = Prepared {
        dataset,
        train,
        validation,
        test,
    };
    let train_counts = counts(&prepared.train_y(), prepared.dataset.n_classes());
    for (k, &n) in train_counts.iter().enumerate() {
        if n < folds {
            return Err(too_few(format!(
                "label `{}` has {} row(s) in the training part, fewer than the {} folds",
                prepared.dataset.class_names[k], n, folds
            )));
        }
    }
    Ok(prepared)
}
