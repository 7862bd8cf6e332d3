//! Where batches of events go: the sink trait and the null sink.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::box_error::BoxError;
use crate::event::ActivityEvent;

/// Receives batches of events from the recorder's writer.
///
/// A batch that fails is retried with backoff until it is written, so a sink
/// should write a batch all or nothing (one transaction), and writing the same
/// event twice should keep one copy (events have unique ids).
pub trait ActivitySink: Send + Sync + 'static {
    /// Writes `batch`, in order.
    fn write_batch(&self, batch: &[ActivityEvent]) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// How many batches the recorder may write at once: 1 (the default)
    /// keeps batches in order; a database sink whose inserts do not need an
    /// order can take more, to keep up with a high rate.
    fn max_concurrent_writes(&self) -> usize {
        1
    }
}

impl<S: ActivitySink> ActivitySink for Arc<S> {
    fn write_batch(&self, batch: &[ActivityEvent]) -> impl Future<Output = Result<(), SinkError>> + Send {
        (**self).write_batch(batch)
    }

    fn max_concurrent_writes(&self) -> usize {
        (**self).max_concurrent_writes()
    }
}

/// A sink that could not write a batch. Its message is this layer's only:
/// the underlying error is its [`source`](Error::source).
#[derive(Debug)]
pub struct SinkError(BoxError);

impl SinkError {
    /// Wraps the underlying error.
    pub fn new(error: impl Into<BoxError>) -> Self {
        SinkError(error.into())
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("activity sink failed")
    }
}

impl Error for SinkError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.0)
    }
}

/// A sink that discards every batch: for measuring the cost of the rest.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl ActivitySink for NullSink {
    async fn write_batch(&self, _batch: &[ActivityEvent]) -> Result<(), SinkError> {
        Ok(())
    }
}
