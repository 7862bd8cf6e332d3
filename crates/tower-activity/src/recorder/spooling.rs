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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard};

    use serde::Serialize;

    use super::NotSpooled;
    use crate::event::ActivityEvent;
    use crate::spool::{Record, Spool, SpoolDamage, SpoolError, SpoolFile};

    /// The name of the dead-letter file in the spool's directory.
    pub(crate) const DEAD_LETTER_FILE: &str = "rejected.jsonl";

    /// A spool shared between the writer's tasks. Appends hold the spool's
    /// lock only to write (they encode before and sync after), and the
    /// replay reads and decodes under a lock of its own, so neither waits
    /// for the other's reads or syncs; only taking a file to read back (which
    /// syncs it once) and deleting a finished one happen under the spool's
    /// lock.
    #[derive(Clone, Debug)]
    pub(in crate::recorder) struct SpoolLink {
        spool: Arc<Mutex<Spool>>,
        reading: Arc<Mutex<Reading>>,
        /// Batches of the file being read handed out and not yet written:
        /// counted outside the lock, so that a write that finishes does not
        /// wait for a read under way.
        outstanding: Arc<AtomicUsize>,
        dead_letter: PathBuf,
    }

    /// The replay's side of the spool.
    #[derive(Debug, Default)]
    struct Reading {
        /// The file being read back.
        file: Option<SpoolFile>,
        /// Batches of `file` put back after a failed write: handed out
        /// again before the file is read further.
        put_back: VecDeque<Vec<ActivityEvent>>,
    }

    /// One dead-letter line.
    #[derive(Serialize)]
    struct DeadLetter<'a> {
        reason: &'a str,
        event: &'a ActivityEvent,
    }

    /// Locks `mutex`. A panic while holding it leaves the spool as its files
    /// say: keep using it.
    fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    impl SpoolLink {
        pub(in crate::recorder) fn new(spool: Spool) -> Self {
            let dead_letter = spool.dir().join(DEAD_LETTER_FILE);
            SpoolLink {
                spool: Arc::new(Mutex::new(spool)),
                reading: Arc::new(Mutex::new(Reading::default())),
                outstanding: Arc::new(AtomicUsize::new(0)),
                dead_letter,
            }
        }

        /// Whether no batch waits in the spool.
        pub(in crate::recorder) fn is_empty(&self) -> bool {
            let reading = lock(&self.reading);
            reading.file.is_none() && lock(&self.spool).is_empty()
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
            let failed = |error: io::Error| NotSpooled::Failed(error.to_string());
            let record = Record::new(batch).map_err(failed)?;
            let (bytes, file) = {
                let mut spool = lock(&self.spool);
                let before = spool.bytes();
                let file = spool.append_record(&record).map_err(|error| match error {
                    SpoolError::Full { .. } => NotSpooled::Full,
                    SpoolError::Io(error) => failed(error),
                })?;
                (spool.bytes().saturating_sub(before), file)
            };
            file.sync_data().map_err(failed)?;
            Ok(bytes)
        }

        /// The next batch to replay, oldest first: a batch put back, or the
        /// next batches of the file being read, up to `max_events` events
        /// together (a larger record is handed out in parts). Empty when nothing can be handed out now: the spool is
        /// empty, or the rest of the file is being written. Finished files
        /// are deleted on the way, and the damage found in them returned.
        pub(in crate::recorder) async fn read(
            &self,
            max_events: usize,
        ) -> io::Result<(Vec<ActivityEvent>, SpoolDamage)> {
            let link = self.clone();
            tokio::task::spawn_blocking(move || link.read_now(max_events))
                .await
                .map_err(io::Error::other)?
        }

        fn read_now(&self, max_events: usize) -> io::Result<(Vec<ActivityEvent>, SpoolDamage)> {
            let mut damage = SpoolDamage::default();
            let mut reading = lock(&self.reading);
            if let Some(batch) = reading.put_back.pop_front() {
                return Ok((batch, damage));
            }
            let mut batch = Vec::new();
            while batch.len() < max_events {
                if reading.file.is_none() {
                    reading.file = lock(&self.spool).take_oldest()?;
                }
                let Some(file) = reading.file.as_mut() else {
                    break;
                };
                match file.next_batch()? {
                    Some(more) if batch.is_empty() => batch = more,
                    Some(more) => batch.extend(more),
                    None if batch.is_empty() && self.outstanding.load(Ordering::Acquire) == 0 => {
                        if let Some(file) = reading.file.take() {
                            let found = lock(&self.spool).finish(file)?;
                            damage.skipped_bytes += found.skipped_bytes;
                            damage.skipped_records += found.skipped_records;
                        }
                    }
                    // What was read of this file is not written yet: the
                    // next file waits until it is.
                    None => break,
                }
            }
            if batch.is_empty() {
                return Ok((batch, damage));
            }
            // The parts past `max_events` are handed out next, each counted
            // as handed out already.
            let mut parts = 1;
            while batch.len() > max_events {
                let last = (batch.len() - 1) / max_events * max_events;
                reading.put_back.push_front(batch.split_off(last));
                parts += 1;
            }
            self.outstanding.fetch_add(parts, Ordering::AcqRel);
            Ok((batch, damage))
        }

        /// Records that a batch handed out by [`read`](Self::read) is
        /// written.
        pub(in crate::recorder) fn written(&self) {
            let _ = self
                .outstanding
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |outstanding| {
                    outstanding.checked_sub(1)
                });
        }

        /// Takes back batches handed out by [`read`](Self::read) and not
        /// written, oldest first, to hand out again before anything else.
        pub(in crate::recorder) fn put_back(&self, batches: Vec<Vec<ActivityEvent>>) {
            let mut reading = lock(&self.reading);
            for batch in batches.into_iter().rev() {
                reading.put_back.push_front(batch);
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
            _max_events: usize,
        ) -> io::Result<(Vec<ActivityEvent>, SpoolDamage)> {
            match *self {}
        }

        pub(in crate::recorder) fn written(&self) {
            match *self {}
        }

        pub(in crate::recorder) fn put_back(&self, _batches: Vec<Vec<ActivityEvent>>) {
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
