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

/// MX host suffixes that identify a provider whatever the recipient domain is.
const MX_SUFFIXES: &[(&str, Provider)] = &[
    (".google.com", Provider::Google),
    (".googlemail.com", Provider::Google),
    (".protection.outlook.com", Provider::Microsoft),
    (".outlook.com", Provider::Microsoft),
    (".hotmail.com", Provider::Microsoft),
    (".yahoodns.net", Provider::Yahoo),
    (".yahoo.com", Provider::Yahoo),
    (".aol.com", Provider::Yahoo),
    (".icloud.com", Provider::Apple),
    (".me.com", Provider::Apple),
    (".comcast.net", Provider::Comcast),
    (".gmx.net", Provider::Gmx),
    (".web.de", Provider::Gmx),
    (".yandex.ru", Provider::Yandex),
    (".yandex.net", Provider::Yandex),
    (".mail.ru", Provider::MailRu),
];

/// Consumer recipient domains whose MX we may not have seen (deferrals before connecting).
const DOMAINS: &[(&str, Provider)] = &[
    ("gmail.com", Provider::Google),
    ("googlemail.com", Provider::Google),
    ("outlook.com", Provider::Microsoft),
    ("hotmail.com", Provider::Microsoft),
    ("live.com", Provider::Microsoft),
    ("msn.com", Provider::Microsoft),
    ("yahoo.com", Provider::Yahoo),
    ("ymail.com", Provider::Yahoo),
    ("rocketmail.com", Provider::Yahoo),
    ("aol.com", Provider::Yahoo),
    ("icloud.com", Provider::Apple),
    ("me.com", Provider::Apple),
    ("mac.com", Provider::Apple),
    ("comcast.net", Provider::Comcast),
    ("web.de", Provider::Gmx),
    ("yandex.ru", Provider::Yandex),
    ("yandex.com", Provider::Yandex),
    ("ya.ru", Provider::Yandex),
    ("mail.ru", Provider::MailRu),
    ("bk.ru", Provider::MailRu),
    ("list.ru", Provider::MailRu),
    ("inbox.ru", Provider::MailRu),
];

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
    pub fn detect(remote_host: Option<&[u8]>, recipient_domain: Option<&[u8]>) -> Provider {
        if let Some(host) = remote_host {
            for &(suffix, provider) in MX_SUFFIXES {
                if ends_with_ignore_case(host, suffix.as_bytes())
                    || eq_ignore_case(host, &suffix.as_bytes()[1..])
                {
                    return provider;
                }
            }
        }
        if let Some(domain) = recipient_domain {
            let domain = strip_trailing_dot(domain);
            for &(name, provider) in DOMAINS {
                if eq_ignore_case(domain, name.as_bytes()) {
                    return provider;
                }
            }
            // Country variants: yahoo.co.uk, hotmail.fr, outlook.de...
            for (stem, provider) in [
                (&b"yahoo."[..], Provider::Yahoo),
                (b"hotmail.", Provider::Microsoft),
                (b"outlook.", Provider::Microsoft),
                (b"live.", Provider::Microsoft),
                (b"gmx.", Provider::Gmx),
            ] {
                if domain.len() > stem.len() && eq_ignore_case(&domain[..stem.len()], stem) {
                    return provider;
                }
            }
        }
        Provider::Other
    }
}

fn strip_trailing_dot(s: &[u8]) -> &[u8] {
    s.strip_suffix(b".").unwrap_or(s)
}

fn ends_with_ignore_case(haystack: &[u8], suffix: &[u8]) -> bool {
    let haystack = strip_trailing_dot(haystack);
    haystack.len() >= suffix.len()
        && eq_ignore_case(&haystack[haystack.len() - suffix.len()..], suffix)
}

fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
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
    }
}
