//! Generated log lines as the entries `journalctl -o json` exports, for Postfix on a machine
//! whose only log is the systemd journal.
//!
//! Each entry carries the fields journald stores for a message that came through syslog(3)
//! (its cursor and timestamps, boot and machine ids, the process's credentials, command
//! line and unit), so that an export is as large as a real one, about 1.2 kB an entry.

use super::{Clock, TimestampStyle, push_u64};

/// Where the parts of one syslog line lie in the generator's buffer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LineParts {
    /// Microseconds since the epoch.
    pub time: i64,
    pub host: (usize, usize),
    /// The program tag, `postfix/smtp`, without the pid.
    pub tag: (usize, usize),
    pub pid: Option<u32>,
    /// Where the message starts; it runs to the end of the line.
    pub message: usize,
}

/// Rewrites syslog lines as journal entries, numbering them as the journal does.
#[derive(Debug)]
pub(crate) struct JournalWriter {
    sequence: u64,
    line: Vec<u8>,
    /// `SYSLOG_TIMESTAMP`: the time as syslog(3) writes it (in UTC here).
    syslog_clock: Clock,
}

impl Default for JournalWriter {
    fn default() -> Self {
        JournalWriter {
            sequence: 0,
            line: Vec::new(),
            syslog_clock: Clock::new(TimestampStyle::Traditional, 0),
        }
    }
}

const BOOT_ID: &str = "3f9c2e7a51d84b0c9e6a2d1f7b4c8e05";
const MACHINE_ID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const SEQNUM_ID: &str = "6c1f0e2d3b4a59687f8e9d0c1b2a3948";
/// Microseconds between the boot and the Unix epoch's view of it: the monotonic clock.
const BOOTED_AT_US: i64 = 1_748_000_000_000_000;

impl JournalWriter {
    /// Replaces the line that starts at `start` in `buf` (without its newline) by the entry
    /// whose parts `parts` locates.
    pub(crate) fn rewrite(&mut self, buf: &mut Vec<u8>, start: usize, parts: &LineParts) {
        self.sequence += 1;
        self.line.clear();
        self.line.extend_from_slice(&buf[start..]);
        buf.truncate(start);
        let line = &self.line[..];
        let part = |(from, to): (usize, usize)| &line[from - start..to - start];
        let host = part(parts.host);
        let tag = part(parts.tag);
        let message = &line[parts.message - start..];
        let daemon = tag.rsplit(|&b| b == b'/').next().unwrap_or(tag);
        // The journal stores an entry a few microseconds after its process wrote it.
        let stored = parts.time + 40 + (self.sequence % 97) as i64;

        let mut hex = [0u8; 16];
        let cursor = |out: &mut Vec<u8>, hex: &mut [u8; 16], n: u64| {
            out.extend_from_slice(format_hex(n, hex));
        };
        buf.extend_from_slice(b"{\"__CURSOR\":\"s=");
        buf.extend_from_slice(SEQNUM_ID.as_bytes());
        buf.extend_from_slice(b";i=");
        cursor(buf, &mut hex, self.sequence);
        buf.extend_from_slice(b";b=");
        buf.extend_from_slice(BOOT_ID.as_bytes());
        buf.extend_from_slice(b";m=");
        cursor(buf, &mut hex, (stored - BOOTED_AT_US) as u64);
        buf.extend_from_slice(b";t=");
        cursor(buf, &mut hex, stored as u64);
        buf.extend_from_slice(b";x=");
        cursor(
            buf,
            &mut hex,
            self.sequence.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        buf.extend_from_slice(b"\",\"__REALTIME_TIMESTAMP\":\"");
        push_u64(buf, stored as u64);
        buf.extend_from_slice(b"\",\"__MONOTONIC_TIMESTAMP\":\"");
        push_u64(buf, (stored - BOOTED_AT_US) as u64);
        buf.extend_from_slice(b"\",\"__SEQNUM\":\"");
        push_u64(buf, self.sequence);
        buf.extend_from_slice(b"\",\"__SEQNUM_ID\":\"");
        buf.extend_from_slice(SEQNUM_ID.as_bytes());
        buf.extend_from_slice(b"\",\"_BOOT_ID\":\"");
        buf.extend_from_slice(BOOT_ID.as_bytes());
        buf.extend_from_slice(b"\",\"_TRANSPORT\":\"syslog\",\"PRIORITY\":\"");
        buf.push(if message.starts_with(b"warning:") {
            b'4'
        } else {
            b'6'
        });
        buf.extend_from_slice(b"\",\"SYSLOG_FACILITY\":\"2\",\"SYSLOG_IDENTIFIER\":\"");
        buf.extend_from_slice(tag);
        if let Some(pid) = parts.pid {
            buf.extend_from_slice(b"\",\"SYSLOG_PID\":\"");
            push_u64(buf, u64::from(pid));
        }
        buf.extend_from_slice(b"\",\"SYSLOG_TIMESTAMP\":\"");
        self.syslog_clock.write(parts.time, buf);
        buf.extend_from_slice(b" \",\"MESSAGE\":");
        push_json_string(buf, message);
        if let Some(pid) = parts.pid {
            buf.extend_from_slice(b",\"_PID\":\"");
            push_u64(buf, u64::from(pid));
            buf.push(b'"');
        }
        buf.extend_from_slice(b",\"_UID\":\"107\",\"_GID\":\"113\",\"_COMM\":\"");
        buf.extend_from_slice(daemon);
        buf.extend_from_slice(b"\",\"_EXE\":\"/usr/lib/postfix/sbin/");
        buf.extend_from_slice(daemon);
        buf.extend_from_slice(b"\",\"_CMDLINE\":\"");
        buf.extend_from_slice(daemon);
        buf.extend_from_slice(b" -n ");
        buf.extend_from_slice(daemon);
        buf.extend_from_slice(b" -t unix -u\",\"_CAP_EFFECTIVE\":\"0\",\"_SELINUX_CONTEXT\":\"unconfined\\n\",\"_SYSTEMD_CGROUP\":\"/system.slice/system-postfix.slice/postfix@-.service\",\"_SYSTEMD_UNIT\":\"postfix@-.service\",\"_SYSTEMD_SLICE\":\"system-postfix.slice\",\"_SYSTEMD_INVOCATION_ID\":\"");
        buf.extend_from_slice(SEQNUM_ID.as_bytes());
        buf.extend_from_slice(b"\",\"_MACHINE_ID\":\"");
        buf.extend_from_slice(MACHINE_ID.as_bytes());
        buf.extend_from_slice(b"\",\"_HOSTNAME\":\"");
        buf.extend_from_slice(host);
        buf.extend_from_slice(
            b"\",\"_RUNTIME_SCOPE\":\"system\",\"_SOURCE_REALTIME_TIMESTAMP\":\"",
        );
        push_u64(buf, parts.time as u64);
        buf.extend_from_slice(b"\"}");
    }
}

/// `n` in lowercase hexadecimal, without leading zeros.
fn format_hex(mut n: u64, out: &mut [u8; 16]) -> &[u8] {
    let mut at = out.len();
    loop {
        at -= 1;
        out[at] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            return &out[at..];
        }
    }
}

/// `text` as a JSON string, or, when it is not UTF-8, as the array of its bytes journalctl
/// writes then.
fn push_json_string(out: &mut Vec<u8>, text: &[u8]) {
    if std::str::from_utf8(text).is_err() {
        out.push(b'[');
        for (i, &byte) in text.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_u64(out, u64::from(byte));
        }
        out.push(b']');
        return;
    }
    out.push(b'"');
    for &byte in text {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..0x20 | 0x7f => {
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&[
                    b"0123456789abcdef"[usize::from(byte >> 4)],
                    b"0123456789abcdef"[usize::from(byte & 15)],
                ]);
            }
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::json_line::JsonLine;

    /// A line rewritten as an entry reads back, through the ingest's journal reader, as the
    /// same line with its time in RFC 3339.
    #[test]
    fn an_entry_reads_back_as_its_line() {
        let line: &[u8] = b"Jun 10 06:27:30 mta2 postfix-out/smtp[913]: 4bQ1: to=<a@b.example>, \
            status=bounced (said: 550 \"no\" \\ such\x01 user)";
        let mut buf = b"earlier line\n".to_vec();
        let start = buf.len();
        buf.extend_from_slice(line);
        let at = |part: &[u8]| {
            let from = start + memchr::memmem::find(line, part).expect("part of the line");
            (from, from + part.len())
        };
        let parts = LineParts {
            time: 1_749_536_850_123_456,
            host: at(b"mta2"),
            tag: at(b"postfix-out/smtp"),
            pid: Some(913),
            message: at(b"4bQ1").0,
        };
        let mut writer = JournalWriter::default();
        writer.rewrite(&mut buf, start, &parts);
        assert!(buf.starts_with(b"earlier line\n{\"__CURSOR\":\"s="));
        let entry = &buf[start..];
        assert!(!entry.contains(&b'\n'));
        assert!(entry.len() > 1000, "{}", entry.len());
        let mut reader = JsonLine::new();
        let read = reader.decode(entry).expect("valid entry").expect("a line");
        assert_eq!(
            String::from_utf8_lossy(read),
            "2025-06-10T06:27:30.123456+00:00 mta2 postfix-out/smtp[913]: 4bQ1: \
             to=<a@b.example>, status=bounced (said: 550 \"no\" \\ such\u{1} user)"
        );
        // A message that is not UTF-8 travels as its bytes.
        let mut buf = b"Jun 10 06:27:30 h postfix/qmgr: caf\xe9".to_vec();
        let parts = LineParts {
            time: 0,
            host: (16, 17),
            tag: (18, 30),
            pid: None,
            message: 32,
        };
        writer.rewrite(&mut buf, 0, &parts);
        assert!(memchr::memmem::find(&buf, b"\"MESSAGE\":[99,97,102,233]").is_some());
        let read = reader.decode(&buf).expect("valid entry").expect("a line");
        assert_eq!(
            read,
            b"1970-01-01T00:00:00.000000+00:00 h postfix/qmgr: caf\xe9"
        );
    }

    proptest::proptest! {
        /// Any message, UTF-8 or not, with quotes, backslashes and control characters, reads
        /// back byte for byte; so do the host and tag.
        #[test]
        fn any_message_reads_back(
            message in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'"'),
                    proptest::strategy::Just(b'\\'),
                    proptest::strategy::Just(b'u'),
                    0u8..0x20,
                    proptest::num::u8::ANY,
                    b'a'..=b'z',
                ],
                0..200,
            ),
            time in 0i64..4_102_444_800_000_000,
        ) {
            let head: &[u8] = b"Jun 10 06:27:30 mx-7 postfix/smtp[12]: ";
            let mut buf = head.to_vec();
            buf.extend_from_slice(&message);
            let parts = LineParts {
                time,
                host: (16, 20),
                tag: (21, 33),
                pid: Some(12),
                message: head.len(),
            };
            JournalWriter::default().rewrite(&mut buf, 0, &parts);
            let mut reader = JsonLine::new();
            let read = reader.decode(&buf).expect("valid entry").expect("a line");
            let (stamp, rest) = read.split_at(32);
            proptest::prop_assert!(rest.starts_with(b" mx-7 postfix/smtp[12]: "));
            proptest::prop_assert_eq!(&rest[24..], &message[..]);
            let seconds = time.div_euclid(1_000_000);
            let (year, month, day, ..) = crate::format::syslog::civil(seconds);
            let date = format!("{year:04}-{month:02}-{day:02}T");
            proptest::prop_assert!(stamp.starts_with(date.as_bytes()));
            let micros = format!(".{:06}+00:00", time.rem_euclid(1_000_000));
            proptest::prop_assert!(stamp.ends_with(micros.as_bytes()));
        }
    }
}
