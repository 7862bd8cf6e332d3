//! Integration tests: every test that touches a database runs on SQLite,
//! PostgreSQL and MariaDB / MySQL over real connections (see `support`).

mod alerts;
mod anonymize;
#[cfg(feature = "cli")]
mod cli;
#[cfg(feature = "cli")]
mod cli_catalogue;
#[cfg(feature = "cli")]
mod cli_seal;
mod events;
mod export;
mod filters;
mod poison;
mod query;
mod retention;
mod schema;
#[cfg(feature = "seal")]
mod seal;
#[cfg(feature = "seal")]
mod seal_kept;
#[cfg(feature = "seal")]
mod seal_scope;
mod support;
mod write;
