//! A batch as PostgreSQL array literals, one per column, for the `UNNEST`
//! insert: written by hand, since this runs for every event persisted.

use chrono::{Datelike, SecondsFormat, SubsecRound, Timelike};
use sea_orm::prelude::{DateTimeUtc, Uuid};
use tower_activity::{ActivityEvent, COLUMNS, Cell};

use crate::entity::{NUL_REPLACEMENT, details_text};

/// The rows of `events` as PostgreSQL array literals, one per column in
/// [`COLUMNS`] order (`{"a",NULL,"b"}`), with the values [`cell_value`](crate::entity::cell_value)
/// gives: every element quoted and escaped, so no value can end its element
/// or its array, and a missing one is `NULL`.
///
/// Events are taken until the arrays hold more than `max_bytes` (at least
/// one is taken); returns the arrays and how many events they hold.
pub(crate) fn column_arrays(events: &[ActivityEvent], max_bytes: usize) -> ([String; COLUMNS.len()], usize) {
    // Room for a typical element of each event, so the arrays grow rarely.
    let mut arrays: [String; COLUMNS.len()] = std::array::from_fn(|_| {
        let mut array = String::with_capacity(2 + events.len().min(1_000) * 40);
        array.push('{');
        array
    });
    let mut buffer = String::new();
    let mut bytes = 0;
    let mut taken = 0;
    for event in events {
        if taken > 0 && bytes > max_bytes {
            break;
        }
        taken += 1;
        for ((array, cell), column) in arrays.iter_mut().zip(event.cells()).zip(&COLUMNS) {
            let before = array.len();
            if array.len() > 1 {
                array.push(',');
            }
            // Values that need no quoting inside the element's quotes are
            // written as they are, without going through `element`.
            buffer.clear();
            match cell {
                Cell::Uuid(id) => {
                    let mut text = Uuid::encode_buffer();
                    quoted(array, id.hyphenated().encode_lower(&mut text));
                }
                Cell::Time(time) => {
                    push_time(&mut buffer, time);
                    quoted(array, &buffer);
                }
                Cell::Integer(Some(number)) => {
                    buffer.push_str(itoa::Buffer::new().format(number));
                    quoted(array, &buffer);
                }
                Cell::Text(Some(text)) => element(array, column.fit(text)),
                Cell::Json(Some(details)) => element(array, &details_text(details)),
                Cell::Text(None) | Cell::Integer(None) | Cell::Json(None) => array.push_str("NULL"),
            }
            bytes += array.len() - before;
        }
    }
    for array in &mut arrays {
        array.push('}');
    }
    (arrays, taken)
}

/// Appends `value`, which holds no character that needs escaping, as a
/// quoted element.
fn quoted(array: &mut String, value: &str) {
    array.push('"');
    array.push_str(value);
    array.push('"');
}

/// Appends `time`, cut to microseconds, as RFC 3339
/// (`2025-01-31T23:59:59.000001Z`), written out directly for the years 0 to
/// 9999 (chrono's formatter costs more than the rest of the row).
fn push_time(out: &mut String, time: DateTimeUtc) {
    let time = time.naive_utc();
    let (date, clock) = (time.date(), time.time());
    // Years outside 0 to 9999 and leap seconds (a nanosecond past 10^9) are
    // left to chrono.
    let year = u32::try_from(date.year()).unwrap_or(u32::MAX);
    if year > 9_999 || clock.nanosecond() >= 1_000_000_000 {
        let time = time.and_utc().trunc_subsecs(6);
        out.push_str(&time.to_rfc3339_opts(SecondsFormat::Micros, true));
        return;
    }
    push_digits(out, year / 100, '\0');
    push_digits(out, year % 100, '-');
    push_digits(out, date.month(), '-');
    push_digits(out, date.day(), 'T');
    push_digits(out, clock.hour(), ':');
    push_digits(out, clock.minute(), ':');
    push_digits(out, clock.second(), '.');
    let micros = clock.nanosecond() / 1_000;
    push_digits(out, micros / 10_000, '\0');
    push_digits(out, micros / 100 % 100, '\0');
    push_digits(out, micros % 100, 'Z');
}

/// Appends a number below 100 as two digits, then `after` (unless NUL).
fn push_digits(out: &mut String, value: u32, after: char) {
    let tens = u8::try_from(value / 10 % 10).unwrap_or(0);
    let ones = u8::try_from(value % 10).unwrap_or(0);
    out.push(char::from(b'0' + tens));
    out.push(char::from(b'0' + ones));
    if after != '\0' {
        out.push(after);
    }
}

/// Appends one text element to a PostgreSQL array literal: quoted, with `"`
/// and `\` escaped and NUL replaced, so no value can end its element or its
/// array.
fn element(array: &mut String, value: &str) {
    array.push('"');
    if !value.bytes().any(|byte| matches!(byte, b'"' | b'\\' | 0)) {
        array.push_str(value);
    } else {
        for c in value.chars() {
            match c {
                '"' | '\\' => {
                    array.push('\\');
                    array.push(c);
                }
                '\0' => array.push_str(NUL_REPLACEMENT),
                c => array.push(c),
            }
        }
    }
    array.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        for text in [
            "2025-01-31T23:59:59.000001Z",
            "1970-01-01T00:00:00Z",
            "0001-02-03T04:05:06.7Z",
            "9999-12-31T23:59:59.999999Z",
            "2024-02-29T12:00:00.123456789Z",
            "2016-12-31T23:59:60.5Z",
            "+10000-01-01T00:00:00Z",
        ] {
            let time: DateTimeUtc = text.parse().unwrap();
            let mut written = String::new();
            push_time(&mut written, time);
            let cut = time.trunc_subsecs(6);
            assert_eq!(written, cut.to_rfc3339_opts(SecondsFormat::Micros, true));
        }
    }

    #[test]
    fn array_elements_are_quoted_and_escaped() {
        let mut array = String::new();
        element(&mut array, "plain");
        element(&mut array, "a \"quote\" and a \\ backslash\0");
        assert_eq!(array, "\"plain\"\"a \\\"quote\\\" and a \\\\ backslash\u{FFFD}\"");
    }

    #[test]
    fn arrays_stop_taking_events_past_the_byte_limit() {
        let events: Vec<ActivityEvent> = (0..10)
            .map(|n| {
                ActivityEvent::builder(tower_activity::Action::Create)
                    .resource("note", "x".repeat(100) + &n.to_string())
                    .build()
                    .unwrap()
            })
            .collect();
        let (_, all) = column_arrays(&events, usize::MAX);
        assert_eq!(all, 10);
        let (arrays, some) = column_arrays(&events, 250);
        assert!((2..10).contains(&some), "{some}");
        assert_eq!(arrays[0].matches(',').count() + 1, some);
        let (_, one) = column_arrays(&events, 0);
        assert_eq!(one, 1, "at least one event is taken");
    }
}
