//! Git access (work in progress).
