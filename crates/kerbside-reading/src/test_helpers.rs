//! Proptest generators.
