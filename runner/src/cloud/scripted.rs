//! A scripted [`super::Cloud`] for tests (being written).
