//! Container logs as Kubernetes' runtimes (containerd, CRI-O) write them under
//! `/var/log/containers/`: each line of the container's output behind its own prefix,
//! `2025-06-10T06:27:30.123456789Z stdout F `. The prefix gives the time the runtime read
//! the line, the stream, and whether the line is whole (`F`) or the part of a longer line
//! (`P`, for lines over the runtime's limit, 16 kB by default). A Postfix or Exim container
//! writing its log to standard output leaves its own lines behind that prefix; they are read
//! as they stand.

/// What a container log's line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerLine<'a> {
    /// A whole line of the container's output.
    Whole(&'a [u8]),
    /// A part of a line the runtime cut (not joined: a mail log's lines are far shorter
    /// than the runtime's limit).
    Partial,
}

/// The reason a partial line is counted under.
pub const PARTIAL: &str = "container log: part of a line the runtime cut";

/// The container's line in `line`, when `line` has a container runtime's prefix. A syslog
/// line with an RFC 3339 stamp has a host name where the prefix has the stream, so the
/// stream's two names tell them apart; a line without a `T` at the stamp's eleventh byte is
/// neither and is let through after one comparison.
#[inline]
pub fn strip(line: &[u8]) -> Option<ContainerLine<'_>> {
    if line.get(10) != Some(&b'T') {
        return None;
    }
    strip_prefix(line)
}

#[cold]
fn strip_prefix(line: &[u8]) -> Option<ContainerLine<'_>> {
    // RFC 3339 with nanoseconds and an offset is at most 35 bytes.
    let space = memchr::memchr(b' ', &line[..line.len().min(40)])?;
    let rest = &line[space + 1..];
    let rest = rest
        .strip_prefix(b"stdout ")
        .or_else(|| rest.strip_prefix(b"stderr "))?;
    let (tags, text) = match memchr::memchr(b' ', rest) {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    // Tags are separated by colons; `P` marks a partial line, `F` a whole one.
    let mut tags = tags.split(|&b| b == b':');
    if tags.clone().any(|tag| tag == b"P") {
        return Some(ContainerLine::Partial);
    }
    tags.any(|tag| tag == b"F")
        .then_some(ContainerLine::Whole(text))
}

/// The container lines of `prefix`'s first lines, one a line, for format detection: empty
/// when its first line has no runtime's prefix.
pub fn lines_of(prefix: &[u8]) -> Vec<u8> {
    let mut lines = Vec::new();
    let mut all = prefix.split(|&b| b == b'\n').take(200).peekable();
    if all.peek().is_none_or(|first| strip(first).is_none()) {
        return lines;
    }
    for line in all {
        if let Some(ContainerLine::Whole(text)) = strip(line) {
            lines.extend_from_slice(text);
            lines.push(b'\n');
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_taken_off_whole_lines() {
        let line = b"2025-06-10T06:27:30.123456789Z stdout F Jun 10 06:27:30 mx1 postfix/qmgr[9]: A1B2C3D4E5: removed";
        assert_eq!(
            strip(line),
            Some(ContainerLine::Whole(
                b"Jun 10 06:27:30 mx1 postfix/qmgr[9]: A1B2C3D4E5: removed"
            ))
        );
        let exim =
            b"2025-03-10T09:00:02.5+01:00 stderr F 2025-03-10 09:00:02 1tAAAA-0001aB-Cd Completed";
        assert_eq!(
            strip(exim),
            Some(ContainerLine::Whole(
                b"2025-03-10 09:00:02 1tAAAA-0001aB-Cd Completed"
            ))
        );
        assert_eq!(
            strip(b"2025-06-10T06:27:30Z stdout F"),
            Some(ContainerLine::Whole(b""))
        );
        assert_eq!(
            strip(b"2025-06-10T06:27:30Z stdout P Jun 10 06:27:30 mx1 post"),
            Some(ContainerLine::Partial)
        );
    }

    #[test]
    fn syslog_and_exim_lines_are_let_through() {
        for line in [
            &b"2025-06-10T06:27:30.123456+02:00 mx1 postfix/smtp[4]: A1B2C3D4E5: to=<a@b>"[..],
            b"2025-06-10T06:27:30.123456+02:00 stdout-relay postfix/smtp[4]: x",
            b"2025-03-10 09:00:02 1tAAAA-0001aB-Cd Completed",
            b"Jun 10 06:27:30 mx1 postfix/qmgr[9]: A1B2C3D4E5: removed",
            b"2025-06-10T06:27:30Z stdout X text",
            b"short",
        ] {
            assert_eq!(strip(line), None, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn detection_reads_the_lines_behind_the_prefixes() {
        let log = b"2025-06-10T06:27:30Z stdout F Jun 10 06:27:30 mx1 postfix/smtp[4]: x\n\
                    2025-06-10T06:27:30Z stdout P Jun 10 06:27:30 mx1 postfix/smtp[4]: part\n\
                    2025-06-10T06:27:31Z stderr F 2025-03-10 09:00:02 1tAAAA-0001aB-Cd Completed\n";
        assert_eq!(
            lines_of(log),
            b"Jun 10 06:27:30 mx1 postfix/smtp[4]: x\n2025-03-10 09:00:02 1tAAAA-0001aB-Cd Completed\n"
        );
        assert!(lines_of(b"Jun 10 06:27:30 mx1 postfix/smtp[4]: x\n").is_empty());
    }
}
