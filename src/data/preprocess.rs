//! Feature transforms, each a faithful port of the scikit-learn class the study used,
//! fitted on one part of the data and applied to any other.
//!
//! - [`KnnImputer`]: `KNNImputer(n_neighbors=5, metric="nan_euclidean")`.
//! - [`QuantileTransformer`][]: `QuantileTransformer(output_distribution="normal")`:
//!   up to 1000 quantiles by NumPy's linear percentile, interpolation taken both ways
//!   and averaged (ties), the 1e-7 bound handling, then the normal quantile function
//!   clipped at the same bounds. (scikit-learn subsamples above 10,000 rows; we never
//!   subsample, which only matters for larger training parts.)
//! - [`MinMaxScaler`]: `MinMaxScaler(feature_range=(-1, 1))`.
//!
//! The unit tests compare against numbers scikit-learn produced for fixed inputs.

use super::Matrix;
use serde::{Deserialize, Serialize};

/// `KNNImputer` with uniform weights over the 5 nearest donors by nan-euclidean distance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KnnImputer {
    pub k: usize,
    fit: Matrix,
    col_means: Vec<f64>,
}

/// scikit-learn's `nan_euclidean_distances` for one pair of rows: squared differences
/// over coordinates present in both, scaled by (all / present); NaN if none is shared.
fn nan_euclidean(a: &[f64], b: &[f64]) -> f64 {
    let mut sum = 0.0;
    let mut present = 0usize;
    for (x, y) in a.iter().zip(b) {
        if !x.is_nan() && !y.is_nan() {
            sum += (x - y) * (x - y);
            present += 1;
        }
    }
    if present == 0 {
        f64::NAN
    } else {
        (sum * a.len() as f64 / present as f64).sqrt()
    }
}

impl KnnImputer {
    /// Fits on `x`. Every column must have at least one value (the caller reports
    /// which one does not: scikit-learn would silently drop it).
    pub fn fit(x: &Matrix, k: usize) -> Result<Self, usize> {
        let mut col_means = Vec::with_capacity(x.cols);
        for c in 0..x.cols {
            let (s, n) = x
                .column(c)
                .filter(|v| !v.is_nan())
                .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
            if n == 0 {
                return Err(c);
            }
            col_means.push(s / n as f64);
        }
        Ok(KnnImputer {
            k,
            fit: x.clone(),
            col_means,
        })
    }

    pub fn transform(&self, x: &Matrix) -> Matrix {
        let mut out = x.clone();
        for r in 0..x.rows {
            let row = x.row(r);
            if !row.iter().any(|v| v.is_nan()) {
                continue;
            }
            let dist: Vec<f64> = (0..self.fit.rows)
                .map(|f| nan_euclidean(row, self.fit.row(f)))
                .collect();
            for (c, cell) in row.iter().enumerate() {
                if !cell.is_nan() {
                    continue;
                }
                // Donors: fit rows with a value in this column; NaN distances sort last.
                let mut donors: Vec<(f64, usize)> = (0..self.fit.rows)
                    .filter(|&f| !self.fit.row(f)[c].is_nan())
                    .map(|f| (dist[f], f))
                    .collect();
                let value = if donors.iter().all(|(d, _)| d.is_nan()) {
                    self.col_means[c]
                } else {
                    donors.sort_by(|a, b| match (a.0.is_nan(), b.0.is_nan()) {
                        (false, false) => a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)),
                        (a_nan, b_nan) => a_nan.cmp(&b_nan),
                    });
                    let chosen: Vec<f64> = donors
                        .iter()
                        .take(self.k)
                        .filter(|(d, _)| !d.is_nan())
                        .map(|&(_, f)| self.fit.row(f)[c])
                        .collect();
                    chosen.iter().sum::<f64>() / chosen.len() as f64
                };
                out.data[r * x.cols + c] = value;
            }
        }
        out
    }
}

const BOUNDS_THRESHOLD: f64 = 1e-7;

/// scikit-learn's clip bounds of the normal output: ppf(1e-7 − eps) and
/// ppf(1 − (1e-7 − eps)), computed once (they were a third of preprocessing time).
static CLIP_BOUNDS: std::sync::LazyLock<(f64, f64)> = std::sync::LazyLock::new(|| {
    let eps = f64::EPSILON;
    (
        norm_ppf(BOUNDS_THRESHOLD - eps),
        norm_ppf(1.0 - (BOUNDS_THRESHOLD - eps)),
    )
});

/// `QuantileTransformer(n_quantiles=1000, output_distribution="normal")`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuantileTransformer {
    /// `references_`: evenly spaced in [0, 1].
    pub references: Vec<f64>,
    /// `quantiles_[q][feature]`, stored per feature.
    pub quantiles: Vec<Vec<f64>>,
}

/// NumPy's `lerp` as `np.percentile(method="linear")` computes it.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// `np.nanpercentile(col, q * 100)` for sorted, NaN-free `sorted`.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let virtual_index = q * (n - 1) as f64;
    let lo = virtual_index.floor();
    let i = (lo as usize).min(n - 1);
    let j = (i + 1).min(n - 1);
    lerp(sorted[i], sorted[j], virtual_index - lo)
}

/// `np.interp(x, xp, fp)` for increasing (possibly repeated) `xp`.
fn interp(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let n = xp.len();
    if x < xp[0] {
        return fp[0];
    }
    if x > xp[n - 1] {
        return fp[n - 1];
    }
    // Largest j with xp[j] <= x.
    let j = xp.partition_point(|&v| v <= x) - 1;
    if j == n - 1 || xp[j] == x {
        return fp[j];
    }
    let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    slope * (x - xp[j]) + fp[j]
}

/// The standard normal quantile function (`scipy.stats.norm.ppf`), from the
/// complementary error function: ppf(p) = −√2 · erfc⁻¹(2p), refined by Newton steps on
/// `erfc` so that it is accurate to a few ulps over (0, 1).
pub fn norm_ppf(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p > 0.5 {
        // 1 − p is exact here; the lower tail is where erfc is accurate.
        return -norm_ppf(1.0 - p);
    }
    // Acklam's rational approximation as the starting point (relative error < 1.2e-9).
    // The coefficients as published (more digits than f64 keeps: the nearest f64 is meant).
    #[allow(clippy::excessive_precision)]
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.383577518672690e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549671010285398e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    let plow = 0.02425;
    let mut x = if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // Halley refinement on Φ(x) − p, with Φ from erfc (accurate in both tails).
    for _ in 0..2 {
        let cdf = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
        let e = cdf - p;
        let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
        x -= u / (1.0 + x * u / 2.0);
    }
    x
}

impl QuantileTransformer {
    pub fn fit(x: &Matrix, n_quantiles: usize) -> Self {
        let n_q = n_quantiles.min(x.rows).max(1);
        let references: Vec<f64> = if n_q == 1 {
            vec![0.0]
        } else {
            // np.linspace(0, 1, n_q)
            (0..n_q).map(|i| i as f64 / (n_q - 1) as f64).collect()
        };
        let quantiles = (0..x.cols)
            .map(|c| {
                let mut col: Vec<f64> = x.column(c).filter(|v| !v.is_nan()).collect();
                col.sort_by(f64::total_cmp);
                let mut q: Vec<f64> = references.iter().map(|&r| percentile(&col, r)).collect();
                // np.maximum.accumulate: rounding must not make quantiles decrease.
                for i in 1..q.len() {
                    if q[i] < q[i - 1] {
                        q[i] = q[i - 1];
                    }
                }
                q
            })
            .collect();
        QuantileTransformer {
            references,
            quantiles,
        }
    }

    pub fn transform_value(&self, feature: usize, v: f64) -> f64 {
        let (neg_q, neg_r) = self.reversed(feature);
        self.transform_with(feature, v, &neg_q, &neg_r)
    }

    /// −quantiles and −references reversed: the second interpolation's axes.
    fn reversed(&self, feature: usize) -> (Vec<f64>, Vec<f64>) {
        (
            self.quantiles[feature].iter().rev().map(|x| -x).collect(),
            self.references.iter().rev().map(|x| -x).collect(),
        )
    }

    fn transform_with(&self, feature: usize, v: f64, neg_q: &[f64], neg_r: &[f64]) -> f64 {
        if v.is_nan() {
            return v;
        }
        let q = &self.quantiles[feature];
        let r = &self.references;
        let (lower_x, upper_x) = (q[0], q[q.len() - 1]);
        let p = if v + BOUNDS_THRESHOLD > upper_x {
            1.0
        } else if v - BOUNDS_THRESHOLD < lower_x {
            0.0
        } else {
            0.5 * (interp(v, q, r) - interp(-v, neg_q, neg_r))
        };
        let (lo, hi) = *CLIP_BOUNDS;
        norm_ppf(p).clamp(lo, hi)
    }

    pub fn transform(&self, x: &Matrix) -> Matrix {
        let mut out = x.clone();
        for c in 0..x.cols {
            let (neg_q, neg_r) = self.reversed(c);
            for r in 0..x.rows {
                out.data[r * x.cols + c] =
                    self.transform_with(c, x.data[r * x.cols + c], &neg_q, &neg_r);
            }
        }
        out
    }
}

/// `MinMaxScaler(feature_range=(lo, hi))`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MinMaxScaler {
    pub scale: Vec<f64>,
    pub min: Vec<f64>,
}

impl MinMaxScaler {
    pub fn fit(x: &Matrix, lo: f64, hi: f64) -> Self {
        let mut scale = Vec::with_capacity(x.cols);
        let mut min = Vec::with_capacity(x.cols);
        for c in 0..x.cols {
            let (dmin, dmax) = x
                .column(c)
                .filter(|v| !v.is_nan())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                    (a.min(v), b.max(v))
                });
            let range = dmax - dmin;
            // _handle_zeros_in_scale: a constant column gets scale (hi − lo) / 1.
            let range = if range == 0.0 || !range.is_finite() {
                1.0
            } else {
                range
            };
            let s = (hi - lo) / range;
            scale.push(s);
            min.push(lo - if dmin.is_finite() { dmin } else { 0.0 } * s);
        }
        MinMaxScaler { scale, min }
    }

    pub fn transform(&self, x: &Matrix) -> Matrix {
        let mut out = x.clone();
        for (i, v) in out.data.iter_mut().enumerate() {
            let c = i % x.cols;
            *v = *v * self.scale[c] + self.min[c];
        }
        out
    }
}

/// The study's feature pipeline, fitted on one part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Preprocessor {
    /// Always fitted, so that a later part with missing cells can be imputed even when
    /// the fitting part had none.
    pub imputer: KnnImputer,
    pub quantile: QuantileTransformer,
    pub scaler: MinMaxScaler,
}

impl Preprocessor {
    /// Fits imputer, quantile transform and scaler on `x`. Err(column) when a column
    /// has no value at all.
    pub fn fit(x: &Matrix) -> Result<Self, usize> {
        let imputer = KnnImputer::fit(x, 5)?;
        let has_missing = x.data.iter().any(|v| v.is_nan());
        let imputed = if has_missing {
            imputer.transform(x)
        } else {
            x.clone()
        };
        let quantile = QuantileTransformer::fit(&imputed, 1000);
        let scaler = MinMaxScaler::fit(&quantile.transform(&imputed), -1.0, 1.0);
        Ok(Preprocessor {
            imputer,
            quantile,
            scaler,
        })
    }

    /// Transforms any part; returns row-major f32 features ready for a tensor.
    pub fn transform(&self, x: &Matrix) -> Vec<f32> {
        self.transform_f64(x)
            .data
            .iter()
            .map(|&v| v as f32)
            .collect()
    }

    /// Transforms any part in double precision (what scikit-learn's baselines see).
    pub fn transform_f64(&self, x: &Matrix) -> Matrix {
        let imputed = if x.data.iter().any(|v| v.is_nan()) {
            self.imputer.transform(x)
        } else {
            x.clone()
        };
        self.scaler.transform(&self.quantile.transform(&imputed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    // Expected values: tests/reference/sklearn_reference.py (scikit-learn 1.7, SciPy).
    #[test]
    fn ppf_matches_scipy() {
        let cases = [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.01, -2.3263478740408408),
            (1e-7, -5.1993375821928165),
            (1.0 - 1e-7, 5.199337582290661),
            (0.3, -0.5244005127080409),
        ];
        for (p, want) in cases {
            let got = norm_ppf(p);
            assert!(close(got, want, 1e-12), "ppf({p}) = {got}, want {want}");
        }
    }

    fn fixture() -> (Matrix, Matrix) {
        let x = Matrix::new(
            12,
            3,
            vec![
                1.0, 5.0, -3.0, 2.0, 5.0, 10.0, 3.5, 1.0, 0.25, 0.5, 5.0, 7.0, 9.0, 2.0, 7.0, 4.0,
                3.0, -1.0, 6.0, 5.0, 2.0, 7.5, 4.0, 3.0, 8.0, 1.0, 7.0, 2.5, 0.0, 100.0, 5.0, 2.0,
                4.0, 3.0, 5.0, 5.0,
            ],
        );
        let t = Matrix::new(
            4,
            3,
            vec![
                0.0, 6.0, 50.0, 4.2, 2.5, 7.0, 9.0, 1.0, -3.0, 2.75, 4.5, 3.5,
            ],
        );
        (x, t)
    }

    fn assert_all_close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(close(*g, *w, tol), "element {i}: got {g}, want {w}");
        }
    }

    #[test]
    fn quantile_transform_matches_scikit_learn_with_ties_and_bounds() {
        let (x, t) = fixture();
        let qt = QuantileTransformer::fit(&x, 5);
        let train = [
            -1.501085946044025,
            5.19933758270342,
            -5.199337582605575,
            -0.8416212335729142,
            5.19933758270342,
            0.7000902126075669,
            -0.11418529432142824,
            -1.0675705238781414,
            -0.9226984313380577,
            -5.199337582605575,
            5.19933758270342,
            0.6744897501960817,
            5.19933758270342,
            -0.5659488219328631,
            0.6744897501960817,
            0.05971709978532289,
            -0.18001236979270496,
            -1.2287165944770497,
            0.5659488219328631,
            5.19933758270342,
            -0.5614833390479699,
            1.0675705238781419,
            0.21042839424792484,
            -0.3256610044665331,
            1.309171716785777,
            -1.0675705238781414,
            0.6744897501960817,
            -0.6045853465832371,
            -5.199337582605575,
            5.19933758270342,
            0.30298044805620655,
            -0.5659488219328631,
            -0.10686810468305773,
            -0.3487556955170447,
            5.19933758270342,
            0.12566134685507416,
        ];
        assert_all_close(&qt.transform(&x).data, &train, 1e-9);
        let test = [
            -5.199337582605575,
            5.19933758270342,
            1.105790508186314,
            0.1076343923831023,
            -0.36610635680056963,
            0.6744897501960817,
            5.19933758270342,
            -1.0675705238781414,
            -5.199337582605575,
            -0.4727891209922674,
            0.43072729929545744,
            -0.21497445609916144,
        ];
        assert_all_close(&qt.transform(&t).data, &test, 1e-9);
    }

    #[test]
    fn pipeline_matches_scikit_learn_on_held_out_rows() {
        let (x, t) = fixture();
        let pre = Preprocessor::fit(&x).unwrap();
        let want = [
            -1.0,
            1.0000000000000002,
            0.31542023267645086,
            0.030810703333613108,
            -0.04421411650496968,
            0.1162812256221393,
            1.0000000000000002,
            -0.21095063451957413,
            -1.0,
            -0.09093256852920262,
            0.044214116486151374,
            -0.04421411650496968,
        ];
        let got: Vec<f64> = pre.transform(&t).iter().map(|&v| v as f64).collect();
        assert_all_close(&got, &want, 1e-6);
    }

    #[test]
    fn knn_imputer_matches_scikit_learn() {
        let n = f64::NAN;
        let x = Matrix::new(
            8,
            3,
            vec![
                1.0, 2.0, n, 3.0, 4.1, 3.0, n, 6.0, 5.0, 8.0, 8.2, 7.0, 2.0, n, 1.5, 5.5, 1.0, 0.5,
                0.3, 2.2, 9.0, 4.4, 7.7, 2.1,
            ],
        );
        let imp = KnnImputer::fit(&x, 5).unwrap();
        let want = [
            1.0, 2.0, 3.8, 3.0, 4.1, 3.0, 3.54, 6.0, 5.0, 8.0, 8.2, 7.0, 2.0, 4.16, 1.5, 5.5, 1.0,
            0.5, 0.3, 2.2, 9.0, 4.4, 7.7, 2.1,
        ];
        assert_all_close(&imp.transform(&x).data, &want, 1e-12);
        let t = Matrix::new(2, 3, vec![n, n, 4.0, 2.5, n, n]);
        assert_all_close(
            &imp.transform(&t).data,
            &[4.58, 5.4, 4.0, 2.5, 3.4, 3.22],
            1e-12,
        );
        assert_eq!(
            KnnImputer::fit(&Matrix::new(2, 2, vec![1.0, n, 2.0, n]), 5).unwrap_err(),
            1
        );
    }

    #[test]
    fn interp_handles_repeats_like_numpy() {
        let xp = [0.0, 1.0, 1.0, 2.0];
        let fp = [0.0, 0.25, 0.5, 1.0];
        assert_eq!(interp(1.0, &xp, &fp), 0.5);
        assert_eq!(interp(0.5, &xp, &fp), 0.125);
        assert_eq!(interp(-1.0, &xp, &fp), 0.0);
        assert_eq!(interp(3.0, &xp, &fp), 1.0);
    }
}
