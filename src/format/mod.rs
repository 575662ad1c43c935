//! Format parsers: one per source. A parser turns a line (or record) into zero or more
//! [`crate::event::Event`]s borrowing from it.

pub mod postfix;
pub mod syslog;
