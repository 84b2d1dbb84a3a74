//! Reading a CSV into a [`Dataset`]: the label and feature columns, the rows a spec
//! keeps, every cell as a number or as text, and errors that name the file, the line
//! (as an editor counts it, `\r\n` endings included) and the column.

use super::encode::{Encoder, Encoding, RawColumn};
use super::{
    demo, is_index_column, looks_like_decimal_comma, DataError, Dataset, DatasetSpec, Matrix,
    ReadOptions, BUILTIN_DEMO, INDEX_COLUMN,
};
use std::collections::BTreeMap;
use std::path::Path;

/// A missing cell: what pandas' `read_csv` reads as NaN by default (its `na_values`),
/// and `NAN`.
pub(super) fn is_missing(cell: &str) -> bool {
    matches!(
        cell.trim(),
        "" | "#N/A"
            | "#N/A N/A"
            | "#NA"
            | "-1.#IND"
            | "-1.#QNAN"
            | "-NaN"
            | "-nan"
            | "1.#IND"
            | "1.#QNAN"
            | "<NA>"
            | "N/A"
            | "NA"
            | "NULL"
            | "NaN"
            | "NAN"
            | "None"
            | "n/a"
            | "nan"
            | "null"
    )
}

/// How many of a column's bad cells an error names.
const BAD_CELLS_NAMED: usize = 8;

/// The data file's bytes, or the built-in demo data for `builtin:demo`.
pub fn read_source(spec: &DatasetSpec) -> Result<Vec<u8>, DataError> {
    if spec.path.as_os_str() == BUILTIN_DEMO {
        let mut bytes = Vec::new();
        demo::write_rows(&mut bytes, demo::DEFAULT_ROWS, demo::DEFAULT_SEED).map_err(|source| {
            DataError::Io {
                file: spec.path.clone(),
                source,
            }
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

/// [`fingerprint`] of `bytes` read under `spec`'s options (`plan --calibrate` asks whether
/// a sweep recorded with other options read the same file).
pub fn fingerprint_bytes(spec: &DatasetSpec, bytes: &[u8]) -> String {
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
    if !spec.stratify.is_default() {
        options["stratify"] = serde_json::json!(spec.stratify);
    }
    if let Some(s) = spec.preshuffle {
        options["preshuffle"] = serde_json::json!(s);
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
            message: format!(
                "`{}` is the label column and cannot be dropped (--label names the label column)",
                spec.label
            ),
        });
    }
    if let Some(encoding) = spec.encode.get(&spec.label) {
        return Err(DataError::Selection {
            file,
            message: format!(
                "`{}` is the label column and cannot be dropped or encoded, as it is not a feature (encode {}={}; --label names the label column)",
                spec.label,
                spec.label,
                encoding.name()
            ),
        });
    }
    let opts = spec.read_options()?;
    let delimiter = opts.delimiter_for(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let headers = header_names(&file, &mut rdr)?;
    let columns = select_columns(spec, &headers, delimiter)?;
    let Rows {
        cells,
        lines,
        index,
        labels,
    } = read_rows(spec, &mut rdr, bytes, &columns)?;
    let input_columns: Vec<String> = columns
        .features
        .iter()
        .map(|&c| headers[c].clone())
        .collect();
    // Every column is read; of several refusals, the one at the earliest line is said
    // (then the leftmost), as a person reads the file: row by row.
    let mut raw = Vec::with_capacity(input_columns.len());
    let mut first: Option<DataError> = None;
    for (name, col) in input_columns.iter().zip(cells) {
        match read_column(
            &file,
            name,
            col,
            &lines,
            opts,
            spec.encode.get(name).copied(),
        ) {
            Ok(c) => raw.push(c),
            Err(e) => {
                let line = |e: &DataError| match e {
                    DataError::DecimalComma { line, .. } | DataError::NotNumeric { line, .. } => {
                        *line
                    }
                    _ => 0,
                };
                if first.as_ref().is_none_or(|f| line(&e) < line(f)) {
                    first = Some(e);
                }
            }
        }
    }
    if let Some(e) = first {
        return Err(e);
    }
    let mut class_names: Vec<String> = labels.clone();
    class_names.sort();
    class_names.dedup();
    if class_names.len() < 2 {
        return Err(DataError::Selection {
            file,
            message: format!(
                "only one class ({}) in the selection; need at least two",
                class_names[0]
            ),
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
        excluded: columns
            .excluded
            .iter()
            .map(|&(i, why)| (headers[i].clone(), why))
            .collect(),
        class_names,
        x: Matrix::new(0, 0, Vec::new()),
        y,
        lines: lines.clone(),
        index,
    };
    // Until `prepare` refits it on the training part: categories of every row.
    let all: Vec<usize> = (0..labels.len()).collect();
    dataset.encode_with(&all, spec);
    Ok(dataset)
}

/// Which columns of the header are the label, the features, and left out (with why).
struct Columns {
    label: usize,
    features: Vec<usize>,
    excluded: Vec<(usize, &'static str)>,
}

fn select_columns(
    spec: &DatasetSpec,
    headers: &[String],
    delimiter: u8,
) -> Result<Columns, DataError> {
    let file = &spec.path;
    let missing = |column: &str, what: &'static str| DataError::MissingColumn {
        file: file.clone(),
        column: column.to_string(),
        what,
        columns: column_list(headers),
        hint: separator_hint(headers, delimiter),
    };
    let label = headers
        .iter()
        .position(|h| *h == spec.label)
        .ok_or_else(|| {
            let mut e = missing(&spec.label, "the label column");
            if let DataError::MissingColumn { hint, .. } = &mut e {
                if hint.is_empty() {
                    *hint =
                        " (name the label column with --label COLUMN; spec: dataset.label)".into();
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
    let features: Vec<usize> = (0..headers.len())
        .filter(|&i| i != label && !excluded.iter().any(|e| e.0 == i))
        .collect();
    if features.is_empty() {
        return Err(DataError::Selection {
            file: file.clone(),
            message: "no feature columns left after removing the label and dropped columns".into(),
        });
    }
    Ok(Columns {
        label,
        features,
        excluded,
    })
}

/// The kept rows: cells per feature column, as text, each row's line and label.
struct Rows {
    cells: Vec<Vec<String>>,
    lines: Vec<u64>,
    /// Each kept row's index among the file's data rows (pandas' default index).
    index: Vec<usize>,
    labels: Vec<String>,
}

fn read_rows(
    spec: &DatasetSpec,
    rdr: &mut csv::Reader<&[u8]>,
    bytes: &[u8],
    columns: &Columns,
) -> Result<Rows, DataError> {
    let file = &spec.path;
    let mut keep: Option<BTreeMap<&str, usize>> = spec
        .keep_labels
        .as_ref()
        .map(|ls| ls.iter().map(|l| (l.as_str(), 0usize)).collect());
    let mut lines_at = LineCounter::new(bytes);
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); columns.features.len()];
    let mut lines = Vec::new();
    let mut index = Vec::new();
    let mut labels = Vec::new();
    let mut record = csv::StringRecord::new();
    for at in 0.. {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error_at(file, e, &mut lines_at)),
        }
        let line = lines_at.line(record.position());
        let label = record.get(columns.label).unwrap_or("").trim();
        if let Some(k) = keep.as_mut() {
            match k.get_mut(label) {
                Some(n) => *n += 1,
                None => continue,
            }
        }
        if label.is_empty() {
            return Err(DataError::Csv {
                file: file.clone(),
                line,
                message: format!("empty label in column `{}`", spec.label),
            });
        }
        for (j, &c) in columns.features.iter().enumerate() {
            cells[j].push(record.get(c).unwrap_or("").to_string());
        }
        lines.push(line);
        index.push(at);
        labels.push(label.to_string());
    }
    if let Some(k) = &keep {
        let absent: Vec<&str> = k
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(l, _)| *l)
            .collect();
        if !absent.is_empty() {
            return Err(DataError::Selection {
                file: file.clone(),
                message: format!(
                    "keep_labels {:?} match no row in column `{}`",
                    absent, spec.label
                ),
            });
        }
    }
    if labels.is_empty() {
        return Err(DataError::Selection {
            file: file.clone(),
            message: "the selection is empty: no data rows".into(),
        });
    }
    Ok(Rows {
        cells,
        lines,
        index,
        labels,
    })
}

/// A column as numbers, or as text when most of its cells are not numbers (or its
/// encoding says so). A numeric column's stray text cell is an error naming it.
pub(super) fn read_column(
    file: &Path,
    name: &str,
    cells: Vec<String>,
    lines: &[u64],
    opts: ReadOptions,
    encoding: Option<Encoding>,
) -> Result<RawColumn, DataError> {
    let text = || {
        RawColumn::Text(
            cells
                .iter()
                .map(|c| (!is_missing(c)).then(|| c.trim().to_string()))
                .collect(),
        )
    };
    if matches!(encoding, Some(Encoding::Onehot | Encoding::Ordinal)) {
        return Ok(text());
    }
    let present = cells.iter().filter(|c| !is_missing(c)).count();
    let numeric_like = cells
        .iter()
        .filter(|c| !is_missing(c) && (opts.number(c).is_some() || looks_like_decimal_comma(c)))
        .count();
    if present > 0 && numeric_like * 2 < present {
        return Ok(text());
    }
    let mut values = Vec::with_capacity(cells.len());
    // The column's other bad cells, named after the first (its error).
    let others = |first: usize| -> String {
        let bad: Vec<usize> = (first + 1..cells.len())
            .filter(|&r| !is_missing(&cells[r]) && opts.number(&cells[r]).is_none())
            .collect();
        if bad.is_empty() {
            return String::new();
        }
        let named: Vec<String> = bad
            .iter()
            .take(BAD_CELLS_NAMED)
            .map(|&r| format!("line {} `{}`", lines[r], cells[r]))
            .collect();
        format!(
            "; also {}{} ({} bad cells in this column)",
            named.join(", "),
            if bad.len() > BAD_CELLS_NAMED {
                ", …"
            } else {
                ""
            },
            bad.len() + 1
        )
    };
    for (r, cell) in cells.iter().enumerate() {
        if is_missing(cell) {
            values.push(f64::NAN);
            continue;
        }
        match opts.number(cell) {
            Some(v) => values.push(v),
            None => {
                let (file, line, column, value) = (
                    file.to_path_buf(),
                    lines[r],
                    name.to_string(),
                    cell.to_string(),
                );
                return Err(if looks_like_decimal_comma(cell) && !opts.decimal_comma {
                    DataError::DecimalComma {
                        file,
                        line,
                        column,
                        value,
                        in_spec: true,
                    }
                } else {
                    DataError::NotNumeric {
                        file,
                        line,
                        column,
                        value,
                        more: others(r),
                    }
                });
            }
        }
    }
    Ok(RawColumn::Numeric(values))
}

/// A data file must be text in UTF-8 with a header: an empty file, or one in another
/// encoding (Latin-1 from older spreadsheets), is said once, with what to do.
pub(super) fn check_text(file: &Path, bytes: &[u8]) -> Result<(), DataError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::Selection {
            file: file.to_path_buf(),
            message: "empty file: expected a header line and data rows".into(),
        });
    }
    // NUL bytes (or the magic of an archive or executable) mean a binary file, whatever
    // else it holds: no text encoding would make it a CSV.
    let head = &bytes[..bytes.len().min(8192)];
    let magic = [
        (&b"\x7fELF"[..], "an executable (ELF)"),
        (
            b"PK\x03\x04",
            "a ZIP archive (an .xlsx is one: export it as CSV)",
        ),
        (b"\x1f\x8b", "a gzip archive"),
        (b"%PDF", "a PDF document"),
        (b"SQLite format 3", "a SQLite database"),
    ];
    if let Some((_, what)) = magic.iter().find(|(m, _)| head.starts_with(m)) {
        return Err(DataError::Selection {
            file: file.to_path_buf(),
            message: format!("not a CSV file: it is {what}"),
        });
    }
    if head.contains(&0) {
        return Err(DataError::Selection {
            file: file.to_path_buf(),
            message: "not a CSV file: it holds binary data (NUL bytes)".into(),
        });
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

/// A header's columns for a message: at most 30, each cut at 40 characters (a file
/// read with the wrong separator has one column holding its whole first line).
fn column_list(headers: &[String]) -> String {
    let cut = |h: &String| match h.char_indices().nth(40) {
        Some((i, _)) => format!("{}… ({} characters)", &h[..i], h.chars().count()),
        None => h.clone(),
    };
    let mut list: Vec<String> = headers.iter().take(30).map(cut).collect();
    if headers.len() > 30 {
        list.push(format!("… ({} columns in all)", headers.len()));
    }
    list.join(", ")
}

/// When a header holds another separator than the one read with, say which to try.
pub(super) fn separator_hint(headers: &[String], delimiter: u8) -> String {
    let joined = headers.join("");
    for (c, name, flag) in [
        (b';', "`;`", "';'"),
        (b'\t', "a tab", "tab"),
        (b',', "`,`", "','"),
        (b'|', "`|`", "'|'"),
    ] {
        if c != delimiter && joined.as_bytes().contains(&c) {
            return format!(" (the header holds {name}: if the file is separated by it, pass --delimiter {flag}; spec: \"delimiter\")");
        }
    }
    String::new()
}

pub(super) fn describe_mismatch(missing: &[String], unexpected: &[String]) -> String {
    let list = |v: &[String]| {
        v.iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing {}", list(missing)));
    }
    if !unexpected.is_empty() {
        parts.push(format!("unexpected {}", list(unexpected)));
    }
    parts.join("; ")
}

/// File line numbers (header = line 1) of records, from their byte offsets: the csv
/// reader's own line count does not count `\r\n` endings as lines. Records come in
/// order, so counting is incremental.
pub struct LineCounter<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            at: 0,
            line: 1,
        }
    }

    pub fn line(&mut self, p: Option<&csv::Position>) -> u64 {
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
        self.line += self.bytes[self.at..to]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.at = to;
        self.line
    }
}

pub(super) fn csv_error_at(file: &Path, e: csv::Error, lines: &mut LineCounter) -> DataError {
    let line = lines.line(e.position());
    match csv_error(file, e) {
        DataError::Csv { file, message, .. } => DataError::Csv {
            file,
            line,
            message,
        },
        other => other,
    }
}

/// The header's column names, trimmed. Two columns of one name are refused, naming
/// both: a column is chosen by its name (`--drop`, `--encode`, a model's features), so
/// one of them would be taken for the other. (Unnamed columns, pandas' row index, are
/// never chosen by name and may repeat.)
pub(super) fn header_names<R: std::io::Read>(
    file: &Path,
    rdr: &mut csv::Reader<R>,
) -> Result<Vec<String>, DataError> {
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(file, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    for (j, h) in headers.iter().enumerate() {
        if let Some(i) = headers[..j]
            .iter()
            .position(|g| g == h)
            .filter(|_| !h.is_empty())
        {
            return Err(DataError::Csv {
                file: file.to_path_buf(),
                line: 1,
                message: format!(
                    "columns {} and {} are both named `{h}`: columns are chosen by name (--drop, --encode, a model's features), so each name must be unique; rename one",
                    i + 1,
                    j + 1
                ),
            });
        }
    }
    Ok(headers)
}

pub(super) fn csv_error(file: &Path, e: csv::Error) -> DataError {
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
