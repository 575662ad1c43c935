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
        let mut buf = [0u8; MAX_NAME];
        if let Some(provider) = remote_host.and_then(|host| by_mx(host, &mut buf)) {
            return provider;
        }
        recipient_domain
            .and_then(|domain| by_domain(lowercase(domain, &mut buf)?))
            .unwrap_or(Provider::Other)
    }
}

/// Longer names are no provider's (the known names are short).
const MAX_NAME: usize = 256;

/// `name` lowercased into `buf`, without a trailing dot.
fn lowercase<'b>(name: &[u8], buf: &'b mut [u8; MAX_NAME]) -> Option<&'b [u8]> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    let out = buf.get_mut(..name.len())?;
    for (o, b) in out.iter_mut().zip(name) {
        *o = b.to_ascii_lowercase();
    }
    Some(out)
}

/// An MX host that identifies a provider whatever the recipient domain is: one whose last two
/// labels name the provider's mail network (`*.google.com`, `*.protection.outlook.com`...).
/// Only those two labels are lowercased (into `buf`): the rest of the name never matters.
fn by_mx(host: &[u8], buf: &mut [u8; MAX_NAME]) -> Option<Provider> {
    let host = host.strip_suffix(b".").unwrap_or(host);
    let mut dots = host.iter().enumerate().rev().filter(|(_, b)| **b == b'.');
    dots.next()?;
    let last_two = match dots.next() {
        Some((start, _)) => &host[start + 1..],
        None => host,
    };
    Some(match lowercase(last_two, buf)? {
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
    Some(match domain {
        b"gmail.com" | b"googlemail.com" => Provider::Google,
        b"outlook.com" | b"hotmail.com" | b"live.com" | b"msn.com" => Provider::Microsoft,
        b"yahoo.com" | b"ymail.com" | b"rocketmail.com" | b"aol.com" => Provider::Yahoo,
        b"icloud.com" | b"me.com" | b"mac.com" => Provider::Apple,
        b"comcast.net" => Provider::Comcast,
        b"web.de" => Provider::Gmx,
        b"yandex.ru" | b"yandex.com" | b"ya.ru" => Provider::Yandex,
        b"mail.ru" | b"bk.ru" | b"list.ru" | b"inbox.ru" => Provider::MailRu,
        _ => {
            let dot = memchr::memchr(b'.', domain)?;
            if dot + 1 == domain.len() {
                return None;
            }
            match &domain[..dot] {
                b"yahoo" => Provider::Yahoo,
                b"hotmail" | b"outlook" | b"live" => Provider::Microsoft,
                b"gmx" => Provider::Gmx,
                _ => return None,
            }
        }
    })
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
}
