//! Syslog envelopes.
