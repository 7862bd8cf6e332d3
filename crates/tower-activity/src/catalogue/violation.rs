//! An event that breaks the catalogue: [`CatalogueViolation`], and the mark a
//! lenient catalogue leaves on it.

use std::fmt;

use super::DetailType;

/// The details key under which a lenient [`Catalogue`](crate::Catalogue)
/// marks an event that breaks it, with the [`CatalogueViolation`]'s message
/// as the value: `{"catalogue": "action \"billing.refund\" is not in the
/// catalogue"}`. It is kept through scrubbing and shows in every export.
pub const CATALOGUE_KEY: &str = "catalogue";

/// What is wrong with an event the catalogue does not admit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViolationKind {
    /// The action is not in the catalogue.
    UnknownAction,
    /// A required detail is missing (or `null`).
    MissingKey,
    /// A detail has the wrong type.
    WrongType {
        /// The type the schema asks for.
        expected: DetailType,
        /// The JSON type the event has.
        found: &'static str,
    },
    /// A detail is not in the action's schema (schemas are closed).
    UnknownKey,
    /// The details are not a JSON object.
    NotAnObject {
        /// The JSON type the details are.
        found: &'static str,
    },
}

/// An event the [`Catalogue`](crate::Catalogue) does not admit: an unknown
/// action, or details that break the action's schema. Its message names the
/// action and the key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CatalogueViolation {
    action: String,
    key: Option<String>,
    kind: ViolationKind,
}

impl CatalogueViolation {
    pub(super) fn new(action: &str, key: Option<&str>, kind: ViolationKind) -> Self {
        CatalogueViolation {
            action: action.to_owned(),
            key: key.map(str::to_owned),
            kind,
        }
    }

    /// The event's action.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The detail key at fault, when one is.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// What is wrong.
    pub fn kind(&self) -> ViolationKind {
        self.kind
    }
}

/// `a` or `an` before a JSON type name.
fn article(name: &str) -> &'static str {
    match name.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => "an",
        _ => "a",
    }
}

impl fmt::Display for CatalogueViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = &self.action;
        let key = self.key.as_deref().unwrap_or_default();
        match self.kind {
            ViolationKind::UnknownAction => write!(f, "action {action:?} is not in the catalogue"),
            ViolationKind::MissingKey => write!(f, "action {action:?}: required detail {key:?} is missing"),
            ViolationKind::WrongType { expected, found } => write!(
                f,
                "action {action:?}: detail {key:?} must be {} {expected}, not {} {found}",
                article(expected.as_str()),
                article(found),
            ),
            ViolationKind::UnknownKey => write!(
                f,
                "action {action:?}: detail {key:?} is not in the action's schema"
            ),
            ViolationKind::NotAnObject { found } => write!(
                f,
                "action {action:?}: details must be a JSON object, not {} {found}",
                article(found)
            ),
        }
    }
}
