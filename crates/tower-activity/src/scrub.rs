//! Keeping secrets out of details: key-based redaction, card-number detection
//! and the size cap.

use std::sync::Arc;

use serde_json::{Value, json};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// What a value nested deeper than [`MAX_DETAILS_DEPTH`] is replaced with.
pub const TOO_DEEP: &str = "[TOO DEEP]";

/// How deep details may nest; deeper values are replaced by [`TOO_DEEP`], so no
/// sink can overflow its stack serializing them.
pub const MAX_DETAILS_DEPTH: usize = 64;

/// The default cap on serialized details: 16 KiB.
pub const DEFAULT_MAX_DETAILS_BYTES: usize = 16 * 1024;

/// The key patterns redacted by default. A pattern matches a key when the key,
/// split into words (at `_`, `-`, `.`, spaces and camelCase humps, then
/// lowercased), holds a run of words that spells the pattern without its
/// separators; a pattern of six letters or more also matches at the start or
/// end of a single word (`newPassword`, `passwordhash`).
pub const DEFAULT_SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth_token",
    "session_token",
    "api_key",
    "access_key",
    "private_key",
    "authorization",
    "cookie",
    "card_number",
    "credit_card",
    "cc_number",
    "cvv",
    "cvv2",
    "cvc",
    "ssn",
    "social_security_number",
    "otp",
];

/// Redacts secrets from details and caps their size.
///
/// Values under a secret-looking key, at any depth, become `"[REDACTED]"`, and
/// so do strings and numbers that look like payment card numbers (13 to 19
/// digits passing the Luhn check). Details whose JSON is larger than the cap are
/// replaced by a marker giving their size.
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

    /// Turns detection of card numbers in values on or off (on by default).
    pub fn detect_card_numbers(mut self, on: bool) -> Self {
        self.card_numbers = on;
        self
    }

    /// Redacts `details` in place, then replaces them with a size marker if
    /// they are over the cap:
    /// `{"details_omitted": {"bytes": <size>, "limit": <cap>}}`.
    pub fn scrub(&self, details: &mut Value) {
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
                Value::String(text) if self.card_numbers && looks_like_card_number(text) => {
                    *value = Value::String(REDACTED.to_owned());
                }
                Value::Number(number) if self.card_numbers && looks_like_card_number(&number.to_string()) => {
                    *value = Value::String(REDACTED.to_owned());
                }
                _ => {}
            }
        }
        let size = serialized_len(details);
        if size > self.max_details_bytes {
            *details = json!({"details_omitted": {"bytes": size, "limit": self.max_details_bytes}});
        }
    }

    /// Whether values under `key` are redacted.
    pub fn is_secret_key(&self, key: &str) -> bool {
        let words = split_words(key);
        self.keys.iter().any(|pattern| matches_words(&words, pattern))
    }
}

/// A pattern without separators, lowercased: `api_key` → `apikey`.
fn normalize(pattern: &str) -> String {
    split_words(pattern).concat()
}

/// Lowercase words of a key: split at non-alphanumerics and camelCase humps
/// (`newPassword` → `new`, `password`; `APIKey` → `api`, `key`).
fn split_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let chars: Vec<char> = key.chars().take(256).collect();
    for (at, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        let previous = at.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(at + 1);
        let hump = c.is_uppercase()
            && !word.is_empty()
            && (previous.is_some_and(char::is_lowercase) || next.is_some_and(|n| n.is_lowercase()));
        if hump {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn matches_words(words: &[String], pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    for start in 0..words.len() {
        let mut run = String::new();
        for word in &words[start..] {
            run.push_str(word);
            if run.len() >= pattern.len() {
                break;
            }
        }
        if run == pattern {
            return true;
        }
        let word = &words[start];
        if pattern.len() >= 6 && (word.starts_with(pattern) || word.ends_with(pattern)) {
            return true;
        }
    }
    false
}

/// 13 to 19 digits, optionally grouped by spaces or dashes, passing Luhn.
fn looks_like_card_number(text: &str) -> bool {
    if text.len() > 40 {
        return false;
    }
    let mut digits = Vec::with_capacity(19);
    for c in text.trim().chars() {
        match c {
            '0'..='9' => digits.push(c as u32 - '0' as u32),
            ' ' | '-' => {}
            _ => return false,
        }
    }
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(at, &digit)| match (at % 2, digit * 2) {
            (0, _) => digit,
            (_, doubled) if doubled > 9 => doubled - 9,
            (_, doubled) => doubled,
        })
        .sum();
    sum.is_multiple_of(10)
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

/// The length of `value` serialized as compact JSON, without building the text.
pub(crate) fn serialized_len(value: &Value) -> usize {
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
        let size = serialized_len(&details);
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
        assert_eq!(serialized_len(&details), 20);
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

    #[test]
    fn word_splitting_handles_camel_case_and_acronyms() {
        assert_eq!(split_words("newPassword"), ["new", "password"]);
        assert_eq!(split_words("APIKey"), ["api", "key"]);
        assert_eq!(split_words("x-api-key"), ["x", "api", "key"]);
        assert_eq!(split_words("HTTP_AUTHORIZATION"), ["http", "authorization"]);
    }
}
