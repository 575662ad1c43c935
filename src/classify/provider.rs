//! The receiving mailbox provider, from the MX host that answered or the recipient domain.

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
        recipient_domain
            .and_then(by_domain)
            .unwrap_or(Provider::Other)
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
/// Only those two labels are lowercased: the rest of the name never matters.
fn by_mx(host: &[u8]) -> Option<Provider> {
    let host = host.strip_suffix(b".").unwrap_or(host);
    let last_dot = memchr::memrchr(b'.', host)?;
    let start = memchr::memrchr(b'.', &host[..last_dot]).map_or(0, |dot| dot + 1);
    let mut buf = [0u8; MAX_KNOWN];
    Some(match lowercase(&host[start..], &mut buf)? {
        b"google.com" | b"googlemail.com" => Provider::Google,
        b"outlook.com" | b"hotmail.com" => Provider::Microsoft,
        b"yahoodns.net" | b"yahoo.com" | b"aol.com" => Provider::Yahoo,
        b"icloud.com" | b"me.com" => Provider::Apple,
        b"comcast.net" => Provider::Comcast,
        b"gmx.net" | b"web.de" => Provider::Gmx,
        b"yandex.ru" | b"yandex.net" => Provider::Yandex,
        b"mail.ru" => Provider::MailRu,
        _ => return None,
    })
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
