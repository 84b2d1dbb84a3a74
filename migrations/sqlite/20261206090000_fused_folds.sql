-- The `run --fuse N` a fold was trained under (1: one fold at a time). Above 1 its
-- claim-to-record span and fit_seconds are its group's, not its own, so `plan
-- --calibrate` leaves such folds out of its per-fold costs.
ALTER TABLE folds ADD COLUMN fused BIGINT NOT NULL DEFAULT 1;
