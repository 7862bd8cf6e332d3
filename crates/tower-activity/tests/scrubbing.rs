//! Property tests of secret scrubbing: no input makes it panic, and text with
//! nothing secret in it is left alone.

use proptest::prelude::*;
use serde_json::{Value, json};
use tower_activity::{REDACTED, Scrubber};

proptest! {
    #[test]
    fn any_text_is_scrubbed_without_panicking(text in "\\PC{0,200}") {
        let scrubbed = Scrubber::new().scrub_text(&text);
        if !scrubbed.contains(REDACTED) {
            prop_assert_eq!(scrubbed, text);
        }
    }

    #[test]
    fn text_without_digits_urls_or_authorizations_is_unchanged(text in "[a-zA-Z ,.!?é]{0,200}") {
        prop_assume!(!text.to_ascii_lowercase().contains("bearer") && !text.to_ascii_lowercase().contains("basic"));
        prop_assert_eq!(Scrubber::new().scrub_text(&text), text);
    }

    #[test]
    fn any_key_is_classified_without_panicking(key in "\\PC{0,100}") {
        let mut details = Value::Object(std::iter::once((key.clone(), json!("value"))).collect());
        Scrubber::new().scrub(&mut details);
        let kept = &details[key.as_str()];
        prop_assert!(kept == "value" || kept == REDACTED);
    }
}
