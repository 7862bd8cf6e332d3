//! One action of the catalogue: [`CatalogueEntry`], and why one is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::DetailSpec;
use crate::event::{Action, MAX_CATEGORY_LEN};

/// One action of a [`Catalogue`](super::Catalogue): its name, what it means,
/// its category (its namespace unless set) and the keys of its details.
///
/// ```
/// use tower_activity::{CatalogueEntry, DetailSpec, DetailType};
///
/// let entry = CatalogueEntry::new("user.role.changed", "A user's role changed")
///     .detail("from", DetailSpec::required(DetailType::String))
///     .detail("to", DetailSpec::required(DetailType::String));
/// assert_eq!(entry.details().len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueEntry {
    action: String,
    description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) category: Option<String>,
    #[serde(default)]
    details: BTreeMap<String, DetailSpec>,
}

/// A catalogue entry that cannot be listed; its message names the action.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("catalogue entry {action:?}: {reason}")]
pub struct CatalogueError {
    action: String,
    reason: String,
}

impl CatalogueError {
    pub(super) fn new(action: &str, reason: impl Into<String>) -> Self {
        CatalogueError {
            action: action.chars().take(crate::MAX_ACTION_LEN + 16).collect(),
            reason: reason.into(),
        }
    }
}

impl CatalogueEntry {
    /// An entry for the action named `action` (`auth.login.failed`, or a CRUD
    /// verb such as `create`), checked when it is added to a catalogue, with
    /// no detail keys.
    pub fn new(action: impl Into<String>, description: impl Into<String>) -> Self {
        CatalogueEntry {
            action: action.into(),
            description: description.into(),
            category: None,
            details: BTreeMap::new(),
        }
    }

    /// Sets the category instead of the action's namespace: lowercase ASCII
    /// letters, digits and `_`, starting with a letter, at most
    /// [`MAX_CATEGORY_LEN`] bytes.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Adds the detail `key`.
    pub fn detail(mut self, key: impl Into<String>, spec: DetailSpec) -> Self {
        self.details.insert(key.into(), spec);
        self
    }

    /// The action's name.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// What the action means.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The category: the one set, else (once listed) the action's namespace.
    pub fn category_name(&self) -> Option<&str> {
        self.category.as_deref()
    }

    /// The detail keys, sorted.
    pub fn details(&self) -> &BTreeMap<String, DetailSpec> {
        &self.details
    }

    /// The detail keys marked personal.
    pub fn personal_keys(&self) -> impl Iterator<Item = &str> {
        self.details
            .iter()
            .filter(|(_, spec)| spec.is_personal())
            .map(|(key, _)| key.as_str())
    }

    /// The entry's action, once its name, category and keys are checked.
    pub(super) fn validate(&self) -> Result<Action, CatalogueError> {
        let action: Action = self
            .action
            .parse()
            .map_err(|error: crate::InvalidAction| CatalogueError::new(&self.action, error.to_string()))?;
        if let Some(category) = &self.category
            && !is_category(category)
        {
            return Err(CatalogueError::new(
                &self.action,
                format!(
                    "category {category:?} must be lowercase ASCII letters, digits and '_', \
                     start with a letter and be at most {MAX_CATEGORY_LEN} bytes"
                ),
            ));
        }
        if self.details.keys().any(String::is_empty) {
            return Err(CatalogueError::new(&self.action, "a detail key is empty"));
        }
        Ok(action)
    }
}

fn is_category(name: &str) -> bool {
    name.len() <= MAX_CATEGORY_LEN
        && name.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}
