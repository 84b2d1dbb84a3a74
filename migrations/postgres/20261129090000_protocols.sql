ALTER TABLE folds ADD COLUMN scored_epoch BIGINT;
