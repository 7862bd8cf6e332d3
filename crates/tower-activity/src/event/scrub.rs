//! Keeping secrets out of details: redaction under secret keys and of
//! secrets inside text, the depth limit and the size cap.

use std::sync::Arc;

use serde_json::{Value, json};

use super::Details;
use super::secret_keys::{DEFAULT_SECRET_KEYS, Words, normalize};
use super::secret_text::{looks_like_card_number, scrub_text};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// What a value nested deeper than [`MAX_DETAILS_DEPTH`] is replaced with.
pub const TOO_DEEP: &str = "[TOO DEEP]";

/// How deep details may nest; deeper values are replaced by [`TOO_DEEP`], so no
/// sink can overflow its stack serializing them.
pub const MAX_DETAILS_DEPTH: usize = 64;

/// The default cap on serialized details: 16 KiB.
pub const DEFAULT_MAX_DETAILS_BYTES: usize = 16 * 1024;

/// Redacts secrets from details and caps their size.
///
/// Values under a secret-looking key, at any depth, become `"[REDACTED]"`, and
/// so do numbers that look like payment card numbers (13 to 19 digits passing
/// the Luhn check). Inside text, card numbers, the password of a URL
/// (`postgres://app:secret@db`) and the credentials of `Bearer` / `Basic`
/// authorizations are replaced by `[REDACTED]`, the rest of the text kept.
/// Details whose JSON is larger than the cap are replaced by a marker giving
/// their size.
///
/// ```
/// use serde_json::json;
/// use tower_activity::Scrubber;
///
/// let scrubber = Scrubber::new().redact_key("national_id");
/// let mut details = json!({
///     "user": {"email": "a@example.com", "newPassword": "hunter2"},
///     "headers": {"Authorization": "Bearer abc"},
///     "national-id": "X123",
///     "note": "paid with 4111 1111 1111 1111",
///     "card": "4111-1111-1111-1111",
/// });
/// scrubber.scrub(&mut details);
/// assert_eq!(details["user"]["newPassword"], "[REDACTED]");
/// assert_eq!(details["headers"]["Authorization"], "[REDACTED]");
/// assert_eq!(details["national-id"], "[REDACTED]");
/// assert_eq!(details["card"], "[REDACTED]");
/// assert_eq!(details["note"], "paid with [REDACTED]");
/// assert_eq!(details["user"]["email"], "a@example.com");
/// ```
#[derive(Clone, Debug)]
pub struct Scrubber {
    keys: Arc<[String]>,
    max_details_bytes: usize,
    card_numbers: bool,
}

impl Default for Scrubber {
    fn default() -> Self {
        Scrubber::new()
    }
}

impl Scrubber {
    /// The default scrubber: [`DEFAULT_SECRET_KEYS`], card-number detection, and
    /// a [`DEFAULT_MAX_DETAILS_BYTES`] cap.
    pub fn new() -> Self {
        Scrubber {
            keys: DEFAULT_SECRET_KEYS.iter().map(|key| normalize(key)).collect(),
            max_details_bytes: DEFAULT_MAX_DETAILS_BYTES,
            card_numbers: true,
        }
    }

    /// Also redacts keys matching `pattern` (see [`DEFAULT_SECRET_KEYS`] for how
    /// patterns match).
    pub fn redact_key(mut self, pattern: &str) -> Self {
        let mut keys = self.keys.to_vec();
        keys.push(normalize(pattern));
        self.keys = keys.into();
        self
    }

    /// Redacts exactly the keys matching `patterns`, replacing the defaults.
    pub fn redact_only<I>(mut self, patterns: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.keys = patterns.into_iter().map(|key| normalize(key.as_ref())).collect();
        self
    }

    /// Sets the cap on serialized details, in bytes.
    pub fn max_details_bytes(mut self, max: usize) -> Self {
        self.max_details_bytes = max;
        self
    }

    /// Redacts card numbers and credentials inside `text`, as [`scrub`](Self::scrub)
    /// does for the strings of details; for other free text, such as panic
    /// messages.
    pub fn scrub_text(&self, text: &str) -> String {
        scrub_text(text, self.card_numbers).unwrap_or_else(|| text.to_owned())
    }

    /// Turns detection of card numbers in values on or off (on by default).
    pub fn detect_card_numbers(mut self, on: bool) -> Self {
        self.card_numbers = on;
        self
    }

    /// Redacts `details` in place, then replaces them with a size marker if
    /// they are over the cap:
    /// `{"details_omitted": {"bytes": <size>, "limit": <cap>}}`.
    pub fn scrub(&self, details: &mut Value) {
        self.redact(details);
        let size = json_size(details);
        if size > self.max_details_bytes {
            *details = self.omitted(size);
        }
    }

    /// [`scrub`](Self::scrub) for an event's details, which are kept as
    /// compact JSON text afterwards: the text is written once, and its length
    /// is the size the cap measures.
    pub(crate) fn scrub_details(&self, details: &mut Details) {
        self.redact(details.value_mut());
        let size = details.freeze();
        if size > self.max_details_bytes {
            *details = Details::frozen(&self.omitted(size));
        }
    }

    /// The marker that replaces details of `size` bytes, over the cap.
    fn omitted(&self, size: usize) -> Value {
        json!({"details_omitted": {"bytes": size, "limit": self.max_details_bytes}})
    }

    /// Redacts secrets in `details`, in place.
    fn redact(&self, details: &mut Value) {
        let mut stack = vec![(&mut *details, 0)];
        while let Some((value, depth)) = stack.pop() {
            match value {
                Value::Object(_) | Value::Array(_) if depth >= MAX_DETAILS_DEPTH => {
                    dismantle(std::mem::replace(value, Value::String(TOO_DEEP.to_owned())));
                }
                Value::Object(map) => {
                    for (key, value) in map.iter_mut() {
                        if self.is_secret_key(key) {
                            dismantle(std::mem::replace(value, Value::String(REDACTED.to_owned())));
                        } else {
                            stack.push((value, depth + 1));
                        }
                    }
                }
                Value::Array(items) => stack.extend(items.iter_mut().map(|item| (item, depth + 1))),
                Value::String(text) => {
                    if let Some(scrubbed) = scrub_text(text, self.card_numbers) {
                        *text = scrubbed;
                    }
                }
                Value::Number(number) if self.card_numbers && looks_like_card_number(&number.to_string()) => {
                    *value = Value::String(REDACTED.to_owned());
                }
                _ => {}
            }
        }
    }

    /// Whether values under `key` are redacted.
    pub fn is_secret_key(&self, key: &str) -> bool {
        let words = Words::split(key);
        self.keys.iter().any(|pattern| words.matches(pattern))
    }
}

/// Drops a value without recursion, however deep it is.
fn dismantle(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, value)| value)),
            _ => {}
        }
    }
}

/// The length of `value` serialized as compact JSON, without building the
/// text: the size the details cap measures.
fn json_size(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_password_and_authorization_keys_are_redacted_at_any_depth() {
        let mut details = json!({
            "request": {"headers": [{"Authorization": "Bearer x"}, {"X-API-Key": "k"}]},
            "form": {"user": {"password": "p", "PASSWORD_CONFIRMATION": "p"}},
            "Cookie": "sid=1",
            "client_secret": "s",
            "accessToken": "t",
            "cvv": 123,
            "ssn": "078-05-1120",
            "kept": {"username": "ada", "tokens_used": 12, "classname": "x"}
        });
        Scrubber::new().scrub(&mut details);
        for pointer in [
            "/request/headers/0/Authorization",
            "/request/headers/1/X-API-Key",
            "/form/user/password",
            "/form/user/PASSWORD_CONFIRMATION",
            "/Cookie",
            "/client_secret",
            "/accessToken",
            "/cvv",
            "/ssn",
        ] {
            assert_eq!(details.pointer(pointer), Some(&json!(REDACTED)), "{pointer}");
        }
        assert_eq!(
            details["kept"],
            json!({"username": "ada", "tokens_used": 12, "classname": "x"})
        );
    }

    #[test]
    fn a_redacted_object_is_replaced_whole() {
        let mut details = json!({"secret": {"nested": "value"}});
        Scrubber::new().scrub(&mut details);
        assert_eq!(details, json!({"secret": REDACTED}));
    }

    #[test]
    fn custom_keys_can_add_to_or_replace_the_defaults() {
        let added = Scrubber::new().redact_key("tax-id");
        assert!(added.is_secret_key("taxId"));
        assert!(added.is_secret_key("password"));
        let only = Scrubber::new().redact_only(["tax_id"]);
        assert!(!only.is_secret_key("password"));
        assert!(only.is_secret_key("TAX_ID"));
    }

    #[test]
    fn card_numbers_in_values_are_detected_by_luhn() {
        let mut details = json!({
            "a": "4111 1111 1111 1111",
            "b": 5500005555555559u64,
            "c": "4111 1111 1111 1112",
            "d": "12345"
        });
        Scrubber::new().scrub(&mut details);
        assert_eq!(details["a"], REDACTED);
        assert_eq!(details["b"], REDACTED);
        assert_eq!(details["c"], "4111 1111 1111 1112");
        assert_eq!(details["d"], "12345");
    }

    #[test]
    fn one_megabyte_details_are_replaced_by_a_size_marker() {
        let mut details = json!({"blob": "x".repeat(1024 * 1024)});
        let size = json_size(&details);
        Scrubber::new().scrub(&mut details);
        assert_eq!(
            details,
            json!({"details_omitted": {"bytes": size, "limit": DEFAULT_MAX_DETAILS_BYTES}})
        );
    }

    #[test]
    fn details_at_the_cap_are_kept() {
        let scrubber = Scrubber::new().max_details_bytes(20);
        let mut details = json!({"k": "0123456789ab"});
        assert_eq!(json_size(&details), 20);
        scrubber.scrub(&mut details);
        assert_eq!(details, json!({"k": "0123456789ab"}));
    }

    #[test]
    fn values_nested_past_the_depth_limit_are_cut() {
        let mut details = json!("leaf");
        for _ in 0..100_000 {
            details = Value::Array(vec![details]);
        }
        Scrubber::new().scrub(&mut details);
        let mut value = &details;
        let mut depth = 0;
        while let Value::Array(items) = value {
            value = &items[0];
            depth += 1;
        }
        assert_eq!(depth, MAX_DETAILS_DEPTH);
        assert_eq!(value, &json!(TOO_DEEP));
    }
}
