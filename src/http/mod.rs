//! The HTTP adapters over the shell: who may reach the server ([`access`]), the JSON API under
//! `/api/v1` ([`api`]), serving it with the web UI and the `Simulator` fixture ([`server`]), and
//! requests to a developer's backend, as `my.request` makes them ([`backend`]).

pub mod access;
pub mod api;
pub mod backend;
pub mod server;
