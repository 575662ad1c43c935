//! The line ends of a block, found 64 bytes at a time.
//!
//! A search for the next `\n` costs a call and a set-up per line, which for lines of 100-300
//! bytes is a good part of the search itself. Comparing 64 bytes at once instead gives a bit
//! mask of every newline among them, and the line ends are read off its set bits.

/// Calls `each` with the position of every `\n` in `data`, in order.
#[inline]
pub fn for_each_newline(data: &[u8], mut each: impl FnMut(usize)) {
    let mut base = 0;
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while let Some(window) = data.get(base..base + 64) {
        let mut mask = newline_mask(window.try_into().expect("64 bytes"));
        while mask != 0 {
            each(base + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        base += 64;
    }
    for at in memchr::memchr_iter(b'\n', &data[base..]) {
        each(base + at);
    }
}

/// Bit `i` set where `window[i]` is a newline, with SSE2 (which every x86-64 processor has).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn newline_mask(window: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut mask = 0;
    for (i, lane) in window.chunks_exact(16).enumerate() {
        // SAFETY: the build targets SSE2 (checked by the `cfg` on this function), and `lane`
        // is 16 readable bytes, which this load reads without needing them aligned.
        let found = unsafe {
            let bytes = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\n' as i8)))
        };
        mask |= u64::from(found as u16) << (16 * i);
    }
    mask
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn newlines(data: &[u8]) -> Vec<usize> {
        let mut found = Vec::new();
        for_each_newline(data, |at| found.push(at));
        found
    }

    #[test]
    fn finds_newlines_across_windows() {
        let mut data = vec![b'x'; 200];
        for at in [0, 15, 16, 63, 64, 127, 128, 150, 199] {
            data[at] = b'\n';
        }
        assert_eq!(newlines(&data), [0, 15, 16, 63, 64, 127, 128, 150, 199]);
        assert!(newlines(b"").is_empty());
        assert_eq!(newlines(b"\n"), [0]);
        assert_eq!(newlines(&[b'\n'; 130]), (0..130).collect::<Vec<_>>());
    }

    proptest! {
        /// The same positions as a plain search, for any bytes (newlines dense or sparse,
        /// bytes with the high bit set) and any length around the window size.
        #[test]
        fn agrees_with_memchr(
            data in prop::collection::vec(
                prop_oneof![Just(b'\n'), Just(0x8a_u8), any::<u8>(), Just(b'a')],
                0..300,
            ),
            offset in 0usize..16,
        ) {
            let data = &data[offset.min(data.len())..];
            let expected: Vec<usize> = memchr::memchr_iter(b'\n', data).collect();
            prop_assert_eq!(newlines(data), expected);
        }
    }
}
