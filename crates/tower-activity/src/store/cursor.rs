//! The opaque position of a keyset-paginated listing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An opaque position in a listing. Its text form is stable and safe in URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(Uuid);

impl Cursor {
    /// The position just past the event `id`.
    pub fn after_event(id: Uuid) -> Self {
        Cursor(id)
    }

    /// The id of the last event before this position.
    pub fn event_id(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c1{}", self.0.simple())
    }
}

/// Text that is not a cursor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: pass back the `next` value of a previous page unchanged")]
pub struct InvalidCursor;

impl FromStr for Cursor {
    type Err = InvalidCursor;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hex = text.strip_prefix("c1").ok_or(InvalidCursor)?;
        if hex.len() != 32 {
            return Err(InvalidCursor);
        }
        Uuid::try_parse(hex).map(Cursor).map_err(|_| InvalidCursor)
    }
}

impl Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_tampering() {
        let cursor = Cursor::after_event(Uuid::now_v7());
        assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
        for bad in [
            "",
            "c1",
            "c1zz",
            "x1",
            "c1' OR 1=1 --",
            &format!("c2{}", cursor.0.simple()),
        ] {
            assert_eq!(bad.parse::<Cursor>(), Err(InvalidCursor), "{bad}");
        }
    }
}
