//! `nipc` end to end (being written).
