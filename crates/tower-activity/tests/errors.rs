//! The errors of the crate say each cause once: an error's message is its own,
//! and what caused it is its `source()`, never both.

use std::error::Error;
use std::io;

use tower_activity::export::ExportFormat;
use tower_activity::{Action, ActorKind, Cursor, LogError, Outcome, SinkError, StoreError, TrustedProxies};

/// Asserts that no error in `error`'s chain repeats the message of its
/// source, and returns the messages of the chain.
fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut link = error;
    while let Some(source) = link.source() {
        let (message, cause) = (link.to_string(), source.to_string());
        assert!(
            !message.contains(&cause),
            "{message:?} repeats its source {cause:?}"
        );
        messages.push(cause);
        link = source;
    }
    messages
}

#[test]
fn a_sink_error_leaves_its_cause_to_source() {
    let error = SinkError::new(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        "database unavailable",
    ));
    assert_eq!(error.to_string(), "activity sink failed");
    let source = error.source().expect("the cause is the source");
    assert_eq!(
        source.downcast_ref::<io::Error>().map(io::Error::kind),
        Some(io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(chain(&error), ["activity sink failed", "database unavailable"]);

    let error = SinkError::new("replica lag");
    assert_eq!(chain(&error), ["activity sink failed", "replica lag"]);
}

#[test]
fn a_store_error_leaves_its_cause_to_source() {
    let error = StoreError::new(io::Error::other("replica went away"));
    assert_eq!(error.to_string(), "activity store failed");
    assert!(error.source().unwrap().is::<io::Error>());
    assert_eq!(chain(&error), ["activity store failed", "replica went away"]);

    // Wrapped in one another, each still says its own part.
    let error = SinkError::new(StoreError::new("disk full"));
    assert_eq!(
        chain(&error),
        ["activity sink failed", "activity store failed", "disk full"]
    );
}

#[test]
fn errors_without_a_cause_say_everything_themselves() {
    let errors: Vec<Box<dyn Error>> = vec![
        Box::new("Auth.Login".parse::<Action>().unwrap_err()),
        Box::new("fine".parse::<Outcome>().unwrap_err()),
        Box::new("robot".parse::<ActorKind>().unwrap_err()),
        Box::new("xlsx".parse::<ExportFormat>().unwrap_err()),
        Box::new("c1zz".parse::<Cursor>().unwrap_err()),
        Box::new(TrustedProxies::parse(["ten"]).unwrap_err()),
        Box::new(LogError::QueueFull),
    ];
    for error in errors {
        assert!(!error.to_string().is_empty());
        assert!(error.source().is_none(), "{error}");
    }
}
