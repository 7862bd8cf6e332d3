//! Poison isolation: a batch the sink refuses for good is split, half by
//! half, until the events at fault stand alone; the rest is written.

use std::error::Error;
use std::ops::Range;

use tokio::sync::watch;
use tokio::time::Instant;

use super::builder::WriterConfig;
use super::retry::{Attempt, write_with_retries};
use super::{ActivitySink, Counts, SinkError};
use crate::event::ActivityEvent;

/// The longest reason kept for a rejected event, in characters.
const MAX_REASON_CHARS: usize = 500;

/// What became of a batch written with [`write_isolating`], by positions in
/// the batch.
#[derive(Debug, Default)]
pub(super) struct Isolated {
    /// Events the writer gave up on (see [`Attempt::GaveUp`]), in order.
    pub(super) unwritten: Vec<Range<usize>>,
    /// Events the sink refused for good, each alone, with the reason.
    pub(super) rejected: Vec<(usize, String)>,
}

impl Isolated {
    /// How many events the writer gave up on.
    pub(super) fn unwritten_len(&self) -> u64 {
        self.unwritten.iter().map(|range| range.len() as u64).sum()
    }
}

/// Writes `batch` with retries; when the sink refuses part of it for good,
/// writes each half on its own, and so on down to single events, so that
/// only the events at fault are kept back. Once the writer gives up on one
/// part it gives up on the parts after it without trying them.
pub(super) async fn write_isolating<S: ActivitySink>(
    sink: &S,
    batch: &[ActivityEvent],
    shutdown: &watch::Receiver<Option<Instant>>,
    counts: &Counts,
    config: WriterConfig,
) -> Isolated {
    let mut isolated = Isolated::default();
    // Parts still to write, the next on top.
    let mut parts = Vec::with_capacity(16);
    parts.push(0..batch.len());
    while let Some(part) = parts.pop() {
        if part.is_empty() {
            continue;
        }
        if !isolated.unwritten.is_empty() {
            isolated.unwritten.push(part);
            continue;
        }
        match write_with_retries(sink, &batch[part.clone()], shutdown.clone(), counts, config).await {
            Attempt::Written => {}
            Attempt::GaveUp => isolated.unwritten.push(part),
            Attempt::Refused(error) if part.len() == 1 => {
                isolated.rejected.push((part.start, reason(&error)))
            }
            Attempt::Refused(_) => {
                let middle = part.start + part.len() / 2;
                parts.push(middle..part.end);
                parts.push(part.start..middle);
            }
        }
    }
    isolated
}

/// The messages of `error`'s sources, outermost first, cut to
/// [`MAX_REASON_CHARS`].
fn reason(error: &SinkError) -> String {
    let mut text = String::new();
    let mut source = error.source();
    while let Some(cause) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.is_empty() {
        text = error.to_string();
    }
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((end, _)) => text[..end].to_owned(),
        None => text,
    }
}
