//! The request's activity context: who, for which tenant, from where, under
//! which request id. It lives in a task-local for the request's task.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{HeaderValue, Method, Uri};
use tokio::task::JoinHandle;
use tokio::task::futures::TaskLocalFuture;

use crate::actor::{Actor, ActorKind};
use crate::event::ActivityEvent;
use crate::recorder::{LogError, Recorder};
use crate::user_agent::sanitize_user_agent;

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
    inner: Arc<Inner>,
}

struct Inner {
    request_id: HeaderValue,
    ip: Option<IpAddr>,
    user_agent: Option<HeaderValue>,
    method: Option<Method>,
    uri: Option<Uri>,
    /// The route axum matched, when the layer runs after routing
    /// (`Router::layer`).
    #[cfg(feature = "axum")]
    matched: Option<axum::extract::MatchedPath>,
    recorder: Option<Recorder>,
    state: Mutex<State>,
}

#[derive(Clone, Default)]
struct State {
    actor: Option<Actor>,
    tenant: Option<String>,
    route: Option<String>,
    /// The route axum matched, told by code that runs after routing.
    #[cfg(feature = "axum")]
    matched: Option<axum::extract::MatchedPath>,
    panic_recorded: bool,
}

/// What the layer knows about a request when it makes its context.
pub(crate) struct RequestInfo {
    pub(crate) request_id: HeaderValue,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) user_agent: Option<HeaderValue>,
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    #[cfg(feature = "axum")]
    pub(crate) matched: Option<axum::extract::MatchedPath>,
    pub(crate) recorder: Option<Recorder>,
    pub(crate) actor: Option<Actor>,
    pub(crate) tenant: Option<String>,
}

impl ActivityContext {
    pub(crate) fn for_request(info: RequestInfo) -> Self {
        ActivityContext {
            inner: Arc::new(Inner {
                request_id: info.request_id,
                ip: info.ip,
                user_agent: info.user_agent,
                method: Some(info.method),
                uri: Some(info.uri),
                #[cfg(feature = "axum")]
                matched: info.matched,
                recorder: info.recorder,
                state: Mutex::new(State {
                    actor: info.actor,
                    tenant: info.tenant,
                    ..State::default()
                }),
            }),
        }
    }

    /// A context for work that has no request: a background job, a scheduled
    /// task, a CLI command. Its actor is the system, named by `component`, and
    /// it has a fresh request id so the job's events can be found together.
    pub fn system(component: impl Into<String>) -> Self {
        ActivityContext {
            inner: Arc::new(Inner {
                request_id: crate::request_id::generate(),
                ip: None,
                user_agent: None,
                method: None,
                uri: None,
                #[cfg(feature = "axum")]
                matched: None,
                recorder: None,
                state: Mutex::new(State {
                    actor: Some(Actor::system(component)),
                    ..State::default()
                }),
            }),
        }
    }

    /// This context with events going to `recorder`. The returned context is a
    /// new one: changes to it are not seen through `self`.
    pub fn with_recorder(self, recorder: Recorder) -> Self {
        let state = self.lock().clone();
        let inner = &self.inner;
        ActivityContext {
            inner: Arc::new(Inner {
                request_id: inner.request_id.clone(),
                ip: inner.ip,
                user_agent: inner.user_agent.clone(),
                method: inner.method.clone(),
                uri: inner.uri.clone(),
                #[cfg(feature = "axum")]
                matched: inner.matched.clone(),
                recorder: Some(recorder),
                state: Mutex::new(state),
            }),
        }
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
        self.inner.request_id.to_str().unwrap_or_default()
    }

    pub(crate) fn request_id_value(&self) -> &HeaderValue {
        &self.inner.request_id
    }

    /// The client's IP address, as decided by the layer's trusted-proxy rules.
    pub fn ip(&self) -> Option<IpAddr> {
        self.inner.ip
    }

    /// The user agent, capped and cleaned of control characters.
    pub fn user_agent(&self) -> Option<String> {
        self.inner
            .user_agent
            .as_ref()
            .map(|value| sanitize_user_agent(value.as_bytes()))
    }

    /// The request's method.
    pub fn method(&self) -> Option<&Method> {
        self.inner.method.as_ref()
    }

    /// The route template: the one [set](Self::set_route), else the one axum
    /// matched (with the `axum` feature, when the layer is added with
    /// `Router::layer`), else the request path.
    pub fn route(&self) -> Option<String> {
        let route = self.lock().route.clone();
        route.or_else(|| self.request_route())
    }

    /// The route the request itself tells: axum's matched route, or the path.
    fn request_route(&self) -> Option<String> {
        #[cfg(feature = "axum")]
        {
            let told = self.lock().matched.clone();
            if let Some(matched) = self.inner.matched.as_ref().or(told.as_ref()) {
                return Some(matched.as_str().to_owned());
            }
        }
        self.inner.uri.as_ref().map(|uri| uri.path().to_owned())
    }

    /// The actor, once known.
    pub fn actor(&self) -> Option<Actor> {
        self.lock().actor.clone()
    }

    /// The tenant, once known.
    pub fn tenant(&self) -> Option<String> {
        self.lock().tenant.clone()
    }

    /// The recorder this context's events go to, when the layer or
    /// [`with_recorder`](Self::with_recorder) set one. Without one, events go
    /// to the [global recorder](crate::set_global_recorder).
    pub fn recorder(&self) -> Option<&Recorder> {
        self.inner.recorder.as_ref()
    }

    /// Sets or replaces the actor: call it once authentication has decided who
    /// the caller is.
    pub fn set_actor(&self, actor: Actor) {
        self.lock().actor = Some(actor);
    }

    /// Sets or replaces the tenant.
    pub fn set_tenant(&self, tenant: impl Into<String>) {
        self.lock().tenant = Some(tenant.into());
    }

    /// Sets the matched route template (`/users/{id}`), which events carry
    /// instead of the raw path.
    pub fn set_route(&self, route: impl Into<String>) {
        self.lock().route = Some(route.into());
    }

    /// Tells the context which route axum matched, for a layer that runs
    /// before routing (wrapping the whole router) and so could not see it;
    /// handler wrappers do this. A route [set](Self::set_route) explicitly
    /// still comes first.
    #[cfg(feature = "axum")]
    pub fn set_matched_path(&self, matched: &axum::extract::MatchedPath) {
        if self.inner.matched.is_none() {
            self.lock().matched = Some(matched.clone());
        }
    }

    /// Tells the layer that a panic unwinding through it has already been
    /// recorded (by a handler wrapper that logged its own critical event), so
    /// the layer records no second event for it.
    pub fn mark_panic_recorded(&self) {
        self.lock().panic_recorded = true;
    }

    pub(crate) fn panic_recorded(&self) -> bool {
        self.lock().panic_recorded
    }

    /// Fills what `event` leaves empty from this context.
    pub fn fill(&self, event: &mut ActivityEvent) {
        {
            let state = self.lock();
            if event.actor.is_none() {
                event.actor = Some(state.actor.clone().unwrap_or_else(Actor::anonymous));
            }
            if event.tenant_id.is_none() {
                event.tenant_id.clone_from(&state.tenant);
            }
            if event.route.is_none() {
                event.route.clone_from(&state.route);
            }
        }
        let inner = &self.inner;
        if event.route.is_none() {
            event.route = self.request_route();
        }
        if event.request_id.is_none() {
            event.request_id = Some(self.request_id().to_owned());
        }
        if event.ip.is_none() {
            event.ip = inner.ip.map(ip_text);
        }
        if event.user_agent.is_none() {
            event.user_agent = self.user_agent();
        }
        if event.method.is_none() {
            event.method = inner.method.as_ref().map(|method| method.as_str().to_owned());
        }
    }

    /// Fills `event` from the current context, or, outside any, marks it as
    /// the system's.
    pub(crate) fn fill_from_current(event: &mut ActivityEvent) {
        match ActivityContext::current() {
            Some(context) => context.fill(event),
            None => {
                if event.actor.is_none() {
                    event.actor = Some(Actor {
                        kind: ActorKind::System,
                        id: None,
                        label: None,
                    });
                }
            }
        }
    }

    /// Fills `event` from this context and queues it on this context's
    /// recorder, or the global one.
    pub(crate) fn log(&self, mut event: ActivityEvent) -> Result<(), LogError> {
        let global;
        let recorder = match &self.inner.recorder {
            Some(recorder) => recorder,
            None => {
                global = crate::log::global_recorder().ok_or(LogError::NoRecorder)?;
                &global
            }
        };
        self.fill(&mut event);
        recorder.policy().apply(&mut event);
        recorder.enqueue(event)
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
            .field("ip", &self.inner.ip)
            .field("method", &self.inner.method)
            .field("actor", &state.actor)
            .field("tenant", &state.tenant)
            .field("route", &state.route)
            .finish_non_exhaustive()
    }
}

/// An address as text; IPv4, the common case, without the formatting
/// machinery.
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            for (at, octet) in v4.octets().into_iter().enumerate() {
                if at > 0 {
                    text.push('.');
                }
                if octet >= 100 {
                    text.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    text.push(char::from(b'0' + octet / 10 % 10));
                }
                text.push(char::from(b'0' + octet % 10));
            }
            text
        }
        IpAddr::V6(_) => ip.to_string(),
    }
}

/// Spawns `future` on the Tokio runtime with the current activity context (if
/// any) carried into it, so events it logs keep the request's id, actor and
/// tenant. Task-locals do not cross `tokio::spawn` by themselves.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_activity::ActivityContext;
///
/// let context = ActivityContext::system("import");
/// let id = context.request_id().to_owned();
/// let seen = context
///     .scope(async {
///         tower_activity::spawn(async {
///             ActivityContext::current().map(|c| c.request_id().to_owned())
///         })
///         .await
///         .unwrap()
///     })
///     .await;
/// assert_eq!(seen, Some(id));
/// # }
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match ActivityContext::current() {
        Some(context) => tokio::spawn(context.scope(future)),
        None => tokio::spawn(future),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_matches_display() {
        for ip in [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "203.0.113.7",
            "::1",
            "2001:db8::ff",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }
}
