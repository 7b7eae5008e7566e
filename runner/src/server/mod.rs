//! `strata serve`: the pull-request server.
//!
//! GitHub's webhook deliveries come in through [`http`], which verifies and
//! reads them with [`webhook`] (signatures, events as our own types) and
//! queues the ones with work to do as jobs; [`command`] reads the `/strata`
//! commands people type in pull-request comments. The worker that takes the
//! jobs (plans, applies, comments) lives beside them.

pub mod command;
pub mod http;
pub mod webhook;
