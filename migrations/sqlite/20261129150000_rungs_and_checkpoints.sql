-- Folds that stop and continue: a saved training state per fold (only the latest),
-- and the epoch budgets of successive halving.
--
-- folds.budget: the epochs the fold trains to when next claimed (NULL: all of them).
-- folds.partial: 1 when the recorded result is of a fold stopped at its budget with
-- epochs left (a rung's result), 0 when the fold is complete.
-- folds.checkpoint_epochs: epochs of the saved state in `checkpoints`, if any.
ALTER TABLE folds ADD COLUMN budget INTEGER;
ALTER TABLE folds ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;
ALTER TABLE folds ADD COLUMN checkpoint_epochs INTEGER;

-- configurations.rung: the highest rung the configuration was trained in (halving);
-- resource_epochs: the budget its summary was taken at when that summary is partial
-- (NULL: complete); pruned: 1 when successive halving stopped it.
ALTER TABLE configurations ADD COLUMN rung INTEGER;
ALTER TABLE configurations ADD COLUMN resource_epochs INTEGER;
ALTER TABLE configurations ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0;

-- sweeps.rung: the rung successive halving is in (NULL: not a halving sweep).
ALTER TABLE sweeps ADD COLUMN rung INTEGER;

CREATE TABLE checkpoints (
    fold_id   INTEGER PRIMARY KEY REFERENCES folds(id),
    epochs    INTEGER NOT NULL,
    saved_at  REAL    NOT NULL,
    state     BLOB    NOT NULL
);

-- Each configuration's result at each complete rung of successive halving, and
-- whether it went on: the rung plot and the rank correlation read it.
CREATE TABLE rung_scores (
    sweep_id          INTEGER NOT NULL REFERENCES sweeps(id),
    config_id         TEXT NOT NULL,
    rung              INTEGER NOT NULL,
    resource_epochs   INTEGER,
    score             REAL,
    mean_val_accuracy REAL,
    promoted          INTEGER NOT NULL,
    PRIMARY KEY (sweep_id, config_id, rung)
);
