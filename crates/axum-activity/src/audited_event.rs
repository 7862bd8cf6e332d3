//! The extractor through which a wrapped handler shapes the one event its
//! wrapper writes.

use std::cell::OnceCell;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::{Map, Value};
use tower_activity::{CHANGES_KEY, Changes, Outcome};

use crate::rejection::ActivityRejection;

/// The event an [`audited`](crate::audited) wrapper will write for this
/// request, as the handler shapes it: a resource id, details, another outcome.
///
/// The wrapper still writes a single event, when the handler has returned (or
/// when the request is [cancelled](crate::Audited#cancelled-requests) before);
/// what the handler sets here takes precedence over what the wrapper would find
/// itself. This is how a handler sets the resource id explicitly, for example
/// when the response does not carry it.
///
/// Extracting it in a handler that is not wrapped is a configuration error:
/// the request is answered with a `500` saying so.
///
/// ```
/// use axum::{Json, Router, extract::Path, routing::put};
/// use axum_activity::{Action, AuditedEvent, audited};
/// use serde_json::{Value, json};
///
/// async fn rename_project(event: AuditedEvent, Path(id): Path<u64>, Json(body): Json<Value>) -> Json<Value> {
///     event.set_resource_id(id);
///     event.add_detail("new_name", body["name"].clone());
///     Json(json!({ "renamed": true }))
/// }
///
/// let app: Router = Router::new().route(
///     "/projects/{id}",
///     put(audited(rename_project, Action::Update, "project")),
/// );
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct AuditedEvent {
    slot: EventSlot,
}

impl AuditedEvent {
    /// Sets the resource id; numbers and UUIDs become their string form.
    pub fn set_resource_id(&self, id: impl ToString) {
        self.slot.lock().resource_id = Some(Arc::from(id.to_string()));
    }

    /// Adds one key to the event's details (scrubbed of secrets when logged).
    pub fn add_detail(&self, key: impl Into<String>, value: impl Into<Value>) {
        self.slot.lock().details.insert(key.into(), value.into());
    }

    /// Records what the handler changed (see [`changes`](tower_activity::changes)),
    /// in the details under [`CHANGES_KEY`](tower_activity::CHANGES_KEY); no
    /// changes add nothing.
    ///
    /// ```
    /// use axum::{Json, extract::Path};
    /// use axum_activity::{AuditedEvent, changes};
    /// use serde_json::{Value, json};
    ///
    /// async fn rename(event: AuditedEvent, Path(id): Path<u64>, Json(body): Json<Value>) -> Json<Value> {
    ///     let before = json!({"id": id, "name": "old name"});
    ///     let after = json!({"id": id, "name": body["name"]});
    ///     if let Ok(changed) = changes(&before, &after) {
    ///         event.set_changes(changed);
    ///     }
    ///     Json(after)
    /// }
    /// # let _ = rename;
    /// ```
    pub fn set_changes(&self, changes: Changes) {
        if !changes.is_empty() {
            self.add_detail(CHANGES_KEY, changes);
        }
    }

    /// Replaces the outcome the response status implies, for example to mark
    /// a `200` that reports a refused operation as a [`Outcome::Warning`].
    /// A panic is [`Outcome::Critical`], and a request cancelled while the
    /// handler ran is [`Outcome::Error`], whatever is set here.
    pub fn set_outcome(&self, outcome: Outcome) {
        self.slot.lock().outcome = Some(outcome);
    }
}

impl fmt::Debug for AuditedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuditedEvent").field(&*self.slot.lock()).finish()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuditedEvent {
    type Rejection = ActivityRejection;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match CURRENT_SLOT.try_with(|cell| cell.get_or_init(EventSlot::default).clone()) {
            Ok(slot) => Ok(AuditedEvent { slot }),
            Err(_) => Err(ActivityRejection::NotAudited),
        }
    }
}

tokio::task_local! {
    /// The slot of the wrapped handler running on this task: the wrapper's
    /// future makes a cell current while it polls the handler, and the
    /// extractor fills it on first use, so a handler that never asks for it
    /// costs no allocation.
    pub(crate) static CURRENT_SLOT: SlotCell;
}

/// Where the handler's slot is made, when it is asked for.
pub(crate) type SlotCell = OnceCell<EventSlot>;

/// What the handler set, shared between the extractor and the wrapper's
/// future.
#[derive(Clone, Default)]
pub(crate) struct EventSlot(Arc<Mutex<Enrichment>>);

/// The handler's additions to the wrapper's event.
#[derive(Debug, Default)]
pub(crate) struct Enrichment {
    pub(crate) resource_id: Option<Arc<str>>,
    pub(crate) details: Map<String, Value>,
    pub(crate) outcome: Option<Outcome>,
}

impl EventSlot {
    /// Takes what the handler set through the slot made in `cell`, if any.
    pub(crate) fn take_from(cell: Option<SlotCell>) -> Enrichment {
        cell.and_then(OnceCell::into_inner)
            .map(|slot| std::mem::take(&mut *slot.lock()))
            .unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, Enrichment> {
        // Every change is a single field assignment, so a poisoned lock still
        // holds consistent data.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
