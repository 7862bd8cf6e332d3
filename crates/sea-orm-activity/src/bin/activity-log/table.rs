//! Human-readable output: events and counts as aligned text tables.

use std::fmt::Write as _;

use tower_activity::{ActivityCount, ActivityEvent, Catalogue};

/// The columns of an event listing.
const EVENT_HEADER: [&str; 9] = [
    "TIME", "ACTION", "OUTCOME", "STATUS", "ACTOR", "TENANT", "RESOURCE", "IP", "REQUEST",
];

/// The longest cell shown, in characters; longer ones are cut with `…`.
const MAX_CELL_CHARS: usize = 40;

/// The cells of `event`, safe to print to a terminal.
fn event_cells(event: &ActivityEvent) -> [String; 9] {
    let actor = event.actor.as_ref().map(|actor| match &actor.id {
        Some(id) => format!("{}:{id}", actor.kind),
        None => actor.kind.to_string(),
    });
    let resource = match (&event.resource_type, &event.resource_id) {
        (Some(kind), Some(id)) => Some(format!("{kind}/{id}")),
        (Some(kind), None) => Some(kind.to_string()),
        (None, Some(id)) => Some(id.to_string()),
        (None, None) => None,
    };
    [
        event.occurred_at.format("%Y-%m-%d %H:%M:%S%.6fZ").to_string(),
        event.action.to_string(),
        event.outcome.to_string(),
        event
            .http_status
            .map(|status| status.to_string())
            .unwrap_or_default(),
        actor.unwrap_or_default(),
        event.tenant_id.as_deref().unwrap_or_default().to_owned(),
        resource.unwrap_or_default(),
        event.ip.as_deref().unwrap_or_default().to_owned(),
        event.request_id.as_deref().unwrap_or_default().to_owned(),
    ]
    .map(|cell| printable(&cell))
}

/// `text` with control characters escaped (so stored values cannot move the
/// cursor or forge lines on the terminal) and cut to [`MAX_CELL_CHARS`].
fn printable(text: &str) -> String {
    if text.chars().nth(MAX_CELL_CHARS).is_none() {
        return printable_whole(text);
    }
    let cut: String = text.chars().take(MAX_CELL_CHARS - 1).collect();
    let mut out = printable_whole(&cut);
    out.push('…');
    out
}

/// `text` with control characters escaped, whatever its length.
fn printable_whole(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Lines of cells, each column as wide as its widest cell.
fn align<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|title| title.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (cell, width) in cells.zip(widths) {
            let _ = write!(text, "{cell:<width$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// `events` as a table with a header.
pub(crate) fn events(events: &[ActivityEvent]) -> String {
    let rows: Vec<[String; 9]> = events.iter().map(event_cells).collect();
    align(EVENT_HEADER, &rows)
}

/// One event as a line, for following the log.
pub(crate) fn event_line(event: &ActivityEvent) -> String {
    let cells = event_cells(event);
    let widths = [27, 24, 8, 3, 24, 16, 24, 15, 0];
    let mut line = String::new();
    for (cell, width) in cells.iter().zip(widths) {
        let _ = write!(line, "{cell:<width$}  ");
    }
    line.trim_end().to_owned()
}

/// `catalogue` as a table: each action, its category, its detail keys (a
/// `*` after a required one, `(personal)` after a personal one) and what it
/// means.
pub(crate) fn catalogue(catalogue: &Catalogue) -> String {
    let rows: Vec<[String; 4]> = catalogue
        .entries()
        .into_iter()
        .map(|entry| {
            let keys: Vec<String> = entry
                .details()
                .iter()
                .map(|(key, spec)| {
                    let required = if spec.is_required() { "*" } else { "" };
                    let personal = if spec.is_personal() { " (personal)" } else { "" };
                    format!("{key}{required}: {}{personal}", spec.kind())
                })
                .collect();
            [
                entry.action(),
                entry.category_name().unwrap_or_default(),
                &keys.join(", "),
                entry.description(),
            ]
            .map(printable_whole)
        })
        .collect();
    align(["ACTION", "CATEGORY", "DETAILS", "DESCRIPTION"], &rows)
}

/// `counts` as a table with a header and a total.
pub(crate) fn counts(counts: &[ActivityCount]) -> String {
    let rows: Vec<[String; 4]> = counts
        .iter()
        .map(|count| {
            [
                count.day.to_string(),
                count.action.to_string(),
                count.outcome.to_string(),
                count.count.to_string(),
            ]
        })
        .collect();
    let total: u64 = counts.iter().map(|count| count.count).sum();
    let mut out = align(["DAY", "ACTION", "OUTCOME", "COUNT"], &rows);
    let _ = writeln!(out, "total: {total}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_activity::{Action, Actor};

    #[test]
    fn control_characters_are_escaped_and_long_cells_cut() {
        assert_eq!(printable("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        let long = printable(&"x".repeat(100));
        assert_eq!(long.chars().count(), MAX_CELL_CHARS);
        assert!(long.ends_with('…'));
        assert_eq!(printable(&"y".repeat(MAX_CELL_CHARS)), "y".repeat(MAX_CELL_CHARS));
    }

    #[test]
    fn columns_line_up() {
        let short = ActivityEvent::builder(Action::Read)
            .actor(Actor::user("u"))
            .build()
            .unwrap();
        let long = ActivityEvent::builder("auth.login.failed")
            .actor(Actor::user("a-much-longer-id"))
            .build()
            .unwrap();
        let table = events(&[short, long]);
        let lines: Vec<&str> = table.lines().collect();
        let column = |line: &str| line.find("OUTCOME").or_else(|| line.find("success")).unwrap();
        assert_eq!(column(lines[0]), column(lines[1]));
        assert_eq!(column(lines[1]), column(lines[2]));
    }
}
