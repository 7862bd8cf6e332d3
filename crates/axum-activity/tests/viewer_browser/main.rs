//! The viewer in a real browser: headless Chromium, driven over WebDriver,
//! against the log router on a loopback server. Runs when
//! `ACTIVITY_TEST_CHROMIUM` names the browser (as `scripts/test` does);
//! without it each test prints a notice and checks nothing.

#[path = "../support/roles.rs"]
mod roles;
#[path = "../support/mod.rs"]
mod support;

mod browser;
mod events;
mod fixtures;

mod access;
mod filters;
mod live;
mod screenshots;
mod table;
