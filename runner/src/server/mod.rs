//! `strata serve`: the pull-request server.
//!
//! GitHub's webhook deliveries come in through [`http`], which verifies and
//! reads them with [`webhook`] (signatures, events as our own types) and
//! queues the ones with work to do as jobs; [`command`] reads the `/strata`
//! commands people type in pull-request comments. The [`worker`] takes the
//! jobs (plans, applies, comments), keeping mirrors of the repositories (`repo::mirror`)
//! and saying what it did in the words of [`comment`]. [`metrics`] counts
//! what all of them do, for `/metrics` and `/healthz`.

pub mod command;
pub mod comment;
pub mod http;
pub mod metrics;
pub mod webhook;
pub mod worker;
