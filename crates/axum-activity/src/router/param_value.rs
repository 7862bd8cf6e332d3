//! One query parameter's value: read from its text, refused when given more
//! than once or when its bytes are not text, each refusal saying what was
//! expected.

use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use tower_activity::export::ExportFormat;
use tower_activity::{Action, ActionSelector, ActorKind, Cursor, MAX_PAGE_LIMIT, Order, Outcome};

use super::api_error::ApiError;

/// One value of a parameter, read by [`ParamValue::read`]. A parameter of
/// this type given more than once is an error; one that may repeat is a
/// `Vec` of them.
#[derive(Debug)]
pub(super) struct Param<T>(pub(super) T);

impl<'de, T: ParamValue> Deserialize<'de> for Param<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParamVisitor(PhantomData))
    }
}

struct ParamVisitor<T>(PhantomData<T>);

impl<'de, T: ParamValue> Visitor<'de> for ParamVisitor<T> {
    type Value = Param<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("one value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        T::read(text).map(Param).map_err(E::custom)
    }

    // The values of a repeated parameter come as a sequence.
    fn visit_seq<A: SeqAccess<'de>>(self, _values: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("given more than once; it takes one value"))
    }
}

/// What a parameter's text reads into; the error says what was expected.
pub(super) trait ParamValue: Sized {
    /// The value `text` reads as, or what was expected.
    fn read(text: &str) -> Result<Self, String>;
}

/// Text matched exactly, at most `MAX_CHARS` characters, as stored.
#[derive(Debug)]
pub(super) struct Text<const MAX_CHARS: usize>(pub(super) String);

impl<const MAX_CHARS: usize> ParamValue for Text<MAX_CHARS> {
    fn read(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("must not be empty; omit it to match any value".to_owned());
        }
        if text.chars().count() > MAX_CHARS {
            return Err(format!(
                "longer than {MAX_CHARS} characters, so it matches nothing that is stored"
            ));
        }
        Ok(Text(text.to_owned()))
    }
}

/// A `detail`: `KEY:VALUE`, split at the first `:`, each at most
/// `MAX_CHARS` characters; the key is not empty, the value may be.
#[derive(Debug)]
pub(super) struct Detail<const MAX_CHARS: usize>(pub(super) String, pub(super) String);

impl<const MAX_CHARS: usize> ParamValue for Detail<MAX_CHARS> {
    fn read(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some((key, value)) if !key.is_empty() => {
                if key.chars().count() > MAX_CHARS || value.chars().count() > MAX_CHARS {
                    return Err(format!("a key or value longer than {MAX_CHARS} characters"));
                }
                Ok(Detail(key.to_owned(), value.to_owned()))
            }
            _ => Err("expected KEY:VALUE, such as reason:bad_password".to_owned()),
        }
    }
}

impl ParamValue for IpNet {
    fn read(text: &str) -> Result<Self, String> {
        tower_activity::parse_ip_filter(text).map_err(|error| error.to_string())
    }
}

/// A page size, 1 to [`MAX_PAGE_LIMIT`].
#[derive(Debug)]
pub(super) struct Limit(pub(super) usize);

impl ParamValue for Limit {
    fn read(text: &str) -> Result<Self, String> {
        text.parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE_LIMIT).contains(limit))
            .map(Limit)
            .ok_or_else(|| format!("expected a whole number from 1 to {MAX_PAGE_LIMIT}"))
    }
}

impl ParamValue for DateTime<Utc> {
    fn read(text: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|_| {
                "expected an RFC 3339 time such as 2025-01-31T23:59:59Z or 2025-01-31T23:59:59+01:00"
                    .to_owned()
            })
    }
}

impl ParamValue for Order {
    fn read(text: &str) -> Result<Self, String> {
        match text {
            "newest_first" => Ok(Order::NewestFirst),
            "oldest_first" => Ok(Order::OldestFirst),
            _ => Err("expected `newest_first` or `oldest_first`".to_owned()),
        }
    }
}

/// Types read by their `FromStr`, whose error says what was expected.
macro_rules! from_str_values {
    ($($ty:ty),*) => {$(
        impl ParamValue for $ty {
            fn read(text: &str) -> Result<Self, String> {
                text.parse().map_err(|error: <$ty as std::str::FromStr>::Err| error.to_string())
            }
        }
    )*};
}

from_str_values!(Action, ActionSelector, ActorKind, Outcome, Cursor, ExportFormat);

/// Refuses a parameter whose name or value is not UTF-8 once
/// percent-decoded, such as `actor=%FF%FE`: `serde_html_form` would read it
/// with U+FFFD in place of the bytes, and match entries that hold U+FFFD.
pub(super) fn refuse_invalid_utf8(query: &str) -> Result<(), ApiError> {
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded_name = percent_decode_str(name);
        if decoded_name.clone().decode_utf8().is_err() || percent_decode_str(value).decode_utf8().is_err() {
            return Err(ApiError::bad_parameter(
                &decoded_name.decode_utf8_lossy(),
                "not valid UTF-8 once percent-decoded",
            ));
        }
    }
    Ok(())
}
