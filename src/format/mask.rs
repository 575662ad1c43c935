//! Where a few chosen bytes stand in a line, found 64 bytes at a time.
//!
//! The fields of a log line are cut at a handful of delimiters (`=`, `, `, `>`, spaces,
//! colons). Searching for each in turn costs a call, a set-up and a scan per field; comparing
//! 64 bytes against all the delimiters at once gives one bit mask, from which every field
//! boundary in those bytes is read off with a count of trailing zeros.
//!
//! The line-end search (`input::for_each_newline`) keeps its own one-byte version of
//! [`byte_set_mask`]: built on this one it ran 1% more instructions on a Postfix log.

use super::syslog::byte_bits;

/// A mask with bit `i` set where `window[i]` is one of `needles`.
#[inline(always)]
pub(crate) fn byte_set_mask<const N: usize>(window: &[u8; 64], needles: [u8; N]) -> u64 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        sse2_mask(window, needles)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        word_mask(window, needles)
    }
}

/// [`byte_set_mask`] with SSE2, which every x86-64 processor has.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn sse2_mask<const N: usize>(window: &[u8; 64], needles: [u8; N]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    let mut mask = 0;
    for (i, lane) in window.chunks_exact(16).enumerate() {
        // SAFETY: the build targets SSE2 (checked by the `cfg` on this function), and `lane`
        // is 16 readable bytes, which this load reads without needing them aligned.
        let found = unsafe {
            let bytes = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            let mut hits = _mm_setzero_si128();
            for needle in needles {
                hits = _mm_or_si128(hits, _mm_cmpeq_epi8(bytes, _mm_set1_epi8(needle as i8)));
            }
            _mm_movemask_epi8(hits)
        };
        mask |= u64::from(found as u16) << (16 * i);
    }
    mask
}

/// [`byte_set_mask`] eight bytes at a time in a plain register, for other processors (and
/// for the tests everywhere).
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
fn word_mask<const N: usize>(window: &[u8; 64], needles: [u8; N]) -> u64 {
    let mut mask = 0;
    for (i, word) in window.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let mut hits = 0;
        for needle in needles {
            hits |= byte_bits(word, needle);
        }
        // The eight high bits gathered into the top byte, lowest byte first.
        let byte = (hits >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        mask |= byte << (8 * i);
    }
    mask
}

/// The positions of a set of bytes in `hay`, in order, computed one 64-byte window at a time
/// as the reader moves forward. Reads that move forward (each `from` at or past the last
/// position returned) touch each window once.
pub(crate) struct Marks<'a, const N: usize> {
    hay: &'a [u8],
    needles: [u8; N],
    /// Where the current window starts.
    base: usize,
    /// The marks of `hay[base..base + 64]`.
    mask: u64,
}

impl<'a, const N: usize> Marks<'a, N> {
    pub(crate) fn new(hay: &'a [u8], needles: [u8; N]) -> Self {
        Marks {
            hay,
            needles,
            base: 0,
            mask: window_mask(hay, 0, needles),
        }
    }

    /// The first mark at or after `from`.
    #[inline]
    pub(crate) fn next_from(&mut self, from: usize) -> Option<usize> {
        if from < self.base {
            // A step back (not made by the parsers, which only move forward): start over there.
            self.base = from;
            self.mask = window_mask(self.hay, from, self.needles);
        }
        loop {
            // Past the first window looked at, `from` may lie before `base`: nothing to skip.
            let skip = from.saturating_sub(self.base);
            if skip < 64 {
                let ahead = self.mask & (u64::MAX << skip);
                if ahead != 0 {
                    return Some(self.base + ahead.trailing_zeros() as usize);
                }
                self.base += 64;
            } else {
                self.base = from;
            }
            self.mask = window_mask(self.hay, self.base, self.needles);
            if self.base >= self.hay.len() {
                return None;
            }
        }
    }

    /// The first `byte` (one of the needles) at or after `from`.
    #[inline]
    pub(crate) fn find(&mut self, byte: u8, mut from: usize) -> Option<usize> {
        loop {
            let at = self.next_from(from)?;
            if self.hay[at] == byte {
                return Some(at);
            }
            from = at + 1;
        }
    }

    /// The first `first` (one of the needles) at or after `from` that `then` follows at once.
    #[inline]
    pub(crate) fn find_pair<const M: usize>(
        &mut self,
        first: u8,
        then: &[u8; M],
        mut from: usize,
    ) -> Option<usize> {
        loop {
            let at = self.find(first, from)?;
            if self.hay[at + 1..].first_chunk::<M>() == Some(then) {
                return Some(at);
            }
            from = at + 1;
        }
    }
}

/// The marks of `hay[base..]`'s first 64 bytes (fewer at the end of `hay`).
#[inline]
fn window_mask<const N: usize>(hay: &[u8], base: usize, needles: [u8; N]) -> u64 {
    if let Some(window) = hay.get(base..).and_then(<[u8]>::first_chunk::<64>) {
        return byte_set_mask(window, needles);
    }
    if base >= hay.len() {
        return 0;
    }
    if let Some(last) = hay.last_chunk::<64>() {
        // The last 64 bytes, shifted so that bit 0 is `base` (the bits shifted in are past
        // the end).
        let start = hay.len() - 64;
        return byte_set_mask(last, needles) >> (base - start);
    }
    let mut padded = [0u8; 64];
    let rest = &hay[base..];
    padded[..rest.len()].copy_from_slice(rest);
    byte_set_mask(&padded, needles) & ((1u64 << rest.len()) - 1)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn plain(window: &[u8], needles: &[u8]) -> u64 {
        window
            .iter()
            .enumerate()
            .filter(|(_, b)| needles.contains(b))
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }

    fn bytes() -> impl Strategy<Value = u8> {
        // The needles, their neighbours and bytes with the high bit set, which a borrow or a
        // signed compare could confuse with them.
        prop_oneof![
            prop::sample::select(vec![
                b'=', b',', b'>', b' ', 0, 0x80, 0xbd, 0xff, b'<', b'-'
            ]),
            any::<u8>(),
        ]
    }

    proptest! {
        #[test]
        fn masks_agree_with_a_plain_comparison(
            window in prop::array::uniform32(bytes()),
            more in prop::array::uniform32(bytes()),
        ) {
            let mut all = [0u8; 64];
            all[..32].copy_from_slice(&window);
            all[32..].copy_from_slice(&more);
            let needles = [b'=', b',', b'>'];
            prop_assert_eq!(byte_set_mask(&all, needles), plain(&all, &needles));
            prop_assert_eq!(word_mask(&all, needles), plain(&all, &needles));
            prop_assert_eq!(word_mask(&all, [0x80]), plain(&all, &[0x80]));
            prop_assert_eq!(byte_set_mask(&all, [0]), plain(&all, &[0]));
        }

        /// Every search of [`Marks`], from any start (forward, backward, past the end), gives
        /// what a plain scan gives, for any length around the window size.
        #[test]
        fn marks_agree_with_a_plain_scan(
            hay in prop_oneof![
                prop::collection::vec(bytes(), 0..300),
                // Long runs without a needle: windows with no mark at all.
                prop::collection::vec(prop::sample::select(vec![b'a', b'=', b'x', b',']), 0..300)
                    .prop_map(|mut hay| {
                        let len = hay.len();
                        hay[len / 4..len * 3 / 4].fill(b'a');
                        hay
                    }),
            ],
            starts in prop::collection::vec(0usize..320, 1..12),
        ) {
            let mut marks = Marks::new(&hay, [b'=', b',', b'>']);
            for from in starts {
                let plain_from = |pred: &dyn Fn(usize) -> bool| {
                    (from.min(hay.len())..hay.len()).find(|&i| pred(i))
                };
                prop_assert_eq!(
                    marks.next_from(from),
                    plain_from(&|i| matches!(hay[i], b'=' | b',' | b'>'))
                );
                prop_assert_eq!(marks.find(b',', from), plain_from(&|i| hay[i] == b','));
                prop_assert_eq!(
                    marks.find_pair(b'>', b", ", from),
                    plain_from(&|i| hay[i] == b'>' && hay[i + 1..].starts_with(b", "))
                );
            }
        }
    }
}
