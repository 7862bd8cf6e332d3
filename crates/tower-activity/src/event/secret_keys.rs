//! Which detail keys hold secrets: the default patterns, and how a key is
//! split into words to match them.

/// The key patterns redacted by default. A pattern matches a key when the key,
/// split into words (at `_`, `-`, `.`, spaces and camelCase humps, then
/// lowercased), holds a run of words that spells the pattern without its
/// separators (`x-api-key`, `apiKey`, `APIKEY` all match `api_key`); a pattern
/// of five letters or more also matches at the end of a single word
/// (`csrftoken`, `newpassword`), and one of six or more at its start
/// (`passwordhash`).
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
    "jwt",
    "bearer",
    "session_id",
    "credential",
    "credentials",
    "mfa_code",
    "recovery_code",
    "recovery_codes",
];

/// A pattern without separators, lowercased: `api_key` → `apikey`.
pub(super) fn normalize(pattern: &str) -> String {
    Words::split(pattern).joined
}

/// A key's lowercase words (split at non-alphanumerics and camelCase humps:
/// `newPassword` → `new`, `password`; `APIKey` → `api`, `key`), kept joined in
/// one string with the offsets where each word starts.
pub(super) struct Words {
    joined: String,
    /// Where each word starts in `joined`, then `joined.len()`.
    bounds: Vec<usize>,
}

impl Words {
    pub(super) fn split(key: &str) -> Words {
        let mut joined = String::with_capacity(key.len());
        let mut bounds = Vec::new();
        let mut previous: Option<char> = None;
        let mut chars = key.chars().peekable();
        while let Some(c) = chars.next() {
            if !c.is_alphanumeric() {
                previous = None;
                continue;
            }
            let hump = c.is_uppercase()
                && (previous.is_some_and(char::is_lowercase)
                    || (previous.is_some() && chars.peek().is_some_and(|next| next.is_lowercase())));
            if previous.is_none() || hump {
                bounds.push(joined.len());
            }
            joined.extend(c.to_lowercase());
            previous = Some(c);
        }
        bounds.push(joined.len());
        Words { joined, bounds }
    }

    /// Whether a run of whole words spells `pattern`, or one word ends with it
    /// (five letters or more) or starts with it (six or more).
    pub(super) fn matches(&self, pattern: &str) -> bool {
        if pattern.is_empty() {
            return false;
        }
        self.bounds.windows(2).enumerate().any(|(at, word)| {
            let (start, end) = (word[0], word[1]);
            let run_matches = self.joined[start..].starts_with(pattern)
                && self.bounds[at + 1..]
                    .binary_search(&(start + pattern.len()))
                    .is_ok();
            let text = &self.joined[start..end];
            run_matches
                || (pattern.len() >= 5 && text.ends_with(pattern))
                || (pattern.len() >= 6 && text.starts_with(pattern))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scrubber;

    fn words(key: &str) -> Vec<String> {
        let split = Words::split(key);
        split
            .bounds
            .windows(2)
            .map(|bounds| split.joined[bounds[0]..bounds[1]].to_owned())
            .collect()
    }

    #[test]
    fn word_splitting_handles_camel_case_and_acronyms() {
        assert_eq!(words("newPassword"), ["new", "password"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("x-api-key"), ["x", "api", "key"]);
        assert_eq!(words("HTTP_AUTHORIZATION"), ["http", "authorization"]);
        assert_eq!(words("__"), Vec::<String>::new());
    }

    #[test]
    fn glued_words_match_at_their_ends() {
        let scrubber = Scrubber::new();
        for key in [
            "apitoken",
            "csrftoken",
            "githubToken",
            "newpassword",
            "passwordHash",
            "mySecret",
            "jwt",
        ] {
            assert!(scrubber.is_secret_key(key), "{key}");
        }
        for key in ["tokenizer", "tokens_used", "classname", "author"] {
            assert!(!scrubber.is_secret_key(key), "{key}");
        }
        // A word starting with a secret word of six letters or more is
        // redacted even when it means something else: the scrubber errs on
        // the side of hiding.
        assert!(scrubber.is_secret_key("secretary_name"));
        let long = format!("{}_password", "x".repeat(10_000));
        assert!(scrubber.is_secret_key(&long), "long keys are read whole");
    }
}
