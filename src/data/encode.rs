//! From a CSV's feature columns to the network's inputs: numbers stay numbers, text
//! (categorical) columns are encoded.
//!
//! Tabular data sets carry text columns (a colour, a country, an album type). A column
//! is text when fewer than half of its non-missing cells read as numbers, or when the
//! dataset's `encode` option names it; a numeric column with a few stray words is an
//! error naming the cell instead, since silently encoding a typo as a category would be
//! worse. Each text column is encoded one-hot (the default: scikit-learn's
//! `OneHotEncoder(handle_unknown="ignore")`, one 0/1 input per category, a missing or
//! unseen value all zeros) or ordinally (`OrdinalEncoder`: the category's index in
//! sorted order, a missing or unseen value missing, so the KNN imputer fills it), or
//! dropped. Categories are learned on the training part only, like every other
//! transform, and the encoder travels in the saved model so `predict` applies it.

use super::Matrix;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How a text column becomes inputs (a dataset's `encode` option, per column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Onehot,
    Ordinal,
    Drop,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "onehot" | "one-hot" => Some(Encoding::Onehot),
            "ordinal" => Some(Encoding::Ordinal),
            "drop" => Some(Encoding::Drop),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::Onehot => "onehot",
            Encoding::Ordinal => "ordinal",
            Encoding::Drop => "drop",
        }
    }
}

/// One feature column of a CSV as read.
#[derive(Debug, Clone, PartialEq)]
pub enum RawColumn {
    /// Missing cells are NaN.
    Numeric(Vec<f64>),
    /// Trimmed text; None where the cell is missing.
    Text(Vec<Option<String>>),
}

impl RawColumn {
    fn len(&self) -> usize {
        match self {
            RawColumn::Numeric(v) => v.len(),
            RawColumn::Text(v) => v.len(),
        }
    }
}

/// What one input column of the file becomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Code {
    Numeric,
    Onehot { categories: Vec<String> },
    Ordinal { categories: Vec<String> },
}

/// A fitted encoder: one code per input column, in the file's column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnCode {
    pub name: String,
    #[serde(flatten)]
    pub code: Code,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Encoder {
    pub columns: Vec<ColumnCode>,
}

/// A cell the encoder cannot take in strict mode.
#[derive(Debug, Clone, PartialEq)]
pub struct Unseen {
    pub column: String,
    pub row: usize,
    pub value: String,
}

impl Encoder {
    /// Learns each text column's categories from the rows `rows` (the training part).
    pub fn fit(
        names: &[String],
        columns: &[RawColumn],
        rows: &[usize],
        ordinal: &dyn Fn(&str) -> bool,
    ) -> Encoder {
        let columns = names
            .iter()
            .zip(columns)
            .map(|(name, col)| {
                let code = match col {
                    RawColumn::Numeric(_) => Code::Numeric,
                    RawColumn::Text(cells) => {
                        let categories: Vec<String> = rows
                            .iter()
                            .filter_map(|&r| cells[r].clone())
                            .collect::<BTreeSet<String>>()
                            .into_iter()
                            .collect();
                        if ordinal(name) {
                            Code::Ordinal { categories }
                        } else {
                            Code::Onehot { categories }
                        }
                    }
                };
                ColumnCode {
                    name: name.clone(),
                    code,
                }
            })
            .collect();
        Encoder { columns }
    }

    /// The network's input names: a numeric or ordinal column's name, `name=category`
    /// per one-hot category.
    pub fn feature_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.columns {
            match &c.code {
                Code::Numeric | Code::Ordinal { .. } => out.push(c.name.clone()),
                Code::Onehot { categories } => {
                    out.extend(categories.iter().map(|v| format!("{}={v}", c.name)))
                }
            }
        }
        out
    }

    /// The text columns, for headers: (name, "onehot (k categories)" or similar).
    pub fn describe_text(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter_map(|c| match &c.code {
                Code::Numeric => None,
                Code::Onehot { categories } => Some(format!(
                    "{} one-hot ({} categories)",
                    c.name,
                    categories.len()
                )),
                Code::Ordinal { categories } => Some(format!(
                    "{} ordinal ({} categories)",
                    c.name,
                    categories.len()
                )),
            })
            .collect()
    }

    /// Encodes every row. With `strict`, a text value not seen in training is an
    /// error; otherwise it is all zeros (one-hot) or missing (ordinal).
    pub fn transform(&self, columns: &[RawColumn], strict: bool) -> Result<Matrix, Unseen> {
        let rows = columns.first().map(RawColumn::len).unwrap_or(0);
        let width = self.feature_names().len();
        let mut data = Vec::with_capacity(rows * width);
        for r in 0..rows {
            for (c, col) in self.columns.iter().zip(columns) {
                match (&c.code, col) {
                    (Code::Numeric, RawColumn::Numeric(v)) => data.push(v[r]),
                    (Code::Onehot { categories }, RawColumn::Text(v)) => {
                        let hit = lookup(categories, v[r].as_deref(), strict, &c.name, r)?;
                        data.extend((0..categories.len()).map(|i| {
                            if Some(i) == hit {
                                1.0
                            } else {
                                0.0
                            }
                        }));
                    }
                    (Code::Ordinal { categories }, RawColumn::Text(v)) => {
                        let hit = lookup(categories, v[r].as_deref(), strict, &c.name, r)?;
                        data.push(hit.map(|i| i as f64).unwrap_or(f64::NAN));
                    }
                    // The reader classifies columns by the encoder's codes, so the
                    // kinds always agree; a numeric value in a text slot is missing.
                    (Code::Numeric, RawColumn::Text(_)) => data.push(f64::NAN),
                    (Code::Onehot { categories }, RawColumn::Numeric(_)) => {
                        data.extend(std::iter::repeat_n(0.0, categories.len()))
                    }
                    (Code::Ordinal { .. }, RawColumn::Numeric(_)) => data.push(f64::NAN),
                }
            }
        }
        Ok(Matrix::new(rows, width, data))
    }
}

fn lookup(
    categories: &[String],
    value: Option<&str>,
    strict: bool,
    column: &str,
    row: usize,
) -> Result<Option<usize>, Unseen> {
    let Some(v) = value else { return Ok(None) };
    match categories.binary_search_by(|c| c.as_str().cmp(v)) {
        Ok(i) => Ok(Some(i)),
        Err(_) if strict => Err(Unseen {
            column: column.into(),
            row,
            value: v.into(),
        }),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &[Option<&str>]) -> RawColumn {
        RawColumn::Text(v.iter().map(|s| s.map(String::from)).collect())
    }

    #[test]
    fn onehot_learns_training_categories_and_zeroes_unseen() {
        let names = vec!["x".to_string(), "colour".to_string()];
        let cols = vec![
            RawColumn::Numeric(vec![1.0, 2.0, 3.0, 4.0]),
            text(&[Some("red"), Some("green"), None, Some("blue")]),
        ];
        // Fitted on the first three rows: blue is unseen.
        let e = Encoder::fit(&names, &cols, &[0, 1, 2], &|_| false);
        assert_eq!(e.feature_names(), ["x", "colour=green", "colour=red"]);
        let m = e.transform(&cols, false).unwrap();
        assert_eq!(
            m.data,
            [1.0, 0.0, 1.0, 2.0, 1.0, 0.0, 3.0, 0.0, 0.0, 4.0, 0.0, 0.0]
        );
        let err = e.transform(&cols, true).unwrap_err();
        assert_eq!(
            err,
            Unseen {
                column: "colour".into(),
                row: 3,
                value: "blue".into()
            }
        );
    }

    #[test]
    fn ordinal_codes_sorted_categories_and_leaves_unseen_missing() {
        let names = vec!["size".to_string()];
        let cols = vec![text(&[Some("M"), Some("S"), Some("L"), Some("XL"), None])];
        let e = Encoder::fit(&names, &cols, &[0, 1, 2], &|n| n == "size");
        assert_eq!(e.feature_names(), ["size"]);
        let m = e.transform(&cols, false).unwrap();
        assert_eq!(&m.data[..3], [1.0, 2.0, 0.0]);
        assert!(m.data[3].is_nan() && m.data[4].is_nan());
        // Round trip through JSON (the saved model carries it).
        let back: Encoder = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
}
