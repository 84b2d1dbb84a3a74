//! Hyperparameter objects as the design matrix of a forest ([`super::forest`]):
//! numbers as they are, everything else one-hot (a column per value, in sorted order).
//!
//! fANOVA ([`super::fanova`]) encodes only the keys every row has and that vary, as
//! Optuna does; `plan`'s survivor model ([`super::surrogate`]) encodes every key any
//! row has, since the configurations it predicts may come from other grids.

use serde_json::{Map, Value};

/// How one hyperparameter is encoded: its columns of the design matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoding {
    Number {
        column: usize,
    },
    /// One column per category, in sorted order.
    OneHot {
        first: usize,
        categories: Vec<String>,
    },
}

impl Encoding {
    /// The columns it takes.
    pub fn columns(&self) -> std::ops::Range<usize> {
        match self {
            Encoding::Number { column } => *column..column + 1,
            Encoding::OneHot { first, categories } => *first..first + categories.len(),
        }
    }
}

/// The value a number takes in a row that lacks its key ([`Design::all`]): below every
/// real value, so that a split can set such rows apart.
pub const ABSENT: f64 = -1e300;

/// The encoded hyperparameters, in key order, and the matrix's width.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub params: Vec<(String, Encoding)>,
    pub width: usize,
}

fn category(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Design {
    /// The keys every row has that take more than one value (Optuna's fANOVA's choice).
    pub fn common(rows: &[&Map<String, Value>]) -> Design {
        let Some(first) = rows.first() else {
            return Design {
                params: Vec::new(),
                width: 0,
            };
        };
        let keys = first.keys().filter(|k| {
            let values: Option<Vec<&Value>> = rows.iter().map(|r| r.get(*k)).collect();
            values.is_some_and(|v| v.iter().any(|x| *x != v[0]))
        });
        Design::of(rows, keys.cloned().collect())
    }

    /// Every key any row has (a row without one: [`ABSENT`] for a number, no column
    /// set for a category).
    pub fn all(rows: &[&Map<String, Value>]) -> Design {
        let mut keys: Vec<String> = rows.iter().flat_map(|r| r.keys().cloned()).collect();
        keys.sort();
        keys.dedup();
        Design::of(rows, keys)
    }

    fn of(rows: &[&Map<String, Value>], keys: Vec<String>) -> Design {
        let mut params = Vec::with_capacity(keys.len());
        let mut width = 0;
        for key in keys {
            let values: Vec<&Value> = rows.iter().filter_map(|r| r.get(&key)).collect();
            if values.iter().all(|v| v.is_number()) {
                params.push((key, Encoding::Number { column: width }));
                width += 1;
            } else {
                let mut categories: Vec<String> = values.iter().map(|v| category(v)).collect();
                categories.sort();
                categories.dedup();
                let n = categories.len();
                params.push((
                    key,
                    Encoding::OneHot {
                        first: width,
                        categories,
                    },
                ));
                width += n;
            }
        }
        Design { params, width }
    }

    /// One row of the matrix. A category the design has not seen sets no column.
    pub fn encode(&self, row: &Map<String, Value>) -> Vec<f64> {
        let mut x = vec![0.0; self.width];
        for (key, enc) in &self.params {
            let v = row.get(key);
            match enc {
                Encoding::Number { column } => {
                    x[*column] = v.map_or(ABSENT, |v| v.as_f64().unwrap_or(f64::NAN))
                }
                Encoding::OneHot { first, categories } => {
                    if let Some(c) = v.and_then(|v| categories.binary_search(&category(v)).ok()) {
                        x[first + c] = 1.0;
                    }
                }
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// `common` keeps the keys every row has that vary; `all` every key, a missing
    /// number below every value and an unseen category with no column set.
    #[test]
    fn designs_encode_numbers_and_categories() {
        let a = obj(json!({"batch_size": 64, "optimizer": "adam", "epochs": 60, "only_a": 1}));
        let b = obj(json!({"batch_size": 512, "optimizer": "nadam", "epochs": 60}));
        let common = Design::common(&[&a, &b]);
        let keys: Vec<&str> = common.params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["batch_size", "optimizer"]);
        assert_eq!(common.width, 3);
        assert_eq!(common.encode(&b), vec![512.0, 0.0, 1.0]);
        let all = Design::all(&[&a, &b]);
        let keys: Vec<&str> = all.params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["batch_size", "epochs", "only_a", "optimizer"]);
        assert_eq!(all.encode(&b), vec![512.0, 60.0, ABSENT, 0.0, 1.0]);
        let unseen = obj(json!({"batch_size": 128, "optimizer": "sgd", "epochs": 30, "only_a": 2}));
        assert_eq!(all.encode(&unseen), vec![128.0, 30.0, 2.0, 0.0, 0.0]);
        assert_eq!(all.params[3].1.columns(), 3..5);
    }
}
