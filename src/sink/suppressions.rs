//! The suppression list: the recipients to stop mailing, as CSV (`ingest --suppressions`).
//!
//! One row per address, sorted by address, with a header:
//!
//! ```text
//! recipient,reason,category,reply_code,enhanced_code,provider,source,events,first_seen,last_seen
//! bob.typo@gmail.com,hard_bounce,user_unknown,550,5.1.1,google,postfix,1,2025-03-10T09:00:05Z,2025-03-10T09:00:05Z
//! ```
//!
//! Fields are quoted as RFC 4180 says when they hold a comma, a quote or a line break (a
//! quoted local part can). Times are RFC 3339 in UTC. The file is replaced atomically.

use std::io::Write as _;
use std::path::Path;

use super::SinkError;
use super::write::write_file_atomically;
use crate::aggregate::recipients::{Reason, Suppression};

/// The list's header line.
pub const SUPPRESSIONS_HEADER: &str = "recipient,reason,category,reply_code,enhanced_code,\
    provider,source,events,first_seen,last_seen";

/// The CSV text of `list`, header first.
pub fn suppressions_csv(list: &[Suppression<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + list.len() * 128);
    out.extend_from_slice(SUPPRESSIONS_HEADER.as_bytes());
    out.push(b'\n');
    for row in list {
        csv_field(&mut out, row.address);
        let detail = &row.detail;
        // A complaint is about a message that was delivered: it has no failure category.
        let category = match row.reason {
            Reason::Complaint => "",
            _ => detail.category.as_str(),
        };
        let _ = write!(out, ",{},{category},", row.reason.as_str());
        if let Some(code) = detail.reply_code {
            let _ = write!(out, "{code}");
        }
        out.push(b',');
        if let Some(code) = detail.enhanced_code {
            let _ = write!(out, "{code}");
        }
        let _ = writeln!(
            out,
            ",{},{},{},{},{}",
            detail.provider.as_str(),
            detail.source.as_str(),
            row.events,
            rfc3339(row.first_us),
            rfc3339(row.last_us)
        );
    }
    out
}

/// Writes `list` to `path` as CSV, through a temporary file beside it and a rename.
///
/// # Errors
/// [`SinkError::Io`] naming the file when it cannot be written.
pub fn write_suppressions(path: &Path, list: &[Suppression<'_>]) -> Result<(), SinkError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| SinkError::Io {
        action: "write the suppression list to",
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    write_file_atomically(dir, &name.to_string_lossy(), &suppressions_csv(list))
}

/// Appends `bytes` as one CSV field, quoted if it must be.
fn csv_field(out: &mut Vec<u8>, bytes: &[u8]) {
    if !bytes
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    for &b in bytes {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map_or_else(|_| String::new(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::recipients::Detail;
    use crate::classify::{Category, Provider};
    use crate::event::{EnhancedCode, Source};

    #[test]
    fn rows_are_csv_with_quoting_where_needed() {
        let detail = Detail {
            category: Category::UserUnknown,
            reply_code: Some(550),
            enhanced_code: Some(EnhancedCode::new(5, 1, 1)),
            provider: Provider::Google,
            source: Source::Postfix,
        };
        let at = 1_741_597_205_000_000;
        let list = [
            Suppression {
                address: b"\"doe, john\"@example.org",
                reason: Reason::HardBounce,
                detail,
                events: 2,
                first_us: at,
                last_us: at + 1_500_000,
            },
            Suppression {
                address: b"full@example.org",
                reason: Reason::RepeatedDeferral,
                detail: Detail {
                    category: Category::MailboxFull,
                    reply_code: None,
                    enhanced_code: None,
                    provider: Provider::Other,
                    source: Source::Exim,
                },
                events: 5,
                first_us: at,
                last_us: at,
            },
            Suppression {
                address: b"angry@yahoo.com",
                reason: Reason::Complaint,
                detail: Detail {
                    category: Category::Delivered,
                    reply_code: None,
                    enhanced_code: None,
                    provider: Provider::Yahoo,
                    source: Source::Ses,
                },
                events: 1,
                first_us: at,
                last_us: at,
            },
        ];
        let text = String::from_utf8(suppressions_csv(&list)).unwrap();
        assert_eq!(
            text,
            "recipient,reason,category,reply_code,enhanced_code,provider,source,events,\
             first_seen,last_seen\n\
             \"\"\"doe, john\"\"@example.org\",hard_bounce,user_unknown,550,5.1.1,google,\
             postfix,2,2025-03-10T09:00:05Z,2025-03-10T09:00:06.5Z\n\
             full@example.org,repeated_deferral,mailbox_full,,,other,exim,5,\
             2025-03-10T09:00:05Z,2025-03-10T09:00:05Z\n\
             angry@yahoo.com,complaint,,,,yahoo,ses,1,2025-03-10T09:00:05Z,2025-03-10T09:00:05Z\n"
        );
    }

    #[test]
    fn the_list_replaces_the_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("suppress.csv");
        std::fs::write(&path, "old\n").unwrap();
        write_suppressions(&path, &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{SUPPRESSIONS_HEADER}\n")
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["suppress.csv"], "no temporary file left");
        let err = write_suppressions(&dir.path().join("missing/x.csv"), &[]).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
