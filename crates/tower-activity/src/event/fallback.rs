//! What a stored value this version cannot read is read as, with a warning:
//! one odd row never stops a listing, a stream or an export.

use uuid::Uuid;

use super::{Action, ActorKind, Outcome};

/// The action a stored row reads as when its action is not a valid action
/// name: a row written by hand, or by a version with other naming rules.
pub const UNKNOWN_ACTION: &str = "activity.unknown_action";

/// The outcome a stored row reads as when its outcome is not one this version
/// knows: the one that asks for a look without raising an alarm.
const UNKNOWN_OUTCOME: Outcome = Outcome::Warning;

/// The actor kind a stored row reads as when its kind is not one this version
/// knows: the kind that vouches for nothing.
pub(super) const UNKNOWN_ACTOR_KIND: ActorKind = ActorKind::Anonymous;

/// The action stored as `stored` in the row `row` (when known), or
/// [`UNKNOWN_ACTION`], with a warning.
#[doc(hidden)]
pub fn read_action(row: Option<Uuid>, stored: &str) -> Action {
    stored.parse().unwrap_or_else(|_| {
        unreadable(row, "action", stored, UNKNOWN_ACTION);
        Action::custom(UNKNOWN_ACTION).unwrap_or(Action::Read)
    })
}

/// The outcome stored as `stored` in the row `row` (when known), or the
/// fallback outcome, with a warning.
#[doc(hidden)]
pub fn read_outcome(row: Option<Uuid>, stored: &str) -> Outcome {
    stored.parse().unwrap_or_else(|_| {
        unreadable(row, "outcome", stored, UNKNOWN_OUTCOME.as_str());
        UNKNOWN_OUTCOME
    })
}

/// Warns that `column` of `row` holds `stored`, read as `fallback`.
pub(super) fn unreadable(row: Option<Uuid>, column: &str, stored: &str, fallback: &str) {
    match row {
        Some(row) => tracing::warn!(
            %row, column, stored, fallback,
            "stored activity event holds a value this version cannot read; it is read as the fallback"
        ),
        None => tracing::warn!(
            column,
            stored,
            fallback,
            "stored activity events hold a value this version cannot read; it is read as the fallback"
        ),
    }
}
