//! Progress bar on stderr.
