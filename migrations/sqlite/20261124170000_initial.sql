-- gridsweep's results database. Times are Unix seconds (UTC); read them with
-- datetime(col, 'unixepoch').

-- One row per sweep (a spec run under a name).
CREATE TABLE sweeps (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    spec_json           TEXT    NOT NULL,  -- the spec as run, dataset path resolved
    dataset_fingerprint TEXT    NOT NULL,  -- sha256 of the data file + dataset options
    folds               INTEGER NOT NULL,
    seed                INTEGER NOT NULL,
    created_at          REAL    NOT NULL,
    updated_at          REAL    NOT NULL
);

-- One row per distinct configuration of a sweep; the summary columns are filled in
-- when its last fold is done.
CREATE TABLE configurations (
    sweep_id            INTEGER NOT NULL REFERENCES sweeps(id),
    config_id           TEXT    NOT NULL,  -- short hash of params_json
    position            INTEGER NOT NULL,  -- order in the expanded grid
    params_json         TEXT    NOT NULL,  -- canonical hyperparameters
    mean_train_accuracy REAL,
    std_train_accuracy  REAL,
    mean_val_accuracy   REAL,
    std_val_accuracy    REAL,
    mean_train_loss     REAL,
    std_train_loss      REAL,
    mean_val_loss       REAL,
    std_val_loss        REAL,
    delta_accuracy      REAL,              -- mean_train_accuracy - mean_val_accuracy
    score               REAL,              -- with w1 = 0.5, w2 = 1
    total_fit_seconds   REAL,
    completed_at        REAL,
    PRIMARY KEY (sweep_id, config_id)
);

-- One row per (configuration, fold): the unit of work.
CREATE TABLE folds (
    id                  INTEGER PRIMARY KEY,
    sweep_id            INTEGER NOT NULL,
    config_id           TEXT    NOT NULL,
    fold                INTEGER NOT NULL,
    state               TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    worker              TEXT,              -- host:pid:n of the claimant
    owner_host          TEXT,
    owner_pid           INTEGER,
    lease_until         REAL,              -- a heartbeat renews it while running
    device              TEXT,
    started_at          REAL,
    finished_at         REAL,
    train_accuracy      REAL,
    train_loss          REAL,
    val_accuracy        REAL,
    val_loss            REAL,
    epochs_run          INTEGER,
    final_learning_rate REAL,
    fit_seconds         REAL,
    score_seconds       REAL,
    history_json        TEXT,              -- per-epoch loss, accuracy, learning_rate, ...
    error               TEXT,
    UNIQUE (sweep_id, config_id, fold),
    FOREIGN KEY (sweep_id, config_id) REFERENCES configurations(sweep_id, config_id)
);

CREATE INDEX folds_by_state ON folds(sweep_id, state);
