//! A cube key packed into six words whose numeric order is the dataset's row order.
//!
//! Every event is counted through the cube's hash table and every cell is sorted once before
//! it is written, so the key's representation decides the cost of both: a [`PackedKey`] hashes
//! and compares as six integers, where a [`CubeKey`] compares field by field (an `Option` of a
//! three-field code is several branches on its own).
//!
//! The fields are laid out most significant first, in the order of
//! [`CubeKey::canonical_order`], each in a fixed width that holds all its values with `None`
//! below every `Some`. Comparing two packed keys word by word therefore gives the same answer
//! as comparing their fields one after another (a property test checks it).

use super::{CubeKey, Sym};
use crate::classify::{Category, Permanence, Provider};
use crate::event::{EnhancedCode, Outcome, Source, Stage};

/// A [`CubeKey`] as a 384-bit number (372 bits used).
#[derive(Debug, Clone, Copy, Eq, Default)]
pub struct PackedKey([u64; WORDS]);

pub(crate) const WORDS: usize = 6;

/// Hashes the six words folded into one (see [`fold_words`]): the cube's `FxHasher` only
/// multiplies, and the symbols of a packed key sit in the middle and high bits of its words,
/// where a plain multiply would leave the table's bucket bits all the same.
impl std::hash::Hash for PackedKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(fold_words(&self.0));
    }
}

/// Compares all six words without a branch (an array's own `==` calls `memcmp`).
impl PartialEq for PackedKey {
    #[inline]
    fn eq(&self, other: &PackedKey) -> bool {
        words_eq(&self.0, &other.0)
    }
}

/// Words folded into one for a hash table: each word is multiplied (spreading its low bits
/// up) and shifted down (spreading its high bits down).
#[inline]
pub(crate) fn fold_words<const N: usize>(words: &[u64; N]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = 0u64;
    for &word in words {
        h = (h ^ word).wrapping_mul(K);
        h ^= h >> 32;
    }
    h
}

/// Equality of two arrays of words, without a branch per word.
#[inline]
pub(crate) fn words_eq<const N: usize>(a: &[u64; N], b: &[u64; N]) -> bool {
    a.iter().zip(b).fold(0, |differ, (x, y)| differ | (x ^ y)) == 0
}

impl Ord for PackedKey {
    #[inline]
    fn cmp(&self, other: &PackedKey) -> std::cmp::Ordering {
        for (a, b) in self.0.iter().zip(other.0) {
            if *a != b {
                return a.cmp(&b);
            }
        }
        std::cmp::Ordering::Equal
    }
}

impl PartialOrd for PackedKey {
    #[inline]
    fn partial_cmp(&self, other: &PackedKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Widths of the fields.
const HOUR: u32 = 64;
const ENUM: u32 = 8;
const SYM: u32 = 32;
/// `Option<u16>`: 0 for `None`, the code plus one otherwise.
const REPLY: u32 = 17;
/// `Option<EnhancedCode>`: a presence bit, then class, subject and detail.
const CODE: u32 = 41;
const FLAG: u32 = 1;

/// Where each field starts, counted from the most significant bit of the first word.
const AT_HOUR: u32 = 0;
const AT_SOURCE: u32 = AT_HOUR + HOUR;
const AT_MTA_HOST: u32 = AT_SOURCE + ENUM;
const AT_SENDER: u32 = AT_MTA_HOST + SYM;
const AT_RECIPIENT: u32 = AT_SENDER + SYM;
const AT_PROVIDER: u32 = AT_RECIPIENT + SYM;
const AT_OUTCOME: u32 = AT_PROVIDER + ENUM;
const AT_REPLY: u32 = AT_OUTCOME + ENUM;
const AT_ENHANCED: u32 = AT_REPLY + REPLY;
const AT_DSN: u32 = AT_ENHANCED + CODE;
const AT_CATEGORY: u32 = AT_DSN + CODE;
const AT_PERMANENCE: u32 = AT_CATEGORY + ENUM;
const AT_STAGE: u32 = AT_PERMANENCE + ENUM;
const AT_BOUNCE: u32 = AT_STAGE + ENUM;
const AT_ESP_TYPE: u32 = AT_BOUNCE + FLAG;
const AT_ESP_SUBTYPE: u32 = AT_ESP_TYPE + SYM;
const _: () = assert!(AT_ESP_SUBTYPE + SYM <= WORDS as u32 * 64);

/// Writes `value` (at most `WIDTH` bits) at bit `AT`. Both are constants, so this is a shift
/// or two; a field may straddle two words.
#[inline(always)]
fn put<const AT: u32, const WIDTH: u32>(words: &mut [u64; WORDS], value: u64) {
    debug_assert!(
        WIDTH == 64 || value >> WIDTH == 0,
        "{value} wider than {WIDTH} bits"
    );
    let first = (AT / 64) as usize;
    let room = 64 - AT % 64;
    if WIDTH <= room {
        words[first] |= value << (room - WIDTH);
    } else {
        let spill = WIDTH - room;
        words[first] |= value >> spill;
        words[first + 1] |= value << (64 - spill);
    }
}

/// Reads what [`put`] wrote at bit `AT`.
#[inline(always)]
fn get<const AT: u32, const WIDTH: u32>(words: &[u64; WORDS]) -> u64 {
    let first = (AT / 64) as usize;
    let room = 64 - AT % 64;
    if WIDTH <= room {
        (words[first] >> (room - WIDTH)) & mask(WIDTH)
    } else {
        let spill = WIDTH - room;
        (words[first] & mask(room)) << spill | words[first + 1] >> (64 - spill)
    }
}

/// Zeroes the field of `WIDTH` bits at bit `AT`, so that [`put`] can write it anew.
#[inline(always)]
fn clear<const AT: u32, const WIDTH: u32>(words: &mut [u64; WORDS]) {
    let first = (AT / 64) as usize;
    let room = 64 - AT % 64;
    if WIDTH <= room {
        words[first] &= !(mask(WIDTH) << (room - WIDTH));
    } else {
        words[first] &= !mask(room);
        words[first + 1] &= mask(64 - (WIDTH - room));
    }
}

/// Rewrites the symbol field at bit `AT` through `table`.
#[inline(always)]
fn remap_sym<const AT: u32>(words: &mut [u64; WORDS], table: &[Sym]) {
    let sym = table[get::<AT, SYM>(words) as usize];
    clear::<AT, SYM>(words);
    put::<AT, SYM>(words, u64::from(sym.0));
}

#[inline(always)]
const fn mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

#[inline(always)]
fn pack_code(code: Option<EnhancedCode>) -> u64 {
    code.map_or(0, |c| {
        1 << 40 | u64::from(c.class) << 32 | u64::from(c.subject) << 16 | u64::from(c.detail)
    })
}

#[inline(always)]
fn unpack_code(bits: u64) -> Option<EnhancedCode> {
    (bits >> 40 != 0).then_some(EnhancedCode {
        class: (bits >> 32) as u8,
        subject: (bits >> 16) as u16,
        detail: bits as u16,
    })
}

impl PackedKey {
    #[inline]
    pub fn new(key: &CubeKey) -> PackedKey {
        let mut w = [0u64; WORDS];
        // The sign bit flipped: hours before the epoch sort before those after it.
        put::<AT_HOUR, HOUR>(&mut w, key.hour as u64 ^ 1 << 63);
        put::<AT_SOURCE, ENUM>(&mut w, key.source as u64);
        put::<AT_MTA_HOST, SYM>(&mut w, u64::from(key.mta_host.0));
        put::<AT_SENDER, SYM>(&mut w, u64::from(key.sender_domain.0));
        put::<AT_RECIPIENT, SYM>(&mut w, u64::from(key.recipient_domain.0));
        put::<AT_PROVIDER, ENUM>(&mut w, key.provider as u64);
        put::<AT_OUTCOME, ENUM>(&mut w, key.outcome as u64);
        put::<AT_REPLY, REPLY>(&mut w, key.reply_code.map_or(0, |c| u64::from(c) + 1));
        put::<AT_ENHANCED, CODE>(&mut w, pack_code(key.enhanced_code));
        put::<AT_DSN, CODE>(&mut w, pack_code(key.dsn));
        put::<AT_CATEGORY, ENUM>(&mut w, key.category as u64);
        put::<AT_PERMANENCE, ENUM>(&mut w, key.permanence as u64);
        put::<AT_STAGE, ENUM>(&mut w, key.stage.map_or(0, |s| s as u64 + 1));
        put::<AT_BOUNCE, FLAG>(&mut w, u64::from(key.bounce_message));
        put::<AT_ESP_TYPE, SYM>(&mut w, u64::from(key.esp_type.0));
        put::<AT_ESP_SUBTYPE, SYM>(&mut w, u64::from(key.esp_subtype.0));
        PackedKey(w)
    }

    /// The key with its symbols rewritten through `table`, as [`CubeKey::remap`] does, without
    /// decoding the other fields.
    #[inline]
    pub fn remap(self, table: &[Sym]) -> PackedKey {
        let mut w = self.0;
        remap_sym::<AT_MTA_HOST>(&mut w, table);
        remap_sym::<AT_SENDER>(&mut w, table);
        remap_sym::<AT_RECIPIENT>(&mut w, table);
        remap_sym::<AT_ESP_TYPE>(&mut w, table);
        remap_sym::<AT_ESP_SUBTYPE>(&mut w, table);
        PackedKey(w)
    }

    /// The key as its six words, most significant first (the spill file's form).
    pub(crate) fn to_words(self) -> [u64; WORDS] {
        self.0
    }

    /// The key whose words [`PackedKey::to_words`] gave.
    pub(crate) fn from_words(words: [u64; WORDS]) -> PackedKey {
        PackedKey(words)
    }

    /// The key's hour (hours since the Unix epoch, UTC), read from the first word alone.
    pub fn hour(self) -> i64 {
        (get::<AT_HOUR, HOUR>(&self.0) ^ 1 << 63) as i64
    }

    /// The whole key. A caller that needs one or two fields reads them with the accessors
    /// below, which decode nothing else.
    #[inline]
    pub fn unpack(self) -> CubeKey {
        CubeKey {
            hour: self.hour(),
            source: self.source(),
            mta_host: self.mta_host(),
            sender_domain: self.sender_domain(),
            recipient_domain: self.recipient_domain(),
            provider: self.provider(),
            outcome: self.outcome(),
            reply_code: self.reply_code(),
            enhanced_code: self.enhanced_code(),
            dsn: self.dsn(),
            category: self.category(),
            permanence: self.permanence(),
            stage: self.stage(),
            bounce_message: self.bounce_message(),
            esp_type: self.esp_type(),
            esp_subtype: self.esp_subtype(),
        }
    }

    #[inline(always)]
    pub fn source(self) -> Source {
        Source::ALL[get::<AT_SOURCE, ENUM>(&self.0) as usize]
    }

    #[inline(always)]
    pub fn mta_host(self) -> Sym {
        Sym(get::<AT_MTA_HOST, SYM>(&self.0) as u32)
    }

    #[inline(always)]
    pub fn sender_domain(self) -> Sym {
        Sym(get::<AT_SENDER, SYM>(&self.0) as u32)
    }

    #[inline(always)]
    pub fn recipient_domain(self) -> Sym {
        Sym(get::<AT_RECIPIENT, SYM>(&self.0) as u32)
    }

    #[inline(always)]
    pub fn provider(self) -> Provider {
        Provider::ALL[get::<AT_PROVIDER, ENUM>(&self.0) as usize]
    }

    #[inline(always)]
    pub fn outcome(self) -> Outcome {
        Outcome::ALL[get::<AT_OUTCOME, ENUM>(&self.0) as usize]
    }

    #[inline(always)]
    pub fn reply_code(self) -> Option<u16> {
        match get::<AT_REPLY, REPLY>(&self.0) {
            0 => None,
            c => Some((c - 1) as u16),
        }
    }

    #[inline(always)]
    pub fn enhanced_code(self) -> Option<EnhancedCode> {
        unpack_code(get::<AT_ENHANCED, CODE>(&self.0))
    }

    #[inline(always)]
    pub fn dsn(self) -> Option<EnhancedCode> {
        unpack_code(get::<AT_DSN, CODE>(&self.0))
    }

    #[inline(always)]
    pub fn category(self) -> Category {
        Category::ALL[get::<AT_CATEGORY, ENUM>(&self.0) as usize]
    }

    #[inline(always)]
    pub fn permanence(self) -> Permanence {
        Permanence::ALL[get::<AT_PERMANENCE, ENUM>(&self.0) as usize]
    }

    #[inline(always)]
    pub fn stage(self) -> Option<Stage> {
        (get::<AT_STAGE, ENUM>(&self.0) as usize)
            .checked_sub(1)
            .map(|s| Stage::ALL[s])
    }

    #[inline(always)]
    pub fn bounce_message(self) -> bool {
        get::<AT_BOUNCE, FLAG>(&self.0) != 0
    }

    #[inline(always)]
    pub fn esp_type(self) -> Sym {
        Sym(get::<AT_ESP_TYPE, SYM>(&self.0) as u32)
    }

    #[inline(always)]
    pub fn esp_subtype(self) -> Sym {
        Sym(get::<AT_ESP_SUBTYPE, SYM>(&self.0) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_all_list_is_in_declaration_order() {
        // Packing stores an enum as its discriminant and unpacking indexes these lists.
        assert!(
            Source::ALL
                .iter()
                .enumerate()
                .all(|(i, &s)| s as usize == i)
        );
        assert!(
            Provider::ALL
                .iter()
                .enumerate()
                .all(|(i, &p)| p as usize == i)
        );
        assert!(
            Outcome::ALL
                .iter()
                .enumerate()
                .all(|(i, &o)| o as usize == i)
        );
        assert!(
            Category::ALL
                .iter()
                .enumerate()
                .all(|(i, &c)| c as usize == i)
        );
        assert!(
            Permanence::ALL
                .iter()
                .enumerate()
                .all(|(i, &p)| p as usize == i)
        );
        assert!(Stage::ALL.iter().enumerate().all(|(i, &s)| s as usize == i));
    }

    fn code() -> impl Strategy<Value = Option<EnhancedCode>> {
        proptest::option::of((any::<u8>(), any::<u16>(), any::<u16>()).prop_map(
            |(class, subject, detail)| EnhancedCode {
                class,
                subject,
                detail,
            },
        ))
    }

    fn sym() -> impl Strategy<Value = Sym> {
        // Mostly small symbols, so that two keys often share a prefix of fields.
        prop_oneof![0u32..4, any::<u32>()].prop_map(Sym)
    }

    prop_compose! {
        fn key()(
            hour in prop_oneof![-2i64..2, any::<i64>()],
            source in proptest::sample::select(Source::ALL.to_vec()),
            (mta_host, sender_domain, recipient_domain) in (sym(), sym(), sym()),
            provider in proptest::sample::select(Provider::ALL.to_vec()),
            outcome in proptest::sample::select(Outcome::ALL.to_vec()),
            reply_code in proptest::option::of(prop_oneof![250u16..252, any::<u16>()]),
            (enhanced_code, dsn) in (code(), code()),
            category in proptest::sample::select(Category::ALL.to_vec()),
            permanence in proptest::sample::select(Permanence::ALL.to_vec()),
            stage in proptest::option::of(proptest::sample::select(Stage::ALL.to_vec())),
            bounce_message in any::<bool>(),
            (esp_type, esp_subtype) in (sym(), sym()),
        ) -> CubeKey {
            CubeKey {
                hour, source, mta_host, sender_domain, recipient_domain, provider, outcome,
                reply_code, enhanced_code, dsn, category, permanence, stage, bounce_message,
                esp_type, esp_subtype,
            }
        }
    }

    proptest! {
        #[test]
        fn unpack_gives_back_the_key(key in key()) {
            prop_assert_eq!(PackedKey::new(&key).unpack(), key);
        }

        #[test]
        fn remap_rewrites_the_symbols_alone(mut key in key(), offset in 1u32..1000) {
            // A table that sends every symbol the key holds somewhere else.
            let syms = [key.mta_host, key.sender_domain, key.recipient_domain, key.esp_type,
                key.esp_subtype];
            let largest = syms.iter().map(|s| s.0).max().unwrap_or(0) as usize;
            let table: Vec<Sym> = (0..=largest.min(1 << 16))
                .map(|i| Sym((i as u32).wrapping_mul(7919).wrapping_add(offset)))
                .collect();
            for sym in [&mut key.mta_host, &mut key.sender_domain, &mut key.recipient_domain,
                &mut key.esp_type, &mut key.esp_subtype] {
                sym.0 %= table.len() as u32;
            }
            let packed = PackedKey::new(&key).remap(&table);
            key.remap(&table);
            prop_assert_eq!(packed.unpack(), key);
            prop_assert!(packed == PackedKey::new(&key));
        }

        #[test]
        fn packed_order_is_the_field_order(a in key(), b in key()) {
            let packed = PackedKey::new(&a).cmp(&PackedKey::new(&b));
            prop_assert_eq!(packed, a.canonical_order().cmp(&b.canonical_order()));
        }

        #[test]
        fn packed_order_of_keys_differing_in_one_field(a in key(), b in key(), field in 0usize..16) {
            // Two random keys nearly always differ in their first field: this makes them
            // equal up to one field, so that every field's packing is compared on its own.
            let mut c = a;
            match field {
                0 => c.hour = b.hour,
                1 => c.source = b.source,
                2 => c.mta_host = b.mta_host,
                3 => c.sender_domain = b.sender_domain,
                4 => c.recipient_domain = b.recipient_domain,
                5 => c.provider = b.provider,
                6 => c.outcome = b.outcome,
                7 => c.reply_code = b.reply_code,
                8 => c.enhanced_code = b.enhanced_code,
                9 => c.dsn = b.dsn,
                10 => c.category = b.category,
                11 => c.permanence = b.permanence,
                12 => c.stage = b.stage,
                13 => c.bounce_message = b.bounce_message,
                14 => c.esp_type = b.esp_type,
                _ => c.esp_subtype = b.esp_subtype,
            }
            let packed = PackedKey::new(&a).cmp(&PackedKey::new(&c));
            prop_assert_eq!(packed, a.canonical_order().cmp(&c.canonical_order()));
            prop_assert_eq!(PackedKey::new(&a) == PackedKey::new(&c), a == c);
        }
    }
}
