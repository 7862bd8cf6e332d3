//! The action catalogue: the actions an application may log, what each
//! means, its category and the schema of its details, checked before an
//! event is queued.

mod entry;
mod schema;
mod typed;
mod violation;

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize, Serializer};

pub use self::entry::{CatalogueEntry, CatalogueError};
pub use self::schema::{DetailSpec, DetailType};
pub use self::typed::CatalogueAction;
pub use self::violation::{CATALOGUE_KEY, CatalogueViolation, ViolationKind};
use crate::context::PANIC_ACTION;
use crate::event::{Action, ActivityEvent, Details};

/// The actions an application may log: for each, a description, a category
/// and the schema of its details (see [`CatalogueEntry`]).
///
/// Give it to a recorder with
/// [`RecorderBuilder::catalogue`](crate::RecorderBuilder::catalogue): every
/// event logged through it ([`log_activity`](crate::log_activity),
/// [`Recorder::record`](crate::Recorder::record), the axum handler wrapper,
/// the transactional write) is then checked before it is queued, and stored
/// with its entry's category.
///
/// - **Strict** ([`strict`](Self::strict)): an event with an unknown action
///   or details that break its schema is refused with
///   [`LogError::Catalogue`](crate::LogError::Catalogue), naming the action
///   and the key.
/// - **Lenient** (the default, so a mistake never costs an audit record): the
///   event is kept, marked with the problem under [`CATALOGUE_KEY`] in its
///   details, and stored with its action's namespace as category.
///
/// Both are counted in [`metrics::CATALOGUE_VIOLATIONS`](crate::metrics::CATALOGUE_VIOLATIONS)
/// and in [`RecorderStats`](crate::RecorderStats).
///
/// Schemas are closed: a detail key the entry does not list is a violation
/// (the toolkit's own [`CHANGES_KEY`](crate::CHANGES_KEY) excepted). The
/// toolkit's own actions (the `activity` namespace, such as
/// [`VIEWED_ACTION`](crate::VIEWED_ACTION), and
/// [`PANIC_ACTION`](crate::PANIC_ACTION)) always pass, with their namespace
/// as category. CRUD verbs (`create`, …), which the handler wrapper records,
/// must be listed like any other action.
///
/// It serializes as `{"actions": [...]}`, sorted by action, each entry with
/// its effective category; that is what the log router's `GET /actions`
/// serves and what `activity-log actions --catalogue` reads back. The mode
/// is not part of it: a catalogue read from JSON is lenient until
/// [`strict`](Self::strict) is called, and reading one checks every entry as
/// [`action`](Self::action) does.
///
/// ```
/// use tower_activity::{ActivityEvent, Catalogue, CatalogueEntry, DetailSpec, DetailType};
///
/// let catalogue = Catalogue::new()
///     .action(
///         CatalogueEntry::new("auth.login.failed", "A sign-in attempt failed")
///             .detail("reason", DetailSpec::required(DetailType::String))
///             .detail("email", DetailSpec::optional(DetailType::String).personal()),
///     )?
///     .action(
///         CatalogueEntry::new("user.role.changed", "A user's role changed")
///             .category("user_admin")
///             .detail("from", DetailSpec::required(DetailType::String))
///             .detail("to", DetailSpec::required(DetailType::String)),
///     )?
///     .strict();
///
/// let bad = ActivityEvent::builder("auth.login.failed").detail("reason", 3).build()?;
/// let error = catalogue.check(&bad).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     r#"action "auth.login.failed": detail "reason" must be a string, not an integer"#
/// );
/// assert_eq!(catalogue.personal_keys(), ["email"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(try_from = "Listing<CatalogueEntry>")]
pub struct Catalogue {
    entries: HashMap<Box<str>, Listed>,
    strict: bool,
}

/// One entry and its category, shared with every event that takes it.
#[derive(Clone, Debug)]
struct Listed {
    entry: CatalogueEntry,
    category: Arc<str>,
}

/// What [`Catalogue::apply`] did with an event it let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The event follows the catalogue.
    Admitted,
    /// The event breaks it and was marked (lenient mode).
    Marked,
}

impl Catalogue {
    /// An empty, lenient catalogue.
    pub fn new() -> Self {
        Catalogue::default()
    }

    /// Adds `entry`. Fails when its action name or category is invalid, or
    /// when the action is already listed.
    pub fn action(mut self, mut entry: CatalogueEntry) -> Result<Self, CatalogueError> {
        let action = entry.validate()?;
        let category: Arc<str> = match &entry.category {
            Some(category) => category.as_str().into(),
            None => action.namespace().into(),
        };
        entry.category = Some(category.to_string());
        let name: Box<str> = action.as_str().into();
        if self.entries.contains_key(&name) {
            return Err(CatalogueError::new(&name, "the action is listed twice"));
        }
        self.entries.insert(name, Listed { entry, category });
        Ok(self)
    }

    /// Refuses events that break the catalogue instead of marking them.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// Whether events that break the catalogue are refused.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The entry for `action`, when it is listed.
    pub fn get(&self, action: &str) -> Option<&CatalogueEntry> {
        self.entries.get(action).map(|listed| &listed.entry)
    }

    /// The entries, sorted by action.
    pub fn entries(&self) -> Vec<&CatalogueEntry> {
        let mut entries: Vec<_> = self.entries.values().map(|listed| &listed.entry).collect();
        entries.sort_unstable_by(|a, b| a.action().cmp(b.action()));
        entries
    }

    /// How many actions are listed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no action is listed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The detail keys marked personal in any entry, sorted, once each: the
    /// keys anonymizing a data subject must clear.
    pub fn personal_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .entries
            .values()
            .flat_map(|listed| listed.entry.personal_keys())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Whether `event` follows the catalogue: its action listed (or one of
    /// the toolkit's own) and its details within the action's schema.
    pub fn check(&self, event: &ActivityEvent) -> Result<(), CatalogueViolation> {
        self.category(event).map(drop)
    }

    /// The category `event` is stored with, once it is found to follow the
    /// catalogue.
    fn category(&self, event: &ActivityEvent) -> Result<Option<Arc<str>>, CatalogueViolation> {
        let name = event.action.as_str();
        let Some(listed) = self.entries.get(name) else {
            if is_own(&event.action) {
                return Ok(None);
            }
            return Err(CatalogueViolation::new(name, None, ViolationKind::UnknownAction));
        };
        let details = event.details.as_ref().map(Details::as_value);
        schema::check(name, listed.entry.details(), details.as_deref())?;
        Ok(Some(listed.category.clone()))
    }

    /// Checks `event` and gives it its category; a violation is returned in
    /// strict mode, marked on the event in lenient mode.
    pub(crate) fn apply(&self, event: &mut ActivityEvent) -> Result<Admission, CatalogueViolation> {
        let (category, admission) = match self.category(event) {
            Ok(category) => (category, Admission::Admitted),
            Err(violation) if self.strict => return Err(violation),
            Err(violation) => {
                event
                    .details
                    .get_or_insert_with(|| Details::new(serde_json::Value::Object(Default::default())))
                    .insert(CATALOGUE_KEY.to_owned(), violation.to_string().into());
                (None, Admission::Marked)
            }
        };
        if event.category.is_none() {
            event.category = Some(category.unwrap_or_else(|| event.action.namespace().into()));
        }
        Ok(admission)
    }
}

/// Whether `action` is one of the toolkit's own, which every catalogue admits.
fn is_own(action: &Action) -> bool {
    action.is_in("activity") || action.as_str() == PANIC_ACTION
}

/// The serialized form of a [`Catalogue`].
#[derive(Serialize, Deserialize)]
struct Listing<E> {
    actions: Vec<E>,
}

impl Serialize for Catalogue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Listing {
            actions: self.entries(),
        }
        .serialize(serializer)
    }
}

impl TryFrom<Listing<CatalogueEntry>> for Catalogue {
    type Error = CatalogueError;

    fn try_from(listing: Listing<CatalogueEntry>) -> Result<Self, Self::Error> {
        listing
            .actions
            .into_iter()
            .try_fold(Catalogue::new(), Catalogue::action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalogue() -> Catalogue {
        Catalogue::new()
            .action(
                CatalogueEntry::new("auth.login.failed", "A sign-in attempt failed")
                    .detail("reason", DetailSpec::required(DetailType::String)),
            )
            .unwrap()
            .action(CatalogueEntry::new("create", "A resource was created").category("crud"))
            .unwrap()
    }

    #[test]
    fn the_category_is_the_entry_s_or_the_namespace() {
        let catalogue = catalogue();
        let mut failed = ActivityEvent::builder("auth.login.failed")
            .detail("reason", "bad_password")
            .build()
            .unwrap();
        assert_eq!(catalogue.apply(&mut failed), Ok(Admission::Admitted));
        assert_eq!(failed.category.as_deref(), Some("auth"));
        let mut created = ActivityEvent::builder(Action::Create).build().unwrap();
        catalogue.apply(&mut created).unwrap();
        assert_eq!(created.category.as_deref(), Some("crud"));
        let mut viewed = ActivityEvent::builder(crate::VIEWED_ACTION).build().unwrap();
        assert_eq!(
            catalogue.clone().strict().apply(&mut viewed),
            Ok(Admission::Admitted)
        );
        assert_eq!(viewed.category.as_deref(), Some("activity"));
    }

    #[test]
    fn lenient_marks_and_strict_refuses() {
        let mut unknown = ActivityEvent::builder("billing.refund").build().unwrap();
        let error = catalogue().strict().apply(&mut unknown.clone()).unwrap_err();
        assert_eq!(error.kind(), ViolationKind::UnknownAction);
        assert_eq!(
            error.to_string(),
            r#"action "billing.refund" is not in the catalogue"#
        );
        assert_eq!(catalogue().apply(&mut unknown), Ok(Admission::Marked));
        assert_eq!(
            unknown.details.unwrap(),
            json!({CATALOGUE_KEY: r#"action "billing.refund" is not in the catalogue"#})
        );
        assert_eq!(unknown.category.as_deref(), Some("billing"));
    }

    #[test]
    fn it_round_trips_through_json_in_a_stable_form() {
        let json = serde_json::to_value(catalogue()).unwrap();
        assert_eq!(
            json,
            json!({"actions": [
                {"action": "auth.login.failed", "description": "A sign-in attempt failed", "category": "auth",
                 "details": {"reason": {"type": "string", "required": true, "personal": false}}},
                {"action": "create", "description": "A resource was created", "category": "crud", "details": {}},
            ]})
        );
        let back: Catalogue = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(back).unwrap(), json);
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        let twice = catalogue().action(CatalogueEntry::new("create", "again"));
        assert!(
            twice
                .unwrap_err()
                .to_string()
                .contains("\"create\": the action is listed twice")
        );
        let bad =
            serde_json::from_value::<Catalogue>(json!({"actions": [{"action": "Login", "description": ""}]}));
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("invalid action name \"Login\"")
        );
        let category = Catalogue::new().action(CatalogueEntry::new("a.b", "").category("Not Valid"));
        assert!(
            category
                .unwrap_err()
                .to_string()
                .contains("category \"Not Valid\"")
        );
    }
}
