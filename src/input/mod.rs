//! Input discovery, decompression and chunking.
