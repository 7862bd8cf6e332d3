//! A set of actions named by an action or a namespace: [`ActionPattern`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::action::{Action, InvalidAction, MAX_ACTION_LEN, name_is_in};

/// A set of actions: an action name (`auth.login.failed`, `read`), a
/// namespace (`auth`), or a namespace followed by `.*` (`auth.*`, the same as
/// `auth`), covering the action of that name and every action under it, as
/// [`Action::is_in`] decides. Made by parsing. Filters
/// ([`ActivityFilter::action_pattern`](crate::ActivityFilter::action_pattern))
/// and retention overrides name actions with it.
///
/// Names follow the rules of [`Action`]: dot-separated segments of lowercase
/// ASCII letters, digits and `_`, each starting with a letter, at most
/// [`MAX_ACTION_LEN`] bytes.
///
/// ```
/// use tower_activity::ActionPattern;
///
/// let auth: ActionPattern = "auth.*".parse().unwrap();
/// assert_eq!(auth.as_str(), "auth");
/// assert!(auth.covers("auth.login.failed"));
/// assert!(!auth.covers("authz.checked"));
/// for mistyped in ["Auth", "auth*", "auth.", "*", "auth login"] {
///     assert!(mistyped.parse::<ActionPattern>().is_err(), "{mistyped}");
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionPattern(String);

impl ActionPattern {
    /// The action or namespace covered, without a trailing `.*`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the action named `action` is covered: it is the pattern's
    /// action, or lies under its namespace.
    pub fn covers(&self, action: &str) -> bool {
        name_is_in(action, &self.0)
    }
}

impl fmt::Display for ActionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text that is not an [`ActionPattern`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid action pattern {pattern:?}: expected an action name (auth.login.failed), a namespace (auth) \
     or a namespace followed by .* (auth.*), in dot-separated segments of lowercase letters, digits and '_', \
     each starting with a letter, at most {max} bytes",
    max = MAX_ACTION_LEN
)]
pub struct InvalidActionPattern {
    pattern: String,
}

impl FromStr for ActionPattern {
    type Err = InvalidActionPattern;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.strip_suffix(".*").unwrap_or(text);
        // A namespace such as `auth` is no action by itself: it is checked as
        // the name of an action under it.
        let checked = if name.contains('.') {
            name.to_owned()
        } else {
            format!("{name}.x")
        };
        match Action::custom(checked) {
            Ok(_) => Ok(ActionPattern(name.to_owned())),
            Err(_) => Err(InvalidActionPattern {
                pattern: text.chars().take(MAX_ACTION_LEN + 16).collect(),
            }),
        }
    }
}

impl Serialize for ActionPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ActionPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What an action filter value names: one action (`auth.login.failed`), or,
/// ending in `.*`, every action under a namespace (`auth.*`). The log
/// router's `action` parameter and the CLI's `--action` take either; add it
/// to a filter with [`ActivityFilter::select_action`](crate::ActivityFilter::select_action).
///
/// ```
/// use tower_activity::{ActionSelector, Action};
///
/// assert_eq!("read".parse(), Ok(ActionSelector::Action(Action::Read)));
/// assert_eq!("auth.*".parse(), Ok(ActionSelector::Namespace("auth".parse().unwrap())));
/// assert!("auth*".parse::<ActionSelector>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionSelector {
    /// This action.
    Action(Action),
    /// Every action under this namespace.
    Namespace(ActionPattern),
}

/// Text that is neither an action name nor a namespace followed by `.*`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidActionSelector {
    /// Not an action name.
    #[error(transparent)]
    Action(#[from] InvalidAction),
    /// Ends in `.*` but is not a namespace.
    #[error(transparent)]
    Namespace(#[from] InvalidActionPattern),
}

impl FromStr for ActionSelector {
    type Err = InvalidActionSelector;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.ends_with(".*") {
            return Ok(ActionSelector::Namespace(text.parse()?));
        }
        Ok(ActionSelector::Action(text.parse()?))
    }
}
