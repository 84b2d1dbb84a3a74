//! Hyperparameters of one dense-net configuration.
//!
//! The names are the study's (the columns of its `HPO_combined.csv`), so that a spec, a
//! `--set` flag, the database and the exports all speak the same language. Values come
//! in as JSON (from a config file, a spec or `--set key=value`) and are validated here,
//! once, with messages that say what is accepted; everything downstream can trust them.
//!
//! [`HyperParams::canonical`] is the configuration's identity: every key with defaults
//! filled in, names case-normalised and numbers in one form, so that `"Adam"` and
//! `"adam"`, or `0.10` and `0.1`, are the same configuration.

use crate::data::partition::Partition;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Activation after every hidden Dense layer (Keras names and defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    Relu,
    /// Keras' `LeakyReLU` layer: negative slope 0.3 (its default, not PyTorch's 0.01).
    LeakyRelu,
    Elu,
    Selu,
    Tanh,
    Sigmoid,
    /// Exact (erf) GELU, Keras' default `approximate=False`.
    Gelu,
    Swish,
}

impl Activation {
    /// All activations in the order of their `activation_numerical` code in exports
    /// (relu 0 and LeakyReLU 1 as in the study's file, the others numbered on).
    pub const ALL: [Activation; 8] = [
        Activation::Relu,
        Activation::LeakyRelu,
        Activation::Elu,
        Activation::Selu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
        Activation::Swish,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu => "LeakyReLU",
            Activation::Elu => "elu",
            Activation::Selu => "selu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Gelu => "gelu",
            Activation::Swish => "swish",
        }
    }

    pub fn code(self) -> usize {
        Self::ALL.iter().position(|a| *a == self).unwrap_or(0)
    }

    pub fn parse(s: &str) -> Option<Self> {
        let k = s.trim().to_ascii_lowercase().replace(['_', '-'], "");
        Some(match k.as_str() {
            "relu" => Activation::Relu,
            "leakyrelu" => Activation::LeakyRelu,
            "elu" => Activation::Elu,
            "selu" => Activation::Selu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "gelu" => Activation::Gelu,
            "swish" | "silu" => Activation::Swish,
            _ => return None,
        })
    }
}

/// Optimizer, computed as Keras (≥ 2.11) computes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptimizerKind {
    Adam,
    Nadam,
    /// Plain SGD with momentum 0.9.
    Sgd,
    Rmsprop,
    /// Adam with decoupled weight decay 0.004 (Keras' default).
    AdamW,
}

impl OptimizerKind {
    /// Export order: `optimizer_numerical` is the index (adam 0.0, nadam 1.0, ...).
    pub const ALL: [OptimizerKind; 5] = [
        OptimizerKind::Adam,
        OptimizerKind::Nadam,
        OptimizerKind::Sgd,
        OptimizerKind::Rmsprop,
        OptimizerKind::AdamW,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::Nadam => "nadam",
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Rmsprop => "rmsprop",
            OptimizerKind::AdamW => "adamw",
        }
    }

    pub fn code(self) -> usize {
        Self::ALL.iter().position(|o| *o == self).unwrap_or(0)
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// What the early-stopping and learning-rate callbacks watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Monitor {
    /// The epoch's mean training loss (the study's GridSearchCV runs).
    Loss,
    /// The epoch's training accuracy.
    Accuracy,
    /// Loss on an inner hold-out carved from the training fold (never the CV fold).
    ValLoss,
    /// Accuracy on that inner hold-out.
    ValAccuracy,
}

impl Monitor {
    pub const ALL: [Monitor; 4] = [
        Monitor::Loss,
        Monitor::Accuracy,
        Monitor::ValLoss,
        Monitor::ValAccuracy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Monitor::Loss => "loss",
            Monitor::Accuracy => "accuracy",
            Monitor::ValLoss => "val_loss",
            Monitor::ValAccuracy => "val_accuracy",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
    }

    /// Needs the inner hold-out.
    pub fn is_validation(self) -> bool {
        matches!(self, Monitor::ValLoss | Monitor::ValAccuracy)
    }

    /// Keras' `mode="auto"`: accuracies are maximised, losses minimised.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Monitor::Accuracy | Monitor::ValAccuracy)
    }
}

/// How a fold is trained and scored: the two ways the study made its `HPO_combined.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// scikit-learn `GridSearchCV` + SciKeras: callbacks watch `monitor` (the training
    /// loss by default, or an inner hold-out); the scores are the final model's
    /// accuracies on the training fold and the CV fold. 48 rows of the study's file.
    #[default]
    GridSearchCv,
    /// The study's notebook loop: the CV fold is Keras' `validation_data`;
    /// EarlyStopping and ReduceLROnPlateau watch its `val_loss`, a checkpoint keeps the
    /// epoch of best `val_accuracy`; the fold's validation score is that maximum and its
    /// train score the checkpoint's accuracy on the training fold. No weight
    /// constraint. 1,984 rows of the study's file.
    Notebook,
}

impl Protocol {
    pub const ALL: [Protocol; 2] = [Protocol::GridSearchCv, Protocol::Notebook];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::GridSearchCv => "gridsearchcv",
            Protocol::Notebook => "notebook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// Keys that do not apply under `protocol: notebook` (its callbacks watch the CV fold,
/// and its model has no weight constraint).
pub const NOT_UNDER_NOTEBOOK: [&str; 3] = ["inner_validation", "monitor", "weight_constraint"];

/// Arithmetic of the matrix multiplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    Fp32,
    /// bf16 matrix multiplies and activations; fp32 master weights, optimizer state,
    /// loss and metrics.
    Bf16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fp32" | "float32" => Some(Precision::Fp32),
            "bf16" | "bfloat16" => Some(Precision::Bf16),
            _ => None,
        }
    }
}

/// One configuration. Defaults are the study's final model.
#[derive(Debug, Clone, PartialEq)]
pub struct HyperParams {
    pub num_hidden_layers: u32,
    /// `neurons_1..neurons_4`.
    pub neurons: [u32; 4],
    pub activation: Activation,
    pub dropout: f64,
    /// Keras MaxNorm on the first layer's kernel; `None` (or 0 in input) = no constraint.
    pub weight_constraint: Option<f64>,
    pub optimizer: OptimizerKind,
    pub learning_rate: f64,
    pub batch_size: u32,
    pub epochs: u32,
    pub early_stopping_patience: u32,
    pub reduce_lr_factor: f64,
    pub reduce_lr_patience: u32,
    pub reduce_lr_min_lr: f64,
    pub monitor: Monitor,
    /// Fraction of the training fold held out when `monitor` is `val_*`.
    pub inner_validation: f64,
    pub precision: Precision,
    pub protocol: Protocol,
    /// The partition of the data it is measured on, where its sub-grid gives one other
    /// than the spec's (`"split"`, see [`crate::data::partition`]); `None`: the spec's.
    pub split: Option<Partition>,
}

impl Default for HyperParams {
    fn default() -> Self {
        HyperParams {
            num_hidden_layers: 2,
            neurons: [256, 512, 512, 1024],
            activation: Activation::LeakyRelu,
            dropout: 0.4,
            weight_constraint: Some(10.0),
            optimizer: OptimizerKind::Nadam,
            learning_rate: 0.001,
            batch_size: 512,
            epochs: 60,
            early_stopping_patience: 20,
            reduce_lr_factor: 0.1,
            reduce_lr_patience: 5,
            reduce_lr_min_lr: 1e-7,
            monitor: Monitor::Loss,
            inner_validation: 0.1,
            precision: Precision::Fp32,
            protocol: Protocol::GridSearchCv,
            split: None,
        }
    }
}

/// Every key a configuration accepts, in canonical (alphabetical) order.
pub const KEYS: [&str; 21] = [
    "activation",
    "batch_size",
    "dropout",
    "early_stopping_patience",
    "epochs",
    "inner_validation",
    "learning_rate",
    "monitor",
    "neurons_1",
    "neurons_2",
    "neurons_3",
    "neurons_4",
    "num_hidden_layers",
    "optimizer",
    "precision",
    "protocol",
    "reduce_lr_factor",
    "reduce_lr_min_lr",
    "reduce_lr_patience",
    "split",
    "weight_constraint",
];

/// A rejected key or value. `key` is the hyperparameter; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown hyperparameter `{key}`{}; accepted: {}", suggestion(.key), KEYS.join(", "))]
    UnknownKey { key: String },
    #[error("`{key}` = {value}: expected {expected}")]
    BadValue {
        key: String,
        value: String,
        expected: String,
    },
    #[error("`{key}` does not apply under protocol notebook ({why}); leave it out or use protocol gridsearchcv")]
    NotUnderNotebook { key: String, why: &'static str },
}

fn suggestion(key: &str) -> String {
    match nearest_key(key) {
        Some(k) => format!(" (did you mean `{k}`?)"),
        None => String::new(),
    }
}

/// The accepted key closest to `key`, if it is close enough to be a plausible typo.
pub fn nearest_key(key: &str) -> Option<&'static str> {
    let lower = key.to_ascii_lowercase();
    KEYS.iter()
        .map(|k| (strsim::levenshtein(&lower, k), *k))
        .min()
        .filter(|(d, k)| *d <= 3.max(k.len() / 3))
        .map(|(_, k)| k)
}

fn bad(key: &str, value: &Value, expected: impl Into<String>) -> ParamError {
    ParamError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

fn as_f64(key: &str, v: &Value, expected: &str) -> Result<f64, ParamError> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| bad(key, v, expected)),
        // `--set dropout=0.3` arrives as a number already; strings like "1e-7" in
        // hand-written JSON are accepted too.
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| bad(key, v, expected)),
        _ => Err(bad(key, v, expected)),
    }
    .and_then(|x| {
        if x.is_finite() {
            Ok(x)
        } else {
            Err(bad(key, v, expected))
        }
    })
}

fn as_u32(key: &str, v: &Value, min: u32, max: u32) -> Result<u32, ParamError> {
    let expected = format!("an integer in [{min}, {max}]");
    let x = as_f64(key, v, &expected)?;
    if x.fract() != 0.0 || x < min as f64 || x > max as f64 {
        return Err(bad(key, v, expected));
    }
    Ok(x as u32)
}

fn as_str<'a>(key: &str, v: &'a Value, expected: &str) -> Result<&'a str, ParamError> {
    v.as_str().ok_or_else(|| bad(key, v, expected))
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> String {
    all.iter().map(|x| name(*x)).collect::<Vec<_>>().join(", ")
}

impl HyperParams {
    /// Sets one hyperparameter from a JSON value, validating it.
    pub fn set(&mut self, key: &str, v: &Value) -> Result<(), ParamError> {
        let k = key.trim();
        match k {
            "num_hidden_layers" => self.num_hidden_layers = as_u32(k, v, 0, 64)?,
            "neurons_1" | "neurons_2" | "neurons_3" | "neurons_4" => {
                let i = (k.as_bytes()[8] - b'1') as usize;
                self.neurons[i] = as_u32(k, v, 1, 1 << 20)?;
            }
            "activation" => {
                let s = as_str(k, v, "an activation name")?;
                self.activation = Activation::parse(s).ok_or_else(|| {
                    bad(
                        k,
                        v,
                        format!("one of {}", names(&Activation::ALL, Activation::name)),
                    )
                })?;
            }
            "dropout" => {
                let x = as_f64(k, v, "a number in [0, 1)")?;
                if !(0.0..1.0).contains(&x) {
                    return Err(bad(k, v, "a number in [0, 1)"));
                }
                self.dropout = x;
            }
            "weight_constraint" => {
                let expected = "a number ≥ 0 (0 or null: no constraint)";
                self.weight_constraint = match v {
                    Value::Null => None,
                    _ => {
                        let x = as_f64(k, v, expected)?;
                        if x < 0.0 {
                            return Err(bad(k, v, expected));
                        }
                        (x > 0.0).then_some(x)
                    }
                };
            }
            "optimizer" => {
                let s = as_str(k, v, "an optimizer name")?;
                self.optimizer = OptimizerKind::parse(s).ok_or_else(|| {
                    bad(
                        k,
                        v,
                        format!("one of {}", names(&OptimizerKind::ALL, OptimizerKind::name)),
                    )
                })?;
            }
            "learning_rate" => self.learning_rate = positive(k, v)?,
            "batch_size" => self.batch_size = as_u32(k, v, 1, 1 << 24)?,
            "epochs" => self.epochs = as_u32(k, v, 1, 1_000_000)?,
            "early_stopping_patience" => self.early_stopping_patience = as_u32(k, v, 0, 1_000_000)?,
            "reduce_lr_factor" => {
                let x = as_f64(k, v, "a number in (0, 1)")?;
                if !(x > 0.0 && x < 1.0) {
                    return Err(bad(k, v, "a number in (0, 1)"));
                }
                self.reduce_lr_factor = x;
            }
            "reduce_lr_patience" => self.reduce_lr_patience = as_u32(k, v, 0, 1_000_000)?,
            "reduce_lr_min_lr" => {
                let x = as_f64(k, v, "a number ≥ 0")?;
                if x < 0.0 {
                    return Err(bad(k, v, "a number ≥ 0"));
                }
                self.reduce_lr_min_lr = x;
            }
            "monitor" => {
                let s = as_str(k, v, "a metric name")?;
                self.monitor = Monitor::parse(s).ok_or_else(|| {
                    bad(
                        k,
                        v,
                        format!("one of {}", names(&Monitor::ALL, Monitor::name)),
                    )
                })?;
            }
            "inner_validation" => {
                let x = as_f64(k, v, "a number in (0, 0.9]")?;
                if !(x > 0.0 && x <= 0.9) {
                    return Err(bad(k, v, "a number in (0, 0.9]"));
                }
                self.inner_validation = x;
            }
            "precision" => {
                let s = as_str(k, v, "fp32 or bf16")?;
                self.precision = Precision::parse(s).ok_or_else(|| bad(k, v, "fp32 or bf16"))?;
            }
            "protocol" => {
                let s = as_str(k, v, "a protocol name")?;
                self.protocol = Protocol::parse(s).ok_or_else(|| {
                    bad(
                        k,
                        v,
                        format!("one of {}", names(&Protocol::ALL, Protocol::name)),
                    )
                })?;
            }
            "split" => {
                // A spec resolves its sub-grids' split objects into full ones (or null,
                // the spec's own) before they get here; see `Spec::parse`.
                self.split = match v {
                    Value::Null => None,
                    _ => Some(Partition::from_stored(v).map_err(|why| bad(k, v, why))?),
                };
            }
            _ => return Err(ParamError::UnknownKey { key: k.to_string() }),
        }
        Ok(())
    }

    /// Applies every entry of a JSON object.
    pub fn apply_object(&mut self, obj: &Map<String, Value>) -> Result<(), ParamError> {
        for (k, v) in obj {
            self.set(k, v)?;
        }
        Ok(())
    }

    /// Refuses, under `protocol: notebook`, a key that the notebook loop does not use
    /// but that was given a value that would matter (`explicit` are the keys the user
    /// set, with their values): a `monitor` or an `inner_validation`, a weight
    /// constraint other than 0/null. Call it once all of a configuration's sources are
    /// applied, so that the order of the keys does not matter.
    pub fn check_protocol<'a>(
        &self,
        explicit: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Result<(), ParamError> {
        if self.protocol != Protocol::Notebook {
            return Ok(());
        }
        for (k, v) in explicit {
            let why = match k.trim() {
                "monitor" => "its callbacks watch val_loss and val_accuracy on the CV fold",
                "inner_validation" => "the CV fold itself is the monitored validation data",
                "weight_constraint" if !(v.is_null() || v.as_f64() == Some(0.0)) => {
                    "the notebook's model has no weight constraint; 0 or null is accepted"
                }
                _ => continue,
            };
            return Err(ParamError::NotUnderNotebook {
                key: k.trim().to_string(),
                why,
            });
        }
        Ok(())
    }

    /// The metric EarlyStopping and ReduceLROnPlateau watch: `monitor`, or `val_loss`
    /// on the CV fold under the notebook protocol.
    pub fn callback_monitor(&self) -> Monitor {
        match self.protocol {
            Protocol::GridSearchCv => self.monitor,
            Protocol::Notebook => Monitor::ValLoss,
        }
    }

    /// The MaxNorm bound on the first kernel, where the protocol applies one.
    pub fn effective_weight_constraint(&self) -> Option<f64> {
        match self.protocol {
            Protocol::GridSearchCv => self.weight_constraint,
            Protocol::Notebook => None,
        }
    }

    /// Applies `key=value`; the value is read as JSON when it parses, else as a string
    /// (so `activation=relu` and `dropout=0.3` both work).
    pub fn set_assignment(&mut self, assignment: &str) -> Result<(), ParamError> {
        let (k, v) = parse_assignment(assignment)?;
        self.set(&k, &v)
    }

    /// Hidden layer widths in order: neurons_1, then one per extra hidden layer up to
    /// neurons_4. (As the study's `create_model`: `num_hidden_layers` = 3 and 4 build
    /// the same network.)
    pub fn hidden_widths(&self) -> Vec<i64> {
        let extra = (self.num_hidden_layers as usize).min(3);
        self.neurons[..=extra].iter().map(|&n| n as i64).collect()
    }

    /// Trainable parameters for `n_features` inputs and `n_classes` outputs.
    pub fn parameter_count(&self, n_features: usize, n_classes: usize) -> usize {
        let mut prev = n_features;
        let mut total = 0;
        for w in self.hidden_widths() {
            total += prev * w as usize + w as usize;
            prev = w as usize;
        }
        total + prev * n_classes + n_classes
    }

    /// The canonical form: every key, defaults filled in, names normalised.
    pub fn canonical(&self) -> BTreeMap<&'static str, Value> {
        let mut m = BTreeMap::new();
        let notebook = self.protocol == Protocol::Notebook;
        m.insert("activation", Value::from(self.activation.name()));
        m.insert("batch_size", Value::from(self.batch_size));
        m.insert("dropout", num(self.dropout));
        m.insert(
            "early_stopping_patience",
            Value::from(self.early_stopping_patience),
        );
        m.insert("epochs", Value::from(self.epochs));
        // Only meaningful with a val_* monitor; normalised away otherwise so that it
        // never splits otherwise identical configurations. Under the notebook protocol
        // neither it, `monitor` nor the weight constraint applies: they are left out.
        if !notebook {
            let inner = if self.monitor.is_validation() {
                self.inner_validation
            } else {
                0.1
            };
            m.insert("inner_validation", num(inner));
            m.insert("monitor", Value::from(self.monitor.name()));
        }
        m.insert("learning_rate", num(self.learning_rate));
        for (i, n) in self.neurons.iter().enumerate() {
            m.insert(
                ["neurons_1", "neurons_2", "neurons_3", "neurons_4"][i],
                Value::from(*n),
            );
        }
        m.insert("num_hidden_layers", Value::from(self.num_hidden_layers));
        m.insert("optimizer", Value::from(self.optimizer.name()));
        // Only when not the default, so that adding the option kept every fp32
        // configuration's id.
        if self.precision != Precision::Fp32 {
            m.insert("precision", Value::from(self.precision.name()));
        }
        // Likewise only when not the default (every earlier sweep is gridsearchcv).
        if notebook {
            m.insert("protocol", Value::from(self.protocol.name()));
        }
        m.insert("reduce_lr_factor", num(self.reduce_lr_factor));
        m.insert("reduce_lr_min_lr", num(self.reduce_lr_min_lr));
        m.insert("reduce_lr_patience", Value::from(self.reduce_lr_patience));
        // Only where a sub-grid gives its own partition: every other configuration
        // keeps the id it had before the key existed.
        if let Some(p) = &self.split {
            m.insert("split", p.to_value());
        }
        if !notebook {
            m.insert(
                "weight_constraint",
                num(self.weight_constraint.unwrap_or(0.0)),
            );
        }
        m
    }

    /// The effective form: the canonical form less what neither the model nor the
    /// training uses, so that two configurations with the same effective form train
    /// the same network bit for bit (every random draw depends on the sweep's seed and
    /// the fold only). Sizes of layers that are not built are left out, and
    /// `num_hidden_layers` above 3 reads as 3 (the study's `create_model` builds the
    /// same net for 3 and 4); what the notebook protocol does not use is already out
    /// of the canonical form.
    pub fn effective(&self) -> BTreeMap<&'static str, Value> {
        let mut m = self.canonical();
        let built = self.hidden_widths().len();
        for key in &["neurons_1", "neurons_2", "neurons_3", "neurons_4"][built..] {
            m.remove(key);
        }
        m.insert(
            "num_hidden_layers",
            Value::from(self.num_hidden_layers.min(3)),
        );
        m
    }

    /// The effective form as a compact JSON string (keys sorted).
    pub fn effective_json(&self) -> String {
        serde_json::to_string(&self.effective()).unwrap_or_default()
    }

    /// The canonical form as a compact JSON string (keys sorted).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(&self.canonical()).unwrap_or_default()
    }

    /// Builds a configuration from a JSON object over the defaults.
    pub fn from_object(obj: &Map<String, Value>) -> Result<Self, ParamError> {
        let mut p = HyperParams::default();
        p.apply_object(obj)?;
        p.check_protocol(obj.iter().map(|(k, v)| (k.as_str(), v)))?;
        Ok(p)
    }
}

/// `key=value` as a key and a JSON value (a string where the value is not JSON).
pub fn parse_assignment(assignment: &str) -> Result<(String, Value), ParamError> {
    let (k, raw) = assignment
        .split_once('=')
        .ok_or_else(|| ParamError::BadValue {
            key: assignment.to_string(),
            value: String::new(),
            expected: "key=value".to_string(),
        })?;
    let raw = raw.trim();
    let v = serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    Ok((k.trim().to_string(), v))
}

/// The value a canonical form leaves out because it is the default (`protocol`,
/// `precision`), for tables and exports; None for keys that are left out because they
/// do not apply.
pub fn omitted_default(key: &str) -> Option<&'static str> {
    match key {
        "protocol" => Some(Protocol::GridSearchCv.name()),
        "precision" => Some(Precision::Fp32.name()),
        _ => None,
    }
}

/// Numbers in one form: integral floats as integers-with-fraction-dropped are *not*
/// merged with integers on purpose; every float goes through f64 so `0.10` == `0.1`.
fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn positive(k: &str, v: &Value) -> Result<f64, ParamError> {
    let x = as_f64(k, v, "a number > 0")?;
    if x <= 0.0 {
        return Err(bad(k, v, "a number > 0"));
    }
    Ok(x)
}

impl fmt::Display for HyperParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths: Vec<String> = self.hidden_widths().iter().map(|w| w.to_string()).collect();
        write!(
            f,
            "{} {} {}, dropout {}, batch {}, lr {}, epochs {}",
            widths.join("→"),
            self.activation.name(),
            self.optimizer.name(),
            self.dropout,
            self.batch_size,
            self.learning_rate,
            self.epochs
        )
    }
}

#[cfg(test)]
mod tests;
