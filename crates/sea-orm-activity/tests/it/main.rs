//! Integration tests: every test that touches a database runs on SQLite,
//! PostgreSQL and MariaDB / MySQL over real connections (see `support`).

mod anonymize;
#[cfg(feature = "cli")]
mod cli;
mod events;
mod export;
mod filters;
mod query;
mod retention;
mod schema;
mod support;
mod write;
