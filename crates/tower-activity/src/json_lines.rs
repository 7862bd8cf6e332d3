//! A sink that writes one JSON object per line to any async writer.

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::event::ActivityEvent;
use crate::export::write_json_line;
use crate::sink::{ActivitySink, SinkError};

/// Writes each event as one line of JSON to a writer: stdout, a file, a pipe.
///
/// JSON escapes every control character inside strings, and this sink also
/// escapes U+2028 and U+2029, so no value can start a new line: one event is
/// always exactly one line. A batch is written with one `write_all` and then
/// flushed.
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
    writer: Mutex<W>,
}

impl<W> JsonLinesSink<W> {
    /// A sink writing to `writer`.
    pub fn new(writer: W) -> Self {
        JsonLinesSink {
            writer: Mutex::new(writer),
        }
    }

    /// Returns the writer.
    pub fn into_inner(self) -> W {
        self.writer.into_inner()
    }
}

/// The lines for `batch`, each ending in `\n`.
fn encode_lines(batch: &[ActivityEvent]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(batch.len() * 512);
    for event in batch {
        write_json_line(event, &mut out)?;
    }
    Ok(out)
}

impl<W> ActivitySink for JsonLinesSink<W>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    async fn write_batch(&self, batch: &[ActivityEvent]) -> Result<(), SinkError> {
        let lines = encode_lines(batch).map_err(SinkError::new)?;
        let mut writer = self.writer.lock().await;
        writer.write_all(&lines).await.map_err(SinkError::new)?;
        writer.flush().await.map_err(SinkError::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Actor};
    use serde_json::json;

    #[tokio::test]
    async fn control_characters_cannot_forge_a_line() {
        let hostile = "x\n{\"action\":\"forged\"}\r\u{2028}\u{2029}\u{0}\u{1b}";
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
            assert!(!line.contains(['\r', '\u{2028}', '\u{2029}', '\u{0}']));
            let parsed: ActivityEvent = serde_json::from_str(line).unwrap();
            assert_eq!(parsed, event);
        }
    }
}
