//! The user agent as it is kept: capped and cleaned of control characters.

use std::sync::Arc;

/// The longest user agent kept, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 512;

/// Cleans a raw `User-Agent` value: bytes that are not UTF-8 become U+FFFD,
/// control characters (CR, LF, NUL, DEL, C1 controls, line and paragraph
/// separators) are removed, and the result is cut to
/// [`MAX_USER_AGENT_CHARS`] characters.
///
/// ```
/// use tower_activity::sanitize_user_agent;
///
/// assert_eq!(sanitize_user_agent(b"curl/8.5\r\nX-Evil: 1"), "curl/8.5X-Evil: 1");
/// assert_eq!(sanitize_user_agent(&[b'a'; 5000]).chars().count(), 512);
/// ```
pub fn sanitize_user_agent(raw: &[u8]) -> String {
    if raw.len() <= MAX_USER_AGENT_CHARS && raw.iter().all(|byte| (0x20..0x7f).contains(byte)) {
        // Printable ASCII, the usual case: nothing to remove or replace.
        return String::from_utf8_lossy(raw).into_owned();
    }
    String::from_utf8_lossy(raw)
        .chars()
        .filter(|c| !is_forbidden(*c))
        .take(MAX_USER_AGENT_CHARS)
        .collect()
}

/// [`sanitize_user_agent`] as shared text, made without an intermediate
/// `String` in the usual case (printable ASCII within the cap).
pub(crate) fn clean_user_agent(raw: &[u8]) -> Arc<str> {
    if raw.len() <= MAX_USER_AGENT_CHARS
        && raw.iter().all(|byte| (0x20..0x7f).contains(byte))
        && let Ok(text) = std::str::from_utf8(raw)
    {
        return Arc::from(text);
    }
    Arc::from(sanitize_user_agent(raw))
}

/// Whether `user_agent` is already as [`sanitize_user_agent`] would leave it.
pub(crate) fn is_clean(user_agent: &str) -> bool {
    let short =
        user_agent.len() <= MAX_USER_AGENT_CHARS || user_agent.chars().count() <= MAX_USER_AGENT_CHARS;
    short && !user_agent.chars().any(is_forbidden)
}

/// Control characters and the Unicode line / paragraph separators, which some
/// readers treat as line breaks.
pub(crate) fn is_forbidden(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_controls_are_removed() {
        let cleaned = sanitize_user_agent(b"Mozilla\r\n\x00\x1b[31m\x7fok");
        assert_eq!(cleaned, "Mozilla[31mok");
    }

    #[test]
    fn five_thousand_characters_are_cut_to_the_cap() {
        let raw = format!("agent\r\n{}", "x".repeat(5_000));
        let cleaned = sanitize_user_agent(raw.as_bytes());
        assert_eq!(cleaned.chars().count(), MAX_USER_AGENT_CHARS);
        assert!(!cleaned.contains('\r') && !cleaned.contains('\n'));
    }

    #[test]
    fn non_utf8_bytes_are_replaced_not_rejected() {
        let cleaned = sanitize_user_agent(b"bot/\xff\xfe1.0");
        assert_eq!(cleaned, "bot/\u{fffd}\u{fffd}1.0");
    }

    #[test]
    fn unicode_line_separators_are_removed() {
        assert_eq!(sanitize_user_agent("a\u{2028}b\u{85}c".as_bytes()), "abc");
    }
}
