//! Test support for bravo_metrics; see the README of this crate.
