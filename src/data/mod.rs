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
pub mod numpy_rng;
pub mod preprocess;
pub mod split;

use encode::{Encoder, Encoding, RawColumn};
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
    /// Columns that are neither features nor the label, besides the unnamed row-index
    /// column (an empty header or `Unnamed: 0`, as pandas writes it), which is never a
    /// feature. A column named here that is absent is an error, except that index.
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
}

/// The dataset path that selects the built-in synthetic data (no file needed).
pub const BUILTIN_DEMO: &str = "builtin:demo";

/// The name pandas gives an unnamed index column when it writes one.
pub const INDEX_COLUMN: &str = "Unnamed: 0";

/// A pandas row index: never a feature.
pub fn is_index_column(header: &str) -> bool {
    header.is_empty() || header == INDEX_COLUMN
}

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
            delimiter: None,
            decimal_comma: false,
            encode: BTreeMap::new(),
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
                expected: "a delimiter other than `,` (a comma cannot separate fields and decimals)",
            });
        }
        Ok(ReadOptions { delimiter, decimal_comma: self.decimal_comma })
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
        counts.iter().fold((b',', 0), |best, c| if c.1 > best.1 { *c } else { best }).0
    }

    /// A number, with a decimal comma where the option says so.
    fn number(&self, cell: &str) -> Option<f64> {
        let t = cell.trim();
        let v = if self.decimal_comma && !t.contains('.') { t.replace(',', ".").parse::<f64>() } else { t.parse::<f64>() };
        v.ok().filter(|v| v.is_finite())
    }
}

/// `0,673` or `-12,5`: a number written with a decimal comma.
fn looks_like_decimal_comma(cell: &str) -> bool {
    let t = cell.trim().trim_start_matches(['-', '+']);
    match t.split_once(',') {
        Some((a, b)) => !a.is_empty() && !b.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit()),
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
    #[error("{file}: line {line}, column `{column}`: `{value}` is not a number (most of the column's cells are numbers; empty, NaN or NA mean missing; to treat the column as categories, set its encoding: --encode '{column}=onehot')")]
    NotNumeric {
        file: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    #[error("{file}: line {line}, column `{column}`: `{value}` is not a number, and the model reads this column as numbers (empty, NaN or NA mean missing, which the model imputes); correct the cell or leave it empty")]
    NotNumericForModel {
        file: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    #[error("{file}: line {line}, column `{column}`: `{value}` has a decimal comma; read such numbers with --decimal-comma (spec: \"decimal_comma\": true)")]
    DecimalComma {
        file: PathBuf,
        line: u64,
        column: String,
        value: String,
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
        self.x = self.encoder.transform(&self.raw, false).unwrap_or_else(|_| Matrix::new(0, 0, Vec::new()));
        self.feature_names = self.encoder.feature_names();
    }

    /// One line for headers: how many features, which columns are text, which left out.
    pub fn describe_features(&self) -> String {
        let mut s = format!("{} features from {} columns", self.feature_names.len(), self.input_columns.len());
        let text = self.encoder.describe_text();
        if !text.is_empty() {
            s += &format!(" (text: {})", text.join(", "));
        }
        if !self.excluded.is_empty() {
            let ex: Vec<String> = self.excluded.iter().map(|(c, why)| format!("`{c}` ({why})")).collect();
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

fn is_missing(cell: &str) -> bool {
    matches!(
        cell.trim(),
        "" | "nan" | "NaN" | "NAN" | "NA" | "N/A" | "null" | "NULL" | "None"
    )
}

/// The data file's bytes, or the built-in demo data for `builtin:demo`.
pub fn read_source(spec: &DatasetSpec) -> Result<Vec<u8>, DataError> {
    if spec.path.as_os_str() == BUILTIN_DEMO {
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
    // The options as they take effect; those added later only when set, so that the
    // fingerprints of earlier sweeps stay what they were.
    let mut options = serde_json::json!({
        "label": spec.label, "drop": spec.effective_drop(), "keep_labels": spec.keep_labels,
        "test_fraction": spec.test_fraction, "validation_fraction": spec.validation_fraction,
        "seed": spec.seed,
    });
    if let Some(d) = spec.delimiter {
        options["delimiter"] = serde_json::json!(d);
    }
    if spec.decimal_comma {
        options["decimal_comma"] = serde_json::json!(true);
    }
    if !spec.encode.is_empty() {
        options["encode"] = serde_json::json!(spec.encode);
    }
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
    check_text(&file, bytes)?;
    if spec.drop.contains(&spec.label) {
        return Err(DataError::Selection {
            file,
            message: format!("`{}` is the label column and cannot be dropped (--label names the label column)", spec.label),
        });
    }
    let opts = spec.read_options()?;
    let delimiter = opts.delimiter_for(bytes);
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).delimiter(delimiter).from_reader(bytes);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(&file, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let missing = |column: &str, what: &'static str| DataError::MissingColumn {
        file: file.clone(),
        column: column.to_string(),
        what,
        columns: headers.join(", "),
        hint: separator_hint(&headers, delimiter),
    };
    let label_col = headers.iter().position(|h| *h == spec.label).ok_or_else(|| {
        let mut e = missing(&spec.label, "the label column");
        if let DataError::MissingColumn { hint, .. } = &mut e {
            if hint.is_empty() {
                *hint = " (name the label column with --label COLUMN; spec: dataset.label)".into();
            }
        }
        e
    })?;
    let mut excluded: Vec<(usize, &'static str)> = Vec::new();
    for d in &spec.drop {
        match headers.iter().position(|h| h == d) {
            Some(i) => excluded.push((i, "dropped")),
            None if d == INDEX_COLUMN => {}
            None => return Err(missing(d, "listed in `drop`")),
        }
    }
    for (name, enc) in &spec.encode {
        match headers.iter().position(|h| h == name) {
            Some(i) if *enc == Encoding::Drop => excluded.push((i, "dropped by its encoding")),
            Some(_) => {}
            None => return Err(missing(name, "listed in `encode`")),
        }
    }
    // The row index pandas writes (an empty header or `Unnamed: 0`) is never a feature.
    for (i, h) in headers.iter().enumerate() {
        if is_index_column(h) {
            excluded.push((i, "row index"));
        }
    }
    excluded.sort();
    excluded.dedup_by_key(|e| e.0);
    let feature_cols: Vec<usize> =
        (0..headers.len()).filter(|&i| i != label_col && !excluded.iter().any(|e| e.0 == i)).collect();
    if feature_cols.is_empty() {
        return Err(DataError::Selection {
            file,
            message: "no feature columns left after removing the label and dropped columns".into(),
        });
    }
    let mut keep: Option<BTreeMap<&str, usize>> =
        spec.keep_labels.as_ref().map(|ls| ls.iter().map(|l| (l.as_str(), 0usize)).collect());

    // Cells per feature column, as text, and each kept row's line.
    let mut lines_at = LineCounter::new(bytes);
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); feature_cols.len()];
    let mut lines = Vec::new();
    let mut labels = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error_at(&file, e, &mut lines_at)),
        }
        let line = lines_at.line(record.position());
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
        for (j, &c) in feature_cols.iter().enumerate() {
            cells[j].push(record.get(c).unwrap_or("").to_string());
        }
        lines.push(line);
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
    let input_columns: Vec<String> = feature_cols.iter().map(|&c| headers[c].clone()).collect();
    let raw = input_columns
        .iter()
        .zip(cells)
        .map(|(name, col)| read_column(&file, name, col, &lines, opts, spec.encode.get(name).copied()))
        .collect::<Result<Vec<_>, _>>()?;
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
    let mut dataset = Dataset {
        file,
        feature_names: Vec::new(),
        input_columns,
        raw,
        encoder: Encoder::default(),
        excluded: excluded.iter().map(|&(i, why)| (headers[i].clone(), why)).collect(),
        class_names,
        x: Matrix::new(0, 0, Vec::new()),
        y,
    };
    // Until `prepare` refits it on the training part: categories of every row.
    let all: Vec<usize> = (0..labels.len()).collect();
    dataset.encode_with(&all, spec);
    Ok(dataset)
}

/// A column as numbers, or as text when most of its cells are not numbers (or its
/// encoding says so). A numeric column's stray text cell is an error naming it.
fn read_column(file: &Path, name: &str, cells: Vec<String>, lines: &[u64], opts: ReadOptions, encoding: Option<Encoding>) -> Result<RawColumn, DataError> {
    let text = || RawColumn::Text(cells.iter().map(|c| (!is_missing(c)).then(|| c.trim().to_string())).collect());
    if matches!(encoding, Some(Encoding::Onehot | Encoding::Ordinal)) {
        return Ok(text());
    }
    let present = cells.iter().filter(|c| !is_missing(c)).count();
    let numeric_like = cells.iter().filter(|c| !is_missing(c) && (opts.number(c).is_some() || looks_like_decimal_comma(c))).count();
    if present > 0 && numeric_like * 2 < present {
        return Ok(text());
    }
    let mut values = Vec::with_capacity(cells.len());
    for (r, cell) in cells.iter().enumerate() {
        if is_missing(cell) {
            values.push(f64::NAN);
            continue;
        }
        match opts.number(cell) {
            Some(v) => values.push(v),
            None => {
                let (file, line, column, value) = (file.to_path_buf(), lines[r], name.to_string(), cell.to_string());
                return Err(if looks_like_decimal_comma(cell) && !opts.decimal_comma {
                    DataError::DecimalComma { file, line, column, value }
                } else {
                    DataError::NotNumeric { file, line, column, value }
                });
            }
        }
    }
    Ok(RawColumn::Numeric(values))
}

/// A data file must be text in UTF-8 with a header: an empty file, or one in another
/// encoding (Latin-1 from older spreadsheets), is said once, with what to do.
fn check_text(file: &Path, bytes: &[u8]) -> Result<(), DataError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::Selection { file: file.to_path_buf(), message: "empty file: expected a header line and data rows".into() });
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        return Err(DataError::Csv {
            file: file.to_path_buf(),
            line,
            message: format!(
                "not UTF-8 (byte 0x{:02X}; the file is probably Latin-1 or Windows-1252): re-save it as UTF-8, e.g. \
                 `iconv -f latin1 -t utf-8 IN.csv > OUT.csv`, or choose UTF-8 when saving from a spreadsheet",
                bytes[at]
            ),
        });
    }
    Ok(())
}

/// When a header holds another separator than the one read with, say which to try.
fn separator_hint(headers: &[String], delimiter: u8) -> String {
    let joined = headers.join("");
    for (c, name, flag) in [(b';', "`;`", "';'"), (b'\t', "a tab", "tab"), (b',', "`,`", "','"), (b'|', "`|`", "'|'")] {
        if c != delimiter && joined.as_bytes().contains(&c) {
            return format!(" (the header holds {name}: if the file is separated by it, pass --delimiter {flag}; spec: \"delimiter\")");
        }
    }
    String::new()
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

/// What `predict` reads from a CSV: the model's input columns, encoded as in training.
#[derive(Debug, Clone, Copy)]
pub struct FeatureRequest<'a> {
    pub encoder: &'a Encoder,
    /// Columns that may be present besides the features (the label, dropped ones).
    pub ignored: &'a [String],
    pub read: ReadOptions,
    /// A category the model did not learn is an error (else: no category).
    pub strict: bool,
    /// Other columns are ignored (else refused, with both lists named).
    pub ignore_extra: bool,
    /// A column carried through to the output (e.g. an id).
    pub id_column: Option<&'a str>,
    /// The label column, read when present (predictions are then scored against it);
    /// `required`: named by the user, so its absence is an error.
    pub label_column: Option<(&'a str, bool)>,
}

/// Rows read for prediction: the encoded features, and the id column's values.
pub struct FeatureRows {
    pub x: Matrix,
    pub ids: Option<Vec<String>>,
    /// The label column's values, when it was read.
    pub labels: Option<Vec<String>>,
}

/// Reads the model's input columns of a CSV (in any order) and encodes them as in
/// training. A missing feature, or (unless `ignore_extra`) an unknown column, is refused
/// with both lists named.
pub fn load_features(file: &Path, req: FeatureRequest) -> Result<FeatureRows, DataError> {
    let bytes = std::fs::read(file).map_err(|source| DataError::Io { file: file.into(), source })?;
    check_text(file, &bytes)?;
    let delimiter = req.read.delimiter_for(&bytes);
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).delimiter(delimiter).from_reader(bytes.as_slice());
    let headers: Vec<String> =
        rdr.headers().map_err(|e| csv_error(file, e))?.iter().map(|h| h.trim().to_string()).collect();
    let features: Vec<&str> = req.encoder.columns.iter().map(|c| c.name.as_str()).collect();
    let id_col = match req.id_column {
        Some(id) => Some(headers.iter().position(|h| h == id).ok_or_else(|| DataError::MissingColumn {
            file: file.into(),
            column: id.into(),
            what: "the --id-column",
            columns: headers.join(", "),
            hint: separator_hint(&headers, delimiter),
        })?),
        None => None,
    };
    let label_col = match req.label_column {
        Some((label, required)) => match headers.iter().position(|h| h == label) {
            Some(i) => Some(i),
            None if required => {
                return Err(DataError::MissingColumn {
                    file: file.into(),
                    column: label.into(),
                    what: "the --label column",
                    columns: headers.join(", "),
                    hint: separator_hint(&headers, delimiter),
                })
            }
            None => None,
        },
        None => None,
    };
    let missing: Vec<String> = features.iter().filter(|f| !headers.iter().any(|h| h == *f)).map(|f| f.to_string()).collect();
    let unexpected: Vec<String> = headers
        .iter()
        .filter(|h| {
            !is_index_column(h)
                && !features.contains(&h.as_str())
                && !req.ignored.contains(h)
                && Some(h.as_str()) != req.id_column
                && Some(h.as_str()) != req.label_column.map(|l| l.0)
        })
        .cloned()
        .collect();
    if !missing.is_empty() || (!unexpected.is_empty() && !req.ignore_extra) {
        return Err(DataError::Columns { file: file.into(), missing, unexpected: if req.ignore_extra { vec![] } else { unexpected } });
    }
    let cols: Vec<usize> = features.iter().map(|f| headers.iter().position(|h| h == f).unwrap_or(0)).collect();
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); cols.len()];
    let mut ids = id_col.map(|_| Vec::new());
    let mut labels = label_col.map(|_| Vec::new());
    let mut lines = Vec::new();
    let mut lines_at = LineCounter::new(&bytes);
    let mut record = csv::StringRecord::new();
    while rdr.read_record(&mut record).map_err(|e| csv_error_at(file, e, &mut lines_at))? {
        lines.push(lines_at.line(record.position()));
        for (j, &c) in cols.iter().enumerate() {
            cells[j].push(record.get(c).unwrap_or("").to_string());
        }
        if let (Some(ids), Some(c)) = (ids.as_mut(), id_col) {
            ids.push(record.get(c).unwrap_or("").to_string());
        }
        if let (Some(labels), Some(c)) = (labels.as_mut(), label_col) {
            labels.push(record.get(c).unwrap_or("").trim().to_string());
        }
    }
    let raw = req
        .encoder
        .columns
        .iter()
        .zip(cells)
        .map(|(c, col)| {
            let encoding = match c.code {
                encode::Code::Numeric => None,
                encode::Code::Onehot { .. } => Some(Encoding::Onehot),
                encode::Code::Ordinal { .. } => Some(Encoding::Ordinal),
            };
            // The advice of a training-time error (--encode) is not predict's to take:
            // the model fixed how each column is read.
            let col = read_column(file, &c.name, col, &lines, req.read, encoding).map_err(|e| match e {
                DataError::NotNumeric { file, line, column, value } => DataError::NotNumericForModel { file, line, column, value },
                e => e,
            })?;
            // A column the model reads as numbers must be numbers here too.
            match (&c.code, &col) {
                (encode::Code::Numeric, RawColumn::Text(v)) => {
                    let r = v.iter().position(|x| x.as_deref().is_some_and(|x| req.read.number(x).is_none())).unwrap_or(0);
                    Err(DataError::NotNumericForModel { file: file.into(), line: lines[r], column: c.name.clone(), value: v[r].clone().unwrap_or_default() })
                }
                _ => Ok(col),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let x = req.encoder.transform(&raw, req.strict).map_err(|u| {
        let known = req
            .encoder
            .columns
            .iter()
            .find(|c| c.name == u.column)
            .map(|c| match &c.code {
                encode::Code::Onehot { categories } | encode::Code::Ordinal { categories } => categories.join(", "),
                encode::Code::Numeric => String::new(),
            })
            .unwrap_or_default();
        DataError::UnseenCategory { file: file.into(), line: lines[u.row], column: u.column, value: u.value, known }
    })?;
    Ok(FeatureRows { x, ids, labels })
}

/// File line numbers (header = line 1) of records, from their byte offsets: the csv
/// reader's own line count does not count `\r\n` endings as lines. Records come in
/// order, so counting is incremental.
struct LineCounter<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter { bytes, at: 0, line: 1 }
    }

    fn line(&mut self, p: Option<&csv::Position>) -> u64 {
        let Some(p) = p else { return 0 };
        // A record's position can be the end of the line before it (the `\n` of a
        // `\r\n`): its first cell is past any line ends there.
        let mut to = (p.byte() as usize).min(self.bytes.len());
        while to < self.bytes.len() && matches!(self.bytes[to], b'\r' | b'\n') {
            to += 1;
        }
        if to < self.at {
            // Out of order (never, for one reader): count from the start.
            (self.at, self.line) = (0, 1);
        }
        self.line += self.bytes[self.at..to].iter().filter(|&&b| b == b'\n').count() as u64;
        self.at = to;
        self.line
    }
}

fn csv_error_at(file: &Path, e: csv::Error, lines: &mut LineCounter) -> DataError {
    let line = lines.line(e.position());
    match csv_error(file, e) {
        DataError::Csv { file, message, .. } => DataError::Csv { file, line, message },
        other => other,
    }
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
    let all: Vec<usize> = (0..dataset.y.len()).collect();
    let k = dataset.n_classes();
    let in_file = dataset.class_counts();
    // A class too small to split: its counts in the file and after each split, and the
    // option that leaves it out.
    let small_class = |e: split::SplitError, step: &str, after_test: bool| match e {
        split::SplitError::ClassTooSmall { class, rows } => {
            let name = &dataset.class_names[class];
            let others: Vec<&str> = dataset.class_names.iter().filter(|c| *c != name).map(String::as_str).collect();
            let counts = if after_test {
                format!("{} row(s) in the file, {rows} left after the test split", in_file[class])
            } else {
                format!("{rows} row(s) in the file")
            };
            too_few(format!(
                "{step} split: label `{name}` has {counts}; a stratified split needs at least 2 on each side. \
                 Leave it out with --keep-labels \"{}\" (spec: keep_labels), or merge it into another label",
                others.join(",")
            ))
        }
        other => too_few(format!("{step} split: {}", other.describe(&dataset.class_names))),
    };
    // As the study: train_test_split(random_state=seed) twice, each with a fresh generator.
    let (rest, test) = split::stratified_split(&all, &dataset.y, spec.test_fraction, seed).map_err(|e| small_class(e, "test", false))?;
    let (train, validation) = split::stratified_split(&rest, &dataset.y, spec.validation_fraction, seed)
        .map_err(|e| small_class(e, "validation", true))?;
    let mut prepared = Prepared {
        dataset,
        train,
        validation,
        test,
        warnings: Vec::new(),
    };
    // Text columns' categories come from the training part only.
    let train = prepared.train.clone();
    prepared.dataset.encode_with(&train, spec);
    let train_counts = counts(&prepared.train_y(), k);
    let fewest = train_counts.iter().enumerate().min_by_key(|(_, n)| **n).map(|(c, n)| (c, *n));
    if let Some((c, n)) = fewest.filter(|(_, n)| *n < folds) {
        if train_counts.iter().all(|&n| n < folds) {
            return Err(too_few(format!("every label has fewer rows in the training part than the {folds} folds")));
        }
        // scikit-learn's StratifiedKFold warns and goes on; so do we.
        prepared.warnings.push(format!(
            "label `{}` has only {n} row(s) in the training part ({} in the file), fewer than the {folds} folds: \
             some folds will have none of it to validate on (scikit-learn warns the same)",
            prepared.dataset.class_names[c], in_file[c]
        ));
    }
    prepared.warnings.extend(id_like_columns(&prepared.dataset, spec));
    Ok(prepared)
}

/// Text columns one-hot encoded by default whose value differs in (almost) every row:
/// an id or a free-text field, which would become hundreds of features that say
/// nothing about new rows.
fn id_like_columns(d: &Dataset, spec: &DatasetSpec) -> Vec<String> {
    let mut out = Vec::new();
    for (name, col) in d.input_columns.iter().zip(&d.raw) {
        let RawColumn::Text(cells) = col else { continue };
        if spec.encode.contains_key(name) {
            continue; // the user chose its encoding
        }
        let present: Vec<&String> = cells.iter().flatten().collect();
        let distinct = present.iter().collect::<std::collections::HashSet<_>>().len();
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
