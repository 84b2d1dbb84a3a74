//! Tabular data in: CSV reading, label selection, splits and preprocessing.
//!
//! The study's pipeline, step for step: read the CSV, keep the chosen genres, split
//! stratified into train (49 %), validation (21 %) and test (30 %), and fit every
//! transform (KNN imputation, quantile-to-normal, min-max to [-1, 1]) on the training
//! part only. Cross-validation then runs on the training part. Anything fitted on more
//! than the part it is meant for would leak, so [`Prepared`] keeps the raw parts and
//! each fold fits its own [`preprocess::Preprocessor`].

pub mod demo;
pub mod encode;
mod features;
pub mod numpy_rng;
pub mod partition;
pub mod preprocess;
mod read;
pub use read::LineCounter;
pub mod split;

pub use features::{load_features, FeatureRequest, FeatureRows};
use read::describe_mismatch;
pub use read::{fingerprint, fingerprint_bytes, load, read_source};

use encode::{Encoder, Encoding, RawColumn};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the data comes from and how it is cut. Field names are the spec's `dataset` keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub path: PathBuf,
    #[serde(default = "default_label")]
    pub label: String,
    /// Columns that are neither features nor the label, besides the unnamed row-index
    /// column (an empty header or `Unnamed: 0`, as pandas writes it), which is never a
    /// feature. A column named here that is absent is an error, except that index.
    // Left out of a written spec when it is only the default (the index column, which
    // is never a feature anyway): the report's spec then shows no `drop` for a file
    // whose index header is empty.
    #[serde(default = "default_drop", skip_serializing_if = "is_default_drop")]
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
    /// The field separator (`,`, `;` or a tab); default: guessed from the header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<char>,
    /// Numbers are written with a decimal comma (`0,673`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decimal_comma: bool,
    /// Text columns: how each is encoded (`onehot`, the default for text columns;
    /// `ordinal`; `drop`). Naming a numeric column here treats its values as
    /// categories.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encode: BTreeMap<String, Encoding>,
    /// What the train/validation/test splits stratify on: the labels (the default), or,
    /// as code that passes `pd.get_dummies(labels)` to `train_test_split(stratify=…)`,
    /// their one-hot rows, whose class order differs (see `split::onehot_order`).
    #[serde(default, skip_serializing_if = "Stratify::is_default")]
    pub stratify: Stratify,
    /// `df.sample(frac=1, random_state=SEED)` before the splits (the rows' order, which
    /// the splits' draws depend on); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preshuffle: Option<u64>,
}

/// What the splits stratify on (`dataset.stratify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stratify {
    #[default]
    Labels,
    Onehot,
}

impl Stratify {
    pub fn is_default(&self) -> bool {
        *self == Stratify::Labels
    }
}

/// The dataset path that selects the built-in synthetic data (no file needed).
pub const BUILTIN_DEMO: &str = "builtin:demo";

/// The name pandas gives an unnamed index column when it writes one.
pub const INDEX_COLUMN: &str = "Unnamed: 0";

/// A pandas row index: never a feature.
/// A label cell that holds no label: empty, or a missing value as pandas reads one
/// (`NA`, `nan`, `None`, …).
pub fn is_missing_label(cell: &str) -> bool {
    read::is_missing(cell)
}

pub fn is_index_column(header: &str) -> bool {
    header.is_empty() || header == INDEX_COLUMN
}

fn default_label() -> String {
    "Genre".into()
}
fn default_drop() -> Vec<String> {
    vec![INDEX_COLUMN.into()]
}
fn is_default_drop(drop: &Vec<String>) -> bool {
    *drop == default_drop()
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
            delimiter: None,
            decimal_comma: false,
            encode: BTreeMap::new(),
            stratify: Stratify::Labels,
            preshuffle: None,
        }
    }

    /// The dropped columns as they take effect: the index column, then the others.
    pub fn effective_drop(&self) -> Vec<String> {
        let mut out = vec![INDEX_COLUMN.to_string()];
        out.extend(self.drop.iter().filter(|d| *d != INDEX_COLUMN).cloned());
        out
    }

    fn read_options(&self) -> Result<ReadOptions, DataError> {
        let delimiter = match self.delimiter {
            None => None,
            Some(c @ (',' | ';' | '\t' | '|')) => Some(c as u8),
            Some(c) => {
                return Err(DataError::BadOption {
                    key: "delimiter",
                    value: format!("{c:?}"),
                    expected: "one of `,` `;` `|` or a tab",
                })
            }
        };
        if self.decimal_comma && delimiter == Some(b',') {
            return Err(DataError::BadOption {
                key: "decimal_comma",
                value: "true".into(),
                expected:
                    "a delimiter other than `,` (a comma cannot separate fields and decimals)",
            });
        }
        Ok(ReadOptions {
            delimiter,
            decimal_comma: self.decimal_comma,
        })
    }
}

/// How a CSV's cells are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOptions {
    /// None: guessed from the header line (`,`, `;` or tab, the most frequent).
    #[serde(default)]
    pub delimiter: Option<u8>,
    #[serde(default)]
    pub decimal_comma: bool,
}

impl ReadOptions {
    /// The separator: the given one, or the most frequent of `,` `;` tab in the header
    /// line (outside quotes), `,` when none occurs.
    pub fn delimiter_for(&self, bytes: &[u8]) -> u8 {
        if let Some(d) = self.delimiter {
            return d;
        }
        let header = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
        let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
        let mut quoted = false;
        for &b in header {
            if b == b'"' {
                quoted = !quoted;
            } else if !quoted {
                for c in counts.iter_mut().filter(|c| c.0 == b) {
                    c.1 += 1;
                }
            }
        }
        counts
            .iter()
            .fold((b',', 0), |best, c| if c.1 > best.1 { *c } else { best })
            .0
    }

    /// A number, with a decimal comma where the option says so.
    fn number(&self, cell: &str) -> Option<f64> {
        let t = cell.trim();
        let v = if self.decimal_comma && !t.contains('.') {
            t.replace(',', ".").parse::<f64>()
        } else {
            t.parse::<f64>()
        };
        v.ok().filter(|v| v.is_finite())
    }
}

/// `0,673` or `-12,5`: a number written with a decimal comma.
pub(super) fn looks_like_decimal_comma(cell: &str) -> bool {
    let t = cell.trim().trim_start_matches(['-', '+']);
    match t.split_once(',') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
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
    #[error("{file}: no column `{column}` ({what}); columns are: {columns}{hint}")]
    MissingColumn {
        file: PathBuf,
        column: String,
        what: &'static str,
        columns: String,
        /// Where the header suggests another separator, what to try.
        hint: String,
    },
    #[error("{file}: line {line}, column `{column}`: `{value}` is not a number{more} (most of the column's cells are numbers; empty, NaN, NA, n/a, null and None mean missing, as pandas reads them; to treat the column as categories, set its encoding: --encode '{column}=onehot')")]
    NotNumeric {
        file: PathBuf,
        line: u64,
        column: String,
        value: String,
        /// The column's other bad cells (`; also line 7 `?`, …`), or empty.
        more: String,
    },
    #[error("{file}: line {line}, column `{column}`: `{value}` is not a number{more}, and the model reads this column as numbers (empty, NaN, NA, n/a, null and None mean missing, which the model imputes); correct the cell or leave it empty")]
    NotNumericForModel {
        file: PathBuf,
        line: u64,
        column: String,
        value: String,
        more: String,
    },
    #[error("{file}: line {line}, column `{column}`: `{value}` has a decimal comma; read such numbers with --decimal-comma{}", if *in_spec { " (spec: \"decimal_comma\": true)" } else { "" })]
    DecimalComma {
        file: PathBuf,
        line: u64,
        column: String,
        value: String,
        /// The read is a spec's dataset (which has the key), not `predict`'s file.
        in_spec: bool,
    },
    #[error("{file}: line {line}, column `{column}`: `{value}` is not among the categories the model learned ({known}); without --strict it would read as no category")]
    UnseenCategory {
        file: PathBuf,
        line: u64,
        column: String,
        value: String,
        known: String,
    },
    #[error("{file}: {message}")]
    Selection { file: PathBuf, message: String },
    #[error("{file}: the columns do not match the model's features: {}{}", describe_mismatch(missing, unexpected), if unexpected.is_empty() { "" } else { " (--ignore-extra leaves extra columns out; --id-column COLUMN carries an id column into the predictions)" })]
    Columns {
        file: PathBuf,
        missing: Vec<String>,
        unexpected: Vec<String>,
    },
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
    /// Saved with missing cells as JSON `null` (JSON has no NaN; serde_json writes
    /// NaN as `null` and would refuse it on reading), read back as NaN.
    #[serde(with = "nan_as_null")]
    pub data: Vec<f64>,
}

/// Serde for cells that may be missing: NaN ↔ `null`.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(data: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let cells: Vec<Option<f64>> = data.iter().map(|v| (!v.is_nan()).then_some(*v)).collect();
        cells.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let cells = Vec::<Option<f64>>::deserialize(d)?;
        Ok(cells.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
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
    /// The network's inputs: the feature columns, one-hot columns expanded.
    pub feature_names: Vec<String>,
    /// The file's feature columns, in file order.
    pub input_columns: Vec<String>,
    /// Those columns as read (text columns as text).
    pub raw: Vec<RawColumn>,
    /// How `raw` became `x`; fitted on the training part by [`prepare`].
    pub encoder: Encoder,
    /// Columns left out: (name, why).
    pub excluded: Vec<(String, &'static str)>,
    /// Sorted, as scikit-learn's `LabelEncoder` orders them.
    pub class_names: Vec<String>,
    pub x: Matrix,
    /// Class index per row.
    pub y: Vec<usize>,
    /// Each row's line in the file (the header is line 1).
    pub lines: Vec<u64>,
    /// Each row's index among the file's data rows: pandas' default index of
    /// `read_csv`, kept through a label selection (`keep_labels`).
    pub index: Vec<usize>,
}

impl Dataset {
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Learns the text columns' categories from `rows` and encodes every row with them.
    fn encode_with(&mut self, rows: &[usize], spec: &DatasetSpec) {
        let ordinal = |name: &str| spec.encode.get(name) == Some(&Encoding::Ordinal);
        self.encoder = Encoder::fit(&self.input_columns, &self.raw, rows, &ordinal);
        // Never strict here: a category the training part lacks reads as none.
        self.x = self
            .encoder
            .transform(&self.raw, false)
            .unwrap_or_else(|_| Matrix::new(0, 0, Vec::new()));
        self.feature_names = self.encoder.feature_names();
    }

    /// One line for headers: how many features, which columns are text, which left out.
    pub fn describe_features(&self) -> String {
        let mut s = format!(
            "{} features from {} columns",
            self.feature_names.len(),
            self.input_columns.len()
        );
        let text = self.encoder.describe_text();
        if !text.is_empty() {
            s += &format!(" (text: {})", text.join(", "));
        }
        if !self.excluded.is_empty() {
            let ex: Vec<String> = self
                .excluded
                .iter()
                .map(|(c, why)| format!("`{c}` ({why})"))
                .collect();
            s += &format!("; not features: {}", ex.join(", "));
        }
        s
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

/// The dataset cut into its three parts (row indices into `dataset`).
#[derive(Debug, Clone)]
pub struct Prepared {
    pub dataset: Dataset,
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
    /// What the user should know but that does not stop the run.
    pub warnings: Vec<String>,
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
    let k = dataset.n_classes();
    // The rows in the order the splits see them, and the labels they stratify on.
    let all: Vec<usize> = match spec.preshuffle {
        Some(s) => {
            let s = u32::try_from(s).map_err(|_| DataError::BadOption {
                key: "preshuffle",
                value: s.to_string(),
                expected: "an integer in [0, 2^32) (NumPy's RandomState seeds)",
            })?;
            split::preshuffle(dataset.y.len(), s)
        }
        None => (0..dataset.y.len()).collect(),
    };
    let strata: Vec<usize> = match spec.stratify {
        Stratify::Labels => dataset.y.clone(),
        Stratify::Onehot => split::onehot_order(&dataset.y, k),
    };
    let class_of_stratum = |s: usize| match spec.stratify {
        Stratify::Labels => s,
        Stratify::Onehot => k - 1 - s,
    };
    let in_file = dataset.class_counts();
    // A class too small to split: its counts in the file and after each split, and the
    // option that leaves it out.
    let small_class = |e: split::SplitError, step: &str, after_test: bool| match e {
        split::SplitError::ClassTooSmall { class, rows } => {
            let class = class_of_stratum(class);
            let name = &dataset.class_names[class];
            let others: Vec<&str> = dataset
                .class_names
                .iter()
                .filter(|c| *c != name)
                .map(String::as_str)
                .collect();
            let counts = if after_test {
                format!(
                    "{} row(s) in the file, {rows} left after the test split",
                    in_file[class]
                )
            } else {
                format!("{rows} row(s) in the file")
            };
            let twin = dataset
                .class_names
                .iter()
                .find(|c| *c != name && c.to_lowercase() == name.to_lowercase())
                .map(|c| format!(" (`{name}` differs from `{c}` only in case: if they are one label, write them alike in the file)"))
                .unwrap_or_default();
            too_few(format!(
                "{step} split: label `{name}` has {counts}; a stratified split needs at least 2 on each side{twin}. \
                 Leave it out with --keep-labels \"{}\" (spec: keep_labels), or merge it into another label",
                others.join(",")
            ))
        }
        other => too_few(format!(
            "{step} split: {}",
            other.describe(&dataset.class_names)
        )),
    };
    // As the study: train_test_split(random_state=seed) twice, each with a fresh generator.
    let (rest, test) = split::stratified_split(&all, &strata, spec.test_fraction, seed)
        .map_err(|e| small_class(e, "test", false))?;
    let (train, validation) =
        split::stratified_split(&rest, &strata, spec.validation_fraction, seed)
            .map_err(|e| small_class(e, "validation", true))?;
    let mut prepared = Prepared {
        dataset,
        train,
        validation,
        test,
        warnings: Vec::new(),
    };
    // Labels alike but for case are different classes (cells are trimmed, so ` pop`
    // is `pop`; `Pop` is not): say so, with their rows.
    {
        let counts = prepared.dataset.class_counts();
        let mut alike: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for (c, name) in prepared.dataset.class_names.iter().enumerate() {
            alike.entry(name.to_lowercase()).or_default().push(c);
        }
        for group in alike.values().filter(|g| g.len() > 1) {
            let named: Vec<String> = group
                .iter()
                .map(|&c| format!("`{}` ({} rows)", prepared.dataset.class_names[c], counts[c]))
                .collect();
            prepared.warnings.push(format!(
                "labels {} differ only in case: they are read as different classes; if they are one, write them alike in the file",
                named.join(" and ")
            ));
        }
    }
    // Text columns' categories come from the training part only.
    let train = prepared.train.clone();
    prepared.dataset.encode_with(&train, spec);
    let train_counts = counts(&prepared.train_y(), k);
    let fewest = train_counts
        .iter()
        .enumerate()
        .min_by_key(|(_, n)| **n)
        .map(|(c, n)| (c, *n));
    if let Some((c, n)) = fewest.filter(|(_, n)| *n < folds) {
        if train_counts.iter().all(|&n| n < folds) {
            return Err(too_few(format!(
                "every label has fewer rows in the training part than the {folds} folds"
            )));
        }
        // scikit-learn's StratifiedKFold warns and goes on; so do we.
        prepared.warnings.push(format!(
            "label `{}` has only {n} row(s) in the training part ({} in the file), fewer than the {folds} folds: \
             some folds will have none of it to validate on (scikit-learn warns the same)",
            prepared.dataset.class_names[c], in_file[c]
        ));
    }
    prepared
        .warnings
        .extend(id_like_columns(&prepared.dataset, spec));
    Ok(prepared)
}

/// Text columns one-hot encoded by default whose value differs in (almost) every row:
/// an id or a free-text field, which would become hundreds of features that say
/// nothing about new rows.
fn id_like_columns(d: &Dataset, spec: &DatasetSpec) -> Vec<String> {
    let mut out = Vec::new();
    for (name, col) in d.input_columns.iter().zip(&d.raw) {
        let RawColumn::Text(cells) = col else {
            continue;
        };
        if spec.encode.contains_key(name) {
            continue; // the user chose its encoding
        }
        let present: Vec<&String> = cells.iter().flatten().collect();
        let distinct = present
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
        if distinct >= 20 && distinct * 10 >= present.len() * 9 {
            out.push(format!(
                "column `{name}` is text with {distinct} different values in {} rows (an id?): one-hot encoding turns it into \
                 that many features that say nothing about new rows; leave it out with --drop '{name}' (spec: dataset.drop)",
                present.len()
            ));
        }
    }
    out
}
