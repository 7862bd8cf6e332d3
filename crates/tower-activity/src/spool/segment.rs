//! One spool file: a header naming the format, then records, each a batch
//! of events with its length and checksum, so a torn or damaged tail is
//! found rather than read as events.
//!
//! ```text
//! file   = MAGIC record*
//! record = length: u32 LE | crc32(payload): u32 LE | payload
//! ```
//!
//! The payload is a batch in the [codec](super::codec)'s columns. Files of
//! the first version (`TASPOOL1`), whose payloads are JSON arrays of events,
//! are still read.

use std::fs::File;
use std::io::{self, BufReader, ErrorKind, Read, Write};

use super::codec::{decode_batch, encode_batch};
use crate::event::ActivityEvent;

/// The first bytes of every spool file: the format and its version.
pub(super) const MAGIC: &[u8; 8] = b"TASPOOL2";

/// The first bytes of a file of the first version, with JSON payloads.
const MAGIC_JSON: &[u8; 8] = b"TASPOOL1";

/// How a file's payloads are written.
#[derive(Clone, Copy, Debug)]
enum Format {
    /// [`MAGIC`]: the codec's columns.
    Columns,
    /// [`MAGIC_JSON`]: a JSON array of events.
    Json,
}

/// The largest record, in bytes: a bigger batch is not spooled, and a
/// length above it, read back, is damage rather than a batch.
pub const MAX_RECORD_BYTES: u32 = 256 << 20;

/// One record holding a batch, as it is written to a file.
#[derive(Debug)]
pub(crate) struct Record(Vec<u8>);

impl Record {
    /// The record holding `batch`.
    pub(crate) fn new(batch: &[ActivityEvent]) -> io::Result<Self> {
        let mut record = vec![0; 8];
        encode_batch(batch, &mut record);
        let payload = &record[8..];
        let length = u32::try_from(payload.len())
            .ok()
            .filter(|length| *length <= MAX_RECORD_BYTES)
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "batch too large for one spool record"))?;
        let checksum = crc32fast::hash(payload);
        record[..4].copy_from_slice(&length.to_le_bytes());
        record[4..8].copy_from_slice(&checksum.to_le_bytes());
        Ok(Record(record))
    }

    /// Its bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// What reading a spool file skipped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpoolDamage {
    /// Bytes not read as batches: a torn or damaged tail, or records whose
    /// checksum held but whose events did not decode.
    pub skipped_bytes: u64,
    /// Records given up on (a damaged tail counts as one).
    pub skipped_records: u64,
}

/// Reads the batches of one spool file in the order they were written.
#[derive(Debug)]
pub(super) struct SegmentReader {
    input: BufReader<File>,
    /// Bytes of the file not yet read.
    remaining: u64,
    damage: SpoolDamage,
    done: bool,
    format: Format,
}

impl SegmentReader {
    /// Opens `file`; a file that does not start with [`MAGIC`] is all damage.
    pub(super) fn new(file: File) -> io::Result<Self> {
        let length = file.metadata()?.len();
        let mut reader = SegmentReader {
            input: BufReader::new(file),
            remaining: length,
            damage: SpoolDamage::default(),
            done: false,
            format: Format::Columns,
        };
        if length == 0 {
            // Made, but its header never written: nothing was lost.
            reader.done = true;
            return Ok(reader);
        }
        let mut format = None;
        if length >= MAGIC.len() as u64 {
            let mut magic = [0; MAGIC.len()];
            reader.input.read_exact(&mut magic)?;
            format = match &magic {
                MAGIC => Some(Format::Columns),
                MAGIC_JSON => Some(Format::Json),
                _ => None,
            };
        }
        match format {
            Some(format) => {
                reader.format = format;
                reader.remaining -= MAGIC.len() as u64;
            }
            None => reader.give_up(),
        }
        Ok(reader)
    }

    /// The next batch, `None` at the end of the file or at damage that
    /// leaves the rest unreadable (counted in [`damage`](Self::damage)).
    pub(super) fn next_batch(&mut self) -> io::Result<Option<Vec<ActivityEvent>>> {
        while !self.done {
            if self.remaining == 0 {
                self.done = true;
                break;
            }
            if self.remaining < 8 {
                self.give_up();
                break;
            }
            let mut header = [0; 8];
            self.input.read_exact(&mut header)?;
            let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let checksum = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            if length > MAX_RECORD_BYTES || u64::from(length) > self.remaining - 8 {
                self.remaining -= 8;
                self.give_up();
                self.damage.skipped_bytes += 8;
                break;
            }
            let mut payload = vec![0; length as usize];
            self.input.read_exact(&mut payload)?;
            self.remaining -= 8 + u64::from(length);
            if crc32fast::hash(&payload) != checksum {
                // The length may be what was damaged: nothing after it can
                // be trusted to start a record.
                self.damage.skipped_bytes += 8 + u64::from(length);
                self.give_up();
                break;
            }
            let batch = match self.format {
                Format::Columns => decode_batch(&payload),
                Format::Json => serde_json::from_slice(&payload).map_err(io::Error::from),
            };
            match batch {
                Ok(batch) => return Ok(Some(batch)),
                Err(_) => {
                    // Intact as written, yet not events (another version's
                    // format): skip this record, the next still starts here.
                    self.damage.skipped_bytes += 8 + u64::from(length);
                    self.damage.skipped_records += 1;
                }
            }
        }
        Ok(None)
    }

    /// Counts the rest of the file as damage and stops reading it.
    fn give_up(&mut self) {
        self.damage.skipped_bytes += self.remaining;
        self.damage.skipped_records += 1;
        self.remaining = 0;
        self.done = true;
    }

    /// What was skipped so far.
    pub(super) fn damage(&self) -> SpoolDamage {
        self.damage
    }
}

/// Appends records to one spool file.
#[derive(Debug)]
pub(super) struct SegmentWriter {
    file: File,
    /// Its length so far.
    pub(super) bytes: u64,
}

impl SegmentWriter {
    /// Starts a new spool file in `file`, which must be empty.
    pub(super) fn create(mut file: File) -> io::Result<Self> {
        file.write_all(MAGIC)?;
        Ok(SegmentWriter {
            file,
            bytes: MAGIC.len() as u64,
        })
    }

    /// Appends `record` (a [`Record`]'s bytes).
    pub(super) fn append(&mut self, record: &[u8]) -> io::Result<()> {
        self.file.write_all(record)?;
        self.bytes += record.len() as u64;
        Ok(())
    }

    /// Waits until what was appended is on disk.
    pub(super) fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Another handle on the file, to sync it from elsewhere.
    pub(super) fn handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom};

    use super::*;
    use crate::event::Action;

    #[test]
    fn a_file_of_the_first_version_is_still_read() {
        let batch = vec![
            ActivityEvent::builder(Action::Create)
                .resource("user", 1)
                .detail("note", "kept")
                .build()
                .unwrap(),
        ];
        let payload = serde_json::to_vec(&batch).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(MAGIC_JSON).unwrap();
        file.write_all(&(payload.len() as u32).to_le_bytes()).unwrap();
        file.write_all(&crc32fast::hash(&payload).to_le_bytes()).unwrap();
        file.write_all(&payload).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();

        let mut reader = SegmentReader::new(file).unwrap();
        assert_eq!(reader.next_batch().unwrap(), Some(batch));
        assert_eq!(reader.next_batch().unwrap(), None);
        assert_eq!(reader.damage(), SpoolDamage::default());
    }
}
