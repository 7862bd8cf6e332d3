//! Typed catalogue actions: an action name paired with its details type.

use serde::Serialize;

use crate::event::{ActivityEvent, ActivityEventBuilder};

/// An action with its details as a type: the name is a constant, the details
/// are the value itself, serialized.
///
/// ```
/// use serde::Serialize;
/// use tower_activity::CatalogueAction;
///
/// #[derive(Serialize)]
/// struct LoginFailed {
///     reason: &'static str,
/// }
///
/// impl CatalogueAction for LoginFailed {
///     const ACTION: &'static str = "auth.login.failed";
/// }
///
/// let event = LoginFailed { reason: "bad_password" }.event()?.build()?;
/// assert_eq!(event.action.as_str(), "auth.login.failed");
/// assert_eq!(event.details.unwrap().get("reason").unwrap(), "bad_password");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait CatalogueAction: Serialize {
    /// The action's name, as listed in the catalogue.
    const ACTION: &'static str;

    /// An event of the action with `self` as its details. Fails only when
    /// `self` does not serialize to JSON (a map with non-string keys, say).
    fn event(&self) -> Result<ActivityEventBuilder, serde_json::Error> {
        Ok(ActivityEvent::builder(Self::ACTION).details(serde_json::to_value(self)?))
    }
}
