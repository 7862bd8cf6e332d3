//! The request's activity context: who, for which tenant, from where, under
//! which request id. It lives in a task-local for the request's task, and is
//! made by the [`ActivityLayer`](crate::ActivityLayer).

mod client_ip;
mod forwarded;
mod future;
mod identify;
mod layer;
mod panic;
mod request_id;
mod shared_text;
mod spawn;

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{HeaderValue, Method};
use tokio::task::futures::TaskLocalFuture;

pub(crate) use self::client_ip::ip_or_network;
pub use self::client_ip::{ForwardedHeader, InvalidNetwork, TrustedProxies};
pub use self::future::ResponseFuture;
pub use self::identify::{IdentifyRequest, Identity, Unidentified};
pub use self::layer::{ActivityLayer, ActivityService};
pub use self::panic::PANIC_ACTION;
use self::request_id::RequestId;
pub use self::request_id::{IncomingRequestId, is_valid_request_id};
use self::shared_text::{ip_text, method_text, user_agent_text};
pub use self::spawn::spawn;
use crate::event::{
    ActivityEvent, Actor, MAX_ID_CHARS, MAX_METHOD_CHARS, MAX_ROUTE_CHARS, Origin, cap_actor, capped,
};
use crate::recorder::{LogError, Recorder, global_recorder};

tokio::task_local! {
    static CURRENT: ActivityContext;
}

/// What is known about the request (or background job) being served: request
/// id, client IP, user agent, method, route, actor and tenant, and the recorder
/// its events go to.
///
/// [`ActivityLayer`](crate::ActivityLayer) makes one per request and makes it
/// [current](ActivityContext::current) while the inner service runs. Code
/// later in the request (auth middleware inside the layer, the handler) can set
/// the actor and tenant once it knows them; every event logged afterwards in
/// the request carries them.
///
/// Task-locals do not cross `tokio::spawn`: use [`spawn`](crate::spawn) or
/// [`scope`](ActivityContext::scope) to carry the context into spawned work,
/// and [`ActivityContext::system`] for background jobs that have no request.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_activity::{ActivityContext, Actor, ActorKind};
///
/// let context = ActivityContext::system("nightly-report");
/// context.clone().scope(async {
///     let current = ActivityContext::current().unwrap();
///     assert_eq!(current.actor().unwrap().kind, ActorKind::System);
///     current.set_tenant("acme");
/// }).await;
/// assert_eq!(context.tenant().as_deref(), Some("acme"));
/// # }
/// ```
#[derive(Clone)]
pub struct ActivityContext {
    inner: Arc<Shared>,
}

/// The context's data: what is fixed, and what later code can change.
struct Shared {
    fixed: Inner,
    state: Mutex<State>,
}

/// What the context knows from the start. The texts events carry are made
/// once, with the context, and shared by every event of the request.
#[derive(Clone)]
struct Inner {
    request_id: HeaderValue,
    request_id_text: Arc<str>,
    ip: Option<IpAddr>,
    ip_text: Option<Arc<str>>,
    user_agent: Option<Arc<str>>,
    method: Option<Method>,
    method_text: Option<Arc<str>>,
    /// The route template, when the layer could read it from the request;
    /// otherwise the request path, which a route told later replaces.
    route: Option<RequestRoute>,
    recorder: Option<Recorder>,
}

/// What the layer knows of the route.
#[derive(Clone)]
enum RequestRoute {
    /// The template the router matched.
    Matched(Arc<str>),
    /// The path, for a request no route matched, or a layer that ran before
    /// routing.
    Path(Arc<str>),
}

#[derive(Clone, Default)]
struct State {
    actor: Option<Actor>,
    tenant: Option<Arc<str>>,
    /// The route the application set.
    route: Option<Arc<str>>,
    /// The route a handler wrapper told, for a layer that ran before routing.
    told_route: Option<Arc<str>>,
    panic_recorded: bool,
}

/// What the layer knows about a request when it makes its context.
pub(crate) struct RequestInfo<'a> {
    pub(crate) request_id: RequestId,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: Option<&'a HeaderValue>,
    pub(crate) method: Method,
    pub(crate) path: &'a str,
    pub(crate) matched: Option<Arc<str>>,
    pub(crate) recorder: Option<Recorder>,
    pub(crate) actor: Option<Actor>,
    pub(crate) tenant: Option<Arc<str>>,
}

impl ActivityContext {
    pub(crate) fn for_request(info: RequestInfo<'_>) -> Self {
        let fixed = Inner {
            request_id: info.request_id.header,
            request_id_text: info.request_id.text,
            ip: info.ip,
            ip_text: info.ip.map(ip_text),
            user_agent: info.user_agent.map(|value| user_agent_text(value.as_bytes())),
            method_text: Some(capped(method_text(&info.method), MAX_METHOD_CHARS)),
            method: Some(info.method),
            route: Some(match info.matched {
                Some(matched) => RequestRoute::Matched(capped(matched, MAX_ROUTE_CHARS)),
                None => RequestRoute::Path(capped(Arc::from(info.path), MAX_ROUTE_CHARS)),
            }),
            recorder: info.recorder,
        };
        let state = State {
            actor: info.actor.map(capped_actor),
            tenant: info.tenant.map(|tenant| capped(tenant, MAX_ID_CHARS)),
            ..State::default()
        };
        ActivityContext::new(fixed, state)
    }

    fn new(fixed: Inner, state: State) -> Self {
        ActivityContext {
            inner: Arc::new(Shared {
                fixed,
                state: Mutex::new(state),
            }),
        }
    }

    /// A context for work that has no request: a background job, a scheduled
    /// task, a CLI command. Its actor is the system, named by `component`, and
    /// it has a fresh request id so the job's events can be found together.
    pub fn system(component: impl Into<Arc<str>>) -> Self {
        let request_id = request_id::generate();
        let fixed = Inner {
            request_id: request_id.header,
            request_id_text: request_id.text,
            ip: None,
            ip_text: None,
            user_agent: None,
            method: None,
            method_text: None,
            route: None,
            recorder: None,
        };
        let state = State {
            actor: Some(capped_actor(Actor::system(component))),
            ..State::default()
        };
        ActivityContext::new(fixed, state)
    }

    /// This context with events going to `recorder`. The returned context is a
    /// new one: changes to it are not seen through `self`.
    pub fn with_recorder(self, recorder: Recorder) -> Self {
        let state = self.lock().clone();
        let mut fixed = self.inner.fixed.clone();
        fixed.recorder = Some(recorder);
        ActivityContext::new(fixed, state)
    }

    /// The context of the request or job running on this task, if any.
    pub fn current() -> Option<ActivityContext> {
        CURRENT.try_with(ActivityContext::clone).ok()
    }

    /// Runs `future` with this context current. This is how a context crosses
    /// into work spawned elsewhere; see also [`spawn`](crate::spawn).
    pub fn scope<F: Future>(self, future: F) -> TaskLocalFuture<ActivityContext, F> {
        CURRENT.scope(self, future)
    }

    /// Runs `f` with this context current.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self, f)
    }

    /// The request id: the valid incoming one, or a fresh UUID v7.
    pub fn request_id(&self) -> &str {
        &self.inner.fixed.request_id_text
    }

    pub(crate) fn request_id_value(&self) -> &HeaderValue {
        &self.inner.fixed.request_id
    }

    /// The client's IP address, as decided by the layer's trusted-proxy rules.
    pub fn ip(&self) -> Option<IpAddr> {
        self.inner.fixed.ip
    }

    /// The user agent, capped and cleaned of control characters.
    pub fn user_agent(&self) -> Option<&str> {
        self.inner.fixed.user_agent.as_deref()
    }

    /// The request's method.
    pub fn method(&self) -> Option<&Method> {
        self.inner.fixed.method.as_ref()
    }

    /// The route template: the one [set](Self::set_route), else the one the
    /// router matched (read by the layer when it runs after routing, or told
    /// by a handler wrapper), else the request path.
    pub fn route(&self) -> Option<Arc<str>> {
        let state = self.lock();
        self.route_in(&state)
    }

    /// [`route`](Self::route), with the state already locked.
    fn route_in(&self, state: &State) -> Option<Arc<str>> {
        let route = match (&state.route, &self.inner.fixed.route, &state.told_route) {
            (Some(set), _, _) => set,
            (None, Some(RequestRoute::Matched(matched)), _) => matched,
            (None, _, Some(told)) => told,
            (None, Some(RequestRoute::Path(path)), None) => path,
            (None, None, None) => return None,
        };
        Some(route.clone())
    }

    /// The actor, once known.
    pub fn actor(&self) -> Option<Actor> {
        self.lock().actor.clone()
    }

    /// The tenant, once known.
    pub fn tenant(&self) -> Option<Arc<str>> {
        self.lock().tenant.clone()
    }

    /// The recorder this context's events go to, when the layer or
    /// [`with_recorder`](Self::with_recorder) set one. Without one, events go
    /// to the [global recorder](crate::set_global_recorder).
    pub fn recorder(&self) -> Option<&Recorder> {
        self.inner.fixed.recorder.as_ref()
    }

    /// Sets or replaces the actor: call it once authentication has decided who
    /// the caller is.
    pub fn set_actor(&self, actor: Actor) {
        self.lock().actor = Some(capped_actor(actor));
    }

    /// Sets or replaces the tenant.
    pub fn set_tenant(&self, tenant: impl Into<Arc<str>>) {
        self.lock().tenant = Some(capped(tenant.into(), MAX_ID_CHARS));
    }

    /// Sets the matched route template (`/users/{id}`), which events carry
    /// instead of the raw path.
    pub fn set_route(&self, route: impl Into<Arc<str>>) {
        self.lock().route = Some(capped(route.into(), MAX_ROUTE_CHARS));
    }

    /// Tells the context the route the router matched, for a layer that ran
    /// before routing and so could not read it; handler wrappers call it. A
    /// route the layer read, or one [set](Self::set_route) explicitly, still
    /// comes first.
    #[doc(hidden)]
    pub fn tell_route(&self, route: Arc<str>) {
        if !matches!(self.inner.fixed.route, Some(RequestRoute::Matched(_))) {
            self.lock().told_route = Some(capped(route, MAX_ROUTE_CHARS));
        }
    }

    /// Tells the layer that a panic unwinding through it has already been
    /// recorded (by a handler wrapper that logged its own critical event), so
    /// the layer records no second event for it.
    #[doc(hidden)]
    pub fn mark_panic_recorded(&self) {
        self.lock().panic_recorded = true;
    }

    pub(crate) fn panic_recorded(&self) -> bool {
        self.lock().panic_recorded
    }

    /// What this context lends the events logged in it: shared, not copied.
    pub(crate) fn origin(&self) -> Origin {
        let fixed = &self.inner.fixed;
        let state = self.lock();
        Origin {
            actor: state.actor.clone(),
            tenant_id: state.tenant.clone(),
            request_id: Some(fixed.request_id_text.clone()),
            ip: fixed.ip_text.clone(),
            user_agent: fixed.user_agent.clone(),
            method: fixed.method_text.clone(),
            route: self.route_in(&state),
        }
    }

    /// Logs `event` in this context, as [`log_activity`](crate::log_activity)
    /// does with the current one: what it leaves empty is filled from this
    /// context, it is redacted and capped under the policy of this context's
    /// recorder (or the global one), and queued there without waiting.
    pub fn log(&self, event: ActivityEvent) -> Result<(), LogError> {
        let global;
        let recorder = match &self.inner.fixed.recorder {
            Some(recorder) => recorder,
            None => {
                global = global_recorder().ok_or(LogError::NoRecorder)?;
                &global
            }
        };
        recorder.submit(event, Some(self.origin()))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change is a single field assignment, so a poisoned lock still
        // holds consistent state.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for ActivityContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("ActivityContext")
            .field("request_id", &self.request_id())
            .field("ip", &self.inner.fixed.ip)
            .field("method", &self.inner.fixed.method)
            .field("actor", &state.actor)
            .field("tenant", &state.tenant)
            .field("route", &state.route)
            .finish_non_exhaustive()
    }
}

/// `actor` with its id and label cut to their caps.
fn capped_actor(mut actor: Actor) -> Actor {
    cap_actor(&mut actor);
    actor
}
