//! The endpoints of a sealed log: the newest checkpoint, and the inclusion
//! proof of one entry.

use axum::Json;
use axum::extract::{RawPathParams, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tower_activity::seal::SealStore;
use tower_activity::{ActivityFilter, ActivityStore, LogRead, read_event};

use super::access::{AuthorizeLogAccess, LogAccess};
use super::admission::{Admitted, CheckpointEndpoint, ProofEndpoint};
use super::api_error::ApiError;
use super::{SharedState, path_id};

/// `GET /seals/checkpoint`: the newest seal, as `activity-log checkpoint`
/// prints it.
pub(super) async fn checkpoint<S: ActivityStore + SealStore, A: AuthorizeLogAccess>(
    State(shared): SharedState<S, A>,
    admitted: Admitted<CheckpointEndpoint>,
) -> Result<Response, Response> {
    if admitted.access != LogAccess::All {
        return Err(ApiError::forbidden_all_tenants(
            "a seal covers every tenant: the checkpoint needs access to the whole log",
        )
        .into());
    }
    let checkpoint = shared
        .store
        .newest_checkpoint()
        .await
        .map_err(|error| ApiError::store(&error))?;
    let read = read_event(
        LogRead::Viewed,
        "checkpoint",
        &ActivityFilter::new(),
        u64::from(checkpoint.is_some()),
    );
    shared.record_read(None, read);
    match checkpoint {
        Some(checkpoint) => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            checkpoint.to_string(),
        )
            .into_response()),
        None => Err(ApiError::not_sealed("nothing is sealed yet").into()),
    }
}

/// `GET /{id}/proof`: the proof that the entry is in its seal.
pub(super) async fn proof<S: ActivityStore + SealStore, A: AuthorizeLogAccess>(
    State(shared): SharedState<S, A>,
    admitted: Admitted<ProofEndpoint>,
    params: RawPathParams,
) -> Result<Response, Response> {
    let id = path_id(&params)?;
    let proof = shared
        .store
        .inclusion_proof(id)
        .await
        .map_err(|error| ApiError::store(&error))?;
    let proof = proof.filter(|proof| admitted.access.allows(proof.tenant_id.as_deref()));
    shared.record_entry_read("proof", id, proof.is_some());
    match proof {
        Some(proof) => Ok(Json(proof.to_json()).into_response()),
        None => Err(ApiError::not_sealed("no sealed activity entry with this id").into()),
    }
}
