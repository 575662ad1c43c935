//! Ties the stages together for `ingest`.
