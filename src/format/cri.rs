//! Container logs as Kubernetes' runtimes (containerd, CRI-O) write them under
//! `/var/log/containers/`: each line of the container's output behind its own prefix,
//! `2025-06-10T06:27:30.123456789Z stdout F `. The prefix gives the time the runtime read
//! the line, the stream, and whether the line is whole (`F`) or the part of a longer line
//! (`P`, for lines over the runtime's limit, 16 kB by default: the next line of the same
//! stream goes on with it). A Postfix or Exim container writing its log to standard output
//! leaves its own lines behind that prefix; they are read as they stand, and the parts of a
//! cut line are joined first ([`Joiner`]).

/// What a container log's line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerLine<'a> {
    /// The end of a line of the container's output: a whole line, or the last part of one
    /// the runtime cut.
    Whole(Stream, &'a [u8]),
    /// A part of a line the runtime cut, which the stream's next line goes on with.
    Partial(Stream, &'a [u8]),
}

/// The container's output stream a line was read from. A runtime cuts the lines of each
/// stream on their own, and their parts can interleave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

/// The reason a cut line whose end never came (within the block) is counted under.
pub const PARTIAL: &str = "container log: part of a cut line without its end";
/// The reason a cut line longer than the longest line read is counted under.
pub const TOO_LONG: &str = "line too long";

/// Joins the parts of the lines a runtime cut, stream by stream, into the lines the
/// container wrote.
#[derive(Debug, Default)]
pub struct Joiner {
    /// Each stream's parts so far, and the number of the line its first part was on.
    parts: [(Vec<u8>, u64); 2],
    /// Whether a stream's parts so far are over the longest line read.
    too_long: [bool; 2],
    /// The last line joined.
    line: Vec<u8>,
}

/// What a container line gives, once joined.
#[derive(Debug, PartialEq, Eq)]
pub enum Joined<'a> {
    /// A line to read: the text of a whole line, or a cut line's parts joined.
    Line(&'a [u8]),
    /// A part, kept until the stream's line ends.
    Held,
    /// A cut line longer than `max` bytes, dropped.
    TooLong,
}

impl Joiner {
    /// Takes `line`, the `number`th line of the block, and gives the container's line when
    /// it ends one. Parts past `max` bytes are dropped, and the line is [`Joined::TooLong`].
    pub fn feed<'a>(&'a mut self, line: ContainerLine<'a>, number: u64, max: usize) -> Joined<'a> {
        match line {
            ContainerLine::Partial(stream, text) => {
                let (parts, first) = &mut self.parts[stream as usize];
                if parts.is_empty() && !self.too_long[stream as usize] {
                    *first = number;
                }
                if parts.len() + text.len() > max {
                    parts.clear();
                    self.too_long[stream as usize] = true;
                } else if !self.too_long[stream as usize] {
                    parts.extend_from_slice(text);
                }
                Joined::Held
            }
            ContainerLine::Whole(stream, text) => {
                if std::mem::take(&mut self.too_long[stream as usize]) {
                    return Joined::TooLong;
                }
                let (parts, _) = &mut self.parts[stream as usize];
                if parts.is_empty() {
                    return Joined::Line(text);
                }
                if parts.len() + text.len() > max {
                    parts.clear();
                    return Joined::TooLong;
                }
                std::mem::swap(&mut self.line, parts);
                parts.clear();
                self.line.extend_from_slice(text);
                Joined::Line(&self.line)
            }
        }
    }

    /// The lines whose end has not come (at the end of a block: the rest lies in the next
    /// one), each with the reason to count it under ([`PARTIAL`], or [`TOO_LONG`] when its
    /// parts were already over the limit and dropped), the number of the line it began on
    /// and its parts; and forgets them.
    pub fn unfinished(&mut self) -> Vec<(&'static str, u64, Vec<u8>)> {
        let mut unfinished = Vec::new();
        for (i, (parts, first)) in self.parts.iter_mut().enumerate() {
            if std::mem::take(&mut self.too_long[i]) {
                unfinished.push((TOO_LONG, *first, std::mem::take(parts)));
            } else if !parts.is_empty() {
                unfinished.push((PARTIAL, *first, std::mem::take(parts)));
            }
        }
        unfinished
    }
}

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
    let (stream, rest) = match rest.strip_prefix(b"stdout ") {
        Some(rest) => (Stream::Stdout, rest),
        None => (Stream::Stderr, rest.strip_prefix(b"stderr ")?),
    };
    let (tags, text) = match memchr::memchr(b' ', rest) {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (rest, &rest[rest.len()..]),
    };
    // Tags are separated by colons; `P` marks a partial line, `F` a whole one.
    let mut tags = tags.split(|&b| b == b':');
    if tags.clone().any(|tag| tag == b"P") {
        return Some(ContainerLine::Partial(stream, text));
    }
    tags.any(|tag| tag == b"F")
        .then_some(ContainerLine::Whole(stream, text))
}

/// The container lines of `prefix`'s first lines, one a line, for format detection: empty
/// when its first line has no runtime's prefix.
pub fn lines_of(prefix: &[u8]) -> Vec<u8> {
    let mut lines = Vec::new();
    let mut all = prefix.split(|&b| b == b'\n').take(200).peekable();
    if all.peek().is_none_or(|first| strip(first).is_none()) {
        return lines;
    }
    let mut joiner = Joiner::default();
    for line in all {
        if let Some(line) = strip(line)
            && let Joined::Line(text) = joiner.feed(line, 0, 1 << 16)
        {
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
                Stream::Stdout,
                b"Jun 10 06:27:30 mx1 postfix/qmgr[9]: A1B2C3D4E5: removed"
            ))
        );
        let exim =
            b"2025-03-10T09:00:02.5+01:00 stderr F 2025-03-10 09:00:02 1tAAAA-0001aB-Cd Completed";
        assert_eq!(
            strip(exim),
            Some(ContainerLine::Whole(
                Stream::Stderr,
                b"2025-03-10 09:00:02 1tAAAA-0001aB-Cd Completed"
            ))
        );
        assert_eq!(
            strip(b"2025-06-10T06:27:30Z stdout F"),
            Some(ContainerLine::Whole(Stream::Stdout, b""))
        );
        assert_eq!(
            strip(b"2025-06-10T06:27:30Z stdout P Jun 10 06:27:30 mx1 post"),
            Some(ContainerLine::Partial(
                Stream::Stdout,
                b"Jun 10 06:27:30 mx1 post"
            ))
        );
    }

    /// The parts of a cut line are joined per stream, whatever the other stream writes
    /// between them; a line over the limit is dropped whole; parts without their end are
    /// handed back with the number of the line they began on.
    #[test]
    fn cut_lines_are_joined_stream_by_stream() {
        let mut joiner = Joiner::default();
        let mut feed = |line: &str, number: u64| -> Result<Option<String>, ()> {
            match joiner.feed(strip(line.as_bytes()).unwrap(), number, 40) {
                Joined::Line(text) => Ok(Some(String::from_utf8(text.to_vec()).unwrap())),
                Joined::Held => Ok(None),
                Joined::TooLong => Err(()),
            }
        };
        assert_eq!(
            feed("2025-06-10T06:27:30Z stdout P Jun 10 mx1 ", 1),
            Ok(None)
        );
        assert_eq!(feed("2025-06-10T06:27:30Z stderr P warn", 2), Ok(None));
        assert_eq!(
            feed("2025-06-10T06:27:30Z stdout P postfix/smtp[4]: ", 3),
            Ok(None)
        );
        assert_eq!(
            feed("2025-06-10T06:27:30Z stderr F ing", 4),
            Ok(Some("warning".into()))
        );
        assert_eq!(
            feed("2025-06-10T06:27:30Z stdout F A1: removed", 5),
            Ok(Some("Jun 10 mx1 postfix/smtp[4]: A1: removed".into()))
        );
        assert_eq!(
            feed("2025-06-10T06:27:30Z stdout F whole", 6),
            Ok(Some("whole".into()))
        );
        // Over 40 bytes: dropped up to its end, the next line read again.
        assert_eq!(
            feed(
                "2025-06-10T06:27:30Z stdout P 0123456789012345678901234567",
                7
            ),
            Ok(None)
        );
        assert_eq!(
            feed("2025-06-10T06:27:30Z stdout P 0123456789012345", 8),
            Ok(None)
        );
        assert_eq!(feed("2025-06-10T06:27:30Z stdout P more", 9), Ok(None));
        assert_eq!(feed("2025-06-10T06:27:30Z stdout F end", 10), Err(()));
        assert_eq!(
            feed(
                "2025-06-10T06:27:30Z stdout P 0123456789012345678901234567",
                11
            ),
            Ok(None)
        );
        assert_eq!(
            feed("2025-06-10T06:27:30Z stdout F 0123456789012345", 12),
            Err(())
        );
        assert_eq!(
            feed("2025-06-10T06:27:30Z stdout F after", 13),
            Ok(Some("after".into()))
        );
        // The block ends before the stderr line does.
        assert_eq!(
            feed("2025-06-10T06:27:30Z stderr P Jun 10 mx1 cut", 14),
            Ok(None)
        );
        assert_eq!(feed("2025-06-10T06:27:30Z stderr P  here", 15), Ok(None));
        assert_eq!(
            joiner.unfinished(),
            vec![(PARTIAL, 14, b"Jun 10 mx1 cut here".to_vec())]
        );
        assert!(joiner.unfinished().is_empty());
        // A line already over the limit when the block ends is counted as too long.
        let mut joiner = Joiner::default();
        for (n, part) in [
            (16, "0123456789012345678901234567"),
            (17, "0123456789012345"),
        ] {
            let line = format!("2025-06-10T06:27:30Z stdout P {part}");
            let line = strip(line.as_bytes()).unwrap();
            assert_eq!(joiner.feed(line, n, 40), Joined::Held);
        }
        assert_eq!(joiner.unfinished(), vec![(TOO_LONG, 16, Vec::new())]);
        assert!(joiner.unfinished().is_empty());
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
                    2025-06-10T06:27:30Z stdout P Jun 10 06:27:30 mx1 postfix/smtp[4]: par\n\
                    2025-06-10T06:27:31Z stderr F 2025-03-10 09:00:02 1tAAAA-0001aB-Cd Completed\n\
                    2025-06-10T06:27:31Z stdout F t\n";
        assert_eq!(
            lines_of(log),
            b"Jun 10 06:27:30 mx1 postfix/smtp[4]: x\n2025-03-10 09:00:02 1tAAAA-0001aB-Cd Completed\n\
              Jun 10 06:27:30 mx1 postfix/smtp[4]: part\n"
        );
        assert!(lines_of(b"Jun 10 06:27:30 mx1 postfix/smtp[4]: x\n").is_empty());
    }
}
