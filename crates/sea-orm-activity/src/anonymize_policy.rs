//! What anonymizing a data subject removes: [`AnonymizePolicy`].

use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, Condition, DbBackend};
use serde_json::Value;
use tower_activity::{Catalogue, MAX_ID_CHARS, MAX_ROUTE_CHARS, Scrubber};

use crate::anonymize::{DEFAULT_PERSONAL_KEYS, Subject, details_text};
use crate::anonymize_words::{replace_in_column, replace_values};
use crate::entity::{Column, Model};
use crate::filter::like_literal;

/// What anonymizing a data subject removes; see [`SeaOrmStore::anonymize`](crate::SeaOrmStore::anonymize).
///
/// ```
/// use sea_orm_activity::AnonymizePolicy;
///
/// let policy = AnonymizePolicy::new()
///     .remove_key("iban")
///     .subject_resource_type("customer");
/// # let _ = policy;
/// ```
#[derive(Clone, Debug)]
pub struct AnonymizePolicy {
    keys: Scrubber,
    subject_resource_types: Vec<String>,
    search_all_details: bool,
}

impl Default for AnonymizePolicy {
    fn default() -> Self {
        AnonymizePolicy::new()
    }
}

impl AnonymizePolicy {
    /// The default policy: [`DEFAULT_PERSONAL_KEYS`] removed from the entries
    /// by and about the subject, `user` as the resource type naming data
    /// subjects, and every entry searched for the subject's id and labels.
    pub fn new() -> Self {
        AnonymizePolicy {
            keys: Scrubber::new()
                .redact_only(DEFAULT_PERSONAL_KEYS)
                .detect_card_numbers(false),
            subject_resource_types: vec!["user".to_owned()],
            search_all_details: true,
        }
    }

    /// Also removes detail keys matching `pattern` from the entries by and
    /// about the subject.
    pub fn remove_key(mut self, pattern: &str) -> Self {
        self.keys = self.keys.redact_key(pattern);
        self
    }

    /// Also removes the detail keys `catalogue` marks personal
    /// ([`Catalogue::personal_keys`]).
    ///
    /// ```
    /// use sea_orm_activity::AnonymizePolicy;
    /// use tower_activity::{Catalogue, CatalogueEntry, DetailSpec, DetailType};
    ///
    /// let catalogue = Catalogue::new().action(
    ///     CatalogueEntry::new("billing.card.added", "A payment card was added")
    ///         .detail("holder", DetailSpec::required(DetailType::String).personal()),
    /// )?;
    /// let policy = AnonymizePolicy::new().catalogue(&catalogue);
    /// # let _ = policy;
    /// # Ok::<(), tower_activity::CatalogueError>(())
    /// ```
    pub fn catalogue(self, catalogue: &Catalogue) -> Self {
        catalogue
            .personal_keys()
            .into_iter()
            .fold(self, AnonymizePolicy::remove_key)
    }

    /// Removes exactly the detail keys matching `patterns`, replacing the
    /// defaults.
    pub fn remove_only<I>(mut self, patterns: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.keys = self.keys.redact_only(patterns);
        self
    }

    /// Also treats `resource_type` as naming data subjects: an entry on the
    /// resource `resource_type` / subject id is about the subject.
    pub fn subject_resource_type(mut self, resource_type: impl Into<String>) -> Self {
        self.subject_resource_types.push(resource_type.into());
        self
    }

    /// Whether every entry, not only those by and about the subject, is
    /// searched for the subject's id and labels, in its details, resource id
    /// and route (on by default). The search reads the whole table once, in
    /// chunks.
    pub fn search_all_details(mut self, on: bool) -> Self {
        self.search_all_details = on;
        self
    }

    /// Whether `row` is on the subject `subject` as a resource.
    fn is_about(&self, row: &Model, subject: &str) -> bool {
        row.resource_id.as_deref() == Some(subject)
            && row
                .resource_type
                .as_ref()
                .is_some_and(|kind| self.subject_resource_types.contains(kind))
    }

    /// Anonymizes `row` in place for `subject`; returns whether it changed.
    pub(crate) fn apply(&self, row: &mut Model, subject: &Subject) -> bool {
        let before = row.clone();
        let own = row.actor_id.as_deref() == Some(subject.id.as_str());
        let about = self.is_about(row, &subject.id);
        let words = if own || about {
            &subject.traces
        } else {
            &subject.names
        };
        if own {
            row.actor_id = None;
            row.actor_label = None;
            row.ip = None;
            row.user_agent = None;
        }
        if about {
            row.resource_id = None;
        }
        if let Some(details) = &mut row.details {
            if own || about {
                self.remove_keys(details);
            }
            replace_values(details, &words.text);
        }
        replace_in_column(&mut row.resource_id, &words.text, MAX_ID_CHARS);
        replace_in_column(&mut row.route, &words.route, MAX_ROUTE_CHARS);
        *row != before
    }

    /// Removes the listed keys at any depth.
    pub(crate) fn remove_keys(&self, details: &mut Value) {
        let mut stack = vec![details];
        while let Some(value) = stack.pop() {
            match value {
                Value::Object(map) => {
                    map.retain(|key, _| !self.keys.is_secret_key(key));
                    stack.extend(map.values_mut());
                }
                Value::Array(items) => stack.extend(items.iter_mut()),
                _ => {}
            }
        }
    }

    /// The entries to rewrite besides the subject's own: those about the
    /// subject, and unless the search is off, those that may name them;
    /// `None` when there are none.
    pub(crate) fn others(&self, subject: &Subject, backend: DbBackend) -> Option<Condition> {
        if self.subject_resource_types.is_empty() && !self.search_all_details {
            return None;
        }
        let mut candidates = Condition::any();
        if !self.subject_resource_types.is_empty() {
            candidates = candidates.add(
                Condition::all()
                    .add(Column::ResourceType.is_in(self.subject_resource_types.iter().map(String::as_str)))
                    .add(Column::ResourceId.eq(subject.id.as_str())),
            );
        }
        if self.search_all_details {
            // A coarse search, which may find more than whole words (and, on
            // SQLite and MySQL, ignores case): `apply` decides.
            for name in &subject.names.text {
                let json = Value::from(name.as_str()).to_string();
                candidates = candidates
                    .add(details_text(backend).like(like_literal("%", &json[1..json.len() - 1], "%")))
                    .add(Column::ResourceId.like(like_literal("%", name, "%")));
            }
            for name in &subject.names.route {
                candidates = candidates.add(Column::Route.like(like_literal("%", name, "%")));
            }
        }
        let not_own = Condition::any()
            .add(Column::ActorId.is_null())
            .add(Column::ActorId.ne(subject.id.as_str()));
        Some(Condition::all().add(not_own).add(candidates))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listed_keys_are_removed_at_any_depth() {
        let policy = AnonymizePolicy::new().remove_key("iban");
        let mut details =
            json!({"profile": {"userEmail": "a@b", "IBAN": "DE00", "plan": "pro"}, "phone": "1"});
        policy.remove_keys(&mut details);
        assert_eq!(details, json!({"profile": {"plan": "pro"}}));
    }
}
