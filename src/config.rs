//! One configuration of a sweep and its identity.
//!
//! A configuration's id is the hash of its canonical form (all hyperparameters that
//! apply, defaults filled in, names and numbers normalised), so the same configuration
//! has the same id whichever sub-grid, spec version or search strategy produced it. Its
//! training key is the hash of its effective form: configurations that train the same
//! network share one training.

use crate::params::HyperParams;
use crate::score::CvSummary;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// One configuration of a sweep.
#[derive(Debug, Clone)]
pub struct Config {
    /// Short id: the first 12 hex digits of the SHA-256 of the canonical form.
    pub id: String,
    pub params: HyperParams,
    /// The canonical form, as stored.
    pub canonical_json: String,
    /// The hash of the effective form (`HyperParams::effective`): configurations with
    /// the same key train the same network and share one training.
    pub training_key: String,
}

impl Config {
    /// Its canonical hyperparameters as a JSON object (what `canonical_json` holds).
    pub fn params_object(&self) -> Map<String, Value> {
        self.params
            .canonical()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    pub fn new(params: HyperParams) -> Self {
        let canonical_json = params.canonical_json();
        let id = config_id(&canonical_json);
        let training_key = config_id(&params.effective_json());
        Config {
            id,
            params,
            canonical_json,
            training_key,
        }
    }
}

impl Config {
    /// A configuration of another model's search (`import --foreign`): its
    /// hyperparameters are labels gridsweep keeps (canonical: keys sorted) and does not
    /// train; its id is the hash of them, and it is its own training.
    pub fn foreign(labels: &Map<String, Value>) -> Self {
        let sorted: std::collections::BTreeMap<&String, &Value> = labels.iter().collect();
        let canonical_json = serde_json::to_string(&sorted).unwrap_or_default();
        let id = config_id(&canonical_json);
        Config {
            training_key: id.clone(),
            id,
            params: HyperParams::default(),
            canonical_json,
        }
    }
}

pub fn config_id(canonical_json: &str) -> String {
    let digest = Sha256::digest(canonical_json.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// A configuration as a sweep recorded it: its id, its grid position, its
/// hyperparameters (decoded once, where they are read) and, once all its folds trained
/// to their end, its summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigRow {
    pub config_id: String,
    pub position: i64,
    /// Canonical JSON, as stored.
    pub params_json: String,
    /// The same, decoded.
    pub params: Map<String, Value>,
    pub summary: Option<CvSummary>,
    /// The configuration whose training (folds) it shares, if not its own.
    pub shares_training_of: Option<String>,
}

/// A stored configuration's hyperparameters as a JSON object; the error says what is
/// wrong (gridsweep writes them, so an unreadable one means a damaged database).
pub fn params_object(json: &str) -> Result<Map<String, Value>, String> {
    serde_json::from_str(json)
        .map_err(|e| format!("its stored hyperparameters are not a JSON object ({e})"))
}
