//! Secrets inside text: card numbers (Luhn-checked) and credentials (a URL's
//! password, `Bearer` / `Basic` authorizations).

use super::scrub::REDACTED;

/// `text` with card numbers and credentials replaced by [`REDACTED`], or
/// `None` when there is nothing to replace.
pub(super) fn scrub_text(text: &str, card_numbers: bool) -> Option<String> {
    let mut spans = Vec::new();
    if card_numbers {
        card_number_spans(text, &mut spans);
    }
    credential_spans(text, &mut spans);
    if spans.is_empty() {
        return None;
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&text[at..]);
    Some(out)
}

/// Byte spans of 13 to 19 digits, grouped by single spaces or dashes, that
/// pass the Luhn check and stand alone (no letter or digit around them).
fn card_number_spans(text: &str, spans: &mut Vec<(usize, usize)>) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let glued = at > 0 && bytes[at - 1].is_ascii_alphanumeric();
        if !bytes[at].is_ascii_digit() || glued {
            at += 1;
            continue;
        }
        let start = at;
        let mut end = at;
        let mut digits = Vec::with_capacity(19);
        while end < bytes.len() {
            match bytes[end] {
                digit @ b'0'..=b'9' => {
                    digits.push(u32::from(digit - b'0'));
                    end += 1;
                }
                b' ' | b'-' if bytes.get(end + 1).is_some_and(u8::is_ascii_digit) => end += 1,
                _ => break,
            }
        }
        let alone = !bytes.get(end).is_some_and(u8::is_ascii_alphanumeric);
        if alone && passes_luhn(&digits) {
            spans.push((start, end));
        }
        at = end.max(start + 1);
    }
}

/// Byte spans of the password in `scheme://user:password@host` and of the
/// credentials after `Bearer ` or `Basic `.
fn credential_spans(text: &str, spans: &mut Vec<(usize, usize)>) {
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let authority_start = from + found + 3;
        let authority_end = text[authority_start..]
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .map_or(text.len(), |end| authority_start + end);
        let authority = &text[authority_start..authority_end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            spans.push((authority_start + colon + 1, authority_start + at));
        }
        from = authority_start;
    }
    let lower = text.to_ascii_lowercase();
    for scheme in ["bearer ", "basic "] {
        let mut from = 0;
        while let Some(found) = lower[from..].find(scheme) {
            let start = from + found + scheme.len();
            let token_end = text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-._~+/=".contains(c)))
                .map_or(text.len(), |end| start + end);
            if token_end - start >= 8 {
                spans.push((start, token_end));
            }
            from = start;
        }
    }
}

/// A number of 13 to 19 digits passing the Luhn check.
pub(super) fn looks_like_card_number(text: &str) -> bool {
    let digits: Option<Vec<u32>> = text.chars().map(|c| c.to_digit(10)).collect();
    digits.is_some_and(|digits| passes_luhn(&digits))
}

/// 13 to 19 digits whose Luhn checksum is valid.
fn passes_luhn(digits: &[u32]) -> bool {
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

#[cfg(test)]
mod tests {
    use crate::Scrubber;

    #[test]
    fn card_numbers_and_credentials_inside_text_are_redacted() {
        let scrubber = Scrubber::new();
        let cases = [
            (
                "paid with 4111 1111 1111 1111 today",
                "paid with [REDACTED] today",
            ),
            ("card 5500-0055-5555-5559.", "card [REDACTED]."),
            ("order 4111111111111112 shipped", "order 4111111111111112 shipped"),
            ("id x4111111111111111", "id x4111111111111111"),
            (
                "connect postgres://app:s3cr3t@db:5432/prod failed",
                "connect postgres://app:[REDACTED]@db:5432/prod failed",
            ),
            ("https://example.com/a@b", "https://example.com/a@b"),
            (
                "Authorization: Bearer eyJhbGciOi.J9x",
                "Authorization: Bearer [REDACTED]",
            ),
            ("basic dXNlcjpwYXNz", "basic [REDACTED]"),
            ("bearer of bad news", "bearer of bad news"),
            ("nothing to see", "nothing to see"),
        ];
        for (text, expected) in cases {
            assert_eq!(scrubber.scrub_text(text), expected, "{text}");
        }
    }
}
