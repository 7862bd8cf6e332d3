//! Cross-crate tests of the activity log toolkit live in `tests/`; this library
//! only compiles the README's examples as doc tests, so they stay true.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
