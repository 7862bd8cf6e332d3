//! The error type sinks and stores wrap.

use std::error::Error;

/// A boxed error, as sinks and stores report them.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;
