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
//! activity-log actions --catalogue catalogue.json
//! activity-log verify --public-key seal.pub --checkpoint checkpoint.txt
//! activity-log checkpoint > checkpoint.txt
//! ```
//!
//! Errors print as one line, `error: …`, and exit with status 1 (2 for a
//! malformed command line).

mod args;
mod commands;
mod seal_commands;
mod table;

use std::error::Error;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use sea_orm::DbErr;

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
    let _ = writeln!(io::stderr(), "{}", error_line(error));
    ExitCode::FAILURE
}

/// `error: ` and each link of the error chain, once, separated by `: `, on
/// one line. An error's message is its own, its cause being its source; but
/// sea-orm's `DbErr` already ends its message with its cause (and returns it
/// as its source too), so the chain is complete once a `DbErr` is written.
fn error_line(error: &(dyn Error + 'static)) -> String {
    let mut line = format!("error: {error}");
    let mut link = error;
    while !link.is::<DbErr>()
        && let Some(cause) = link.source()
    {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        link = cause;
    }
    line.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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

#[cfg(test)]
mod tests {
    use sea_orm::RuntimeErr;
    use sea_orm_activity::{AnonymizeError, ExportError};
    use tower_activity::{SinkError, StoreError};

    use super::*;

    fn missing_table() -> DbErr {
        DbErr::Query(RuntimeErr::Internal("no such table: activity_log".to_owned()))
    }

    #[test]
    fn each_link_of_the_chain_is_written_once() {
        let error = StoreError::new(io::Error::other("disk gone"));
        assert_eq!(error_line(&error), "error: activity store failed: disk gone");

        let error = SinkError::new(io::Error::new(io::ErrorKind::TimedOut, "no answer"));
        assert_eq!(error_line(&error), "error: activity sink failed: no answer");

        let error = ExportError::from(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        assert_eq!(error_line(&error), "error: writing the export failed: disk full");

        let error = AnonymizeError::EmptySubject;
        assert_eq!(error_line(&error), "error: cannot anonymize an empty actor id");
    }

    #[test]
    fn a_database_error_is_written_once_with_its_cause() {
        // `DbErr` writes its cause into its message and returns it as its
        // source as well.
        let error = missing_table();
        assert!(error.source().is_some());
        assert_eq!(
            error_line(&error),
            "error: Query Error: no such table: activity_log"
        );

        let error = StoreError::new(missing_table());
        assert_eq!(
            error_line(&error),
            "error: activity store failed: Query Error: no such table: activity_log"
        );

        let error = AnonymizeError::from(missing_table());
        assert_eq!(
            error_line(&error),
            "error: reading or rewriting the activity log failed: Query Error: no such table: activity_log"
        );
    }

    #[test]
    fn the_line_holds_no_control_characters() {
        let error = StoreError::new("first line\nsecond\tline");
        assert_eq!(
            error_line(&error),
            "error: activity store failed: first line second line"
        );
    }
}
