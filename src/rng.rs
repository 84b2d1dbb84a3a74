//! Seeded random streams that belong to one job.
//!
//! LibTorch's generator is process-global: two folds training in two threads would
//! draw from it in an order decided by the OS scheduler, and their initial weights,
//! shuffles and dropout masks would depend on what else was running. Every random
//! draw in gridsweep therefore comes from a stream derived here from
//! (seed, fold, purpose), owned by the job that uses it.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

pub type Rng = Xoshiro256PlusPlus;

/// What a stream is used for; different purposes never share draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    InitialWeights = 2,
    Shuffle = 3,
    Dropout = 4,
    InnerSplit = 5,
    DemoData = 6,
    /// The split of a repeat of repeated k-fold (`fold` is the repeat).
    Repeat = 7,
}

/// SplitMix64 finaliser: a good 64-bit mixing function, enough to decorrelate seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The stream for `purpose` of job `(seed, fold)`.
pub fn stream(seed: u64, fold: u64, purpose: Stream) -> Rng {
    let s = mix(mix(mix(seed) ^ fold.wrapping_mul(0x2545_f491_4f6c_dd1d)) ^ purpose as u64);
    Rng::seed_from_u64(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a = stream(42, 0, Stream::Shuffle).next_u64();
        assert_eq!(a, stream(42, 0, Stream::Shuffle).next_u64());
        assert_ne!(a, stream(42, 1, Stream::Shuffle).next_u64());
        assert_ne!(a, stream(42, 0, Stream::Dropout).next_u64());
        assert_ne!(a, stream(43, 0, Stream::Shuffle).next_u64());
    }
}
