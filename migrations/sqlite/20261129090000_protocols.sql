-- The notebook protocol scores a fold at its best-val_accuracy epoch, not its last:
-- every fold records the epoch (1-based) whose weights were scored.
ALTER TABLE folds ADD COLUMN scored_epoch INTEGER;
