//! Whether it worked: the outcome of an action.

use std::fmt;
use std::str::FromStr;

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// How an action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It worked.
    Success,
    /// It was refused or invalid: denied, not found, rejected input. Security
    /// reviews look for these.
    Warning,
    /// It failed on the server's side.
    Error,
    /// It failed badly: a panic, or a fault that needs attention now.
    Critical,
}

impl Outcome {
    /// The outcome an HTTP status implies: 1xx-3xx success, 4xx warning, 5xx
    /// error.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_activity::Outcome;
    ///
    /// assert_eq!(Outcome::from_status(StatusCode::CREATED), Outcome::Success);
    /// assert_eq!(Outcome::from_status(StatusCode::FORBIDDEN), Outcome::Warning);
    /// assert_eq!(Outcome::from_status(StatusCode::BAD_GATEWAY), Outcome::Error);
    /// ```
    pub fn from_status(status: StatusCode) -> Self {
        if status.is_server_error() {
            Outcome::Error
        } else if status.is_client_error() {
            Outcome::Warning
        } else {
            Outcome::Success
        }
    }

    /// The outcome's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Warning => "warning",
            Outcome::Error => "error",
            Outcome::Critical => "critical",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the outcomes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown outcome (expected success, warning, error or critical)")]
pub struct UnknownOutcome;

impl FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(match name {
            "success" => Outcome::Success,
            "warning" => Outcome::Warning,
            "error" => Outcome::Error,
            "critical" => Outcome::Critical,
            _ => return Err(UnknownOutcome),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(Outcome::from_status(StatusCode::NO_CONTENT), Outcome::Success);
        assert_eq!(Outcome::from_status(StatusCode::NOT_FOUND), Outcome::Warning);
        assert_eq!(
            Outcome::from_status(StatusCode::UNPROCESSABLE_ENTITY),
            Outcome::Warning
        );
        assert_eq!(
            Outcome::from_status(StatusCode::INTERNAL_SERVER_ERROR),
            Outcome::Error
        );
    }

    #[test]
    fn names_round_trip() {
        for outcome in [
            Outcome::Success,
            Outcome::Warning,
            Outcome::Error,
            Outcome::Critical,
        ] {
            assert_eq!(outcome.as_str().parse::<Outcome>().unwrap(), outcome);
        }
        assert!("fine".parse::<Outcome>().is_err());
    }
}
