//! What every event goes through before a sink sees it: secrets redacted,
//! details capped, the IP kept as configured, and over-long fields cut.

use std::sync::Arc;

use super::{ActivityEvent, Actor, IpPrivacy, Origin, Scrubber, sanitize_user_agent, user_agent};

/// The longest request id kept, in bytes: longer incoming ids are replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// The longest resource type kept, in characters.
pub const MAX_RESOURCE_TYPE_CHARS: usize = 64;
/// The longest id kept (resource, actor, tenant), and the longest actor label,
/// in characters.
pub const MAX_ID_CHARS: usize = 255;
/// The longest route kept, in characters.
pub const MAX_ROUTE_CHARS: usize = 512;
/// The longest method kept, in characters.
pub const MAX_METHOD_CHARS: usize = 16;
/// The longest category kept, in bytes: a category is one action segment,
/// so it is held to the length of a whole action name.
pub const MAX_CATEGORY_LEN: usize = super::MAX_ACTION_LEN;
/// The longest stored IP (an address, a CIDR or a hash), in characters.
pub const MAX_IP_CHARS: usize = 64;

/// The rules applied to every event before it reaches a sink or a
/// transaction.
///
/// ```
/// use serde_json::json;
/// use tower_activity::{Action, ActivityEvent, EventPolicy, IpPrivacy, Scrubber};
///
/// let policy = EventPolicy::new()
///     .scrubber(Scrubber::new().redact_key("tax_id"))
///     .ip_privacy(IpPrivacy::truncate(24, 48));
/// let mut event = ActivityEvent::builder(Action::Update)
///     .ip("198.51.100.23".parse().unwrap())
///     .details(json!({"tax_id": "DE123", "password": "x"}))
///     .build()
///     .unwrap();
/// policy.apply(&mut event);
/// assert_eq!(event.ip.as_deref(), Some("198.51.100.0/24"));
/// assert_eq!(event.details.unwrap(), json!({"tax_id": "[REDACTED]", "password": "[REDACTED]"}));
/// ```
#[derive(Clone, Debug, Default)]
pub struct EventPolicy {
    scrubber: Scrubber,
    ip_privacy: IpPrivacy,
}

impl EventPolicy {
    /// The default policy: [`Scrubber::new`] and addresses kept as they are.
    pub fn new() -> Self {
        EventPolicy::default()
    }

    /// Sets how details are scrubbed and capped.
    pub fn scrubber(mut self, scrubber: Scrubber) -> Self {
        self.scrubber = scrubber;
        self
    }

    /// Sets how client addresses are stored.
    pub fn ip_privacy(mut self, ip_privacy: IpPrivacy) -> Self {
        self.ip_privacy = ip_privacy;
        self
    }

    /// What every event goes through before it is queued or written, on
    /// every path: fills what `event` leaves empty from `origin` (the
    /// request's context) or, without one, names the system as the actor;
    /// then [applies](Self::apply) the policy.
    pub(crate) fn prepare(&self, event: &mut ActivityEvent, origin: Option<Origin>) {
        // What the event carries itself is capped here; what the context
        // lends it was capped once, when the context took it (see `Origin`).
        self.cap(event);
        match origin {
            Some(origin) => origin.fill(event),
            None => {
                if event.actor.is_none() {
                    event.actor = Some(Actor::system_unnamed());
                }
            }
        }
        self.store_ip(event);
    }

    /// Applies the policy to `event` in place: scrubs and caps the details
    /// (and keeps them as compact JSON text from then on), stores the IP as
    /// configured, and cuts over-long fields.
    pub fn apply(&self, event: &mut ActivityEvent) {
        self.cap(event);
        self.store_ip(event);
    }

    /// Everything but the IP.
    fn cap(&self, event: &mut ActivityEvent) {
        if let Some(details) = &mut event.details {
            self.scrubber.scrub_details(details);
        }
        cut(&mut event.category, MAX_CATEGORY_LEN);
        cut(&mut event.resource_type, MAX_RESOURCE_TYPE_CHARS);
        cut(&mut event.resource_id, MAX_ID_CHARS);
        cut(&mut event.tenant_id, MAX_ID_CHARS);
        if let Some(actor) = &mut event.actor {
            cap_actor(actor);
        }
        cut(&mut event.request_id, MAX_REQUEST_ID_LEN);
        if let Some(agent) = &mut event.user_agent
            && !user_agent::is_clean(agent)
        {
            *agent = sanitize_user_agent(agent.as_bytes()).into();
        }
        cut(&mut event.method, MAX_METHOD_CHARS);
        cut(&mut event.route, MAX_ROUTE_CHARS);
    }

    /// The IP as the [`IpPrivacy`] policy keeps it, within its cap.
    fn store_ip(&self, event: &mut ActivityEvent) {
        self.ip_privacy.apply_in_place(&mut event.ip);
        cut(&mut event.ip, MAX_IP_CHARS);
    }
}

/// An actor's id and label cut to their caps.
pub(crate) fn cap_actor(actor: &mut Actor) {
    cut(&mut actor.id, MAX_ID_CHARS);
    cut(&mut actor.label, MAX_ID_CHARS);
}

/// `text` cut to at most `max` characters.
pub(crate) fn capped(mut text: Arc<str>, max: usize) -> Arc<str> {
    if text.len() > max {
        cut_long(&mut text, max);
    }
    text
}

/// Cuts `field` to at most `max` characters. Text within the cap, the usual
/// case, is left as it is, still shared with the context it came from.
#[inline(always)]
fn cut(field: &mut Option<Arc<str>>, max: usize) {
    if let Some(text) = field
        && text.len() > max
    {
        cut_long(text, max);
    }
}

/// Cuts `text`, longer than `max` bytes, to at most `max` characters.
#[cold]
fn cut_long(text: &mut Arc<str>, max: usize) {
    if let Some((at, _)) = text.char_indices().nth(max) {
        *text = Arc::from(&text[..at]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Actor};

    #[test]
    fn over_long_fields_are_cut_on_character_boundaries() {
        let mut event = ActivityEvent::builder(Action::Read)
            .resource("é".repeat(100), "ü".repeat(1_000))
            .actor(Actor::user("x".repeat(300)).with_label("y".repeat(300)))
            .tenant("t".repeat(300))
            .route("/".repeat(600))
            .build()
            .unwrap();
        EventPolicy::new().apply(&mut event);
        assert_eq!(
            event.resource_type.unwrap().chars().count(),
            MAX_RESOURCE_TYPE_CHARS
        );
        assert_eq!(event.resource_id.unwrap().chars().count(), MAX_ID_CHARS);
        let actor = event.actor.unwrap();
        assert_eq!(actor.id.unwrap().len(), MAX_ID_CHARS);
        assert_eq!(actor.label.unwrap().len(), MAX_ID_CHARS);
        assert_eq!(event.tenant_id.unwrap().len(), MAX_ID_CHARS);
        assert_eq!(event.route.unwrap().len(), MAX_ROUTE_CHARS);
    }

    #[test]
    fn user_agent_set_by_hand_is_cleaned_too() {
        let mut event = ActivityEvent::builder(Action::Read)
            .user_agent(format!("evil\r\n{}", "a".repeat(600)))
            .build()
            .unwrap();
        EventPolicy::new().apply(&mut event);
        let user_agent = event.user_agent.unwrap();
        assert!(user_agent.starts_with("evilaaa"));
        assert_eq!(user_agent.chars().count(), crate::MAX_USER_AGENT_CHARS);
    }
}
