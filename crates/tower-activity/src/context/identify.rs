//! Who the caller is, as far as the request itself tells at the start.

use std::sync::Arc;

use http::Request;

use crate::event::Actor;

/// The actor and tenant an [`IdentifyRequest`] finds in a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The actor, when the request says who it is.
    pub actor: Option<Actor>,
    /// The tenant, when the request says which it is for.
    pub tenant: Option<Arc<str>>,
}

impl Identity {
    /// Nothing known.
    pub fn unknown() -> Self {
        Identity::default()
    }

    /// The actor is `actor`.
    pub fn actor(actor: Actor) -> Self {
        Identity {
            actor: Some(actor),
            tenant: None,
        }
    }

    /// Adds the tenant.
    pub fn with_tenant(mut self, tenant: impl Into<Arc<str>>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }
}

/// Reads the actor and tenant from a request as it enters the layer.
///
/// Implemented for closures `Fn(&Request<B>) -> Identity`. Only what the
/// request carries at that point is visible (headers, extensions set by outer
/// layers); code that learns the actor later, such as auth middleware inside
/// the layer, calls [`ActivityContext::set_actor`](crate::ActivityContext::set_actor).
///
/// Take the identity from what authentication verified, never from headers a
/// client can set. Here an authentication layer outside this one has put its
/// verified claims in the request extensions:
///
/// ```
/// use http::Request;
/// use tower_activity::{ActivityLayer, Actor, Identity};
///
/// /// What the authentication layer verified.
/// #[derive(Clone)]
/// struct Claims {
///     user_id: String,
///     org_id: String,
/// }
///
/// let layer = ActivityLayer::new().identify(|request: &Request<axum::body::Body>| {
///     match request.extensions().get::<Claims>() {
///         Some(claims) => Identity::actor(Actor::user(claims.user_id.as_str())).with_tenant(claims.org_id.as_str()),
///         None => Identity::actor(Actor::anonymous()),
///     }
/// });
/// # let _ = layer;
/// ```
pub trait IdentifyRequest<B>: Clone + Send + Sync + 'static {
    /// The identity `request` carries.
    fn identify(&self, request: &Request<B>) -> Identity;
}

impl<B, F> IdentifyRequest<B> for F
where
    F: Fn(&Request<B>) -> Identity + Clone + Send + Sync + 'static,
{
    fn identify(&self, request: &Request<B>) -> Identity {
        self(request)
    }
}

/// Identifies nobody: the default of [`ActivityLayer`](crate::ActivityLayer).
#[derive(Clone, Copy, Debug, Default)]
pub struct Unidentified;

impl<B> IdentifyRequest<B> for Unidentified {
    fn identify(&self, _request: &Request<B>) -> Identity {
        Identity::unknown()
    }
}
