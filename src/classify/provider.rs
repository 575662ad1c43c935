//! The receiving mailbox provider, from the MX host that answered or the recipient domain.

use crate::aggregate::ascii_lowercase_word;
use crate::format::syslog::{byte_bits, partial_word};

/// A receiving provider. The dataset's `provider` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Google,
    Microsoft,
    Yahoo,
    Apple,
    /// Comcast / Xfinity.
    Comcast,
    /// GMX and WEB.DE (United Internet).
    Gmx,
    Yandex,
    MailRu,
    Other,
}

impl Provider {
    pub const ALL: [Provider; 9] = [
        Provider::Google,
        Provider::Microsoft,
        Provider::Yahoo,
        Provider::Apple,
        Provider::Comcast,
        Provider::Gmx,
        Provider::Yandex,
        Provider::MailRu,
        Provider::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Microsoft => "microsoft",
            Provider::Yahoo => "yahoo",
            Provider::Apple => "apple",
            Provider::Comcast => "comcast",
            Provider::Gmx => "gmx",
            Provider::Yandex => "yandex",
            Provider::MailRu => "mailru",
            Provider::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The provider behind a remote host (checked first: a Google Workspace domain has its own
    /// name but Google's MX) or, failing that, a recipient domain.
    ///
    /// Called for every delivery, so it looks a name up once (by its last two labels, or
    /// whole) instead of comparing it with each known name in turn.
    pub fn detect(remote_host: Option<&[u8]>, recipient_domain: Option<&[u8]>) -> Provider {
        if let Some(provider) = remote_host.and_then(by_mx) {
            return provider;
        }
        recipient_domain.map_or(Provider::Other, Provider::of_domain)
    }

    /// The provider whose mail network `remote_host` belongs to, if it is a known one: the
    /// first half of [`Provider::detect`].
    pub fn of_mx(remote_host: &[u8]) -> Option<Provider> {
        by_mx(remote_host)
    }

    /// The provider of a recipient domain ([`Provider::Other`] for any domain not known): the
    /// second half of [`Provider::detect`]. It depends on the domain's name alone, case and
    /// a trailing dot aside, so a caller may remember it by the interned name.
    pub fn of_domain(recipient_domain: &[u8]) -> Provider {
        by_domain(recipient_domain).unwrap_or(Provider::Other)
    }
}

/// Longer names are no provider's (the known names are short).
const MAX_NAME: usize = 256;

/// Room for the longest name compared whole (`googlemail.com`, `rocketmail.com`): a longer
/// one matches none of them, so it is never lowercased.
const MAX_KNOWN: usize = 16;

/// `name` lowercased into `buf`, if it fits.
fn lowercase<'b>(name: &[u8], buf: &'b mut [u8; MAX_KNOWN]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..name.len())?;
    for (o, b) in out.iter_mut().zip(name) {
        *o = b.to_ascii_lowercase();
    }
    Some(out)
}

/// An MX host that identifies a provider whatever the recipient domain is: one whose last two
/// labels name the provider's mail network (`*.google.com`, `*.protection.outlook.com`...).
///
/// Called for every delivery, so it works on the host's last 16 bytes as two words (a known
/// pair of labels is shorter): the dots are found and the letters lowercased a word at a time,
/// and the last two labels, as one number, are compared with the known ones.
fn by_mx(host: &[u8]) -> Option<Provider> {
    let host = host.strip_suffix(b".").unwrap_or(host);
    let n = host.len().min(16);
    let tail = &host[host.len() - n..];
    let (low, high) = (
        partial_word(tail),
        partial_word(tail.get(8..).unwrap_or_default()),
    );
    let dots = u128::from(byte_bits(low, b'.')) | u128::from(byte_bits(high, b'.')) << 64;
    // The byte index of the highest dot in `mask`.
    let last = |mask: u128| (127 - mask.leading_zeros() as usize) / 8;
    if dots == 0 {
        return None;
    }
    let before_last = dots & !(0x80 << (8 * last(dots)));
    let start = match before_last {
        0 => 0,
        mask => last(mask) + 1,
    };
    // Sixteen bytes with at most one dot: a longer host's last two labels, or a single
    // label's; no known name is that long.
    let len = n - start;
    if len >= 16 {
        return None;
    }
    let lowered =
        u128::from(ascii_lowercase_word(low)) | u128::from(ascii_lowercase_word(high)) << 64;
    let key = lowered >> (8 * start) | (len as u128) << 120;
    mx_network(key)
}

/// The bytes of `name` (at most 15) as a little-endian number, with its length in the top
/// byte: the form [`by_mx`] compares.
const fn name_key(name: &[u8]) -> u128 {
    assert!(name.len() < 16);
    let mut key = (name.len() as u128) << 120;
    let mut i = 0;
    while i < name.len() {
        key |= (name[i] as u128) << (8 * i);
        i += 1;
    }
    key
}

/// The last two labels of the known providers' MX hosts.
const MX_NETWORKS: [(&[u8], Provider); 15] = [
    (b"google.com", Provider::Google),
    (b"googlemail.com", Provider::Google),
    (b"outlook.com", Provider::Microsoft),
    (b"hotmail.com", Provider::Microsoft),
    (b"yahoodns.net", Provider::Yahoo),
    (b"yahoo.com", Provider::Yahoo),
    (b"aol.com", Provider::Yahoo),
    (b"icloud.com", Provider::Apple),
    (b"me.com", Provider::Apple),
    (b"comcast.net", Provider::Comcast),
    (b"gmx.net", Provider::Gmx),
    (b"web.de", Provider::Gmx),
    (b"yandex.ru", Provider::Yandex),
    (b"yandex.net", Provider::Yandex),
    (b"mail.ru", Provider::MailRu),
];

/// The slot of a [`name_key`] in [`MX_TABLE`]. The multiplier (one of SplitMix64's) gives
/// the names of [`MX_NETWORKS`] a slot each; a name added that collides stops the build, and
/// another odd multiplier will do.
const fn mx_slot(key: u128) -> usize {
    let folded = (key as u64) ^ (key >> 64) as u64;
    (folded.wrapping_mul(0x94d0_49bb_1331_11eb) >> 58) as usize
}

/// [`MX_NETWORKS`] by [`mx_slot`]: each known name has a slot of its own (checked when the
/// table is built, at compile time), so a lookup is one comparison.
const MX_TABLE: [(u128, Option<Provider>); 64] = {
    let mut table = [(0, None); 64];
    let mut i = 0;
    while i < MX_NETWORKS.len() {
        let key = name_key(MX_NETWORKS[i].0);
        let slot = mx_slot(key);
        assert!(table[slot].1.is_none(), "two MX networks share a slot");
        table[slot] = (key, Some(MX_NETWORKS[i].1));
        i += 1;
    }
    table
};

fn mx_network(key: u128) -> Option<Provider> {
    let (known, provider) = MX_TABLE[mx_slot(key)];
    if known == key { provider } else { None }
}

/// A consumer recipient domain (whose MX we may not have seen: deferrals before connecting),
/// including the country variants (`yahoo.co.uk`, `hotmail.fr`, `gmx.de`...).
fn by_domain(domain: &[u8]) -> Option<Provider> {
    let domain = domain.strip_suffix(b".").unwrap_or(domain);
    if domain.len() > MAX_NAME {
        return None;
    }
    let mut buf = [0u8; MAX_KNOWN];
    let whole = match lowercase(domain, &mut buf) {
        Some(b"gmail.com" | b"googlemail.com") => Some(Provider::Google),
        Some(b"outlook.com" | b"hotmail.com" | b"live.com" | b"msn.com") => {
            Some(Provider::Microsoft)
        }
        Some(b"yahoo.com" | b"ymail.com" | b"rocketmail.com" | b"aol.com") => Some(Provider::Yahoo),
        Some(b"icloud.com" | b"me.com" | b"mac.com") => Some(Provider::Apple),
        Some(b"comcast.net") => Some(Provider::Comcast),
        Some(b"web.de") => Some(Provider::Gmx),
        Some(b"yandex.ru" | b"yandex.com" | b"ya.ru") => Some(Provider::Yandex),
        Some(b"mail.ru" | b"bk.ru" | b"list.ru" | b"inbox.ru") => Some(Provider::MailRu),
        _ => None,
    };
    if whole.is_some() {
        return whole;
    }
    // Country variants: the first label, with something after its dot.
    let dot = memchr::memchr(b'.', domain)?;
    if dot + 1 == domain.len() {
        return None;
    }
    let first = &domain[..dot];
    let is = |name: &[u8]| first.eq_ignore_ascii_case(name);
    if is(b"yahoo") {
        Some(Provider::Yahoo)
    } else if is(b"hotmail") || is(b"outlook") || is(b"live") {
        Some(Provider::Microsoft)
    } else if is(b"gmx") {
        Some(Provider::Gmx)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Provider::*;
    use super::*;

    #[test]
    fn detects_by_mx_then_domain() {
        assert_eq!(
            Provider::detect(Some(b"gmail-smtp-in.l.google.com"), Some(b"example.com")),
            Provider::Google
        );
        assert_eq!(
            Provider::detect(Some(b"example-com.mail.protection.outlook.com"), None),
            Provider::Microsoft
        );
        assert_eq!(
            Provider::detect(None, Some(b"Hotmail.co.uk")),
            Provider::Microsoft
        );
        assert_eq!(
            Provider::detect(Some(b"mx.example.org"), Some(b"example.org")),
            Provider::Other
        );
        assert_eq!(
            Provider::detect(Some(b"mta7.am0.yahoodns.net"), None),
            Provider::Yahoo
        );
        assert_eq!(
            Provider::detect(Some(b"mx00.emig.gmx.net"), None),
            Provider::Gmx
        );
        assert_eq!(Provider::detect(None, Some(b"gmx.de")), Provider::Gmx);
        assert_eq!(
            Provider::detect(Some(b"mxs.mail.ru"), None),
            Provider::MailRu
        );
        assert_eq!(Provider::from_name("comcast"), Some(Provider::Comcast));
        // Case, trailing dots, bare provider names, and names that only look alike.
        assert_eq!(
            Provider::detect(Some(b"ALT1.ASPMX.L.GOOGLE.COM."), None),
            Provider::Google
        );
        assert_eq!(
            Provider::detect(Some(b"google.com"), None),
            Provider::Google
        );
        assert_eq!(
            Provider::detect(Some(b"notgoogle.com"), None),
            Provider::Other
        );
        assert_eq!(
            Provider::detect(Some(b"com"), Some(b"Yahoo.co.jp")),
            Provider::Yahoo
        );
        assert_eq!(Provider::detect(None, Some(b"yahoo.")), Provider::Other);
        assert_eq!(
            Provider::detect(None, Some(b"livemail.com")),
            Provider::Other
        );
        assert_eq!(Provider::detect(None, Some(b"MAC.COM.")), Provider::Apple);
    }

    // The rules as tables: an MX host's last two labels, a whole recipient domain, and a
    // recipient domain's first label.
    const MX: &[(&str, Provider)] = &[
        ("google.com", Google),
        ("googlemail.com", Google),
        ("outlook.com", Microsoft),
        ("hotmail.com", Microsoft),
        ("yahoodns.net", Yahoo),
        ("yahoo.com", Yahoo),
        ("aol.com", Yahoo),
        ("icloud.com", Apple),
        ("me.com", Apple),
        ("comcast.net", Comcast),
        ("gmx.net", Gmx),
        ("web.de", Gmx),
        ("yandex.ru", Yandex),
        ("yandex.net", Yandex),
        ("mail.ru", MailRu),
    ];
    const WHOLE: &[(&str, Provider)] = &[
        ("gmail.com", Google),
        ("googlemail.com", Google),
        ("outlook.com", Microsoft),
        ("hotmail.com", Microsoft),
        ("live.com", Microsoft),
        ("msn.com", Microsoft),
        ("yahoo.com", Yahoo),
        ("ymail.com", Yahoo),
        ("rocketmail.com", Yahoo),
        ("aol.com", Yahoo),
        ("icloud.com", Apple),
        ("me.com", Apple),
        ("mac.com", Apple),
        ("comcast.net", Comcast),
        ("web.de", Gmx),
        ("yandex.ru", Yandex),
        ("yandex.com", Yandex),
        ("ya.ru", Yandex),
        ("mail.ru", MailRu),
        ("bk.ru", MailRu),
        ("list.ru", MailRu),
        ("inbox.ru", MailRu),
    ];
    const FIRST: &[(&str, Provider)] = &[
        ("yahoo", Yahoo),
        ("hotmail", Microsoft),
        ("outlook", Microsoft),
        ("live", Microsoft),
        ("gmx", Gmx),
    ];

    /// The rules as a table, read the slow way: the MX host's last two labels, then the whole
    /// recipient domain, then the domain's first label when something follows its dot.
    fn detect_by_table(host: Option<&[u8]>, domain: Option<&[u8]>) -> Provider {
        let find = |table: &[(&str, Provider)], name: &str| {
            table.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
        };
        let text = |name: &[u8]| {
            let name = name.strip_suffix(b".").unwrap_or(name);
            String::from_utf8_lossy(name).to_ascii_lowercase()
        };
        if let Some(host) = host.map(text) {
            let labels: Vec<&str> = host.split('.').collect();
            if labels.len() >= 2 {
                let last_two = labels[labels.len() - 2..].join(".");
                if let Some(provider) = find(MX, &last_two) {
                    return provider;
                }
            }
        }
        let Some(domain) = domain.map(text).filter(|d| d.len() <= MAX_NAME) else {
            return Other;
        };
        if let Some(provider) = find(WHOLE, &domain) {
            return provider;
        }
        match domain.split_once('.') {
            Some((first, rest)) if !rest.is_empty() => find(FIRST, first).unwrap_or(Other),
            _ => Other,
        }
    }

    /// Names built from the known labels, in any case, with other labels around them,
    /// trailing dots, and names past the length limit.
    fn name() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        // Every label of the tables' names, and others.
        let known: Vec<String> = (MX.iter().chain(WHOLE).chain(FIRST))
            .flat_map(|(name, _)| name.split('.'))
            .map(str::to_string)
            .collect();
        let label = prop_oneof![
            prop::sample::select(known),
            Just(String::new()),
            "[a-z0-9-]{1,8}",
            "[a-z]{200,260}",
        ];
        (
            proptest::collection::vec(label, 1..5),
            any::<u64>(),
            0usize..3,
        )
            .prop_map(|(labels, case, dots)| {
                let mut name = labels.join(".").into_bytes();
                for (i, b) in name.iter_mut().enumerate() {
                    if case >> (i % 64) & 1 == 1 {
                        *b = b.to_ascii_uppercase();
                    }
                }
                name.extend(std::iter::repeat_n(b'.', dots));
                name
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn detect_agrees_with_the_table(
            host in proptest::option::of(name()),
            domain in proptest::option::of(name()),
        ) {
            proptest::prop_assert_eq!(
                Provider::detect(host.as_deref(), domain.as_deref()),
                detect_by_table(host.as_deref(), domain.as_deref())
            );
        }
    }
}
