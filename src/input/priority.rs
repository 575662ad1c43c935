//! Scheduling priority of the threads that parse decoded blocks.
//!
//! A compressed input is decoded by one thread, and the workers parse what it decodes. When
//! there are as many workers as cores, the decoder shares a core with a worker and the
//! scheduler gives it only its fair part of that core, although everything else waits for
//! it: with two cores, a gzip file was read at 0.75 of the decoder's own speed. A worker that
//! parses a decoded block therefore lowers its own priority (once; an unprivileged thread cannot
//! raise it again). The decoder then runs whenever it has work, and the workers take all the
//! cores whenever it waits for its consumers. Plain (memory-mapped) files have no decoder, and
//! their workers keep their priority.

use std::cell::Cell;

/// How much nicer than the rest of the process the workers become: at 10, a decoder at the
/// default priority weighs about nine times a worker when they share a core.
const WORKER_NICENESS: i32 = 10;

/// Lowers the calling thread's priority below the decoder threads', once per thread. Does
/// nothing where threads have no priority of their own (outside Linux).
pub fn yield_to_decoders() {
    thread_local! {
        static LOWERED: Cell<bool> = const { Cell::new(false) };
    }
    if !LOWERED.with(|lowered| lowered.replace(true)) {
        lower_this_thread();
    }
}

#[cfg(target_os = "linux")]
fn lower_this_thread() {
    // SAFETY: plain system calls on the calling thread's own id; they touch no memory of
    // ours. On Linux, PRIO_PROCESS with a thread id sets that one thread's nice value.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        let current = libc::getpriority(libc::PRIO_PROCESS, tid);
        let _ = libc::setpriority(
            libc::PRIO_PROCESS,
            tid,
            current.saturating_add(WORKER_NICENESS).min(19),
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_thread() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> i32 {
        // SAFETY: as above.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
    }

    #[test]
    fn lowers_the_calling_thread_once_and_no_other() {
        let main_before = nice_of_this_thread();
        let (first, second) = std::thread::spawn(|| {
            let before = nice_of_this_thread();
            yield_to_decoders();
            let first = nice_of_this_thread();
            yield_to_decoders();
            (first - before, nice_of_this_thread() - before)
        })
        .join()
        .unwrap();
        let expected = (main_before + WORKER_NICENESS).min(19) - main_before;
        assert_eq!(first, expected);
        assert_eq!(second, expected, "lowered once, not twice");
        assert_eq!(
            nice_of_this_thread(),
            main_before,
            "other threads keep theirs"
        );
    }
}
