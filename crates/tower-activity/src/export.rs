//! Encoding events for export: JSON lines, and CSV that cannot carry
//! spreadsheet formulas.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::str::FromStr;

use crate::event::ActivityEvent;
#[cfg(feature = "csv")]
use crate::event::{COLUMNS, Cell};

/// Appends `event` to `out` as one line of JSON ending in `\n`.
///
/// JSON escapes the C0 control characters inside strings; the C1 controls
/// (U+0080 to U+009F, NEL among them) and U+2028 / U+2029 are escaped too, so
/// no value can start a new line for any reader.
pub fn write_json_line(event: &ActivityEvent, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
    let line = serde_json::to_string(event)?;
    if line.contains(breaks_lines) {
        for c in line.chars() {
            if breaks_lines(c) {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
            } else {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    } else {
        out.extend_from_slice(line.as_bytes());
    }
    out.push(b'\n');
    Ok(())
}

/// The encoding of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// One JSON object per line, as [`write_json_line`] writes it.
    JsonLines,
    /// RFC 4180 CSV with a header row, as [`CsvWriter`] writes it.
    #[cfg(feature = "csv")]
    Csv,
}

/// A name that is not an export format.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnknownExportFormat {
    /// Neither `jsonl` nor `csv`.
    #[error("unknown export format (expected jsonl or csv)")]
    Unknown,
    /// `csv`, without the `csv` feature.
    #[error("csv export is not enabled (the `csv` feature of tower-activity); use jsonl")]
    CsvDisabled,
}

impl FromStr for ExportFormat {
    type Err = UnknownExportFormat;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "jsonl" | "ndjson" => Ok(ExportFormat::JsonLines),
            #[cfg(feature = "csv")]
            "csv" => Ok(ExportFormat::Csv),
            #[cfg(not(feature = "csv"))]
            "csv" => Err(UnknownExportFormat::CsvDisabled),
            _ => Err(UnknownExportFormat::Unknown),
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_extension())
    }
}

impl ExportFormat {
    /// The media type of an export in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::JsonLines => "application/x-ndjson",
            #[cfg(feature = "csv")]
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The file extension of an export in this format, which is also its name.
    pub fn file_extension(self) -> &'static str {
        match self {
            ExportFormat::JsonLines => "jsonl",
            #[cfg(feature = "csv")]
            ExportFormat::Csv => "csv",
        }
    }

    /// Appends one chunk of an export to `out`: the events, preceded by the
    /// CSV header when this is the `first` chunk (even an empty one).
    ///
    /// ```
    /// use tower_activity::{Action, ActivityEvent, export::ExportFormat};
    ///
    /// let events = [ActivityEvent::builder(Action::Read).build().unwrap()];
    /// let mut out = Vec::new();
    /// ExportFormat::JsonLines.encode_chunk(&events, true, &mut out).unwrap();
    /// assert_eq!(out.iter().filter(|&&byte| byte == b'\n').count(), 1);
    /// ```
    #[cfg_attr(not(feature = "csv"), expect(unused_variables))]
    pub fn encode_chunk(self, events: &[ActivityEvent], first: bool, out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            ExportFormat::JsonLines => {
                out.reserve(events.len() * 512);
                for event in events {
                    write_json_line(event, out).map_err(io::Error::other)?;
                }
                Ok(())
            }
            #[cfg(feature = "csv")]
            ExportFormat::Csv => {
                let mut csv = if first {
                    CsvWriter::new(&mut *out)
                } else {
                    CsvWriter::headless(&mut *out)
                };
                csv.write_header()?;
                for event in events {
                    csv.write(event)?;
                }
                csv.flush()
            }
        }
    }
}

/// Characters some readers take for a line break that JSON leaves raw.
fn breaks_lines(c: char) -> bool {
    matches!(c, '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}')
}

/// A cell as it is safe to open in a spreadsheet: text starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return (or their full-width forms) is
/// prefixed with `'`, so it is shown as text instead of being evaluated as a
/// formula. What a reader may trim or not show before the first character is
/// skipped when looking for it: spaces and other whitespace, a byte order
/// mark, zero-width characters and bidirectional controls.
///
/// ```
/// use tower_activity::export::neutralize_formula;
///
/// assert_eq!(neutralize_formula("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
/// assert_eq!(neutralize_formula("\u{feff} =1+1"), "'\u{feff} =1+1");
/// assert_eq!(neutralize_formula("plain"), "plain");
/// ```
pub fn neutralize_formula(cell: &str) -> Cow<'_, str> {
    let starts_formula = cell
        .chars()
        .find(|&c| starts_formula(c) || !hidden(c))
        .is_some_and(starts_formula);
    if starts_formula {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Characters a spreadsheet may take as the start of a formula.
fn starts_formula(c: char) -> bool {
    matches!(
        c,
        '=' | '+' | '-' | '@' | '\t' | '\r' | '\u{ff1d}' | '\u{ff0b}' | '\u{ff0d}' | '\u{ff20}'
    )
}

/// Characters a reader may trim or not show in front of a cell's text.
fn hidden(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{feff}' // byte order mark, zero-width no-break space
                | '\u{200b}'..='\u{200f}' // zero-width space, joiners, LRM, RLM
                | '\u{202a}'..='\u{202e}' // bidirectional embeddings and overrides
                | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
                | '\u{2066}'..='\u{2069}' // bidirectional isolates
                | '\u{061c}' // Arabic letter mark
                | '\u{180e}' // Mongolian vowel separator
        )
}

/// Writes events as RFC 4180 CSV (quoted where needed, CRLF line ends) with
/// a header of the [`COLUMNS`] names, every text cell passed through
/// [`neutralize_formula`].
///
/// ```
/// use tower_activity::{Action, ActivityEvent, export::CsvWriter};
///
/// let mut csv = CsvWriter::new(Vec::new());
/// let event = ActivityEvent::builder(Action::Create).resource("note", "=cmd()").build().unwrap();
/// csv.write(&event).unwrap();
/// let text = String::from_utf8(csv.into_inner().unwrap()).unwrap();
/// assert!(text.contains(",'=cmd(),"));
/// ```
#[cfg(feature = "csv")]
#[derive(Debug)]
pub struct CsvWriter<W: io::Write> {
    writer: csv::Writer<W>,
    header_written: bool,
}

#[cfg(feature = "csv")]
impl<W: io::Write> CsvWriter<W> {
    /// A writer that will start with the header row.
    pub fn new(writer: W) -> Self {
        CsvWriter {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(writer),
            header_written: false,
        }
    }

    /// A writer that writes rows only: for the chunks of a streamed export
    /// after the first, which carries the header.
    pub fn headless(writer: W) -> Self {
        let mut csv = CsvWriter::new(writer);
        csv.header_written = true;
        csv
    }

    /// Writes the header row if it has not been written yet.
    pub fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.writer
                .write_record(COLUMNS.map(|column| column.name))
                .map_err(io::Error::other)?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Writes one event as a row (after the header, if not written yet).
    pub fn write(&mut self, event: &ActivityEvent) -> io::Result<()> {
        self.write_header()?;
        let record = event.cells().map(|cell| -> Cow<'_, str> {
            match cell {
                Cell::Uuid(id) => Cow::Owned(id.to_string()),
                Cell::Time(time) => Cow::Owned(time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                Cell::Text(text) => text.map(neutralize_formula).unwrap_or_default(),
                Cell::Integer(number) => number
                    .map(|number| Cow::Owned(number.to_string()))
                    .unwrap_or_default(),
                Cell::Json(details) => details
                    .map(|details| Cow::Owned(neutralize_formula(&details.as_json()).into_owned()))
                    .unwrap_or_default(),
            }
        });
        self.writer
            .write_record(record.iter().map(|cell| cell.as_bytes()))
            .map_err(io::Error::other)
    }

    /// Flushes buffered rows to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> io::Result<W> {
        self.writer.into_inner().map_err(|error| error.into_error())
    }
}

#[cfg(test)]
mod formula_tests {
    use super::neutralize_formula;

    #[test]
    fn formulas_behind_invisible_prefixes_are_neutralized() {
        for prefix in [
            "",
            " ",
            "  ",
            "\u{a0}",
            "\u{feff}",
            "\u{200b}",
            "\u{200d}",
            "\u{202a}",
            "\u{202e}",
            "\u{2066}",
            "\u{2069}",
            "\u{3000}",
            "\u{feff}\u{202e} ",
            "\n",
        ] {
            for trigger in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\u{ff1d}1+1"] {
                let cell = format!("{prefix}{trigger}");
                assert_eq!(neutralize_formula(&cell), format!("'{cell}"), "{cell:?}");
            }
        }
    }

    #[test]
    fn text_that_starts_with_a_visible_character_is_kept() {
        for cell in ["plain", " plain", "\u{feff}plain", "a=1", "'=1", "", " ", "1-2"] {
            assert_eq!(neutralize_formula(cell), cell, "{cell:?}");
        }
    }
}

#[cfg(all(test, feature = "csv"))]
mod tests {
    use super::*;
    use crate::{Action, Actor};
    use serde_json::json;

    #[test]
    fn hostile_values_round_trip_with_formulas_neutralized() {
        let hostile = [
            "=cmd|' /C calc'!A0",
            "+1+1",
            "-2",
            "@SUM(A1)",
            "\tTab",
            "\rCR",
            "a \"quoted\" word",
            "line\nbreak",
            "comma, inside",
        ];
        let mut csv = CsvWriter::new(Vec::new());
        let mut events = Vec::new();
        for value in hostile {
            let event = ActivityEvent::builder(Action::Update)
                .resource("note", value)
                .actor(Actor::user(value).with_label(value))
                .tenant(value)
                .details(json!({"v": value}))
                .build()
                .unwrap();
            csv.write(&event).unwrap();
            events.push(event);
        }
        let bytes = csv.into_inner().unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            COLUMNS.map(|column| column.name)
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), hostile.len());
        for (row, (value, event)) in rows.iter().zip(hostile.iter().zip(&events)) {
            let expected = neutralize_formula(value);
            assert_eq!(&row[0], event.id.to_string());
            assert_eq!(&row[4], expected, "resource_id");
            assert_eq!(&row[6], expected, "actor_id");
            assert_eq!(&row[7], expected, "actor_label");
            assert_eq!(&row[8], expected, "tenant_id");
            let details: serde_json::Value = serde_json::from_str(&row[16]).unwrap();
            assert_eq!(details, json!({"v": value}));
            for cell in row.iter() {
                assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?}");
            }
        }
    }
}
