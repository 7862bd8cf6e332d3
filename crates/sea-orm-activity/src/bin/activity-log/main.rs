//! `activity-log`: the operator's command for an application's activity log.
//!
//! ```text
//! activity-log --database-url postgres://… migrate
//! activity-log query --tenant acme --action delete --since 24h
//! activity-log tail --outcome error
//! activity-log stats --since 30d
//! activity-log export --format csv --since 2025-01-01 --output january.csv
//! activity-log prune --older-than 90d --keep auth=365d
//! activity-log anonymize --actor u_42
//! ```
//!
//! Errors print as one line, `error: …`, and exit with status 1 (2 for a
//! malformed command line).

mod args;
mod commands;
mod table;

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::args::Cli;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // clap spreads its message over lines, then shows the usage: keep
            // the message, on one line.
            let text = error.to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
                .filter(|line| !line.is_empty() && !line.starts_with("tip:"))
                .collect();
            let _ = writeln!(io::stderr(), "{} (see --help)", message.join(" "));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): nothing is wrong.
        Err(error) if is_broken_pipe(&*error) => ExitCode::SUCCESS,
        Err(error) => fail(&*error),
    }
}

/// Prints `error` and its causes as one line.
fn fail(error: &(dyn Error + 'static)) -> ExitCode {
    let mut line = format!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        // Many errors repeat their cause in their own message: say it once.
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    let line: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let _ = writeln!(io::stderr(), "{line}");
    ExitCode::FAILURE
}

fn is_broken_pipe(error: &(dyn Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error
            .downcast_ref::<io::Error>()
            .is_some_and(|error| error.kind() == io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        current = error.source();
    }
    false
}
