//! Where batches of events go: the sink trait and the null sink.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::box_error::BoxError;
use crate::event::ActivityEvent;

/// Receives batches of events from the recorder's writer.
///
/// A batch that fails with a [transient](SinkError::transient) error is
/// retried with backoff until it is written (or spooled), so a sink should
/// write a batch all or nothing (one transaction), and writing the same event
/// twice should keep one copy (events have unique ids). A batch that fails
/// with a [permanent](SinkError::permanent) one is split to find the events
/// at fault, which are set aside.
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
///
/// A sink says whether trying again can help. A [transient](Self::transient)
/// failure (the database unreachable, a timeout, a full pool) is retried
/// until the batch is written. A [permanent](Self::permanent) one (a
/// constraint or a column refusing a value) would fail every retry: the
/// recorder splits the batch to find the events at fault, writes the others,
/// and sets those aside, reported by an
/// [`activity.rejected`](super::REJECTED_ACTION) event.
#[derive(Debug)]
pub struct SinkError {
    error: BoxError,
    permanent: bool,
}

impl SinkError {
    /// A failure that may pass: the batch is retried. The same as
    /// [`transient`](Self::transient).
    pub fn new(error: impl Into<BoxError>) -> Self {
        Self::transient(error)
    }

    /// A failure that may pass, such as a lost connection: the batch is
    /// retried.
    pub fn transient(error: impl Into<BoxError>) -> Self {
        SinkError {
            error: error.into(),
            permanent: false,
        }
    }

    /// A failure that writing the same events again cannot fix, such as a
    /// constraint they break: the events at fault are set aside rather than
    /// retried.
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        SinkError {
            error: error.into(),
            permanent: true,
        }
    }

    /// Whether retrying cannot help.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("activity sink failed")
    }
}

impl Error for SinkError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.error)
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
