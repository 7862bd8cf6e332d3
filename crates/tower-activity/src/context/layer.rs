//! The tower layer that makes each request's activity context.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::USER_AGENT;
use http::{HeaderName, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use std::net::IpAddr;

use http::Extensions;

use super::client_ip::{TrustedProxies, socket_peer};
use super::future::ResponseFuture;
use super::identify::{IdentifyRequest, Identity, Unidentified};
use super::request_id::{self, IncomingRequestId, X_REQUEST_ID};
use super::{ActivityContext, RequestInfo};
use crate::recorder::Recorder;

/// Gives every request an [`ActivityContext`]: request id, client IP, user
/// agent, method and path, and the actor and tenant when they are known.
///
/// - The request id is the incoming `x-request-id` (the header is
///   configurable) when it is 1 to 128 characters of a safe set, otherwise a
///   fresh UUID v7; it is set on the request for inner services and echoed on
///   the response. [`incoming_request_id`](Self::incoming_request_id) limits
///   whose ids are kept.
/// - The client IP is the socket peer, unless [trusted
///   proxies](ActivityLayer::trusted_proxies) are configured and the peer is
///   one of them.
/// - A panic in the inner service is recorded as a `system.panic` event with
///   outcome `critical`, and the client gets an empty `500` instead of a
///   dropped connection. That is why the response body must implement
///   `Default` (axum's `Body` and http-body-util's `Full` and `Empty` do): the
///   empty body is made without boxing every response.
///
/// ```
/// use axum::{Router, routing::get};
/// use tower_activity::{ActivityLayer, NullSink, Recorder, TrustedProxies};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let recorder = Recorder::builder(NullSink).spawn();
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hello" }))
///     .layer(
///         ActivityLayer::new()
///             .recorder(recorder)
///             .trusted_proxies(TrustedProxies::parse(["10.0.0.0/8"]).unwrap()),
///     );
/// # let _ = app;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ActivityLayer<I = Unidentified> {
    config: Arc<Config>,
    identify: I,
}

#[derive(Clone, Debug)]
struct Config {
    header: HeaderName,
    incoming_request_id: IncomingRequestId,
    trusted_proxies: Option<TrustedProxies>,
    recorder: Option<Recorder>,
    peer_addr: fn(&Extensions) -> Option<IpAddr>,
    route: fn(&Extensions) -> Option<Arc<str>>,
}

/// No route: the layer of a plain tower service knows only the path.
fn no_route(_: &Extensions) -> Option<Arc<str>> {
    None
}

impl ActivityLayer {
    /// A layer with the defaults: `x-request-id`, the socket peer as client
    /// IP, no identity resolver, and the global recorder.
    pub fn new() -> Self {
        ActivityLayer {
            config: Arc::new(Config {
                header: X_REQUEST_ID,
                incoming_request_id: IncomingRequestId::Accept,
                trusted_proxies: None,
                recorder: None,
                peer_addr: socket_peer,
                route: no_route,
            }),
            identify: Unidentified,
        }
    }
}

impl Default for ActivityLayer {
    fn default() -> Self {
        ActivityLayer::new()
    }
}

impl<I> ActivityLayer<I> {
    /// Sends the events of requests through this layer to `recorder`
    /// (otherwise to the [global recorder](crate::set_global_recorder)).
    pub fn recorder(mut self, recorder: Recorder) -> Self {
        Arc::make_mut(&mut self.config).recorder = Some(recorder);
        self
    }

    /// Reads and echoes the request id in `header` instead of `x-request-id`.
    pub fn request_id_header(mut self, header: HeaderName) -> Self {
        Arc::make_mut(&mut self.config).header = header;
        self
    }

    /// Whose incoming request ids are kept: anyone's (the default), only the
    /// trusted proxies', or nobody's.
    pub fn incoming_request_id(mut self, incoming: IncomingRequestId) -> Self {
        Arc::make_mut(&mut self.config).incoming_request_id = incoming;
        self
    }

    /// Believes forwarding headers from these proxies. Without this, the client
    /// IP is always the socket peer.
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        Arc::make_mut(&mut self.config).trusted_proxies = Some(proxies);
        self
    }

    /// Reads the client's socket address from the request's extensions with
    /// `read`, instead of from a plain [`SocketAddr`](std::net::SocketAddr)
    /// extension: for servers that put it elsewhere. axum-activity's
    /// `layer()` reads axum's `ConnectInfo`.
    pub fn peer_addr_with(mut self, read: fn(&Extensions) -> Option<IpAddr>) -> Self {
        Arc::make_mut(&mut self.config).peer_addr = read;
        self
    }

    /// Reads the route template the router matched (`/users/{id}`) from the
    /// request's extensions with `read`; without it, events carry the request
    /// path unless the application or a handler wrapper sets the route.
    /// axum-activity's `layer()` reads axum's `MatchedPath`.
    pub fn route_with(mut self, read: fn(&Extensions) -> Option<Arc<str>>) -> Self {
        Arc::make_mut(&mut self.config).route = read;
        self
    }

    /// Reads the actor and tenant from each request as it arrives.
    pub fn identify<J>(self, identify: J) -> ActivityLayer<J> {
        ActivityLayer {
            config: self.config,
            identify,
        }
    }
}

impl<S, I: Clone> Layer<S> for ActivityLayer<I> {
    type Service = ActivityService<S, I>;

    fn layer(&self, inner: S) -> Self::Service {
        ActivityService {
            inner,
            config: self.config.clone(),
            identify: self.identify.clone(),
        }
    }
}

/// The service made by [`ActivityLayer`].
#[derive(Clone, Debug)]
pub struct ActivityService<S, I = Unidentified> {
    inner: S,
    config: Arc<Config>,
    identify: I,
}

impl<S, I, ReqBody, ResBody> Service<Request<ReqBody>> for ActivityService<S, I>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    I: IdentifyRequest<ReqBody>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let config = &*self.config;
        let peer = (config.peer_addr)(request.extensions()).map(|ip| ip.to_canonical());
        let accept = match config.incoming_request_id {
            IncomingRequestId::Accept => true,
            IncomingRequestId::FromTrustedProxies => peer
                .zip(config.trusted_proxies.as_ref())
                .is_some_and(|(peer, proxies)| proxies.is_trusted(peer)),
            IncomingRequestId::Ignore => false,
        };
        let request_id = request_id::resolve(accept, &config.header, request.headers(), request.extensions());
        if !request_id.in_request {
            request
                .headers_mut()
                .insert(config.header.clone(), request_id.header.clone());
        }
        let ip = match (&config.trusted_proxies, peer) {
            (Some(proxies), Some(peer)) => Some(proxies.client_ip(peer, request.headers())),
            (_, peer) => peer,
        };
        // The resolver is the application's code: a panic in it is answered
        // like any other panic of the service.
        let identify = &self.identify;
        let (identity, identify_panic) = match catch_unwind(AssertUnwindSafe(|| identify.identify(&request)))
        {
            Ok(identity) => (identity, None),
            Err(payload) => (Identity::unknown(), Some(payload)),
        };
        let context = ActivityContext::for_request(RequestInfo {
            request_id,
            ip,
            user_agent: request.headers().get(USER_AGENT),
            method: request.method().clone(),
            path: request.uri().path(),
            matched: (config.route)(request.extensions()),
            recorder: config.recorder.clone(),
            actor: identity.actor,
            tenant: identity.tenant,
        });
        let header = config.header.clone();
        if let Some(payload) = identify_panic {
            return ResponseFuture::panicked(context, header, payload);
        }
        let inner = &mut self.inner;
        let called = catch_unwind(AssertUnwindSafe(|| {
            context.clone().sync_scope(|| inner.call(request))
        }));
        match called {
            Ok(future) => ResponseFuture::running(context, header, future),
            Err(payload) => ResponseFuture::panicked(context, header, payload),
        }
    }
}
