//! The optimizers' square root, bit for bit the one LibTorch takes.
//!
//! Why this exists: LibTorch's CPU `sqrt` on float32 goes through MKL's vector math
//! (`vmsSqrt`, high-accuracy mode, denormals kept). That result is not the correctly
//! rounded root: plain `f32::sqrt` differs in about 1.6 % of the Adam-family radicands,
//! which would change every fp32 result. Keeping MKL's call meant a second pass over
//! each parameter (pass 1 writes the radicands, MKL roots them, pass 2 updates the
//! parameter) and MKL's 4-wide SSE kernel: together about 12 % of a batch-64 step.
//!
//! On this machine's class of CPU MKL's kernel (`mkl_vml_kernel_sSqrt_EXHAynn`, read
//! from its disassembly) computes, for a normal positive x, with separately rounded
//! float32 operations and no FMA:
//!
//! ```text
//! r = rsqrtps(x)   s = x·r   h = r·0.5   e = 0.5 − s·h
//! s1 = s·e + s     h1 = h·e + h          d = x − s1·s1       √x ≈ d·h1 + s1
//! ```
//!
//! Other inputs (zero, subnormal, the top 4096 floats below infinity, infinity, NaN,
//! negative) go to MKL's own rare-case code. [`VmlSqrt::block`] runs the same sequence
//! eight lanes wide (AVX2) and hands exactly those inputs to MKL itself, one by one, so it
//! is MKL's function wherever the sequence is MKL's sequence.
//!
//! Where MKL runs its AVX-512 kernels (`--kernels avx512`, the default with AVX-512: see
//! `crate::mkl`) its kernel is `mkl_vml_kernel_sSqrt_Z0HAynn`, 16 lanes, with fused
//! multiply-adds:
//!
//! ```text
//! r = rsqrt14(x)   h = r·0.5   s = x·r
//! where r > 2^39 (x < 2^-78): x' = x·2^78, s' = s·2^39, h' = h·2^-78, else x', s', h' = x, s, h
//! e = fma(−s', s', x')   √x ≈ fma(h', e, s)
//! ```
//!
//! with zero, infinities and negatives to its rare-case code. [`VmlSqrt::block`] runs that
//! one 16 lanes wide when it is the one MKL agrees with, and sends the same rare inputs as
//! above to MKL (a superset of the kernel's own: MKL's answer either way).
//!
//! Whether it is depends on MKL's choice of kernel for the CPU (and on the CPU's
//! `rsqrtps` table), so it is not assumed: [`get`] compares the two on every boundary
//! class and 16,384 other values, and hands out the reproduction only when every bit
//! agrees. Elsewhere (another MKL kernel, no AVX2, no MKL symbol) the optimizer keeps the
//! two-pass path through LibTorch's `sqrt`. The tests add every mantissa of four
//! exponents.

use std::sync::OnceLock;

/// MKL's Fortran-style entry with 64-bit integers: `VMSSQRT_64_(&n, a, r, &mode)`.
type VmsSqrt = unsafe extern "C" fn(n: *const i64, a: *const f32, r: *mut f32, mode: *const i64);

/// `VML_HA | VML_ERRMODE_IGNORE | VML_FTZDAZ_OFF`: the mode LibTorch's `vml::vsqrt` uses.
const MODE: i64 = 0x2 | 0x100 | 0x14_0000;

/// Lanes per block call: a multiple of the 8-lane vector.
pub const BLOCK: usize = 256;

/// Largest input of the regular path (MKL sends the 4095 floats above it to the rare path,
/// where s1·s1 could overflow).
const REGULAR_MAX: u32 = 0x7f7f_f000;

/// MKL's square root, reproduced; only handed out where it was checked (see [`get`]).
pub struct VmlSqrt {
    mkl: VmsSqrt,
    kernel: Kernel,
}

/// Which of MKL's kernels a [`VmlSqrt`] reproduces (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// `mkl_vml_kernel_sSqrt_EXHAynn`: rsqrtps and two separately rounded corrections.
    Sse,
    /// `mkl_vml_kernel_sSqrt_Z0HAynn`: rsqrt14 and one fused correction.
    Avx512,
}

/// The reproduction, when this process's MKL and CPU give one of the checked sequences.
pub fn get() -> Option<&'static VmlSqrt> {
    static CHECKED: OnceLock<Option<VmlSqrt>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            VmlSqrt::candidates()
                .into_iter()
                .find(VmlSqrt::agrees_with_mkl)
        })
        .as_ref()
}

/// Which square root the CPU optimizers take, in words (for `bench`).
pub fn describe() -> &'static str {
    match get().map(|v| v.kernel) {
        Some(Kernel::Sse) => "one pass per parameter, MKL's square root reproduced (its SSE kernel; checked at start)",
        Some(Kernel::Avx512) => "one pass per parameter, MKL's square root reproduced (its AVX-512 kernel; checked at start)",
        None => "two passes per parameter around LibTorch's square root",
    }
}

impl VmlSqrt {
    /// MKL's entry point, once per kernel this CPU can run, SSE's first.
    fn candidates() -> Vec<VmlSqrt> {
        let mut found = Vec::new();
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: dlsym on the global namespace with a NUL-terminated name; LibTorch
            // (linked into this binary) exports MKL's entry points. The signature is
            // MKL's documented Fortran interface (ILP64 variant).
            let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"VMSSQRT_64_".as_ptr()) };
            if !sym.is_null() {
                let mkl = unsafe { std::mem::transmute::<*mut libc::c_void, VmsSqrt>(sym) };
                found.push(VmlSqrt {
                    mkl,
                    kernel: Kernel::Sse,
                });
                if std::arch::is_x86_feature_detected!("avx512f") {
                    found.push(VmlSqrt {
                        mkl,
                        kernel: Kernel::Avx512,
                    });
                }
            }
        }
        found
    }

    #[cfg(test)]
    fn find() -> Option<VmlSqrt> {
        Self::candidates().into_iter().next()
    }

    /// The kernel this reproduces.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// MKL on a whole slice, in place (the reference, and the rare-case path).
    pub fn mkl_in_place(&self, x: &mut [f32]) {
        let n = x.len() as i64;
        let input = x.to_vec();
        // SAFETY: n elements readable at `input` and writable at `x`; MKL reads `n` and
        // `mode` through the pointers and keeps none of them.
        unsafe { (self.mkl)(&n, input.as_ptr(), x.as_mut_ptr(), &MODE) };
    }

    /// The roots of all `BLOCK` values of `x`, into `out`.
    #[inline]
    pub fn block(&self, x: &[f32; BLOCK], out: &mut [f32; BLOCK]) {
        #[cfg(target_arch = "x86_64")]
        if default_float_environment() {
            // SAFETY: a VmlSqrt only exists where the CPU has AVX2, and one of the
            // AVX-512 kernel only where it has AVX-512F (`candidates`).
            let rare = match self.kernel {
                Kernel::Sse => unsafe { block_avx(x, out) },
                Kernel::Avx512 => unsafe { block_avx512(x, out) },
            };
            if rare {
                self.rare(x, out);
            }
            return;
        }
        // MKL runs its kernel with round-to-nearest and subnormals kept whatever the
        // thread's setting; under another setting the sequence would round differently.
        out.copy_from_slice(x);
        self.mkl_in_place(out);
    }

    /// Inputs outside the regular range: MKL itself, value by value.
    #[cold]
    fn rare(&self, x: &[f32; BLOCK], out: &mut [f32; BLOCK]) {
        for (x, out) in x.iter().zip(out.iter_mut()) {
            if !regular(*x) {
                *out = *x;
                self.mkl_in_place(std::slice::from_mut(out));
            }
        }
    }

    /// Every bit of the reproduction equals MKL's on boundary values of each input
    /// class and on 16,384 pseudo-random floats of the regular range.
    /// (Checked only under the default float environment, where `block` runs the
    /// sequence; elsewhere nothing would be checked, and the answer is no.)
    fn agrees_with_mkl(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if !default_float_environment() {
            return false;
        }
        let values = check_values(16_384, 0x5eed_cafe);
        self.first_difference(&values).is_none()
    }

    /// The first input where block roots and MKL's disagree (bitwise), if any.
    pub fn first_difference(&self, values: &[f32]) -> Option<(f32, f32, f32)> {
        let mut want = values.to_vec();
        self.mkl_in_place(&mut want);
        for (chunk, want) in values.chunks(BLOCK).zip(want.chunks(BLOCK)) {
            let mut input = [1.0f32; BLOCK];
            input[..chunk.len()].copy_from_slice(chunk);
            let mut got = [0f32; BLOCK];
            self.block(&input, &mut got);
            if let Some(i) = (0..chunk.len()).find(|&i| got[i].to_bits() != want[i].to_bits()) {
                return Some((chunk[i], got[i], want[i]));
            }
        }
        None
    }
}

/// Boundary values of every input class, then `random` floats drawn uniformly over the
/// bit patterns of the regular range.
pub fn check_values(random: usize, seed: u64) -> Vec<f32> {
    let mut v: Vec<f32> = vec![
        0.0,
        -0.0,
        1e-45,
        1e-40,
        f32::MIN_POSITIVE,
        1.0,
        2.0,
        4.0,
        0.25,
        3.0,
        1e-7,
        1e-30,
        1e30,
        f32::MAX,
        f32::INFINITY,
        f32::NAN,
        -1.0,
        -f32::MIN_POSITIVE,
        f32::NEG_INFINITY,
    ];
    for b in [
        0x0080_0000u32,
        0x0080_0001,
        0x3f7f_ffff,
        0x3f80_0001,
        0x407f_ffff,
        0x4080_0001,
    ] {
        v.push(f32::from_bits(b));
    }
    for b in REGULAR_MAX - 2..=REGULAR_MAX + 2 {
        v.push(f32::from_bits(b));
    }
    let mut state = seed | 1;
    for _ in 0..random {
        // xorshift64*: any fixed sequence of bit patterns will do.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32;
        v.push(f32::from_bits(
            0x0080_0000 + r % (REGULAR_MAX - 0x0080_0000 + 1),
        ));
    }
    v
}

/// Whether this thread's SSE control word is the default MKL's kernel uses (0x1f80:
/// round to nearest, subnormals neither flushed nor read as zero, exceptions masked).
#[cfg(target_arch = "x86_64")]
#[inline]
fn default_float_environment() -> bool {
    #[allow(deprecated)] // reading the control word is sound; only writing it is not
    // SAFETY: stmxcsr only reads the control/status register (SSE is baseline on x86-64).
    let csr = unsafe { std::arch::x86_64::_mm_getcsr() };
    csr & 0xffc0 == 0x1f80
}

/// Whether MKL's kernel takes `x` through the sequence (else through its rare path).
fn regular(x: f32) -> bool {
    (f32::MIN_POSITIVE..=f32::from_bits(REGULAR_MAX)).contains(&x)
}

/// The sequence of the module doc on `BLOCK` lanes; true when some lane was outside the
/// regular range (those lanes of `out` hold no root).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn block_avx(x: &[f32; BLOCK], out: &mut [f32; BLOCK]) -> bool {
    use std::arch::x86_64::*;
    let half = _mm256_set1_ps(0.5);
    // MKL's own test, in integer arithmetic (off the multiply ports): bits + 0x7f800000
    // as a signed number exceeds 0xfefff000 exactly outside [MIN_POSITIVE, REGULAR_MAX].
    let shift = _mm256_set1_epi32(0x7f80_0000);
    let limit = _mm256_set1_epi32((REGULAR_MAX + 0x7f80_0000) as i32);
    let mut rare = _mm256_setzero_si256();
    for k in 0..BLOCK / 8 {
        let v = _mm256_loadu_ps(x.as_ptr().add(8 * k));
        rare = _mm256_or_si256(
            rare,
            _mm256_cmpgt_epi32(_mm256_add_epi32(_mm256_castps_si256(v), shift), limit),
        );
        let r = _mm256_rsqrt_ps(v);
        let s = _mm256_mul_ps(v, r);
        let h = _mm256_mul_ps(r, half);
        let e = _mm256_sub_ps(half, _mm256_mul_ps(s, h));
        let s1 = _mm256_add_ps(_mm256_mul_ps(s, e), s);
        let h1 = _mm256_add_ps(_mm256_mul_ps(h, e), h);
        let d = _mm256_sub_ps(v, _mm256_mul_ps(s1, s1));
        let root = _mm256_add_ps(_mm256_mul_ps(d, h1), s1);
        _mm256_storeu_ps(out.as_mut_ptr().add(8 * k), root);
    }
    _mm256_testz_si256(rare, rare) == 0
}

/// MKL's AVX-512 sequence of the module doc on `BLOCK` lanes; true when some lane was
/// outside the regular range (those lanes of `out` hold no root).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn block_avx512(x: &[f32; BLOCK], out: &mut [f32; BLOCK]) -> bool {
    use std::arch::x86_64::*;
    let half = _mm512_set1_ps(0.5);
    let big = _mm512_set1_ps(f32::from_bits(0x5300_0000)); // 2^39
    let up = _mm512_set1_ps(f32::from_bits(0x6680_0000)); // 2^78
    let down = _mm512_set1_ps(f32::from_bits(0x1880_0000)); // 2^-78
    let shift = _mm512_set1_epi32(0x7f80_0000);
    let limit = _mm512_set1_epi32((REGULAR_MAX + 0x7f80_0000) as i32);
    let mut rare: __mmask16 = 0;
    for k in 0..BLOCK / 16 {
        let v = _mm512_loadu_ps(x.as_ptr().add(16 * k));
        rare |= _mm512_cmpgt_epi32_mask(_mm512_add_epi32(_mm512_castps_si512(v), shift), limit);
        let r = _mm512_rsqrt14_ps(v);
        let h = _mm512_mul_ps(r, half);
        let s = _mm512_mul_ps(v, r);
        // Tiny inputs: the residual is formed on scaled values (exactly scaled: powers of two).
        let tiny = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(big, r);
        let xs = _mm512_mask_mul_ps(v, tiny, v, up);
        let ss = _mm512_mask_mul_ps(s, tiny, s, big);
        let hs = _mm512_mask_mul_ps(h, tiny, h, down);
        let e = _mm512_fnmadd_ps(ss, ss, xs);
        _mm512_storeu_ps(out.as_mut_ptr().add(16 * k), _mm512_fmadd_ps(hs, e, s));
    }
    rare != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Tensor;

    /// LibTorch's own `sqrt` (what the two-pass optimizer path calls).
    fn torch_sqrt(values: &[f32]) -> Vec<f32> {
        Vec::<f32>::try_from(&Tensor::from_slice(values).sqrt()).unwrap()
    }

    fn differing(a: &[f32], b: &[f32]) -> usize {
        a.iter()
            .zip(b)
            .filter(|(x, y)| x.to_bits() != y.to_bits())
            .count()
    }

    /// The reference the check uses is LibTorch's `sqrt`, bit for bit, boundary classes
    /// included (so `mkl_in_place` is called with LibTorch's mode).
    #[test]
    fn mkl_entry_is_libtorchs_sqrt() {
        let Some(vml) = VmlSqrt::find() else {
            eprintln!("skipped: no AVX or no MKL entry point in this LibTorch");
            return;
        };
        let values = check_values(100_000, 7);
        let mut mkl = values.clone();
        vml.mkl_in_place(&mut mkl);
        assert_eq!(differing(&mkl, &torch_sqrt(&values)), 0);
    }

    /// On a thread that flushes subnormals (as `torch.set_flush_denormal` would), the
    /// block still gives MKL's roots: the sequence's last correction is subnormal for the
    /// smallest normal inputs, so running it there would round differently.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn flushing_thread_gets_mkls_roots() {
        let Some(vml) = get() else { return };
        let values: Vec<f32> = (0..1u32 << 16)
            .map(|m| f32::from_bits(1 << 23 | m << 7))
            .collect();
        std::thread::scope(|s| {
            s.spawn(|| {
                #[allow(deprecated)]
                // SAFETY: FTZ and DAZ on this test thread only; it runs nothing else.
                unsafe {
                    std::arch::x86_64::_mm_setcsr(0x9fc0)
                };
                assert_eq!(vml.first_difference(&values), None);
            });
        });
    }

    /// Where the reproduction is handed out, it is LibTorch's `sqrt` for every mantissa
    /// of four exponents (both parities, the smallest and the largest normal ones) and
    /// for every boundary value; and `f32::sqrt` would not have been (so this test can
    /// tell the two apart).
    #[test]
    fn reproduction_matches_libtorch_exhaustively() {
        let Some(vml) = get() else {
            // Not handed out: only right where the check really finds a difference.
            if let Some(vml) = VmlSqrt::find() {
                let diff = vml.first_difference(&check_values(16_384, 0x5eed_cafe));
                assert!(
                    diff.is_some(),
                    "the check refused a reproduction that agrees"
                );
                eprintln!(
                    "skipped: MKL's square root here is not the reproduced sequence: {diff:?}"
                );
            }
            return;
        };
        for exponent in [1u32, 126, 127, 254] {
            let values: Vec<f32> = (0..1u32 << 23)
                .map(|m| f32::from_bits(exponent << 23 | m))
                .collect();
            let want = torch_sqrt(&values);
            assert_eq!(vml.first_difference(&values), None, "exponent {exponent}");
            let mut got = Vec::with_capacity(values.len());
            for chunk in values.chunks(BLOCK) {
                let mut root = [0f32; BLOCK];
                vml.block(chunk.try_into().unwrap(), &mut root);
                got.extend_from_slice(&root);
            }
            assert_eq!(differing(&got, &want), 0, "exponent {exponent}");
            let correctly_rounded: Vec<f32> = values.iter().map(|x| x.sqrt()).collect();
            assert!(
                differing(&correctly_rounded, &want) > 0,
                "exponent {exponent}: MKL equals f32::sqrt here"
            );
        }
        let boundary = check_values(0, 1);
        let mut input = [1.0f32; BLOCK];
        input[..boundary.len()].copy_from_slice(&boundary);
        let mut root = [0f32; BLOCK];
        vml.block(&input, &mut root);
        let (got, want) = (&root[..boundary.len()], torch_sqrt(&boundary));
        assert_eq!(
            differing(got, &want),
            0,
            "{boundary:?}: {got:?} vs {want:?}"
        );
    }
}
