//! One configuration of a sweep and its identity.
//!
//! A configuration's id is the hash of its canonical form (all hyperparameters that
//! apply, defaults filled in, names and numbers normalised), so the same configuration
//! has the same id whichever sub-grid, spec version or search strategy produced it. Its
//! training key is the hash of its effective form: configurations that train the same
//! network share one training.

use crate::params::HyperParams;
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
    pub fn new(params: HyperParams) -> Self {
        let canonical_json = params.canonical_json();
        let id = config_id(&canonical_json);
        let training_key = config_id(&params.effective_json());
        Config { id, params, canonical_json, training_key }
    }
}

pub fn config_id(canonical_json: &str) -> String {
    let digest = Sha256::digest(canonical_json.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}
