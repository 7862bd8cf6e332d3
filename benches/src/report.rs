//! Results: tables printed as aligned text or written as Markdown, and the
//! targets each benchmark checks.

use std::fmt::Write as _;

/// A table of results.
#[derive(Clone, Debug)]
pub(crate) struct Table {
    pub(crate) title: String,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    notes: Vec<String>,
}

impl Table {
    pub(crate) fn new(title: impl Into<String>, headers: &[&str]) -> Self {
        Table {
            title: title.into(),
            headers: headers.iter().map(|header| (*header).to_owned()).collect(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Aligned text for the terminal.
    pub(crate) fn text(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|header| header.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (n, cell) in cells.iter().enumerate().take(columns) {
                let pad = widths[n] - cell.chars().count();
                if n == 0 {
                    let _ = write!(out, "{cell}{}", " ".repeat(pad));
                } else {
                    let _ = write!(out, "  {}{cell}", " ".repeat(pad));
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = format!("== {} ==\n{}\n", self.title, line(&self.headers));
        let rule: usize = widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1);
        let _ = writeln!(out, "{}", "-".repeat(rule));
        for row in &self.rows {
            let _ = writeln!(out, "{}", line(row));
        }
        for note in &self.notes {
            let _ = writeln!(out, "  * {note}");
        }
        out
    }

    /// A Markdown section.
    pub(crate) fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n| {} |\n", self.title, self.headers.join(" | "));
        // Columns of figures are right-aligned, columns of words left-aligned.
        let numeric = |column: usize| {
            self.rows.iter().all(|row| {
                row.get(column).is_none_or(|cell| {
                    cell.is_empty()
                        || cell == "—"
                        || cell == "n/a"
                        || cell.starts_with(|c: char| c.is_ascii_digit())
                })
            })
        };
        let _ = writeln!(
            out,
            "|{}",
            (0..self.headers.len())
                .map(|n| if n > 0 && numeric(n) { "---:|" } else { "---|" })
                .collect::<String>()
        );
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }
}

/// A goal the figures are checked against.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) goal: String,
    pub(crate) measured: String,
    pub(crate) met: bool,
}

impl Target {
    pub(crate) fn new(name: impl Into<String>, goal: impl Into<String>, measured: String, met: bool) -> Self {
        Target {
            name: name.into(),
            goal: goal.into(),
            measured,
            met,
        }
    }
}

/// What one benchmark produced.
#[derive(Clone, Debug, Default)]
pub(crate) struct Section {
    pub(crate) tables: Vec<Table>,
    pub(crate) targets: Vec<Target>,
}

impl Section {
    /// Prints the tables and targets as they are made.
    pub(crate) fn print(&self) {
        for table in &self.tables {
            println!("\n{}", table.text());
        }
        if !self.targets.is_empty() {
            println!("{}", targets_table(&self.targets).text());
        }
    }
}

/// The targets as a table with PASS / MISS.
pub(crate) fn targets_table(targets: &[Target]) -> Table {
    let mut table = Table::new("Targets", &["target", "goal", "measured", "result"]);
    for target in targets {
        table.row(vec![
            target.name.clone(),
            target.goal.clone(),
            target.measured.clone(),
            String::from(if target.met { "PASS" } else { "MISS" }),
        ]);
    }
    table
}

/// `value / base` as a percentage with one decimal.
pub(crate) fn percent(value: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.1} %", 100.0 * value / base)
    } else {
        String::from("n/a")
    }
}

/// `value / base` as a ratio with two decimals.
pub(crate) fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}×", value / base)
    } else {
        String::from("n/a")
    }
}

/// A count with thousands separators.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate with thousands separators, rounded.
pub(crate) fn rate(per_second: f64) -> String {
    count(per_second.round() as u64)
}
