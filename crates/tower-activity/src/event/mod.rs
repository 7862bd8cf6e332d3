//! The activity event: its fields, its builder, the types it is made of, and
//! the policy every event goes through before a sink sees it.

mod action;
mod action_pattern;
mod actor;
mod builder;
mod changes;
mod columns;
mod details;
mod fallback;
mod ip_privacy;
mod origin;
mod outcome;
mod policy;
mod scrub;
mod secret_keys;
mod secret_text;
mod user_agent;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::{ContextV7, Timestamp, Uuid};

pub use self::action::{Action, CustomAction, IntoAction, InvalidAction, MAX_ACTION_LEN};
pub use self::action_pattern::{ActionPattern, ActionSelector, InvalidActionPattern, InvalidActionSelector};
pub use self::actor::{Actor, ActorKind, UnknownActorKind};
pub use self::builder::ActivityEventBuilder;
pub use self::changes::{CHANGES_KEY, Changes, changes};
pub use self::columns::{COLUMNS, Cell, Column, ColumnKind, ReadColumns};
pub use self::details::Details;
pub use self::fallback::{UNKNOWN_ACTION, read_action, read_outcome};
pub use self::ip_privacy::IpPrivacy;
pub(crate) use self::origin::Origin;
pub use self::outcome::{Outcome, UnknownOutcome};
pub use self::policy::{
    EventPolicy, MAX_CATEGORY_LEN, MAX_ID_CHARS, MAX_IP_CHARS, MAX_METHOD_CHARS, MAX_REQUEST_ID_LEN,
    MAX_RESOURCE_TYPE_CHARS, MAX_ROUTE_CHARS,
};
pub(crate) use self::policy::{cap_actor, capped};
pub use self::scrub::{DEFAULT_MAX_DETAILS_BYTES, MAX_DETAILS_DEPTH, REDACTED, Scrubber, TOO_DEEP};
pub use self::secret_keys::DEFAULT_SECRET_KEYS;
pub(crate) use self::user_agent::clean_user_agent;
pub use self::user_agent::{MAX_USER_AGENT_CHARS, sanitize_user_agent};

/// One audit record: who did what to which resource, when, from where, for
/// which tenant, and whether it worked.
///
/// It is the same record in memory, in every sink and in exports; its flat
/// form, one value per stored column, is [`COLUMNS`]. Fields left empty are
/// filled from the request context when the event is logged (see
/// [`log_activity`](crate::log_activity)), then secrets are redacted and
/// over-long values cut (see [`EventPolicy`]).
///
/// Events are made with [`ActivityEvent::builder`]; the fields can be read
/// and changed directly. New fields may be added in later versions, which is
/// why the struct cannot be written out as a literal outside this crate.
///
/// The text of an event made inside a request (request id, IP, user agent,
/// method, route, tenant, actor) is shared with the request's context rather
/// than copied: it is held as `Arc<str>`, which reads as `&str` through
/// `as_deref()`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActivityEvent {
    /// UUID v7: unique and time-ordered, so it is also the pagination key.
    pub id: Uuid,
    /// When it happened, UTC, microsecond precision.
    pub occurred_at: DateTime<Utc>,
    /// What was done.
    pub action: Action,
    /// The action's category (`auth`, `user`, `billing`), given by the
    /// recorder's [`Catalogue`](crate::Catalogue): the entry's category, or
    /// the action's namespace. Empty when the recorder has no catalogue,
    /// unless set by hand with [`ActivityEventBuilder::category`].
    #[serde(default)]
    pub category: Option<Arc<str>>,
    /// The kind of resource acted on (`user`, `invoice`).
    pub resource_type: Option<Arc<str>>,
    /// The resource's id, as a string whatever its type in the application.
    pub resource_id: Option<Arc<str>>,
    /// Who did it. Empty until the event is logged; then the context's actor, or
    /// the system.
    pub actor: Option<Actor>,
    /// The organisation or tenant it happened in.
    pub tenant_id: Option<Arc<str>>,
    /// Whether it worked.
    pub outcome: Outcome,
    /// The HTTP status of the response, when there was one.
    pub http_status: Option<u16>,
    /// The request's id, shared by every event of one request.
    pub request_id: Option<Arc<str>>,
    /// The client's IP address, or its keyed hash or truncated prefix under an
    /// [`IpPrivacy`] policy.
    pub ip: Option<Arc<str>>,
    /// The client's user agent, cut and cleaned of control characters.
    pub user_agent: Option<Arc<str>>,
    /// The HTTP method.
    pub method: Option<Arc<str>>,
    /// The matched route template (`/users/{id}`), or the path when no route
    /// matched.
    pub route: Option<Arc<str>>,
    /// Free-form JSON metadata, scrubbed of secrets and capped in size.
    pub details: Option<Details>,
}

impl ActivityEvent {
    /// Starts an event for `action`: an [`Action`] or a name such as
    /// `"auth.login.failed"`, checked by [`ActivityEventBuilder::build`].
    ///
    /// ```
    /// use tower_activity::{Action, ActivityEvent, Outcome};
    ///
    /// let event = ActivityEvent::builder(Action::Update)
    ///     .resource("invoice", "inv_2041")
    ///     .detail("field", "due_date")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(event.outcome, Outcome::Success);
    ///
    /// let bad = ActivityEvent::builder("Login Failed").build();
    /// assert!(bad.is_err());
    /// ```
    pub fn builder(action: impl IntoAction) -> ActivityEventBuilder {
        ActivityEventBuilder::new(action.into_action())
    }

    /// A new event id: UUID v7.
    pub fn new_id() -> Uuid {
        stamp().0
    }

    /// The current time at the precision events keep (microseconds).
    pub fn now() -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A new event's id and time, from one reading of the clock. The id is a
/// UUID v7 ordered within its millisecond across the process (a counter kept
/// under a lock, as `Uuid::now_v7` keeps one), so events logged one after the
/// other sort in that order; the time is cut to microseconds.
pub(crate) fn stamp() -> (Uuid, DateTime<Utc>) {
    static CONTEXT: Mutex<ContextV7> = Mutex::new(ContextV7::new());
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (seconds, nanos) = (since_epoch.as_secs(), since_epoch.subsec_nanos());
    let id = Uuid::new_v7(Timestamp::from_unix(&CONTEXT, seconds, nanos));
    let at = i64::try_from(seconds)
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, nanos - nanos % 1_000))
        .unwrap_or_else(ActivityEvent::now);
    (id, at)
}
