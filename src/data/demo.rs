//! A built-in synthetic stand-in for the study's data, so that every command can be
//! tried (and every test run) without downloading anything.
//!
//! Same shape and awkwardness as the real file: an unnamed index column, 19 numeric
//! features under the real names with very different scales and distributions (bounded
//! audio scores, a negative loudness in dB, an integer key, heavy-tailed view and like
//! counts, 0/1 flags, a label-encoded artist id), a `Genre` label with the study's six
//! genres in its imbalance (about 37/22/22/10/7/3 %). Each genre is a cloud in a
//! 5-dimensional latent space whose centres overlap, and the features are noisy,
//! non-linear views of that space, so a dense net learns it well above chance but not
//! perfectly.

use crate::rng::{stream, Stream};
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};
use std::io::Write;
use std::path::Path;

/// Genres and their shares, most frequent first (the study's counts: hip hop 2361,
/// rock 1418, pop 1391, electronic 677, metal 430, classic 169).
pub const GENRES: [(&str, f64); 6] = [
    ("hip hop", 0.366),
    ("rock", 0.220),
    ("pop", 0.216),
    ("electronic", 0.105),
    ("metal", 0.067),
    ("classic", 0.026),
];

pub const FEATURES: [&str; 19] = [
    "Danceability",
    "Energy",
    "Key",
    "Loudness",
    "Speechiness",
    "Acousticness",
    "Instrumentalness",
    "Liveness",
    "Valence",
    "Tempo",
    "Duration_ms",
    "Views",
    "Likes",
    "Comments",
    "Stream",
    "Artist_encoded",
    "Album_type_encoded",
    "Licensed_encoded",
    "official_video_encoded",
];

const LATENT: usize = 5;

/// Rows and seed of `builtin:demo` and `gridsweep demo-data` (the study kept 6,446 rows).
pub const DEFAULT_ROWS: usize = 6446;
pub const DEFAULT_SEED: u64 = 42;

/// Latent class centres: fixed, so that every seed draws from the same problem.
const CENTRES: [[f64; LATENT]; 6] = [
    [1.0, 0.6, -0.4, 0.3, 0.0],    // hip hop: danceable, speechy
    [-0.3, -0.6, 0.8, -0.2, 0.3],  // rock: energetic, loud
    [0.4, 0.0, 0.1, 0.7, -0.3],    // pop
    [0.2, -0.8, -0.2, -0.6, 0.9],  // electronic: instrumental
    [-0.9, -0.5, 1.3, -0.4, -0.2], // metal: very energetic
    [-1.3, 1.2, -1.4, 0.0, 0.4],   // classic: acoustic, quiet
];

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Writes `rows` rows of demo data as CSV. The file appears whole: it is written
/// beside its place and renamed there, so a reader (another process reading the same
/// path) never sees it half-written.
pub fn write_csv(path: &Path, rows: usize, seed: u64) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".{}.partial", std::process::id()));
    let partial = std::path::PathBuf::from(partial);
    let written = (|| {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        write_rows(&mut out, rows, seed)?;
        out.flush()?;
        std::fs::rename(&partial, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

pub fn write_rows(out: &mut impl Write, rows: usize, seed: u64) -> std::io::Result<()> {
    let mut rng = stream(seed, 0, Stream::DemoData);
    let mut n = || -> f64 { StandardNormal.sample(&mut rng) };
    // Fixed random mixing of the latent space into 19 directions (seeded separately
    // from the rows so the problem is the same for every row count).
    let mut mix_rng = stream(0x5eed, 0, Stream::DemoData);
    let mixing: Vec<[f64; LATENT]> = (0..FEATURES.len())
        .map(|_| {
            let mut w = [0.0; LATENT];
            for v in w.iter_mut() {
                *v = StandardNormal.sample(&mut mix_rng);
            }
            w
        })
        .collect();

    write!(out, "Unnamed: 0")?;
    for (i, f) in FEATURES.iter().enumerate() {
        if i == 15 {
            write!(out, ",Genre")?;
        }
        write!(out, ",{f}")?;
    }
    writeln!(out)?;

    let mut rng2 = stream(seed, 1, Stream::DemoData);
    for r in 0..rows {
        let u: f64 = rng2.gen();
        let mut class = GENRES.len() - 1;
        let mut acc = 0.0;
        for (k, (_, share)) in GENRES.iter().enumerate() {
            acc += share;
            if u < acc {
                class = k;
                break;
            }
        }
        let mut z = [0.0; LATENT];
        for (j, v) in z.iter_mut().enumerate() {
            *v = CENTRES[class][j] + 0.85 * n();
        }
        let proj =
            |i: usize| -> f64 { mixing[i].iter().zip(&z).map(|(a, b)| a * b).sum::<f64>() / 2.0 };
        let mut f = [0.0f64; 19];
        f[0] = sigmoid(1.2 * z[0] + 0.3 * n()); // Danceability in (0, 1)
        f[1] = sigmoid(1.1 * z[2] - 0.5 * z[1] + 0.4 * n()); // Energy
        f[2] = rng2.gen_range(0..12) as f64; // Key: uninformative integer
        f[3] = -7.0 + 3.0 * z[2] - 2.5 * z[1] + 2.0 * n(); // Loudness in dB
        f[3] = f[3].min(1.0);
        f[4] = (0.08 * (0.9 * z[0] + 0.5 * n()).exp()).min(0.95); // Speechiness: skewed
        f[5] = sigmoid(2.0 * z[1] - 0.5 + 0.6 * n()).powf(1.5); // Acousticness
        f[6] = if z[4] + 0.5 * n() > 0.8 {
            sigmoid(2.0 * z[4] + n())
        } else {
            0.0
        }; // Instrumentalness: zero-inflated
        f[7] = (0.1 + 0.1 * n().abs() + 0.05 * proj(7)).clamp(0.01, 1.0); // Liveness
        f[8] = sigmoid(0.8 * z[3] + 0.3 * z[0] + 0.5 * n()); // Valence
        f[9] = (120.0 + 12.0 * proj(9) + 25.0 * n()).max(40.0); // Tempo
        f[10] = (210_000.0 * (0.2 * z[1] - 0.1 * z[0] + 0.25 * n()).exp()).round(); // Duration_ms
        let pop = 0.6 * proj(11) + 0.4 * z[3] + 1.2 * n();
        f[11] = (5e6 * (1.6 * pop).exp()).round(); // Views: heavy tail
        f[12] = (f[11] * 0.008 * (0.4 * n() + 0.2 * z[0]).exp()).round(); // Likes
        f[13] = (f[12] * 0.03 * (0.5 * n()).exp()).round(); // Comments
        f[14] = (8e6 * (1.2 * pop + 0.3 * proj(14) + 0.6 * n()).exp()).round(); // Stream
        f[15] = ((sigmoid(0.7 * z[0] + 0.5 * z[2] + n()) * 2000.0).floor()).min(1999.0); // Artist_encoded
        f[16] = if proj(16) + 0.8 * n() > 0.9 {
            1.0
        } else if proj(16) + n() < -1.2 {
            2.0
        } else {
            0.0
        };
        f[17] = if z[3] + n() > -0.3 { 1.0 } else { 0.0 };
        f[18] = if pop + 0.5 * n() > -0.5 { 1.0 } else { 0.0 };

        write!(out, "{r}.0")?;
        for (i, v) in f.iter().enumerate() {
            if i == 15 {
                write!(out, ",{}", GENRES[class].0)?;
            }
            if i == 2 || i >= 15 {
                write!(out, ",{}", *v as i64)?;
            } else {
                write!(out, ",{}", fmt_num(*v))?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{:.6}", v).trim_end_matches('0').to_string()
    }
}
