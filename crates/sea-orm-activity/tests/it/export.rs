//! Export: streamed JSON lines and formula-safe CSV.

use serde_json::json;
use tower_activity::COLUMNS;
use tower_activity::{Action, ActivityEvent, ActivityFilter, Actor};

use sea_orm_activity::ExportFormat;

use crate::events::{self, varied};
use crate::support::each_backend;

const HOSTILE: [&str; 10] = [
    "=cmd|' /C calc'!A0",
    "=cmd()",
    "+1+1",
    "-2",
    "@SUM(A1)",
    "\tTab",
    "\rCR",
    "a \"quoted\" word",
    "line\nbreak\r\nand more",
    "comma, inside",
];

fn hostile_event(value: &str) -> ActivityEvent {
    ActivityEvent::builder(Action::Update)
        .resource(value, value)
        .category(value)
        .actor(Actor::user(value).with_label(value))
        .tenant(value)
        .request_id(value)
        .user_agent(value)
        .route(value)
        .details(json!({"v": value}))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_csv_export_of_hostile_values_parses_back_with_formulas_neutralised() {
    let events: Vec<ActivityEvent> = HOSTILE.iter().map(|value| hostile_event(value)).collect();
    each_backend(async |db| {
        events::write(db, &events).await;
        let mut out = Vec::new();
        let written = db
            .store()
            .chunk_size(3)
            .export(&ActivityFilter::new(), ExportFormat::Csv, &mut out)
            .await
            .unwrap();
        assert_eq!(written, HOSTILE.len() as u64);
        let mut reader = csv::Reader::from_reader(out.as_slice());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            COLUMNS.map(|column| column.name)
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), HOSTILE.len(), "one header, then one row per event");
        for (row, (value, event)) in rows.iter().zip(HOSTILE.iter().zip(&events)) {
            // A value that a spreadsheet would read as a formula gets a
            // leading quote; anything else comes back as it was.
            let expected = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{value}")
            } else {
                value.to_string()
            };
            assert_eq!(&row[0], event.id.to_string());
            for column in [
                "category",
                "resource_type",
                "resource_id",
                "actor_id",
                "actor_label",
                "tenant_id",
                "request_id",
                "user_agent",
                "route",
            ] {
                let at = COLUMNS
                    .map(|column| column.name)
                    .iter()
                    .position(|name| *name == column)
                    .unwrap();
                assert_eq!(&row[at], expected, "{column} of {value:?}");
            }
            let details = COLUMNS
                .iter()
                .position(|column| column.name == "details")
                .unwrap();
            let details: serde_json::Value = serde_json::from_str(&row[details]).unwrap();
            assert_eq!(details, json!({"v": value}));
            for cell in row.iter() {
                assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_json_lines_export_streams_the_filtered_range_in_order() {
    let events: Vec<ActivityEvent> = (0..250).map(varied).collect();
    let filter = ActivityFilter::new().tenant("tenant_1");
    each_backend(async |db| {
        events::write(db, &events).await;
        let mut out = Vec::new();
        let mut progress = Vec::new();
        let written = db
            .store()
            .chunk_size(16)
            .export_with_progress(&filter, ExportFormat::JsonLines, &mut out, |n| progress.push(n))
            .await
            .unwrap();
        let expected: Vec<&ActivityEvent> = events.iter().filter(|event| filter.matches(event)).collect();
        assert_eq!(written, expected.len() as u64);
        assert_eq!(progress.last(), Some(&written));
        assert!(progress.len() > 3, "read in chunks: {progress:?}");
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<ActivityEvent> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.iter().collect::<Vec<_>>(), expected);
    })
    .await;
}

#[tokio::test]
async fn an_empty_csv_export_still_has_its_header() {
    each_backend(async |db| {
        let mut out = Vec::new();
        let written = db
            .store()
            .export(&ActivityFilter::new(), ExportFormat::Csv, &mut out)
            .await
            .unwrap();
        assert_eq!(written, 0);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{}\r\n", COLUMNS.map(|column| column.name).join(","))
        );
    })
    .await;
}
