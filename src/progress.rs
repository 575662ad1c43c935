//! Progress bar on stderr: bytes read out of the total, and throughput.
//!
//! The pipeline creates one [`Progress`] with the summed sizes of the inputs and shares clones
//! of it with its workers, which call [`Progress::inc`] once per chunk or block (never per line).
//! Streams opened through [`crate::input::open_with`] advance it themselves through
//! [`ProgressReader`], counting bytes as they come off the disk. Nothing is drawn when stderr is
//! not a terminal or when the user asked for quiet, so logs and pipes stay clean.

use std::borrow::Cow;
use std::io::{self, Read};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shared handle on the progress bar. Cloning is cheap (a reference count) and every clone
/// drives the same bar; `inc` is an atomic add plus a rate-limited redraw.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `total_bytes` (a spinner with a byte count when the total is unknown, e.g. with
    /// stdin among the inputs), hidden when `quiet` or when stderr is not a terminal.
    pub fn new(total_bytes: Option<u64>, quiet: bool) -> Progress {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            // Draws at most 20 times a second, and not at all when stderr is not a terminal.
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(total_bytes, target);
        let template = match total_bytes {
            Some(_) => {
                "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} \
                 ({binary_bytes_per_sec}, {eta} left) {msg}"
            }
            None => "{spinner} [{elapsed_precise}] {bytes} ({binary_bytes_per_sec}) {msg}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress { bar }
    }

    /// A progress that never draws (library use, tests).
    pub fn hidden() -> Progress {
        Progress::new(None, true)
    }

    /// Counts `bytes` more as read.
    pub fn inc(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    /// Bytes counted so far.
    pub fn position(&self) -> u64 {
        self.bar.position()
    }

    /// Short text after the counters, typically the name of the file being read.
    pub fn set_message(&self, message: impl Into<Cow<'static, str>>) {
        self.bar.set_message(message);
    }

    /// Hides the bar while `print` writes to the terminal (warnings about a bad input), so the
    /// two do not garble each other.
    pub fn suspend<T>(&self, print: impl FnOnce() -> T) -> T {
        self.bar.suspend(print)
    }

    /// Removes the bar from the terminal; the summary is printed after it.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Passes bytes through from `inner` and counts them on a [`Progress`].
#[derive(Debug)]
pub struct ProgressReader<R> {
    inner: R,
    progress: Progress,
}

impl<R: Read> ProgressReader<R> {
    /// Wraps `inner`; put it under the decoder so compressed bytes are counted.
    pub fn new(inner: R, progress: Progress) -> ProgressReader<R> {
        ProgressReader { inner, progress }
    }
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.progress.inc(read as u64);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_counter_across_threads() {
        let progress = Progress::new(Some(4000), true);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let progress = progress.clone();
                scope.spawn(move || {
                    for _ in 0..10 {
                        progress.inc(100);
                    }
                });
            }
        });
        assert_eq!(progress.position(), 4000);
        progress.finish();
    }

    #[test]
    fn reader_counts_the_bytes_it_passes_through() {
        let progress = Progress::hidden();
        let mut reader = ProgressReader::new(&b"line one\nline two\n"[..], progress.clone());
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(progress.position(), 18);
    }

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn progress_is_send_sync_clone() {
        assert_send_sync::<Progress>();
    }
}
