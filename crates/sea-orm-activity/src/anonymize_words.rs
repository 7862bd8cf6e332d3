//! Finding a data subject's texts as whole words, and replacing them by
//! [`ANONYMIZED`] in details, columns and routes.

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

use crate::anonymize::ANONYMIZED;

/// Texts to replace, longest first, so that a text holding another (`Ada
/// Lovelace` and `Ada`) is replaced whole.
#[derive(Debug, Default)]
pub(crate) struct Words {
    /// As they are: in details and resource ids.
    pub(crate) text: Vec<String>,
    /// As they are and percent-encoded: in routes, which may be raw paths.
    pub(crate) route: Vec<String>,
}

/// What a client may leave unencoded in a path segment: everything but
/// controls, space and the characters that end or split a segment.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// What a client may encode: everything but the unreserved characters.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Words {
    pub(crate) fn new(texts: Vec<String>) -> Words {
        let mut route = texts.clone();
        for text in &texts {
            for set in [PATH_SEGMENT, NOT_UNRESERVED] {
                route.push(utf8_percent_encode(text, set).to_string());
            }
        }
        Words {
            text: longest_first(texts),
            route: longest_first(route),
        }
    }
}

fn longest_first(mut texts: Vec<String>) -> Vec<String> {
    texts.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    texts.dedup();
    texts
}

/// Replaces every occurrence of each of `values`, as a whole word, in the
/// strings and keys of `details` by [`ANONYMIZED`].
pub(crate) fn replace_values(details: &mut Value, values: &[String]) {
    let mut stack = vec![details];
    while let Some(value) = stack.pop() {
        match value {
            Value::String(text) => {
                if let Some(replaced) = replace_words(text, values) {
                    *text = replaced;
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => {
                if map.keys().any(|key| replace_words(key, values).is_some()) {
                    let mut renamed = Map::new();
                    for (key, value) in std::mem::take(map) {
                        renamed.insert(replace_words(&key, values).unwrap_or(key), value);
                    }
                    *map = renamed;
                }
                stack.extend(map.values_mut());
            }
            _ => {}
        }
    }
}

/// Replaces each of `values`, as a whole word, in `column`, which then keeps
/// at most `max_chars` characters (the column's size).
pub(crate) fn replace_in_column(column: &mut Option<String>, values: &[String], max_chars: usize) {
    if let Some(text) = column
        && let Some(mut replaced) = replace_words(text, values)
    {
        if let Some((at, _)) = replaced.char_indices().nth(max_chars) {
            replaced.truncate(at);
        }
        *text = replaced;
    }
}

/// `text` with every whole-word occurrence of each of `values` replaced, or
/// `None` when there is none. A word boundary is the text's start or end or a
/// character that is neither alphanumeric nor `_`, so `u_42` is found in
/// `"merged u_42"` but not in `"u_420"`.
pub(crate) fn replace_words(text: &str, values: &[String]) -> Option<String> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut current: Option<String> = None;
    for value in values.iter().filter(|value| !value.is_empty()) {
        let source = current.as_deref().unwrap_or(text);
        let mut out = String::new();
        let (mut copied, mut from) = (0, 0);
        while let Some(offset) = source[from..].find(value.as_str()) {
            let at = from + offset;
            let end = at + value.len();
            let before = source[..at].chars().next_back();
            let after = source[end..].chars().next();
            if before.is_some_and(is_word) || after.is_some_and(is_word) {
                from = at + source[at..].chars().next().map_or(1, char::len_utf8);
                continue;
            }
            out.push_str(&source[copied..at]);
            out.push_str(ANONYMIZED);
            (copied, from) = (end, end);
        }
        if copied > 0 {
            out.push_str(&source[copied..]);
            current = Some(out);
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tower_activity::{MAX_ID_CHARS, MAX_ROUTE_CHARS};

    fn words(text: &str, values: &[&str]) -> Option<String> {
        let values: Vec<String> = values.iter().map(|value| value.to_string()).collect();
        replace_words(text, &values)
    }

    #[test]
    fn only_whole_word_occurrences_are_replaced() {
        assert_eq!(words("u_42", &["u_42"]).as_deref(), Some(ANONYMIZED));
        assert_eq!(
            words("merged u_42 into u_7 (u_42)", &["u_42"]).as_deref(),
            Some("merged [ANONYMIZED] into u_7 ([ANONYMIZED])")
        );
        assert_eq!(words("u_420 xu_42", &["u_42"]), None);
        assert_eq!(
            words("u_420 u_42", &["u_42"]).as_deref(),
            Some("u_420 [ANONYMIZED]")
        );
        assert_eq!(words("aaa", &["aa"]), None);
        assert_eq!(
            words("from 10.0.0.1 by u_42", &["u_42", "10.0.0.1"]).as_deref(),
            Some("from [ANONYMIZED] by [ANONYMIZED]")
        );
        assert_eq!(words("anything", &[""]), None);
    }

    #[test]
    fn keys_and_nested_values_are_replaced() {
        let mut details = json!({"u_42": {"members": ["u_1", "u_42"]}, "note": "u_42"});
        replace_values(&mut details, &["u_42".to_owned()]);
        assert_eq!(
            details,
            json!({ANONYMIZED: {"members": ["u_1", ANONYMIZED]}, "note": ANONYMIZED})
        );
    }

    #[test]
    fn a_longer_name_is_replaced_before_a_name_it_holds() {
        let names = Words::new(vec!["Ada".to_owned(), "Ada Lovelace".to_owned()]);
        assert_eq!(
            replace_words("Ada Lovelace and Ada", &names.text).as_deref(),
            Some("[ANONYMIZED] and [ANONYMIZED]")
        );
    }

    #[test]
    fn routes_are_searched_for_percent_encoded_names() {
        let names = Words::new(vec!["Zoë Ada".to_owned(), "ada+1@example.com".to_owned()]);
        for (route, expected) in [
            ("/users/Zo%C3%AB%20Ada/edit", "/users/[ANONYMIZED]/edit"),
            ("/users/ada+1@example.com", "/users/[ANONYMIZED]"),
            ("/users/ada%2B1%40example.com", "/users/[ANONYMIZED]"),
        ] {
            let mut column = Some(route.to_owned());
            replace_in_column(&mut column, &names.route, MAX_ROUTE_CHARS);
            assert_eq!(column.as_deref(), Some(expected), "{route}");
        }
    }

    #[test]
    fn a_replaced_column_is_cut_to_its_size() {
        let mut column = Some(format!("{} u_42", "é".repeat(243)));
        replace_in_column(&mut column, &["u_42".to_owned()], MAX_ID_CHARS);
        let cut = column.unwrap();
        assert_eq!(cut.chars().count(), MAX_ID_CHARS);
        assert!(cut.ends_with(" [ANONYMIZED"), "{cut}");
    }
}
