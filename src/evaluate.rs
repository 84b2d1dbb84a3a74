//! The decision at the end of a sweep: train the chosen configuration once more,
//! score it once on the untouched test part, and put the baselines beside it.
//!
//! This is the study's final training. The network is fitted on the training part
//! (49 %) with the validation part (21 %) as Keras' `validation_data`; the callbacks
//! watch `val_loss` and the best epoch's weights are restored. Only then is the test
//! part (30 %) used, once. The preprocessing is the one cross-validation used: fitted
//! on the training part only.
//!
//! A saved model is a folder: `model.safetensors` (the VarStore) and `model.json`
//! (hyperparameters, feature and class names, the fitted preprocessing), which is all
//! [`SavedModel::predict`] needs to classify new rows.

use crate::baselines::{self, Baseline, BaselineOptions};
use crate::cv::{CvData, CvSummary};
use crate::data::encode::Encoder;
use crate::data::preprocess::Preprocessor;
use crate::data::{self, DataError, DatasetSpec, Matrix, ReadOptions};
use crate::fold::EpochRecord;
use crate::metrics::{self, Metrics};
use crate::params::{HyperParams, Monitor};
use crate::train::model::DenseNet;
use crate::train::{self, FoldData, FoldError, FoldObserver};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use tch::{nn, Device};

/// The study trained its final model for up to 300 epochs.
pub const DEFAULT_EPOCHS: u32 = 300;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("training the final model failed: {0}")]
    Train(#[from] FoldError),
    #[error(transparent)]
    Baseline(#[from] baselines::BaselineError),
    #[error("{path}: {message}")]
    Model { path: PathBuf, message: String },
}

/// Rows per part and per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartSizes {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

/// Everything `evaluate` measured; stored as JSON in the `evaluations` table and read
/// back by `report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub sweep: String,
    pub config_id: String,
    /// Rank by the weighted score when it was chosen (None: chosen by id, incomplete).
    pub rank: Option<usize>,
    pub w1: f64,
    pub w2: f64,
    /// The Δacc kind of the ranking (evaluations stored before it existed: absolute).
    #[serde(default)]
    pub delta: crate::cv::DeltaKind,
    /// The cross-validation summary of the configuration, if complete.
    pub cv: Option<CvSummary>,
    /// Hyperparameters of the final training (the configuration's, with epochs and
    /// monitor of the final training).
    pub params: Map<String, Value>,
    pub seed: u64,
    pub feature_names: Vec<String>,
    pub class_names: Vec<String>,
    /// Per-class rows of each part.
    pub class_counts: PartSizes,
    /// The final training and the test scores (flattened into the JSON).
    #[serde(flatten)]
    pub final_run: FinalRun,
    pub baselines: Vec<Baseline>,
    pub model_dir: Option<PathBuf>,
    pub created_at: f64,
}

impl Evaluation {
    /// The score rule the configuration was ranked by.
    pub fn score_rule(&self) -> crate::cv::ScoreRule {
        crate::cv::ScoreRule {
            delta: self.delta,
            w1: self.w1,
            w2: self.w2,
        }
    }
}

/// The data of a sweep cut as evaluation needs it: preprocessed parts.
pub struct EvalData {
    pub cv: CvData,
    pub val_x: Vec<f64>,
    pub val_y: Vec<usize>,
    pub test_x: Vec<f64>,
    pub test_y: Vec<usize>,
    pub train_x: Vec<f64>,
    /// Columns of the data file that are neither features: the label and the dropped
    /// ones (a prediction file may carry them).
    pub ignored_columns: Vec<String>,
    /// How the data file's cells are read (its decimal mark travels with the model).
    pub read: ReadOptions,
}

impl EvalData {
    pub fn load(spec: &DatasetSpec, folds: usize) -> Result<Self, DataError> {
        let cv = CvData::load(spec, folds)?;
        let part = |idx: &[usize]| {
            let raw = cv.prepared.dataset.x.select(idx);
            let y: Vec<usize> = idx.iter().map(|&i| cv.prepared.dataset.y[i]).collect();
            (cv.preprocessor.transform_f64(&raw).data, y)
        };
        let (val_x, val_y) = part(&cv.prepared.validation);
        let (test_x, test_y) = part(&cv.prepared.test);
        let (train_x, _) = part(&cv.prepared.train);
        let ignored_columns = std::iter::once(spec.label.clone())
            .chain(cv.prepared.dataset.excluded.iter().map(|(c, _)| c.clone()))
            .collect();
        let read = ReadOptions {
            delimiter: None,
            decimal_comma: spec.decimal_comma,
        };
        Ok(EvalData {
            cv,
            val_x,
            val_y,
            test_x,
            test_y,
            train_x,
            ignored_columns,
            read,
        })
    }

    pub fn n_features(&self) -> usize {
        self.cv.n_features()
    }

    pub fn class_names(&self) -> &[String] {
        &self.cv.prepared.dataset.class_names
    }

    pub fn train_y(&self) -> Vec<usize> {
        self.cv.prepared.train_y()
    }

    pub fn class_counts(&self) -> PartSizes {
        let k = self.class_names().len();
        PartSizes {
            train: data::counts(&self.train_y(), k),
            validation: data::counts(&self.val_y, k),
            test: data::counts(&self.test_y, k),
        }
    }

    /// Baselines fitted on the training part, scored on the test part.
    pub fn baselines(
        &self,
        opts: BaselineOptions,
    ) -> Result<Vec<Baseline>, baselines::BaselineError> {
        let train_y = self.train_y();
        baselines::run_all(
            &baselines::Part {
                x: &self.train_x,
                y: &train_y,
            },
            &baselines::Part {
                x: &self.test_x,
                y: &self.test_y,
            },
            self.n_features(),
            self.class_names(),
            opts,
        )
    }
}

/// What the final training needs besides the data.
pub struct FinalTraining<'a> {
    pub params: HyperParams,
    pub seed: u64,
    pub device: Device,
    pub observer: &'a mut dyn FoldObserver,
}

/// The final training's parameters: the configuration's, with `epochs` and the
/// callbacks watching `val_loss` (best weights restored), as the study's final fit.
pub fn final_params(mut p: HyperParams, epochs: u32) -> HyperParams {
    p.epochs = epochs;
    p.monitor = Monitor::ValLoss;
    p
}

fn to_f32(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

/// A trained network with what it needs to classify raw rows.
pub struct TrainedModel {
    pub vs: nn::VarStore,
    pub net: DenseNet,
    pub meta: ModelMeta,
}

/// Trains the final model and scores it on the test part. Returns the model (to save)
/// and the parts of the [`Evaluation`] that come from training and testing.
pub fn train_and_test(
    data: &EvalData,
    t: FinalTraining,
) -> Result<(TrainedModel, FinalRun), EvalError> {
    let nf = data.n_features();
    let k = data.class_names().len();
    let fold = FoldData {
        n_features: nf,
        n_classes: k,
        train_x: data.cv.train_x.clone(),
        train_y: data.cv.train_y.clone(),
        val_x: to_f32(&data.val_x),
        val_y: data.val_y.iter().map(|&y| y as i64).collect(),
    };
    let started = std::time::Instant::now();
    let fitted = train::train_final(&fold, &t.params, t.seed, t.device, t.observer)?;
    let fit_seconds = started.elapsed().as_secs_f64();

    let (validation_loss, validation_accuracy) =
        train::score(&fitted.net, &fold.val_x, &fold.val_y, nf, t.device)?;
    let test_probs: Vec<f64> =
        train::predict_proba(&fitted.net, &to_f32(&data.test_x), nf, t.device)?
            .into_iter()
            .map(f64::from)
            .collect();
    let test_pred = metrics::argmax_rows(&test_probs, k);
    let test = metrics::evaluate(
        &data.test_y,
        &test_pred,
        Some(&test_probs),
        data.class_names(),
    );
    let meta = ModelMeta {
        format: 1,
        params: t
            .params
            .canonical()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        feature_names: data.cv.prepared.dataset.feature_names.clone(),
        class_names: data.class_names().to_vec(),
        ignored_columns: data.ignored_columns.clone(),
        preprocessor: data.cv.preprocessor.clone(),
        encoder: data.cv.prepared.dataset.encoder.clone(),
        read: data.read,
    };
    let final_run = FinalRun {
        history: fitted.history,
        kept_epoch: fitted.kept_epoch,
        fit_seconds,
        device: crate::device::label(t.device),
        validation_accuracy,
        validation_loss,
        test,
    };
    Ok((
        TrainedModel {
            vs: fitted.vs,
            net: fitted.net,
            meta,
        },
        final_run,
    ))
}

/// Training and test results of [`train_and_test`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalRun {
    pub history: Vec<EpochRecord>,
    /// Epoch whose weights were kept (restored best, or the last).
    pub kept_epoch: u32,
    pub fit_seconds: f64,
    /// Where the final training ran, as folds record it (`cpu`, `cpu+mkl-avx512`,
    /// `cuda:0`); empty in evaluations stored before it was recorded.
    #[serde(default)]
    pub device: String,
    pub validation_accuracy: f64,
    pub validation_loss: f64,
    pub test: Metrics,
}

impl FinalRun {
    /// " on DEVICE", or nothing for evaluations stored before the device was recorded.
    pub fn on_device(&self) -> String {
        if self.device.is_empty() {
            String::new()
        } else {
            format!(" on {}", self.device)
        }
    }
}

/// `model.json` of a saved model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelMeta {
    pub format: u32,
    pub params: Map<String, Value>,
    pub feature_names: Vec<String>,
    pub class_names: Vec<String>,
    /// Columns a prediction file may carry besides the features (label, index, ...).
    pub ignored_columns: Vec<String>,
    pub preprocessor: Preprocessor,
    /// How the file's feature columns become the network's inputs (text columns'
    /// categories). Models saved before text columns were read have none: their input
    /// columns are `feature_names`, all numeric.
    #[serde(default)]
    pub encoder: Encoder,
    /// How the training data's cells were read (decimal comma).
    #[serde(default)]
    pub read: ReadOptions,
}

pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const META_FILE: &str = "model.json";

impl TrainedModel {
    /// Writes `dir/model.safetensors` and `dir/model.json`.
    pub fn save(&self, dir: &Path) -> Result<(), EvalError> {
        let err = |path: PathBuf, message: String| EvalError::Model { path, message };
        std::fs::create_dir_all(dir).map_err(|e| err(dir.into(), format!("cannot create: {e}")))?;
        let weights = dir.join(WEIGHTS_FILE);
        self.vs
            .save(&weights)
            .map_err(|e| err(weights.clone(), e.to_string()))?;
        let meta = dir.join(META_FILE);
        let json =
            serde_json::to_string(&self.meta).map_err(|e| err(meta.clone(), e.to_string()))?;
        std::fs::write(&meta, json).map_err(|e| err(meta.clone(), format!("cannot write: {e}")))?;
        Ok(())
    }
}

/// A model read back from its folder.
pub struct SavedModel {
    pub dir: PathBuf,
    pub meta: ModelMeta,
    /// Owns the loaded variables (the network holds views of them).
    _vs: nn::VarStore,
    net: DenseNet,
}

/// How `predict` reads its file.
#[derive(Debug, Clone, Default)]
pub struct PredictOptions {
    /// The separator (default: guessed from the header).
    pub delimiter: Option<u8>,
    /// An unseen category is an error (default: no category).
    pub strict: bool,
    /// Columns that are not the model's are ignored (default: refused).
    pub ignore_extra: bool,
    /// A column carried through to the output.
    pub id_column: Option<String>,
    /// Numbers are written with a decimal comma (also when the training data's were not).
    pub decimal_comma: bool,
    /// The label column to score the predictions against: named (an error when absent),
    /// or None to use the training data's label column when the file has it.
    pub label: Option<String>,
}

/// A file's predictions, with the id column's and the label column's values when read.
#[derive(Debug, Clone)]
pub struct FilePredictions {
    pub predictions: Vec<Prediction>,
    pub ids: Option<Vec<String>>,
    /// (label column, its values)
    pub labels: Option<(String, Vec<String>)>,
}

impl FilePredictions {
    /// The share of rows whose predicted class is the label (a label the model never
    /// learned counts as wrong), and the rows counted.
    /// The accuracy against the label column, over the rows that have a label (an
    /// empty or missing one is left out), and their count.
    pub fn accuracy(&self) -> Option<(f64, usize)> {
        let (_, labels) = self.labels.as_ref()?;
        let (n, right) = labels
            .iter()
            .zip(&self.predictions)
            .filter(|(l, _)| !crate::data::is_missing_label(l))
            .fold((0usize, 0usize), |(n, r), (l, p)| {
                (n + 1, r + usize::from(*l == p.class))
            });
        (n > 0).then(|| (right as f64 / n as f64, n))
    }

    /// Rows whose label is empty or missing: left out of the accuracy.
    pub fn unlabelled(&self) -> usize {
        self.labels.as_ref().map_or(0, |(_, labels)| {
            labels
                .iter()
                .filter(|l| crate::data::is_missing_label(l))
                .count()
        })
    }

    /// True labels that are none of `classes` (the model's), with their rows, in order
    /// of first appearance: they count as wrong in [`Self::accuracy`].
    pub fn unseen(&self, classes: &[String]) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        let Some((_, labels)) = self.labels.as_ref() else {
            return out;
        };
        for l in labels
            .iter()
            .filter(|l| !classes.contains(l) && !crate::data::is_missing_label(l))
        {
            match out.iter_mut().find(|(u, _)| u == l) {
                Some((_, n)) => *n += 1,
                None => out.push((l.clone(), 1)),
            }
        }
        out
    }

    /// The accuracy on the rows whose true label is one of `classes`, and their count.
    pub fn accuracy_on(&self, classes: &[String]) -> Option<(f64, usize)> {
        let (_, labels) = self.labels.as_ref()?;
        let known: Vec<bool> = labels.iter().map(|l| classes.contains(l)).collect();
        let pairs = labels
            .iter()
            .zip(&self.predictions)
            .zip(&known)
            .filter(|(_, k)| **k);
        let (n, right) = pairs.fold((0usize, 0usize), |(n, r), ((l, p), _)| {
            (n + 1, r + usize::from(*l == p.class))
        });
        (n > 0).then(|| (right as f64 / n as f64, n))
    }
}

/// One classified row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub class: String,
    pub probabilities: Vec<f64>,
}

impl SavedModel {
    pub fn load(dir: &Path) -> Result<SavedModel, EvalError> {
        let err = |path: PathBuf, message: String| EvalError::Model { path, message };
        let meta_path = dir.join(META_FILE);
        let text = std::fs::read_to_string(&meta_path).map_err(|e| {
            err(
                meta_path.clone(),
                format!(
                    "cannot read ({e}); is {} a model folder written by `gridsweep evaluate`?",
                    dir.display()
                ),
            )
        })?;
        let mut meta: ModelMeta = serde_json::from_str(&text).map_err(|e| {
            err(
                meta_path.clone(),
                format!("not a gridsweep model description: {e}"),
            )
        })?;
        if meta.encoder.columns.is_empty() {
            // Saved before text columns: every feature a numeric column of the file.
            meta.encoder.columns = meta
                .feature_names
                .iter()
                .map(|n| crate::data::encode::ColumnCode {
                    name: n.clone(),
                    code: crate::data::encode::Code::Numeric,
                })
                .collect();
        }
        let mut p = HyperParams::default();
        p.apply_object(&meta.params)
            .map_err(|e| err(meta_path.clone(), e.to_string()))?;
        let mut vs = nn::VarStore::new(Device::Cpu);
        let mut rng = crate::rng::stream(0, 0, crate::rng::Stream::InitialWeights);
        let net = DenseNet::new(
            &vs.root(),
            meta.feature_names.len() as i64,
            meta.class_names.len() as i64,
            &p,
            &mut rng,
        );
        let weights = dir.join(WEIGHTS_FILE);
        vs.load(&weights)
            .map_err(|e| err(weights.clone(), e.to_string()))?;
        Ok(SavedModel {
            dir: dir.into(),
            meta,
            _vs: vs,
            net,
        })
    }

    /// Classifies the rows of a CSV with the model's input columns (encoded as in
    /// training); also returns the `id_column`'s values when one is asked for.
    pub fn predict_file(
        &self,
        file: &Path,
        o: &PredictOptions,
    ) -> Result<FilePredictions, EvalError> {
        // The training data's label column comes first among the ignored columns.
        let label = match &o.label {
            Some(l) => Some((l.as_str(), true)),
            None => self
                .meta
                .ignored_columns
                .first()
                .map(|l| (l.as_str(), false)),
        };
        let rows = data::load_features(
            file,
            data::FeatureRequest {
                encoder: &self.meta.encoder,
                ignored: &self.meta.ignored_columns,
                read: ReadOptions {
                    delimiter: o.delimiter,
                    decimal_comma: o.decimal_comma || self.meta.read.decimal_comma,
                },
                strict: o.strict,
                ignore_extra: o.ignore_extra,
                id_column: o.id_column.as_deref(),
                label_column: label,
            },
        )?;
        Ok(FilePredictions {
            predictions: self.predict(&rows.x)?,
            ids: rows.ids,
            labels: rows
                .labels
                .zip(label)
                .map(|(v, (name, _))| (name.to_string(), v)),
        })
    }

    /// Classifies raw (unpreprocessed) rows.
    pub fn predict(&self, x: &Matrix) -> Result<Vec<Prediction>, EvalError> {
        let k = self.meta.class_names.len();
        if x.rows == 0 {
            return Ok(Vec::new());
        }
        let features = self.meta.preprocessor.transform(x);
        let probs = train::predict_proba(&self.net, &features, x.cols, Device::Cpu)?;
        Ok(probs
            .chunks(k)
            .map(|row| {
                let row: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
                let best = metrics::argmax_rows(&row, k)[0];
                Prediction {
                    class: self.meta.class_names[best].clone(),
                    probabilities: row,
                }
            })
            .collect())
    }
}
