//! A spool record's payload: a batch of events, column by column in the
//! order of [`COLUMNS`], as [`ActivityEvent::cells`] gives them and
//! [`ActivityEvent::read_columns`] reads them back, so that the format
//! follows the event's fields as every store does.
//!
//! ```text
//! payload = count: varint | event{count}
//! event   = cell{COLUMNS.len()}, in the order of COLUMNS
//! uuid    = 16 bytes
//! time    = seconds since the epoch: i64 LE | nanoseconds: u32 LE
//! integer = varint: 0 for none, else 1 + the value zigzagged
//! text    = varint: 0 for none; 1, then length: varint | UTF-8 bytes, for a
//!           text met for the first time in the record; n ≥ 2 for the
//!           record's (n - 2)th text met for the first time
//! json    = as text, the details' compact JSON text
//! ```
//!
//! The events of a batch share most of their texts (a route, a method, a
//! user agent, a tenant): each is written once per record, then named by
//! its number, which makes a record several times smaller than the same
//! events as JSON.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, ErrorKind};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::event::{ActivityEvent, COLUMNS, Cell, Column, ColumnKind, Details, ReadColumns};

/// Appends the payload holding `batch` to `out`.
pub(super) fn encode_batch(batch: &[ActivityEvent], out: &mut Vec<u8>) {
    let mut texts: HashMap<Cow<'_, str>, u64> = HashMap::new();
    put_varint(out, batch.len() as u64);
    for event in batch {
        for cell in event.cells() {
            match cell {
                Cell::Uuid(id) => out.extend_from_slice(id.as_bytes()),
                Cell::Time(time) => {
                    out.extend_from_slice(&time.timestamp().to_le_bytes());
                    out.extend_from_slice(&time.timestamp_subsec_nanos().to_le_bytes());
                }
                Cell::Integer(value) => {
                    put_varint(out, value.map_or(0, |value| zigzag(i64::from(value)) + 1))
                }
                Cell::Text(text) => put_text(out, &mut texts, text.map(Cow::Borrowed)),
                Cell::Json(details) => put_text(out, &mut texts, details.map(Details::as_json)),
            }
        }
    }
}

/// The most events [`decode_batch`] makes room for before reading them.
const MAX_PREALLOCATED: usize = 4_096;

/// Reads the batch a payload made by [`encode_batch`] holds.
pub(super) fn decode_batch(payload: &[u8]) -> io::Result<Vec<ActivityEvent>> {
    let mut input = Input {
        bytes: payload,
        texts: Vec::new(),
    };
    let count = input.varint()?;
    // Every event takes more than one byte: a count past the payload's
    // length is not a batch.
    if count > payload.len() as u64 {
        return Err(invalid("event count past the record's length"));
    }
    // Room for what a batch usually holds, not for what the count claims:
    // a damaged count must fail at the bytes, never at the allocator.
    let mut batch = Vec::with_capacity((count as usize).min(MAX_PREALLOCATED));
    for _ in 0..count {
        let mut row = Row::read(&mut input)?;
        batch.push(ActivityEvent::read_columns(&mut row)?);
    }
    if !input.bytes.is_empty() {
        return Err(invalid("bytes after the record's last event"));
    }
    Ok(batch)
}

fn put_text<'a>(out: &mut Vec<u8>, texts: &mut HashMap<Cow<'a, str>, u64>, text: Option<Cow<'a, str>>) {
    let Some(text) = text else {
        put_varint(out, 0);
        return;
    };
    if let Some(&number) = texts.get(&text) {
        put_varint(out, number + 2);
        return;
    }
    put_varint(out, 1);
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
    let number = texts.len() as u64;
    texts.insert(text, number);
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("spool record: {what}"))
}

/// What is left of a payload, and the texts met so far.
struct Input<'a> {
    bytes: &'a [u8],
    texts: Vec<&'a str>,
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(invalid("cut short"));
        }
        let (taken, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn varint(&mut self) -> io::Result<u64> {
        let mut value = 0_u64;
        for shift in (0..64).step_by(7) {
            let [byte] = self.array()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(invalid("varint too long"))
    }

    fn text(&mut self) -> io::Result<Option<&'a str>> {
        match self.varint()? {
            0 => Ok(None),
            1 => {
                let length = usize::try_from(self.varint()?).map_err(|_| invalid("text too long"))?;
                let text = std::str::from_utf8(self.take(length)?).map_err(|_| invalid("text not UTF-8"))?;
                self.texts.push(text);
                Ok(Some(text))
            }
            number => usize::try_from(number - 2)
                .ok()
                .and_then(|at| self.texts.get(at).copied())
                .map(Some)
                .ok_or_else(|| invalid("a text number never given")),
        }
    }
}

/// One event's cells as read, by position in [`COLUMNS`].
struct Row<'a> {
    cells: [Value<'a>; COLUMNS.len()],
}

#[derive(Clone, Copy)]
enum Value<'a> {
    Uuid(Uuid),
    Time(DateTime<Utc>),
    Integer(Option<i32>),
    Text(Option<&'a str>),
}

impl<'a> Row<'a> {
    fn read(input: &mut Input<'a>) -> io::Result<Self> {
        let mut cells = [Value::Text(None); COLUMNS.len()];
        for (cell, column) in cells.iter_mut().zip(&COLUMNS) {
            *cell = match column.kind {
                ColumnKind::Uuid => Value::Uuid(Uuid::from_bytes(input.array()?)),
                ColumnKind::Time => {
                    let seconds = i64::from_le_bytes(input.array()?);
                    let nanos = u32::from_le_bytes(input.array()?);
                    Value::Time(
                        DateTime::from_timestamp(seconds, nanos)
                            .ok_or_else(|| invalid("time out of range"))?,
                    )
                }
                ColumnKind::Integer => Value::Integer(match input.varint()? {
                    0 => None,
                    value => Some(
                        i32::try_from(unzigzag(value - 1)).map_err(|_| invalid("integer out of range"))?,
                    ),
                }),
                ColumnKind::Text | ColumnKind::Json => Value::Text(input.text()?),
            };
        }
        Ok(Row { cells })
    }

    fn cell(&self, column: &Column) -> io::Result<Value<'a>> {
        COLUMNS
            .iter()
            .position(|known| known.name == column.name)
            .map(|at| self.cells[at])
            .ok_or_else(|| invalid("an unknown column"))
    }
}

impl ReadColumns for Row<'_> {
    type Error = io::Error;

    fn uuid(&mut self, column: &Column) -> io::Result<Uuid> {
        match self.cell(column)? {
            Value::Uuid(id) => Ok(id),
            _ => Err(invalid("a uuid expected")),
        }
    }

    fn time(&mut self, column: &Column) -> io::Result<DateTime<Utc>> {
        match self.cell(column)? {
            Value::Time(time) => Ok(time),
            _ => Err(invalid("a time expected")),
        }
    }

    fn text(&mut self, column: &Column) -> io::Result<Option<String>> {
        match self.cell(column)? {
            Value::Text(text) => Ok(text.map(str::to_owned)),
            _ => Err(invalid("a text expected")),
        }
    }

    fn integer(&mut self, column: &Column) -> io::Result<Option<i32>> {
        match self.cell(column)? {
            Value::Integer(value) => Ok(value),
            _ => Err(invalid("an integer expected")),
        }
    }

    fn json(&mut self, column: &Column) -> io::Result<Option<Details>> {
        match self.cell(column)? {
            Value::Text(None) => Ok(None),
            Value::Text(Some(json)) => Details::from_json(json)
                .map(Some)
                .map_err(|_| invalid("details not JSON")),
            _ => Err(invalid("details expected")),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::event::{Action, Actor, Outcome};

    /// Events with every field set, and with none of the optional ones.
    fn events() -> Vec<ActivityEvent> {
        let full = |n: u32| {
            ActivityEvent::builder("auth.login.failed")
                .category("auth")
                .resource("session", n)
                .actor(Actor::admin("u_1").with_label("Ada"))
                .tenant("acme")
                .status(http::StatusCode::UNAUTHORIZED)
                .outcome(Outcome::Error)
                .request_id(format!("r_{n}"))
                .ip("203.0.113.9".parse().unwrap())
                .user_agent("agent/1")
                .method("POST")
                .route("/login")
                .details(json!({"reason": "bad_password", "n": n}))
                .build()
                .unwrap()
        };
        let mut events: Vec<_> = (0..3).map(full).collect();
        events.push(ActivityEvent::builder(Action::Read).build().unwrap());
        let mut odd = full(9);
        odd.http_status = Some(u16::MAX);
        odd.occurred_at = DateTime::from_timestamp(-1, 999_999_999).unwrap();
        events.push(odd);
        events
    }

    #[test]
    fn a_batch_comes_back_as_it_was_written() {
        let events = events();
        let mut payload = Vec::new();
        encode_batch(&events, &mut payload);
        assert_eq!(decode_batch(&payload).unwrap(), events);
        let mut empty = Vec::new();
        encode_batch(&[], &mut empty);
        assert_eq!(decode_batch(&empty).unwrap(), Vec::new());
    }

    #[test]
    fn shared_texts_are_written_once_per_record() {
        let events = events();
        let mut payload = Vec::new();
        encode_batch(&events, &mut payload);
        let json = serde_json::to_vec(&events).unwrap();
        assert_eq!(payload.windows(7).filter(|at| at == b"agent/1").count(), 1);
        assert!(
            payload.len() * 3 < json.len(),
            "{} vs {} bytes",
            payload.len(),
            json.len()
        );
    }

    #[test]
    fn a_payload_cut_or_followed_by_more_bytes_is_refused() {
        let mut payload = Vec::new();
        encode_batch(&events(), &mut payload);
        for end in 0..payload.len() {
            assert!(decode_batch(&payload[..end]).is_err(), "cut at {end}");
        }
        payload.push(0);
        assert!(decode_batch(&payload).is_err());
    }

    proptest! {
        /// Whatever the bytes, decoding never panics.
        #[test]
        fn any_bytes_decode_or_fail_without_panicking(
            bytes in prop::collection::vec(any::<u8>(), 0..512),
            flip in any::<prop::sample::Index>(),
            mask in 1_u8..,
        ) {
            let _ = decode_batch(&bytes);
            let mut payload = Vec::new();
            encode_batch(&events(), &mut payload);
            let at = flip.index(payload.len());
            payload[at] ^= mask;
            let _ = decode_batch(&payload);
        }
    }
}
