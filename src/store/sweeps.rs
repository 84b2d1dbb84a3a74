//! Sweeps and their configurations: registering them, and the shared trainings
//! (configurations that train the same network share one set of folds).

use super::*;

/// Where a configuration starts in a staged search (successive halving, Hyperband):
/// its bracket, and the epochs its folds train to in that bracket's rung 0 (the sweep
/// logic decides; the store records).
/// A staged search's bracket and first epoch budget (None: full epochs, a race's) of a configuration.
pub type Rung0Budget<'a> = dyn Fn(&Config) -> (i64, Option<i64>) + Sync + 'a;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SweepRow {
    pub id: i64,
    pub name: String,
    pub spec_json: String,
    pub dataset_fingerprint: String,
    pub folds: i64,
    pub seed: i64,
    pub created_at: f64,
    pub updated_at: f64,
    /// An imported sweep's file and its SHA-256 (`gridsweep import`); None for a sweep
    /// run here.
    pub source: Option<String>,
    pub source_sha256: Option<String>,
}

/// A configuration of results made elsewhere, with its folds when the file has them.
#[derive(Debug, Clone)]
pub struct ImportedConfig {
    pub config: Config,
    pub summary: crate::score::CvSummary,
    /// The folds it ran (`FoldMetrics::fold` is each one's index).
    pub folds: Vec<crate::store::FoldMetrics>,
    /// Folds its file records as failed fits: stored failed, and the configuration
    /// without a summary.
    pub failed: Vec<i64>,
    /// The epochs its numbers are of, when fewer than it trains: stored as a stopped
    /// configuration's (partial, not ranked).
    pub resource_epochs: Option<i64>,
    /// It did not complete (stopped at a rung, dropped from a race): stored pruned.
    pub stopped: bool,
    /// What the row states beyond its scores (`configurations.imported_json`).
    pub details: crate::domain::ImportedDetails,
}

impl Store {
    pub async fn sweep_by_name(&self, name: &str) -> Result<Option<SweepRow>> {
        let sql = format!("{SWEEPS} WHERE name = $1");
        with_pool!(self, p => {
            sqlx::query_as::<_, SweepRow>(&sql).bind(name).fetch_optional(p).await.in_db(self)
        })
    }

    pub async fn sweeps(&self) -> Result<Vec<SweepRow>> {
        let sql = format!("{SWEEPS} ORDER BY id");
        with_pool!(self, p => {
            sqlx::query_as::<_, SweepRow>(&sql).fetch_all(p).await.in_db(self)
        })
    }

    /// The sweep of this name, created with these values if absent (two processes
    /// starting the same sweep at once both get the one row).
    pub async fn ensure_sweep(
        &self,
        name: &str,
        spec_json: &str,
        fingerprint: &str,
        folds: usize,
        seed: u64,
    ) -> Result<SweepRow> {
        let t = now();
        with_pool!(self, p => {
            sqlx::query(
                "INSERT INTO sweeps (name, spec_json, dataset_fingerprint, folds, seed, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(spec_json)
            .bind(fingerprint)
            .bind(folds as i64)
            .bind(seed as i64)
            .bind(t)
            .bind(t)
            .execute(p)
            .await
            .map(|_| ())
            .in_db(self)
        })?;
        self.sweep_by_name(name)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                db: self.name.clone(),
                message: format!("sweep `{name}` vanished right after it was created"),
            })
    }

    pub async fn update_spec(&self, sweep_id: i64, spec_json: &str) -> Result<()> {
        with_pool!(self, p => sqlx::query("UPDATE sweeps SET spec_json = $1, updated_at = $2 WHERE id = $3")
            .bind(spec_json)
            .bind(now())
            .bind(sweep_id)
            .execute(p)
            .await
            .map(|_| ())
            .in_db(self))?;
        Ok(())
    }

    /// Adds configurations not yet in the sweep; returns how many were new. A
    /// configuration gets its folds, pending, unless one already in the sweep trains the
    /// same network (same training key): then it shares that one's folds (`trained_by`)
    /// and, when they are done, its summary. One transaction: all or nothing.
    pub async fn add_configs(
        &self,
        sweep_id: i64,
        configs: &[Config],
        folds: usize,
    ) -> Result<usize> {
        self.add_configs_with(sweep_id, configs, folds, None).await
    }

    /// [`add_configs`](Self::add_configs) for a sweep of successive halving: each
    /// configuration goes into the bracket `rung0` gives it, its folds starting at the
    /// budget it gives (the sweep logic's rung 0), and each bracket that gets one
    /// starts at rung 0 (if it has not started).
    pub async fn add_configs_with(
        &self,
        sweep_id: i64,
        configs: &[Config],
        folds: usize,
        rung0: Option<&Rung0Budget<'_>>,
    ) -> Result<usize> {
        // Every worker of a sweep starts by adding the spec's configurations: read which
        // are there first, so that a sweep already registered costs one query, not a
        // write transaction of no-op inserts that all the workers would queue on.
        let known: std::collections::HashSet<String> = with_pool!(self, p => sqlx::query_scalar("SELECT config_id FROM configurations WHERE sweep_id = $1")
            .bind(sweep_id)
            .fetch_all(p)
            .await
            .in_db(self))?
        .into_iter()
        .collect();
        let configs: Vec<&Config> = configs.iter().filter(|c| !known.contains(&c.id)).collect();
        if configs.is_empty() {
            return Ok(0);
        }
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.in_db(self)?;
            if let Some(lock) = self.dialect.lock_rows("SELECT id FROM sweeps WHERE id = $1") {
                // Positions are handed out under the sweep's row lock: two processes
                // adding configurations at once queue here.
                sqlx::query(&lock).bind(sweep_id).execute(&mut *tx).await.in_db(self)?;
            }
            let start: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position) + 1, 0) FROM configurations WHERE sweep_id = $1")
                .bind(sweep_id)
                .fetch_one(&mut *tx)
                .await
                .in_db(self)?;
            // The training each key already has (configurations of databases older than
            // shared trainings have no key and keep their own folds).
            let mut leads: std::collections::HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
                "SELECT training_key, COALESCE(trained_by, config_id) FROM configurations
                 WHERE sweep_id = $1 AND training_key IS NOT NULL ORDER BY position",
            )
            .bind(sweep_id)
            .fetch_all(&mut *tx)
            .await
            .in_db(self)?
            .into_iter()
            .rev()
            .collect();
            let mut added = 0usize;
            for c in &configs {
                let staged = rung0.map(|f| f(c));
                let lead = leads.get(&c.training_key).cloned();
                let r = sqlx::query(
                    "INSERT INTO configurations (sweep_id, config_id, position, params_json, training_key, trained_by, rung, bracket)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sweep_id, config_id) DO NOTHING",
                )
                .bind(sweep_id)
                .bind(&c.id)
                .bind(start + added as i64)
                .bind(&c.canonical_json)
                .bind(&c.training_key)
                .bind(&lead)
                .bind(staged.map(|_| 0i64))
                .bind(staged.map_or(0, |s| s.0))
                .execute(&mut *tx)
                .await
                .in_db(self)?;
                if r.rows_affected() == 0 {
                    continue;
                }
                added += 1;
                if lead.is_some() {
                    continue;
                }
                leads.insert(c.training_key.clone(), c.id.clone());
                let budget = staged.and_then(|s| s.1);
                for k in 0..folds {
                    sqlx::query("INSERT INTO folds (sweep_id, config_id, fold, budget) VALUES ($1, $2, $3, $4)")
                        .bind(sweep_id)
                        .bind(&c.id)
                        .bind(k as i64)
                        .bind(budget)
                        .execute(&mut *tx)
                        .await
                        .in_db(self)?;
                }
            }
            if rung0.is_some() {
                sqlx::query(
                    "INSERT INTO brackets (sweep_id, bracket, rung) SELECT DISTINCT sweep_id, bracket, 0 FROM configurations WHERE sweep_id = $1
                     ON CONFLICT (sweep_id, bracket) DO NOTHING",
                )
                .bind(sweep_id)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
            }
            // A configuration joining a training that is already complete takes its summary.
            sqlx::query(&copy_shared_summary_sql("sweep_id = $1 AND trained_by IS NOT NULL AND completed_at IS NULL"))
            .bind(sweep_id)
            .execute(&mut *tx)
            .await
            .in_db(self)?;
            tx.commit().await.in_db(self)?;
            Ok(added)
        })
    }

    /// Records an imported sweep's configurations with their summaries, complete, and
    /// where they came from, in one transaction: all of them or none. Configurations
    /// already there are left as they are. Returns how many were added.
    /// Each row may bring its per-fold (train, val) accuracies and fit seconds (a
    /// cv_results_ file): they become done folds, numbered in order.
    pub async fn add_imported(
        &self,
        sweep_id: i64,
        source: &str,
        sha256: &str,
        rows: &[ImportedConfig],
    ) -> Result<usize> {
        with_pool!(self, p => {
            let mut tx = p.begin_with(self.dialect.begin()).await.in_db(self)?;
            sqlx::query("UPDATE sweeps SET source = $1, source_sha256 = $2 WHERE id = $3")
                .bind(source)
                .bind(sha256)
                .bind(sweep_id)
                .execute(&mut *tx)
                .await
                .in_db(self)?;
            let t = now();
            let mut added = 0usize;
            for (position, ImportedConfig { config: c, summary: s, folds, failed, resource_epochs, stopped, details }) in rows.iter().enumerate() {
                // A number that is not one (an unmeasured loss) is stored as NULL.
                let v = |x: f64| x.is_finite().then_some(x);
                // A failed fold leaves the configuration without a summary, as one run here.
                let scored = failed.is_empty();
                let v = |x: f64| v(x).filter(|_| scored);
                added += sqlx::query(
                    "INSERT INTO configurations (sweep_id, config_id, position, params_json, training_key, mean_train_accuracy,
                            std_train_accuracy, mean_val_accuracy, std_val_accuracy, mean_train_loss, std_train_loss, mean_val_loss,
                            std_val_loss, delta_accuracy, score, total_fit_seconds, completed_at, imported_json, resource_epochs, pruned)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
                     ON CONFLICT (sweep_id, config_id) DO NOTHING",
                )
                .bind(sweep_id)
                .bind(&c.id)
                .bind(position as i64)
                .bind(&c.canonical_json)
                .bind(&c.training_key)
                .bind(v(s.mean_train_accuracy))
                .bind(v(s.std_train_accuracy))
                .bind(v(s.mean_val_accuracy))
                .bind(v(s.std_val_accuracy))
                .bind(v(s.mean_train_loss))
                .bind(v(s.std_train_loss))
                .bind(v(s.mean_val_loss))
                .bind(v(s.std_val_loss))
                .bind(v(s.delta_accuracy))
                .bind(v(s.score))
                .bind(v(s.total_fit_seconds))
                .bind(scored.then_some(t))
                .bind(serde_json::to_string(details).unwrap_or_default())
                .bind(resource_epochs)
                .bind(i64::from(*stopped))
                .execute(&mut *tx)
                .await
                .in_db(self)?
                .rows_affected() as usize;
                for f in folds {
                    sqlx::query(
                        "INSERT INTO folds (sweep_id, config_id, fold, state, train_accuracy, val_accuracy, fit_seconds, score_seconds, finished_at)
                         VALUES ($1, $2, $3, 'done', $4, $5, $6, $7, $8) ON CONFLICT (sweep_id, config_id, fold) DO NOTHING",
                    )
                    .bind(sweep_id)
                    .bind(&c.id)
                    .bind(f.fold)
                    .bind(f.train_accuracy)
                    .bind(f.val_accuracy)
                    .bind(v(f.fit_seconds))
                    .bind(v(f.score_seconds))
                    .bind(t)
                    .execute(&mut *tx)
                    .await
                    .in_db(self)?;
                }
                for k in failed {
                    sqlx::query(
                        "INSERT INTO folds (sweep_id, config_id, fold, state, error, finished_at)
                         VALUES ($1, $2, $3, 'failed', $4, $5) ON CONFLICT (sweep_id, config_id, fold) DO NOTHING",
                    )
                    .bind(sweep_id)
                    .bind(&c.id)
                    .bind(k)
                    .bind("the imported file records NaN for this split (a failed fit: scikit-learn's error_score=nan)")
                    .bind(t)
                    .execute(&mut *tx)
                    .await
                    .in_db(self)?;
                }
            }
            tx.commit().await.in_db(self)?;
            Ok(added)
        })
    }

    /// Configurations of a sweep.
    pub async fn config_count(&self, sweep_id: i64) -> Result<i64> {
        with_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM configurations WHERE sweep_id = $1")
            .bind(sweep_id)
            .fetch_one(p)
            .await
            .in_db(self))
    }

    /// Distinct trainings of a sweep: configurations that hold their own folds.
    pub async fn training_count(&self, sweep_id: i64) -> Result<i64> {
        with_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM configurations WHERE sweep_id = $1 AND trained_by IS NULL")
            .bind(sweep_id)
            .fetch_one(p)
            .await
            .in_db(self))
    }
}
