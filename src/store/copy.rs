//! A whole sweep out of one database and into another (`gridsweep copy`).

use super::*;

/// A sweep with everything recorded of it (`gridsweep copy`).
#[derive(Debug, Clone)]
pub struct SweepDump {
    pub sweep: SweepRow,
    pub configs: Vec<ConfigDump>,
    pub folds: Vec<FoldDump>,
    /// (config_id, created_at, test_accuracy, model_dir, evaluation_json)
    pub evaluations: Vec<(String, f64, f64, Option<String>, String)>,
    /// Successive halving and Hyperband: each bracket's current rung, as (bracket,
    /// rung), and every rung score.
    pub brackets: Vec<(i64, i64)>,
    pub rung_scores: Vec<RungScore>,
}

#[derive(Debug, Clone)]
pub struct ConfigDump {
    pub config_id: String,
    pub position: i64,
    pub params_json: String,
    /// The [`COPIED_SUMMARY`] columns, completed_at last (None: not complete).
    pub summary: Vec<Option<f64>>,
    pub training_key: Option<String>,
    pub trained_by: Option<String>,
    /// Successive halving: bracket, rung, pruned (0/1), and the epochs of a partial summary.
    pub bracket: i64,
    pub rung: Option<i64>,
    pub pruned: i64,
    pub resource_epochs: Option<i64>,
    /// An imported row's details (`configurations.imported_json`).
    pub imported_json: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FoldDump {
    pub config_id: String,
    pub fold: i64,
    #[sqlx(try_from = "String")]
    pub state: FoldState,
    pub attempts: i64,
    pub device: Option<String>,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub train_accuracy: Option<f64>,
    pub train_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub val_loss: Option<f64>,
    pub epochs_run: Option<i64>,
    pub final_learning_rate: Option<f64>,
    pub fit_seconds: Option<f64>,
    pub score_seconds: Option<f64>,
    pub history_json: Option<String>,
    pub error: Option<String>,
    pub scored_epoch: Option<i64>,
    pub worker: Option<String>,
    pub budget: Option<i64>,
    pub partial: i64,
    /// A race's fold trained ahead of its barrier (1), which the barrier keeps or drops.
    pub speculative: i64,
    /// The `run --fuse` it was trained under (1: alone).
    pub fused: i64,
}

/// What a copy added or wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CopyCounts {
    pub configurations: usize,
    pub folds_added: usize,
    /// Folds whose result (done or failed) was written.
    pub folds_written: usize,
    pub evaluations: usize,
}

/// A configuration's summary columns as `copy` carries them, in the order of
/// [`ConfigDump::summary`] and of the statement that writes them back.
const COPIED_SUMMARY: [&str; 12] = [
    "mean_train_accuracy",
    "std_train_accuracy",
    "mean_val_accuracy",
    "std_val_accuracy",
    "mean_train_loss",
    "std_train_loss",
    "mean_val_loss",
    "std_val_loss",
    "delta_accuracy",
    "score",
    "total_fit_seconds",
    "completed_at",
];

impl Store {
    /// Everything of a sweep, for `gridsweep copy`.
    pub async fn dump_sweep(&self, sweep: &SweepRow) -> Result<SweepDump> {
        with_pool!(self, p => {
            let sql = format!(
                "SELECT config_id, position, params_json, {}, training_key, trained_by, bracket, rung, pruned, resource_epochs, imported_json
                 FROM configurations WHERE sweep_id = $1 ORDER BY position",
                COPIED_SUMMARY.join(", ")
            );
            let configs = sqlx::query(&sql)
                .bind(sweep.id)
                .fetch_all(p)
                .await
                .in_db(self)?
                .iter()
                .map(|r| ConfigDump {
                    config_id: r.get("config_id"),
                    position: r.get("position"),
                    params_json: r.get("params_json"),
                    summary: COPIED_SUMMARY.iter().map(|&c| r.get::<Option<f64>, _>(c)).collect(),
                    training_key: r.get("training_key"),
                    trained_by: r.get("trained_by"),
                    bracket: r.get("bracket"),
                    rung: r.get("rung"),
                    pruned: r.get("pruned"),
                    resource_epochs: r.get("resource_epochs"),
                    imported_json: r.get("imported_json"),
                })
                .collect();
            let folds: Vec<FoldDump> = sqlx::query_as(
                "SELECT config_id, fold, state, attempts, device, started_at, finished_at, train_accuracy, train_loss,
                        val_accuracy, val_loss, epochs_run, final_learning_rate, fit_seconds, score_seconds, history_json,
                        error, scored_epoch, worker, budget, partial, speculative, fused
                 FROM folds WHERE sweep_id = $1 ORDER BY id",
            )
            .bind(sweep.id)
            .fetch_all(p)
            .await
            .in_db(self)?;
            let evaluations = sqlx::query_as(
                "SELECT config_id, created_at, test_accuracy, model_dir, evaluation_json FROM evaluations WHERE sweep_id = $1 ORDER BY id",
            )
            .bind(sweep.id)
            .fetch_all(p)
            .await
            .in_db(self)?;
            let brackets: Vec<(i64, i64)> = sqlx::query_as("SELECT bracket, rung FROM brackets WHERE sweep_id = $1 ORDER BY bracket")
                .bind(sweep.id)
                .fetch_all(p)
                .await
                .in_db(self)?;
            let rung_scores: Vec<RungScoreColumns> = sqlx::query_as(RUNG_SCORES).bind(sweep.id).fetch_all(p).await.in_db(self)?;
            let rung_scores = rung_scores.into_iter().map(RungScore::from).collect();
            Ok(SweepDump { sweep: sweep.clone(), configs, folds, evaluations, brackets, rung_scores })
        })
    }

    /// Writes a dumped sweep into this database, idempotently: the sweep is created if
    /// absent (and refused if one of that name ran on other data, folds or seed);
    /// configurations, summaries and evaluations that are missing are added; a fold
    /// takes the dump's state unless it is already done here. Running folds arrive as
    /// pending (their process belongs to the other database). One transaction; a
    /// sweep this call created is removed again if that transaction fails, so that a
    /// failed copy leaves no empty sweep behind.
    pub async fn load_sweep(&self, d: &SweepDump) -> Result<CopyCounts> {
        let existed = self.sweep_by_name(&d.sweep.name).await?.is_some();
        let loaded = self.load_sweep_rows(d).await;
        if loaded.is_err() && !existed {
            if let Ok(Some(s)) = self.sweep_by_name(&d.sweep.name).await {
                // Best effort: the copy's own error is the one to report.
                let _ = self.delete_sweep(s.id).await;
            }
        }
        loaded
    }

    // Long on purpose: one transaction, whose statements run on the one `tx` that
    // `with_pool!` types per backend; helpers would each need to be generic over
    // sqlx's `Database` to share it.
    async fn load_sweep_rows(&self, d: &SweepDump) -> Result<CopyCounts> {
        let s = &d.sweep;
        let existing = self
            .ensure_sweep(
                &s.name,
                &s.spec_json,
                &s.dataset_fingerprint,
                s.folds as usize,
                s.seed as u64,
            )
            .await?;
        if existing.dataset_fingerprint != s.dataset_fingerprint
            || existing.folds != s.folds
            || existing.seed != s.seed
        {
            return Err(StoreError::Corrupt {
                db: self.name.clone(),
                message: format!(
                    "sweep `{}` here ran on other data, folds or seed (fingerprint {}…, {} folds, seed {}; the copy has {}…, {} folds, seed {}): give one of them another name",
                    s.name, crate::domain::short_id(&existing.dataset_fingerprint), existing.folds, existing.seed,
                    crate::domain::short_id(&s.dataset_fingerprint), s.folds, s.seed
                ),
            });
        }
        let id = existing.id;
        let mut counts = CopyCounts::default();
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.in_db(self)?;
            for c in &d.configs {
                let r = sqlx::query(
                    "INSERT INTO configurations (sweep_id, config_id, position, params_json, training_key, trained_by, rung, pruned, bracket, imported_json)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (sweep_id, config_id) DO NOTHING",
                )
                .bind(id)
                .bind(&c.config_id)
                .bind(c.position)
                .bind(&c.params_json)
                .bind(&c.training_key)
                .bind(&c.trained_by)
                .bind(c.rung)
                .bind(c.pruned)
                .bind(c.bracket)
                .bind(&c.imported_json)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
                counts.configurations += r.rows_affected() as usize;
                if c.summary.last().copied().flatten().is_some() {
                    let mut q = sqlx::query(
                        "UPDATE configurations SET mean_train_accuracy = $1, std_train_accuracy = $2, mean_val_accuracy = $3,
                                std_val_accuracy = $4, mean_train_loss = $5, std_train_loss = $6, mean_val_loss = $7,
                                std_val_loss = $8, delta_accuracy = $9, score = $10, total_fit_seconds = $11, completed_at = $12,
                                resource_epochs = $15, rung = $16, pruned = $17
                         WHERE sweep_id = $13 AND config_id = $14 AND (completed_at IS NULL OR resource_epochs IS NOT NULL)",
                    );
                    for v in &c.summary {
                        q = q.bind(*v);
                    }
                    q.bind(id).bind(&c.config_id).bind(c.resource_epochs).bind(c.rung).bind(c.pruned)
                        .execute(&mut *tx).await.in_db(self)?;
                }
            }
            for f in &d.folds {
                // A running fold's process belongs to the other database.
                let state = if f.state == FoldState::Running { FoldState::Pending } else { f.state };
                let r = sqlx::query(
                    "INSERT INTO folds (sweep_id, config_id, fold, state, budget, speculative) VALUES ($1, $2, $3, 'pending', $4, $5)
                     ON CONFLICT (sweep_id, config_id, fold) DO NOTHING",
                )
                .bind(id)
                .bind(&f.config_id)
                .bind(f.fold)
                .bind(f.budget)
                .bind(f.speculative)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
                counts.folds_added += r.rows_affected() as usize;
                if state == FoldState::Pending {
                    continue;
                }
                let r = sqlx::query(
                    "UPDATE folds SET state = $1, attempts = $2, device = $3, started_at = $4, finished_at = $5,
                            train_accuracy = $6, train_loss = $7, val_accuracy = $8, val_loss = $9, epochs_run = $10,
                            final_learning_rate = $11, fit_seconds = $12, score_seconds = $13, history_json = $14, error = $15,
                            scored_epoch = $16, worker = $17, lease_until = NULL, budget = $21, partial = $22, speculative = $23, fused = $24
                     WHERE sweep_id = $18 AND config_id = $19 AND fold = $20 AND state != 'done' AND state != 'running'",
                )
                .bind(state.as_str())
                .bind(f.attempts)
                .bind(&f.device)
                .bind(f.started_at)
                .bind(f.finished_at)
                .bind(f.train_accuracy)
                .bind(f.train_loss)
                .bind(f.val_accuracy)
                .bind(f.val_loss)
                .bind(f.epochs_run)
                .bind(f.final_learning_rate)
                .bind(f.fit_seconds)
                .bind(f.score_seconds)
                .bind(&f.history_json)
                .bind(&f.error)
                .bind(f.scored_epoch)
                .bind(&f.worker)
                .bind(id)
                .bind(&f.config_id)
                .bind(f.fold)
                .bind(f.budget)
                .bind(f.partial)
                .bind(f.speculative)
                .bind(f.fused)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
                counts.folds_written += r.rows_affected() as usize;
            }
            // The staged search's state: each bracket's rung (the further one, when
            // both databases hold it) and the rung scores (saved training states are
            // not copied: a fold promoted there trains from its start, which gives the
            // same result).
            for (bracket, rung) in &d.brackets {
                sqlx::query(
                    "INSERT INTO brackets (sweep_id, bracket, rung) VALUES ($1, $2, $3)
                     ON CONFLICT (sweep_id, bracket) DO UPDATE SET rung = excluded.rung WHERE excluded.rung > brackets.rung",
                )
                .bind(id)
                .bind(*bracket)
                .bind(*rung)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
            }
            for RungScore { bracket, config_id, rung, resource_epochs: epochs, score, mean_val_accuracy: val, promoted } in &d.rung_scores {
                sqlx::query(
                    "INSERT INTO rung_scores (sweep_id, config_id, rung, resource_epochs, score, mean_val_accuracy, promoted, bracket)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sweep_id, config_id, rung) DO NOTHING",
                )
                .bind(id)
                .bind(config_id)
                .bind(*rung)
                .bind(*epochs)
                .bind(*score)
                .bind(*val)
                .bind(*promoted as i64)
                .bind(*bracket)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
            }
            for (config_id, created_at, test_accuracy, model_dir, json) in &d.evaluations {
                let present: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evaluations WHERE sweep_id = $1 AND config_id = $2 AND created_at = $3")
                    .bind(id)
                    .bind(config_id)
                    .bind(*created_at)
                    .fetch_one(&mut *tx)
                    .await
                    .in_db(self)?;
                if present == 0 {
                    sqlx::query(
                        "INSERT INTO evaluations (sweep_id, config_id, created_at, test_accuracy, model_dir, evaluation_json)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id)
                    .bind(config_id)
                    .bind(*created_at)
                    .bind(*test_accuracy)
                    .bind(model_dir)
                    .bind(json)
                    .execute(&mut *tx)
                    .await
                    .in_db(self)?;
                    counts.evaluations += 1;
                }
            }
            tx.commit().await.in_db(self)?;
            Ok(counts)
        })
    }
}
