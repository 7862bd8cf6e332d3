//! The durable spool's files: batches come back in order, across files and
//! processes; torn and damaged files are counted and skipped, never read as
//! events; the size bound holds.
#![cfg(feature = "spool")]

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tower_activity::spool::{Spool, SpoolError};
use tower_activity::{Action, ActivityEvent};

fn batch(first: u32, len: u32) -> Vec<ActivityEvent> {
    (first..first + len)
        .map(|id| {
            ActivityEvent::builder(Action::Create)
                .resource("user", id)
                .detail("note", "x".repeat(40))
                .build()
                .unwrap()
        })
        .collect()
}

/// Every batch the spool gives back, finishing each file, and the damage.
fn read_all(spool: &mut Spool) -> (Vec<Vec<ActivityEvent>>, u64, u64) {
    let (mut batches, mut bytes, mut records) = (Vec::new(), 0, 0);
    while let Some(mut file) = spool.take_oldest().unwrap() {
        while let Some(batch) = file.next_batch().unwrap() {
            batches.push(batch);
        }
        let damage = spool.finish(file).unwrap();
        bytes += damage.skipped_bytes;
        records += damage.skipped_records;
    }
    (batches, bytes, records)
}

fn spool_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "spool"))
        .collect();
    files.sort();
    files
}

#[test]
fn batches_come_back_oldest_first_across_files_and_processes() {
    let dir = tempfile::tempdir().unwrap();
    let written: Vec<_> = (0..10).map(|at| batch(at * 3, 3)).collect();
    {
        let mut spool = Spool::open(dir.path()).unwrap().file_bytes(400);
        for batch in &written[..6] {
            spool.append(batch).unwrap();
        }
        spool.sync().unwrap();
    }
    assert!(spool_files(dir.path()).len() > 1, "small files: several of them");
    let mut spool = Spool::open(dir.path()).unwrap().file_bytes(400);
    assert!(!spool.is_empty());
    for batch in &written[6..] {
        spool.append(batch).unwrap();
    }
    let (batches, skipped_bytes, skipped_records) = read_all(&mut spool);
    assert_eq!(batches, written);
    assert_eq!((skipped_bytes, skipped_records), (0, 0));
    assert!(spool.is_empty());
    assert_eq!(spool.bytes(), 0);
    assert!(spool_files(dir.path()).is_empty());
}

#[test]
fn a_torn_tail_is_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path()).unwrap();
    let written = [batch(0, 2), batch(2, 2), batch(4, 2)];
    for batch in &written {
        spool.append(batch).unwrap();
    }
    spool.sync().unwrap();
    drop(spool);
    let file = &spool_files(dir.path())[0];
    let length = fs::metadata(file).unwrap().len();
    // Power lost while the last record was being written.
    OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .set_len(length - 25)
        .unwrap();

    let mut spool = Spool::open(dir.path()).unwrap();
    let (batches, skipped_bytes, skipped_records) = read_all(&mut spool);
    assert_eq!(batches, written[..2]);
    assert_eq!(skipped_records, 1);
    assert!(skipped_bytes > 0);
}

#[test]
fn a_damaged_record_ends_its_file_but_not_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path()).unwrap().file_bytes(200);
    let written: Vec<_> = (0..4).map(|at| batch(at * 2, 2)).collect();
    for batch in &written {
        spool.append(batch).unwrap();
    }
    drop(spool);
    let files = spool_files(dir.path());
    assert!(files.len() >= 2);
    // A bit flipped in the payload of the first file's first record.
    let mut bytes = fs::read(&files[0]).unwrap();
    bytes[8 + 8 + 20] ^= 0x40;
    fs::write(&files[0], bytes).unwrap();

    let mut spool = Spool::open(dir.path()).unwrap();
    let (batches, _, skipped_records) = read_all(&mut spool);
    assert_eq!(skipped_records, 1);
    // What the first file held is skipped; every later file is read.
    let later_files = written.len() - batches.len();
    assert!(later_files >= 1);
    assert_eq!(batches, written[later_files..]);
}

#[test]
fn a_file_that_is_not_a_spool_file_is_all_damage() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("00000000000000000001.spool"),
        b"not a spool file at all",
    )
    .unwrap();
    fs::write(dir.path().join("00000000000000000002.spool"), b"").unwrap();
    fs::write(dir.path().join("notes.txt"), b"left alone").unwrap();
    let mut spool = Spool::open(dir.path()).unwrap();
    let (batches, skipped_bytes, skipped_records) = read_all(&mut spool);
    assert!(batches.is_empty());
    assert_eq!((skipped_bytes, skipped_records), (23, 1));
    assert!(dir.path().join("notes.txt").exists());
}

#[test]
fn the_size_bound_refuses_what_does_not_fit_and_frees_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut spool = Spool::open(dir.path()).unwrap().max_bytes(2_000);
    let mut accepted = 0;
    let refused = loop {
        match spool.append(&batch(accepted * 2, 2)) {
            Ok(()) => accepted += 1,
            Err(refused) => break refused,
        }
    };
    assert!(
        matches!(refused, SpoolError::Full { max_bytes: 2_000, .. }),
        "{refused}"
    );
    assert!(accepted >= 2);
    assert!(spool.bytes() <= 2_000);
    let (batches, ..) = read_all(&mut spool);
    assert_eq!(batches.len() as u32, accepted);
    spool.append(&batch(0, 2)).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever happens to a file's bytes, reading it never panics and only
    /// ever gives back batches that were written, in order, from the start.
    #[test]
    fn damage_anywhere_gives_back_a_prefix_of_what_was_written(
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        mask in 1_u8..,
        truncate in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let written: Vec<_> = (0..5).map(|at| batch(at * 2, 2)).collect();
        let mut spool = Spool::open(dir.path()).unwrap();
        for batch in &written {
            spool.append(batch).unwrap();
        }
        drop(spool);
        let file = &spool_files(dir.path())[0];
        let mut bytes = fs::read(file).unwrap();
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        } else {
            let at = flip.index(bytes.len());
            bytes[at] ^= mask;
        }
        fs::write(file, &bytes).unwrap();

        let mut spool = Spool::open(dir.path()).unwrap();
        let (batches, ..) = read_all(&mut spool);
        prop_assert!(batches.len() <= written.len());
        prop_assert_eq!(&batches[..], &written[..batches.len()]);
    }
}
