//! What a request's context lends the events logged in it.

use std::sync::Arc;

use super::{ActivityEvent, Actor};

/// The request-scoped values an event takes when it leaves them empty. Every
/// text is shared with the context (`Arc<str>`), so filling an event copies
/// no string, and was cut to its cap when the context took it, so the policy
/// does not look at it again for each event.
#[derive(Clone, Debug, Default)]
pub(crate) struct Origin {
    pub(crate) actor: Option<Actor>,
    pub(crate) tenant_id: Option<Arc<str>>,
    pub(crate) request_id: Option<Arc<str>>,
    pub(crate) ip: Option<Arc<str>>,
    pub(crate) user_agent: Option<Arc<str>>,
    pub(crate) method: Option<Arc<str>>,
    pub(crate) route: Option<Arc<str>>,
}

impl Origin {
    /// Fills what `event` leaves empty; an event with no actor of its own
    /// and none known here is the anonymous caller's.
    pub(crate) fn fill(self, event: &mut ActivityEvent) {
        let Origin {
            actor,
            tenant_id,
            request_id,
            ip,
            user_agent,
            method,
            route,
        } = self;
        if event.actor.is_none() {
            event.actor = Some(actor.unwrap_or_else(Actor::anonymous));
        }
        fill(&mut event.tenant_id, tenant_id);
        fill(&mut event.request_id, request_id);
        fill(&mut event.ip, ip);
        fill(&mut event.user_agent, user_agent);
        fill(&mut event.method, method);
        fill(&mut event.route, route);
    }
}

fn fill(field: &mut Option<Arc<str>>, value: Option<Arc<str>>) {
    if field.is_none() {
        *field = value;
    }
}
