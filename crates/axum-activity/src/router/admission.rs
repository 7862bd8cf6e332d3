//! Admission to the log router: the authorization check, then the query
//! string, as an extractor every endpoint takes first.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use tower_activity::{ActivityFilter, LogRead, Outcome, read_event};

use super::Shared;
use super::access::{AuthorizeLogAccess, LogAccess};
use super::api_error::ApiError;
use super::query_params::{Endpoint, QueryParams};

/// An endpoint of the router, by the parameters it accepts.
pub(crate) trait EndpointKind: Send + Sync {
    const ENDPOINT: Endpoint;
}

macro_rules! endpoints {
    ($($(#[$doc:meta])* $name:ident => $endpoint:ident,)*) => {$(
        $(#[$doc])*
        pub(crate) struct $name;

        $(#[$doc])*
        impl EndpointKind for $name {
            const ENDPOINT: Endpoint = Endpoint::$endpoint;
        }
    )*};
}

endpoints! {
    /// `GET /`.
    ListEndpoint => List,
    /// `GET /{id}`.
    EntryEndpoint => Entry,
    /// `GET /stream`.
    StreamEndpoint => Stream,
    /// `GET /export`.
    ExportEndpoint => Export,
    /// `GET /stats`.
    StatsEndpoint => Stats,
    /// `GET /actions`.
    ActionsEndpoint => Actions,
    /// `GET /seals/checkpoint`.
    #[cfg(feature = "seal")]
    CheckpointEndpoint => Checkpoint,
    /// `GET /{id}/proof`.
    #[cfg(feature = "seal")]
    ProofEndpoint => Proof,
}

/// `GET /ui`, its assets and `GET /ui/access`.
#[cfg(feature = "viewer")]
pub(crate) struct ViewerEndpoint;

#[cfg(feature = "viewer")]
impl EndpointKind for ViewerEndpoint {
    const ENDPOINT: Endpoint = Endpoint::Viewer;
}

/// A request to endpoint `E` that passed the authorization check, and its
/// query string, read. Nothing else happens before both pass: the check runs
/// before the query string is even looked at.
pub(crate) struct Admitted<E> {
    pub(crate) access: LogAccess,
    pub(crate) params: QueryParams,
    endpoint: PhantomData<E>,
}

impl<E> Admitted<E> {
    /// The filter the parameters describe, limited to what the access may
    /// read.
    pub(crate) fn filter(&self) -> Result<ActivityFilter, ApiError> {
        let mut filter = self.params.filter()?;
        self.access.scope(&mut filter)?;
        Ok(filter)
    }
}

impl<S, A, E> FromRequestParts<Arc<Shared<S, A>>> for Admitted<E>
where
    S: Send + Sync,
    A: AuthorizeLogAccess,
    E: EndpointKind,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared<S, A>>) -> Result<Self, Response> {
        let Authorized { access, .. } = Authorized::<E>::from_request_parts(parts, shared).await?;
        let params = QueryParams::parse(parts.uri.query(), E::ENDPOINT)?;
        Ok(Admitted {
            access,
            params,
            endpoint: PhantomData,
        })
    }
}

/// A request to endpoint `E` that passed the authorization check, its query
/// string not read: what [`Admitted`] checks first, alone.
pub(crate) struct Authorized<E> {
    pub(crate) access: LogAccess,
    endpoint: PhantomData<E>,
}

impl<S, A, E> FromRequestParts<Arc<Shared<S, A>>> for Authorized<E>
where
    S: Send + Sync,
    A: AuthorizeLogAccess,
    E: EndpointKind,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared<S, A>>) -> Result<Self, Response> {
        match shared.authorize.authorize(parts).await {
            Ok(access) => Ok(Authorized {
                access,
                endpoint: PhantomData,
            }),
            Err(refusal) => {
                // A refused attempt to read the log is recorded too.
                let (read, via) = attempted(E::ENDPOINT);
                let mut event = read_event(read, via, &ActivityFilter::new(), 0);
                event.outcome = Outcome::Warning;
                event.http_status = Some(refusal.status().as_u16());
                shared.record_read(None, event);
                Err(refusal)
            }
        }
    }
}

/// What a request to `endpoint` reads, as its record names it.
fn attempted(endpoint: Endpoint) -> (LogRead, &'static str) {
    match endpoint {
        Endpoint::List => (LogRead::Viewed, "list"),
        Endpoint::Entry => (LogRead::Viewed, "entry"),
        Endpoint::Stats => (LogRead::Viewed, "stats"),
        Endpoint::Actions => (LogRead::Viewed, "actions"),
        Endpoint::Export => (LogRead::Exported, "export"),
        Endpoint::Stream => (LogRead::Streamed, "stream"),
        #[cfg(feature = "viewer")]
        Endpoint::Viewer => (LogRead::Viewed, "viewer"),
        #[cfg(feature = "seal")]
        Endpoint::Checkpoint => (LogRead::Viewed, "checkpoint"),
        #[cfg(feature = "seal")]
        Endpoint::Proof => (LogRead::Viewed, "proof"),
    }
}
