//! The few pieces of NumPy's legacy `RandomState` that scikit-learn's stratified
//! splits use, bit for bit: MT19937 seeded like `RandomState(seed)`, bounded integers by
//! masked rejection (`random_interval`), `permutation` (Fisher–Yates from the end) and
//! `choice(replace=False)` (a permutation's prefix). With them, `train_test_split(...,
//! stratify=y, random_state=42)` picks the same rows here as in the study.

use rand_mt::Mt;

pub struct RandomState {
    mt: Mt,
}

impl RandomState {
    pub fn new(seed: u32) -> Self {
        RandomState { mt: Mt::new(seed) }
    }

    /// Uniform integer in [0, max] (NumPy's `random_interval`).
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        if max <= 0xffff_ffff {
            loop {
                let v = (self.mt.next_u32() as u64) & mask;
                if v <= max {
                    return v;
                }
            }
        } else {
            loop {
                let hi = self.mt.next_u32() as u64;
                let lo = self.mt.next_u32() as u64;
                let v = ((hi << 32) | lo) & mask;
                if v <= max {
                    return v;
                }
            }
        }
    }

    /// `RandomState.shuffle` of a 1-d array.
    pub fn shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let j = self.interval(i as u64) as usize;
            x.swap(i, j);
        }
    }

    /// `RandomState.permutation(n)`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        self.shuffle(&mut v);
        v
    }

    /// `RandomState.permutation(array)`: a shuffled copy.
    pub fn permuted<T: Clone>(&mut self, x: &[T]) -> Vec<T> {
        let mut v = x.to_vec();
        self.shuffle(&mut v);
        v
    }

    /// `RandomState.choice(a, size, replace=False)`.
    pub fn choice_without_replacement<T: Clone>(&mut self, a: &[T], size: usize) -> Vec<T> {
        self.permutation(a.len())
            .into_iter()
            .take(size)
            .map(|i| a[i].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy() {
        // np.random.RandomState(42).permutation(10)
        assert_eq!(
            RandomState::new(42).permutation(10),
            vec![8, 1, 5, 0, 7, 2, 9, 4, 3, 6]
        );
        // np.random.RandomState(0).permutation(7)
        assert_eq!(
            RandomState::new(0).permutation(7),
            vec![6, 2, 1, 3, 0, 5, 4]
        );
    }
}
