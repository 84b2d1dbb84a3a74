//! Reading the rows `predict` classifies: the model's input columns, in any order,
//! encoded as in training, refused with both column lists when they do not match.

use super::encode::{self, Encoder, Encoding, RawColumn};
use super::read::{check_text, csv_error_at, read_column, separator_hint, LineCounter};
use super::{is_index_column, DataError, Matrix, ReadOptions};
use std::path::Path;

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
    let bytes = std::fs::read(file).map_err(|source| DataError::Io {
        file: file.into(),
        source,
    })?;
    check_text(file, &bytes)?;
    let delimiter = req.read.delimiter_for(&bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter)
        .from_reader(bytes.as_slice());
    let headers = super::read::header_names(file, &mut rdr)?;
    let features: Vec<&str> = req
        .encoder
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let id_col =
        match req.id_column {
            Some(id) => Some(headers.iter().position(|h| h == id).ok_or_else(|| {
                DataError::MissingColumn {
                    file: file.into(),
                    column: id.into(),
                    what: "the --id-column",
                    columns: headers.join(", "),
                    hint: separator_hint(&headers, delimiter),
                }
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
    let missing: Vec<String> = features
        .iter()
        .filter(|f| !headers.iter().any(|h| h == *f))
        .map(|f| f.to_string())
        .collect();
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
        return Err(DataError::Columns {
            file: file.into(),
            missing,
            unexpected: if req.ignore_extra { vec![] } else { unexpected },
        });
    }
    let cols: Vec<usize> = features
        .iter()
        .map(|f| headers.iter().position(|h| h == f).unwrap_or(0))
        .collect();
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); cols.len()];
    let mut ids = id_col.map(|_| Vec::new());
    let mut labels = label_col.map(|_| Vec::new());
    let mut lines = Vec::new();
    let mut lines_at = LineCounter::new(&bytes);
    let mut record = csv::StringRecord::new();
    while rdr
        .read_record(&mut record)
        .map_err(|e| csv_error_at(file, e, &mut lines_at))?
    {
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
    let raw = raw_columns(file, &req, cells, &lines)?;
    let x = req.encoder.transform(&raw, req.strict).map_err(|u| {
        let known = req
            .encoder
            .columns
            .iter()
            .find(|c| c.name == u.column)
            .map(|c| match &c.code {
                encode::Code::Onehot { categories } | encode::Code::Ordinal { categories } => {
                    categories.join(", ")
                }
                encode::Code::Numeric => String::new(),
            })
            .unwrap_or_default();
        DataError::UnseenCategory {
            file: file.into(),
            line: lines[u.row],
            column: u.column,
            value: u.value,
            known,
        }
    })?;
    Ok(FeatureRows { x, ids, labels })
}

/// The cells of each of the model's input columns, read as the model reads that column
/// (numbers stay numbers: a text cell in one is an error naming it).
fn raw_columns(
    file: &Path,
    req: &FeatureRequest,
    cells: Vec<Vec<String>>,
    lines: &[u64],
) -> Result<Vec<RawColumn>, DataError> {
    req.encoder
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
            let col =
                read_column(file, &c.name, col, lines, req.read, encoding).map_err(
                    |e| match e {
                        DataError::NotNumeric {
                            file,
                            line,
                            column,
                            value,
                            more,
                        } => DataError::NotNumericForModel {
                            file,
                            line,
                            column,
                            value,
                            more,
                        },
                        DataError::DecimalComma {
                            file,
                            line,
                            column,
                            value,
                            ..
                        } => DataError::DecimalComma {
                            file,
                            line,
                            column,
                            value,
                            in_spec: false,
                        },
                        e => e,
                    },
                )?;
            // A column the model reads as numbers must be numbers here too.
            match (&c.code, &col) {
                (encode::Code::Numeric, RawColumn::Text(v)) => {
                    let bad: Vec<usize> = (0..v.len())
                        .filter(|&r| {
                            v[r].as_deref()
                                .is_some_and(|x| req.read.number(x).is_none())
                        })
                        .collect();
                    let r = bad.first().copied().unwrap_or(0);
                    let named: Vec<String> = bad[1.min(bad.len())..]
                        .iter()
                        .take(8)
                        .map(|&r| format!("line {} `{}`", lines[r], v[r].as_deref().unwrap_or("")))
                        .collect();
                    let more = if named.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; also {}{} ({} bad cells in this column)",
                            named.join(", "),
                            if bad.len() > 9 { ", …" } else { "" },
                            bad.len()
                        )
                    };
                    Err(DataError::NotNumericForModel {
                        file: file.into(),
                        line: lines[r],
                        column: c.name.clone(),
                        value: v[r].clone().unwrap_or_default(),
                        more,
                    })
                }
                _ => Ok(col),
            }
        })
        .collect()
}
