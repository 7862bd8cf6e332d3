//! The writer's side of the durable spool: appending batches the sink
//! cannot take, reading them back for replay, and the dead-letter file of
//! rejected events. The files are written on Tokio's blocking threads, never
//! on the runtime's. Without the `spool` feature there is no spool, and
//! [`SpoolLink`] has no value.

#[cfg(not(feature = "spool"))]
pub(super) use self::disabled::SpoolLink;
#[cfg(feature = "spool")]
pub(super) use self::enabled::SpoolLink;

/// Why a batch could not be spooled.
#[cfg_attr(not(feature = "spool"), allow(dead_code))]
#[derive(Debug)]
pub(super) enum NotSpooled {
    /// At the spool's size bound.
    Full,
    /// The file system refused, or the blocking task failed.
    Failed(String),
}

#[cfg(feature = "spool")]
mod enabled {
    use std::collections::VecDeque;
    use std::fs::OpenOptions;
    use std::io::{self, Write};
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex, MutexGuard};

    use serde::Serialize;

    use super::NotSpooled;
    use crate::event::ActivityEvent;
    use crate::spool::{Spool, SpoolDamage, SpoolError, SpoolFile};

    /// The name of the dead-letter file in the spool's directory.
    pub(crate) const DEAD_LETTER_FILE: &str = "rejected.jsonl";

    /// A spool shared between the writer's tasks.
    #[derive(Clone, Debug)]
    pub(in crate::recorder) struct SpoolLink {
        side: Arc<Mutex<Side>>,
        dead_letter: PathBuf,
    }

    #[derive(Debug)]
    struct Side {
        spool: Spool,
        /// The file being read back.
        reading: Option<SpoolFile>,
        /// Batches of `reading` handed out and not yet written.
        outstanding: usize,
        /// Batches of `reading` put back after a failed write: handed out
        /// again before the file is read further.
        put_back: VecDeque<Vec<ActivityEvent>>,
    }

    /// One dead-letter line.
    #[derive(Serialize)]
    struct DeadLetter<'a> {
        reason: &'a str,
        event: &'a ActivityEvent,
    }

    impl SpoolLink {
        pub(in crate::recorder) fn new(spool: Spool) -> Self {
            let dead_letter = spool.dir().join(DEAD_LETTER_FILE);
            SpoolLink {
                side: Arc::new(Mutex::new(Side {
                    spool,
                    reading: None,
                    outstanding: 0,
                    put_back: VecDeque::new(),
                })),
                dead_letter,
            }
        }

        fn lock(&self) -> MutexGuard<'_, Side> {
            // A panic while holding the lock leaves the spool as its files
            // say: keep using it.
            self.side.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
        }

        /// Whether no batch waits in the spool.
        pub(in crate::recorder) fn is_empty(&self) -> bool {
            let side = self.lock();
            side.spool.is_empty() && side.reading.is_none()
        }

        /// Appends `batch` and waits until it is on disk; returns the batch
        /// and the bytes it added.
        pub(in crate::recorder) async fn append(
            &self,
            batch: Vec<ActivityEvent>,
        ) -> (Vec<ActivityEvent>, Result<u64, NotSpooled>) {
            let link = self.clone();
            let task = tokio::task::spawn_blocking(move || {
                let result = link.append_now(&batch);
                (batch, result)
            });
            match task.await {
                Ok(done) => done,
                Err(error) => (Vec::new(), Err(NotSpooled::Failed(error.to_string()))),
            }
        }

        fn append_now(&self, batch: &[ActivityEvent]) -> Result<u64, NotSpooled> {
            let mut side = self.lock();
            let before = side.spool.bytes();
            let appended = side.spool.append(batch).and_then(|()| Ok(side.spool.sync()?));
            match appended {
                Ok(()) => Ok(side.spool.bytes().saturating_sub(before)),
                Err(SpoolError::Full { .. }) => Err(NotSpooled::Full),
                Err(SpoolError::Io(error)) => Err(NotSpooled::Failed(error.to_string())),
            }
        }

        /// Up to `max` batches to replay, oldest first, all from one file;
        /// none when the spool is empty. Finished files are deleted on the
        /// way, and the damage found in them returned.
        pub(in crate::recorder) async fn read(
            &self,
            max: usize,
        ) -> io::Result<(Vec<Vec<ActivityEvent>>, SpoolDamage)> {
            let link = self.clone();
            tokio::task::spawn_blocking(move || link.lock().read(max))
                .await
                .map_err(io::Error::other)?
        }

        /// Records that `done` batches handed out by [`read`](Self::read)
        /// are written, and takes back `retry`, to hand out again.
        pub(in crate::recorder) fn written(&self, done: usize, retry: Vec<Vec<ActivityEvent>>) {
            let mut side = self.lock();
            side.outstanding = side.outstanding.saturating_sub(done);
            for batch in retry.into_iter().rev() {
                side.put_back.push_front(batch);
            }
        }

        /// Appends rejected events with their reasons to the dead-letter
        /// file, one JSON line each.
        pub(in crate::recorder) async fn dead_letter(
            &self,
            rejected: Vec<(ActivityEvent, String)>,
        ) -> io::Result<()> {
            let path = self.dead_letter.clone();
            tokio::task::spawn_blocking(move || {
                let mut lines = Vec::new();
                for (event, reason) in &rejected {
                    serde_json::to_writer(&mut lines, &DeadLetter { reason, event })?;
                    lines.push(b'\n');
                }
                let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
                file.write_all(&lines)?;
                file.sync_data()
            })
            .await
            .map_err(io::Error::other)?
        }
    }

    impl Side {
        fn read(&mut self, max: usize) -> io::Result<(Vec<Vec<ActivityEvent>>, SpoolDamage)> {
            let mut batches: Vec<_> = self.put_back.drain(..max.min(self.put_back.len())).collect();
            let mut damage = SpoolDamage::default();
            while batches.len() < max {
                if self.reading.is_none() {
                    self.reading = self.spool.take_oldest()?;
                }
                let Some(file) = self.reading.as_mut() else {
                    break;
                };
                match file.next_batch()? {
                    Some(batch) => {
                        self.outstanding += 1;
                        batches.push(batch);
                    }
                    None if self.outstanding == 0 => {
                        if let Some(file) = self.reading.take() {
                            let found = self.spool.finish(file)?;
                            damage.skipped_bytes += found.skipped_bytes;
                            damage.skipped_records += found.skipped_records;
                        }
                    }
                    // The rest of this file is being written: the next
                    // file waits until it is.
                    None => break,
                }
            }
            Ok((batches, damage))
        }
    }
}

#[cfg(not(feature = "spool"))]
mod disabled {
    use std::io;

    use super::NotSpooled;
    use crate::event::ActivityEvent;

    /// No spool: this type has no value.
    #[derive(Clone, Debug)]
    pub(in crate::recorder) enum SpoolLink {}

    impl SpoolLink {
        pub(in crate::recorder) fn is_empty(&self) -> bool {
            match *self {}
        }

        pub(in crate::recorder) async fn append(
            &self,
            _batch: Vec<ActivityEvent>,
        ) -> (Vec<ActivityEvent>, Result<u64, NotSpooled>) {
            match *self {}
        }

        pub(in crate::recorder) async fn read(
            &self,
            _max: usize,
        ) -> io::Result<(Vec<Vec<ActivityEvent>>, SpoolDamage)> {
            match *self {}
        }

        pub(in crate::recorder) fn written(&self, _done: usize, _retry: Vec<Vec<ActivityEvent>>) {
            match *self {}
        }

        pub(in crate::recorder) async fn dead_letter(
            &self,
            _rejected: Vec<(ActivityEvent, String)>,
        ) -> io::Result<()> {
            match *self {}
        }
    }

    /// Stands in for the spool's damage count.
    #[derive(Clone, Copy, Debug, Default)]
    pub(in crate::recorder) struct SpoolDamage {
        pub(in crate::recorder) skipped_bytes: u64,
        pub(in crate::recorder) skipped_records: u64,
    }
}
