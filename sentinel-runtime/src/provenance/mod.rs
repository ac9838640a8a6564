//! Provenance verification (being written).
