//! Postfix log lines.
