//! Who acted: the actor's kind, id and display label.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What kind of party an actor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorKind {
    /// An end user.
    User,
    /// A user acting with administrative rights.
    Admin,
    /// Another service, an API client or a machine credential.
    Service,
    /// The application itself: background jobs, retention, panics.
    System,
    /// A caller that has not been authenticated.
    Anonymous,
}

impl ActorKind {
    /// The kind's stored name: `user`, `admin`, `service`, `system` or `anonymous`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Admin => "admin",
            ActorKind::Service => "service",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the actor kinds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown actor kind (expected user, admin, service, system or anonymous)")]
pub struct UnknownActorKind;

impl FromStr for ActorKind {
    type Err = UnknownActorKind;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(match name {
            "user" => ActorKind::User,
            "admin" => ActorKind::Admin,
            "service" => ActorKind::Service,
            "system" => ActorKind::System,
            "anonymous" => ActorKind::Anonymous,
            _ => return Err(UnknownActorKind),
        })
    }
}

/// Who performed an action.
///
/// ```
/// use tower_activity::{Actor, ActorKind};
///
/// let ada = Actor::user("u_42").with_label("Ada Lovelace");
/// assert_eq!(ada.kind, ActorKind::User);
/// assert_eq!(ada.id.as_deref(), Some("u_42"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// What kind of party this is.
    pub kind: ActorKind,
    /// The application's identifier for the actor (a user id, a client id, a job
    /// name). Removed by anonymization.
    pub id: Option<Arc<str>>,
    /// A human-readable label such as a name or an email. Removed by
    /// anonymization.
    pub label: Option<Arc<str>>,
}

impl Actor {
    /// An actor of `kind` with an id.
    pub fn new(kind: ActorKind, id: impl Into<Arc<str>>) -> Self {
        Actor {
            kind,
            id: Some(id.into()),
            label: None,
        }
    }

    /// An end user.
    pub fn user(id: impl Into<Arc<str>>) -> Self {
        Actor::new(ActorKind::User, id)
    }

    /// An administrator.
    pub fn admin(id: impl Into<Arc<str>>) -> Self {
        Actor::new(ActorKind::Admin, id)
    }

    /// A service or API client.
    pub fn service(id: impl Into<Arc<str>>) -> Self {
        Actor::new(ActorKind::Service, id)
    }

    /// The application itself, optionally naming the component (`retention`).
    pub fn system(component: impl Into<Arc<str>>) -> Self {
        Actor::new(ActorKind::System, component)
    }

    /// The application itself, with no component named: what an event logged
    /// outside any request or job is attributed to.
    pub(crate) fn system_unnamed() -> Self {
        Actor {
            kind: ActorKind::System,
            id: None,
            label: None,
        }
    }

    /// An unauthenticated caller.
    pub fn anonymous() -> Self {
        Actor {
            kind: ActorKind::Anonymous,
            id: None,
            label: None,
        }
    }

    /// Sets the display label.
    pub fn with_label(mut self, label: impl Into<Arc<str>>) -> Self {
        self.label = Some(label.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in [
            ActorKind::User,
            ActorKind::Admin,
            ActorKind::Service,
            ActorKind::System,
            ActorKind::Anonymous,
        ] {
            assert_eq!(kind.as_str().parse::<ActorKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert!("root".parse::<ActorKind>().is_err());
    }
}
