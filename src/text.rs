//! Numbers and words as people read them: durations, FLOP counts, four-decimal
//! figures, counts with their noun, shell words in hints. Shared by the command line
//! and the report, so neither reaches into the other.

/// `v` with four decimals, never `-0.0000` (a tiny negative Δacc reads as zero).
pub fn four(v: f64) -> String {
    let s = format!("{v:.4}");
    if s == "-0.0000" {
        "0.0000".into()
    } else {
        s
    }
}

pub fn human_flops(f: f64) -> String {
    if f >= 1e15 {
        format!("{:.1} PFLOP", f / 1e15)
    } else if f >= 1e12 {
        format!("{:.1} TFLOP", f / 1e12)
    } else {
        format!("{:.1} GFLOP", f / 1e9)
    }
}

pub fn human_duration(secs: f64) -> String {
    if secs < 0.5 {
        return "under 1 s".into();
    }
    let s = secs.round() as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{}h{:02}", s / 3600, (s % 3600) / 60),
    }
}

/// Single quotes for a shell word (the Slurm script's words, and hints' arguments
/// that need quoting).
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A word as a shell would need it typed (quoted only when it has to be).
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:@=+,".contains(c))
    {
        s.to_string()
    } else {
        sh_quote(s)
    }
}

/// `n` and its noun, singular for 1: "1 configuration", "3 configurations".
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// A Unix time as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn utc(unix: f64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix.max(0.0) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        t.date(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// HTML-escapes text for an element or a quoted attribute (the report's and serve's).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_negative_prints_as_zero() {
        assert_eq!(four(-0.00001), "0.0000");
        assert_eq!(four(-0.0), "0.0000");
        assert_eq!(four(-0.0002), "-0.0002");
        assert_eq!(four(0.12344), "0.1234");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_duration(0.2), "under 1 s");
        assert_eq!(human_duration(59.6), "60 s");
        assert_eq!(human_duration(600.0), "10 min");
        assert_eq!(human_duration(7260.0), "2h01");
        assert_eq!(human_flops(2.5e12), "2.5 TFLOP");
    }
}
