//! What happened: the four CRUD verbs and validated, namespaced custom actions.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest action name accepted, in bytes.
pub const MAX_ACTION_LEN: usize = 64;

/// What an actor did.
///
/// The four CRUD verbs cover what handler wrappers record; anything else is a
/// namespaced custom action such as `auth.login.failed` or `export.downloaded`.
///
/// ```
/// use tower_activity::Action;
///
/// assert_eq!(Action::Create.as_str(), "create");
/// let failed: Action = "auth.login.failed".parse().unwrap();
/// assert_eq!(failed.as_str(), "auth.login.failed");
/// assert!("Login Failed!".parse::<Action>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// A resource was created.
    Create,
    /// A resource was read.
    Read,
    /// A resource was changed.
    Update,
    /// A resource was deleted.
    Delete,
    /// A namespaced custom action, validated by [`Action::custom`].
    Custom(CustomAction),
}

/// A validated custom action name: at least two dot-separated segments of
/// lowercase ASCII letters, digits and `_`, each starting with a letter, at most
/// [`MAX_ACTION_LEN`] bytes in all.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomAction(Cow<'static, str>);

impl CustomAction {
    /// The action name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An action name that does not follow the rules of [`Action::custom`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid action name {name:?}: {reason}")]
pub struct InvalidAction {
    name: String,
    reason: &'static str,
}

impl InvalidAction {
    /// The rejected name, cut to a readable length.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Action {
    /// A custom action from a namespaced name such as `auth.login.failed`.
    ///
    /// The name must be at least two dot-separated segments; each segment is
    /// lowercase ASCII letters, digits and `_` and starts with a letter; the whole
    /// name is at most [`MAX_ACTION_LEN`] bytes. `create`, `read`, `update` and
    /// `delete` are not custom actions: parse them with [`str::parse`].
    pub fn custom(name: impl Into<Cow<'static, str>>) -> Result<Self, InvalidAction> {
        let name = name.into();
        validate(&name).map_err(|reason| InvalidAction {
            name: name.chars().take(MAX_ACTION_LEN + 16).collect(),
            reason,
        })?;
        Ok(Action::Custom(CustomAction(name)))
    }

    /// One of the toolkit's own actions, named by a constant.
    pub(crate) fn system(name: &'static str) -> Self {
        debug_assert!(validate(name).is_ok(), "{name}");
        Action::Custom(CustomAction(Cow::Borrowed(name)))
    }

    /// The action's name as stored: `create`, `read`, `update`, `delete`, or the
    /// custom name.
    pub fn as_str(&self) -> &str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Custom(custom) => custom.as_str(),
        }
    }

    /// The action's namespace: the first segment of a custom action's name
    /// (`auth` for `auth.login.failed`), or the whole name of a CRUD verb
    /// (`create`), which has no namespace of its own.
    pub fn namespace(&self) -> &str {
        let name = self.as_str();
        name.split_once('.').map_or(name, |(namespace, _)| namespace)
    }

    /// Whether the action's name is `namespace` or starts with `namespace.`:
    /// `auth.login.failed` is in `auth` and in `auth.login`.
    pub fn is_in(&self, namespace: &str) -> bool {
        name_is_in(self.as_str(), namespace)
    }
}

/// Whether the action name `name` is `namespace` or starts with `namespace.`.
pub(super) fn name_is_in(name: &str, namespace: &str) -> bool {
    name.strip_prefix(namespace)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

fn validate(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > MAX_ACTION_LEN {
        return Err("it is longer than 64 bytes");
    }
    let mut segments = 0;
    for segment in name.split('.') {
        segments += 1;
        let mut bytes = segment.bytes();
        match bytes.next() {
            None => return Err("it has an empty segment"),
            Some(b'a'..=b'z') => {}
            Some(_) => return Err("each segment must start with a lowercase letter"),
        }
        if !bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_')) {
            return Err("segments may hold only lowercase letters, digits and '_'");
        }
    }
    if segments < 2 {
        return Err("a custom action needs a namespace, as in `auth.login`");
    }
    Ok(())
}

impl FromStr for Action {
    type Err = InvalidAction;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(match name {
            "create" => Action::Create,
            "read" => Action::Read,
            "update" => Action::Update,
            "delete" => Action::Delete,
            other => Action::custom(other.to_owned())?,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = Cow::<'de, str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Anything that names an action: an [`Action`], or a `&str` / `String` that is
/// checked when the event is built.
pub trait IntoAction {
    /// Turns `self` into an action, or says why it is not one.
    fn into_action(self) -> Result<Action, InvalidAction>;
}

impl IntoAction for Action {
    fn into_action(self) -> Result<Action, InvalidAction> {
        Ok(self)
    }
}

impl IntoAction for &str {
    fn into_action(self) -> Result<Action, InvalidAction> {
        self.parse()
    }
}

impl IntoAction for String {
    fn into_action(self) -> Result<Action, InvalidAction> {
        self.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crud_names_round_trip() {
        for action in [Action::Create, Action::Read, Action::Update, Action::Delete] {
            assert_eq!(action.as_str().parse::<Action>().unwrap(), action);
        }
    }

    #[test]
    fn namespaced_custom_actions_are_accepted() {
        for name in ["auth.login.failed", "export.downloaded", "billing.plan_2.changed"] {
            assert_eq!(Action::custom(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn malformed_custom_actions_are_rejected_with_a_reason() {
        for name in [
            "",
            "login",
            "auth..failed",
            ".auth",
            "auth.",
            "Auth.login",
            "auth.login failed",
            "auth.1login",
            "auth.login\n",
            "auth.lögin",
        ] {
            let err = Action::custom(name).unwrap_err();
            assert!(!err.to_string().is_empty(), "{name:?}");
        }
        let long = format!("a.{}", "b".repeat(MAX_ACTION_LEN));
        assert!(Action::custom(long).unwrap_err().to_string().contains("64"));
    }

    #[test]
    fn rejected_name_is_cut_in_the_error() {
        let err = Action::custom("x".repeat(10_000)).unwrap_err();
        assert!(err.name().len() <= MAX_ACTION_LEN + 16);
    }

    #[test]
    fn namespaces_match_whole_segments() {
        let action = Action::custom("auth.login.failed").unwrap();
        assert!(action.is_in("auth"));
        assert!(action.is_in("auth.login"));
        assert!(!action.is_in("aut"));
        assert!(!Action::Create.is_in("auth"));
        assert_eq!(action.namespace(), "auth");
        assert_eq!(Action::Create.namespace(), "create");
    }

    #[test]
    fn serde_uses_the_name_and_validates() {
        let json = serde_json::to_string(&Action::custom("auth.logout").unwrap()).unwrap();
        assert_eq!(json, "\"auth.logout\"");
        assert!(serde_json::from_str::<Action>("\"DROP TABLE\"").is_err());
        assert_eq!(
            serde_json::from_str::<Action>("\"delete\"").unwrap(),
            Action::Delete
        );
    }
}
