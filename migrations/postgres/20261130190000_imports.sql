-- Sweeps imported from results made elsewhere (`gridsweep import`): the file they came
-- from and its SHA-256. NULL for a sweep run here. An imported sweep holds complete
-- configurations with their summaries and is read-only: nothing runs on it.
ALTER TABLE sweeps ADD COLUMN source TEXT;
ALTER TABLE sweeps ADD COLUMN source_sha256 TEXT;
