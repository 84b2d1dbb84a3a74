-- What an imported row's file states beyond its scores (`gridsweep import`), as JSON:
-- the hyperparameters the row states, in the file's column order ("stated"), and the
-- timings a scikit-learn cv_results_ row gives ("mean_fit_time", "std_fit_time",
-- "mean_score_time", "std_score_time"), so that an export writes back what the file
-- held. NULL for a configuration run here.
ALTER TABLE configurations ADD COLUMN imported_json TEXT;
