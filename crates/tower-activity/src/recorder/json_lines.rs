//! A sink that writes one JSON object per line to any async writer.

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use super::{ActivitySink, SinkError};
use crate::event::ActivityEvent;
use crate::export::ExportFormat;

/// Writes each event as one line of JSON to a writer: stdout, a file, a pipe.
///
/// Lines are written by [`write_json_line`](crate::export::write_json_line),
/// which escapes every character that any reader takes for a line break, so
/// one event is always exactly one line. A batch is written with one
/// `write_all` and then flushed. When a write fails part-way, the retry starts
/// on a new line, so the torn line stays alone and every retried event is
/// whole (readers keep the first copy of each event id).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_activity::{Action, ActivityEvent, ActivitySink, JsonLinesSink};
///
/// let sink = JsonLinesSink::new(tokio::io::stdout());
/// let event = ActivityEvent::builder(Action::Read).resource("doc", "a\nb").build().unwrap();
/// sink.write_batch(&[event]).await.unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct JsonLinesSink<W> {
    output: Mutex<Output<W>>,
}

#[derive(Debug)]
struct Output<W> {
    writer: W,
    /// The last write failed, perhaps part-way through a line.
    torn: bool,
}

impl<W> JsonLinesSink<W> {
    /// A sink writing to `writer`.
    pub fn new(writer: W) -> Self {
        JsonLinesSink {
            output: Mutex::new(Output { writer, torn: false }),
        }
    }

    /// Returns the writer.
    pub fn into_inner(self) -> W {
        self.output.into_inner().writer
    }
}

impl<W> ActivitySink for JsonLinesSink<W>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        let mut lines = Vec::new();
        ExportFormat::JsonLines
            .encode_chunk(batch, true, &mut lines)
            .map_err(SinkError::new)?;
        let mut output = self.output.lock().await;
        let Output { writer, torn } = &mut *output;
        let was_torn = std::mem::replace(torn, true);
        if was_torn {
            writer.write_all(b"\n").await.map_err(SinkError::new)?;
        }
        writer.write_all(&lines).await.map_err(SinkError::new)?;
        writer.flush().await.map_err(SinkError::new)?;
        *torn = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;
    use crate::{Action, Actor};
    use serde_json::json;

    /// Accepts `budget` bytes, then fails every write once.
    struct Disk {
        written: Vec<u8>,
        budget: usize,
    }

    impl AsyncWrite for Disk {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            if self.budget == 0 {
                self.budget = usize::MAX;
                return Poll::Ready(Err(std::io::Error::other("disk full")));
            }
            let n = buf.len().min(self.budget);
            self.budget -= n;
            self.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_retry_after_a_torn_write_starts_on_a_new_line() {
        let sink = JsonLinesSink::new(Disk {
            written: Vec::new(),
            budget: 40,
        });
        let event = ActivityEvent::builder(Action::Create)
            .resource("doc", "d1")
            .build()
            .unwrap();
        assert!(sink.write_batch(std::slice::from_ref(&event)).await.is_err());
        sink.write_batch(std::slice::from_ref(&event)).await.unwrap();
        let written = String::from_utf8(sink.into_inner().written).unwrap();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 2, "{written}");
        assert_eq!(lines[0].len(), 40, "the torn line stays alone");
        assert_eq!(serde_json::from_str::<ActivityEvent>(lines[1]).unwrap(), event);
    }

    #[tokio::test]
    async fn control_characters_cannot_forge_a_line() {
        let hostile = "x\n{\"action\":\"forged\"}\r\u{2028}\u{2029}\u{85}\u{0}\u{1b}";
        let event = ActivityEvent::builder(Action::Update)
            .resource("note", hostile)
            .actor(Actor::user(hostile))
            .user_agent(hostile)
            .details(json!({ hostile: hostile }))
            .build()
            .unwrap();
        let sink = JsonLinesSink::new(Vec::new());
        sink.write_batch(&[event.clone(), event.clone()]).await.unwrap();
        let written = String::from_utf8(sink.into_inner()).unwrap();
        let lines: Vec<_> = written.split('\n').collect();
        assert_eq!(lines.len(), 3, "two lines and the empty rest: {written:?}");
        assert_eq!(lines[2], "");
        for line in &lines[..2] {
            assert!(!line.contains(['\r', '\u{2028}', '\u{2029}', '\u{85}', '\u{0}']));
            let parsed: ActivityEvent = serde_json::from_str(line).unwrap();
            assert_eq!(parsed, event);
        }
    }
}
