//! The durable spool: batches kept in append-only files on local disk while
//! the sink cannot take them, read back oldest first once it can.
//!
//! A spool is a directory of numbered files (`00000000000000000001.spool`,
//! …). New batches are appended to the newest file, which is closed and a
//! new one started past a size; the oldest file is read back batch by batch
//! and deleted once every batch in it is written. Each batch is one record
//! with its length and CRC-32, so a file torn by a power loss or damaged on
//! disk is found out: the damage is counted and skipped, never read as
//! events. A file is deleted only after all its batches were written, so a
//! crash while reading one back writes some of its events again: the sink
//! must ignore an event whose id it already holds.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_activity::spool::Spool;
//! use tower_activity::{Action, ActivityEvent};
//!
//! let dir = std::env::temp_dir().join(format!("spool-doc-{}", std::process::id()));
//! let mut spool = Spool::open(&dir)?;
//! let batch = vec![ActivityEvent::builder(Action::Create).resource("user", 1).build()?];
//! spool.append(&batch)?;
//! spool.sync()?;
//!
//! // Later, perhaps in another process:
//! let mut spool = Spool::open(&dir)?;
//! let mut oldest = spool.take_oldest()?.expect("one file");
//! assert_eq!(oldest.next_batch()?, Some(batch));
//! assert_eq!(oldest.next_batch()?, None);
//! spool.finish(oldest)?;
//! assert!(spool.is_empty());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

mod codec;
mod segment;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

pub(crate) use self::segment::Record;
pub use self::segment::{MAX_RECORD_BYTES, SpoolDamage};
use self::segment::{SegmentReader, SegmentWriter};
use crate::event::ActivityEvent;

/// The default bound on a spool's size on disk: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// The default size past which a spool file is closed and a new one begun:
/// 16 MiB.
pub const DEFAULT_FILE_BYTES: u64 = 16 << 20;

/// The ending of spool files' names.
const EXTENSION: &str = "spool";

/// A directory of spool files; see the [module](self) documentation.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    file_bytes: u64,
    /// The closed files not yet taken, oldest first, with their sizes.
    closed: VecDeque<(u64, u64)>,
    /// The file being appended to, and its number.
    open: Option<(u64, SegmentWriter)>,
    /// The size of the files taken and not yet finished.
    taken_bytes: u64,
    next_number: u64,
}

impl Spool {
    /// Opens the spool in `dir`, creating the directory if needed. Files left
    /// by an earlier process are read back first; files whose names are not
    /// a spool file's are left alone.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir)?;
        let mut closed = Vec::new();
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if path.extension().is_some_and(|extension| extension == EXTENSION)
                && let Some(number) = path
                    .file_stem()
                    .and_then(|stem| stem.to_str())
                    .and_then(|stem| stem.parse::<u64>().ok())
            {
                closed.push((number, entry.metadata()?.len()));
            }
        }
        closed.sort_unstable();
        let next_number = closed.last().map_or(1, |(number, _)| number + 1);
        Ok(Spool {
            dir,
            max_bytes: DEFAULT_MAX_BYTES,
            file_bytes: DEFAULT_FILE_BYTES,
            closed: closed.into(),
            open: None,
            taken_bytes: 0,
            next_number,
        })
    }

    /// The most bytes the spool holds on disk; [`append`](Self::append)
    /// refuses a batch that would pass it. The default is [`DEFAULT_MAX_BYTES`].
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The size past which a file is closed and the next batch starts a new
    /// one. The default is [`DEFAULT_FILE_BYTES`].
    pub fn file_bytes(mut self, file_bytes: u64) -> Self {
        self.file_bytes = file_bytes.max(1);
        self
    }

    /// The directory of its files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The bytes the spool holds on disk, files being read back included.
    pub fn bytes(&self) -> u64 {
        let closed: u64 = self.closed.iter().map(|(_, bytes)| bytes).sum();
        let open = self.open.as_ref().map_or(0, |(_, writer)| writer.bytes);
        closed + open + self.taken_bytes
    }

    /// Whether no batch waits in the spool, counting those being read back.
    pub fn is_empty(&self) -> bool {
        self.closed.is_empty() && self.open.is_none() && self.taken_bytes == 0
    }

    /// Appends `batch` to the newest file. It is on disk once
    /// [`sync`](Self::sync) returns.
    pub fn append(&mut self, batch: &[ActivityEvent]) -> Result<(), SpoolError> {
        let record = Record::new(batch)?;
        self.append_record(&record)?;
        Ok(())
    }

    /// Appends `record` to the newest file; returns a handle on that file,
    /// whose `sync_data` puts the record on disk without holding the spool.
    pub(crate) fn append_record(&mut self, record: &Record) -> Result<File, SpoolError> {
        let bytes = self.bytes();
        if bytes + record.len() as u64 > self.max_bytes {
            return Err(SpoolError::Full {
                bytes,
                max_bytes: self.max_bytes,
            });
        }
        if self
            .open
            .as_ref()
            .is_some_and(|(_, writer)| writer.bytes >= self.file_bytes)
        {
            self.close_open()?;
        }
        let (_, writer) = match &mut self.open {
            Some(open) => open,
            None => {
                let number = self.next_number;
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(self.path(number))?;
                self.next_number += 1;
                let writer = SegmentWriter::create(file)?;
                // The new file's name is on disk too, not only its records.
                sync_dir(&self.dir)?;
                self.open.insert((number, writer))
            }
        };
        writer.append(record.bytes())?;
        Ok(writer.handle()?)
    }

    /// Waits until everything appended is on disk.
    pub fn sync(&mut self) -> io::Result<()> {
        match &mut self.open {
            Some((_, writer)) => writer.sync(),
            None => Ok(()),
        }
    }

    /// The oldest file, to read back; the file being appended to is closed
    /// first when it is the only one. `None` when the spool is empty.
    pub fn take_oldest(&mut self) -> io::Result<Option<SpoolFile>> {
        if self.closed.is_empty() {
            self.close_open()?;
        }
        let Some((number, bytes)) = self.closed.pop_front() else {
            return Ok(None);
        };
        let path = self.path(number);
        let reader = SegmentReader::new(File::open(&path)?)?;
        self.taken_bytes += bytes;
        Ok(Some(SpoolFile { path, bytes, reader }))
    }

    /// Deletes `file`, once every batch read from it is written; returns
    /// what was skipped in it as damage.
    pub fn finish(&mut self, file: SpoolFile) -> io::Result<SpoolDamage> {
        fs::remove_file(&file.path)?;
        self.taken_bytes -= file.bytes;
        Ok(file.reader.damage())
    }

    /// Closes the file being appended to, after syncing it, so that it can
    /// be read back.
    fn close_open(&mut self) -> io::Result<()> {
        if let Some((number, mut writer)) = self.open.take() {
            writer.sync()?;
            self.closed.push_back((number, writer.bytes));
        }
        Ok(())
    }

    fn path(&self, number: u64) -> PathBuf {
        self.dir.join(format!("{number:020}.{EXTENSION}"))
    }
}

/// Puts `dir`'s entries on disk, where the platform allows: a directory
/// cannot be opened as a file on Windows, whose file system keeps names
/// without it.
fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// One spool file being read back, oldest batch first.
#[derive(Debug)]
pub struct SpoolFile {
    path: PathBuf,
    bytes: u64,
    reader: SegmentReader,
}

impl SpoolFile {
    /// The next batch, or `None` at the end of the file or at damage that
    /// leaves the rest of it unreadable.
    pub fn next_batch(&mut self) -> io::Result<Option<Vec<ActivityEvent>>> {
        self.reader.next_batch()
    }

    /// What was skipped as damage so far.
    pub fn damage(&self) -> SpoolDamage {
        self.reader.damage()
    }

    /// Its size on disk.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

/// Why a batch was not spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool is at its size bound.
    #[error("the spool holds {bytes} bytes and may hold at most {max_bytes}: the batch does not fit")]
    Full {
        /// What it holds.
        bytes: u64,
        /// Its bound.
        max_bytes: u64,
    },
    /// The file system refused.
    #[error("the spool could not be written")]
    Io(#[from] io::Error),
}
