//! The `activity-log` command and the action catalogue: `actions` prints a
//! catalogue file, `--category` filters, `anonymize --catalogue` clears the
//! keys it marks personal.

use serde_json::json;
use tower_activity::{
    Action, ActivityEvent, ActivityStore, Actor, Catalogue, CatalogueEntry, DetailSpec, DetailType,
};

use crate::cli::{failed, run, run_without_database, succeeded};
use crate::events;
use crate::support::each_backend;

fn catalogue() -> Catalogue {
    Catalogue::new()
        .action(
            CatalogueEntry::new("auth.login.failed", "A sign-in attempt failed")
                .detail("reason", DetailSpec::required(DetailType::String))
                .detail("holder", DetailSpec::optional(DetailType::String).personal()),
        )
        .unwrap()
        .action(CatalogueEntry::new("create", "A resource was created").category("crud"))
        .unwrap()
}

/// A temporary directory holding `catalogue.json` with `text`.
fn catalogue_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalogue.json");
    std::fs::write(&path, text).unwrap();
    (dir, path.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn actions_prints_a_catalogue_file_as_a_table_or_json_without_a_database() {
    let (_dir, path) = catalogue_file(&serde_json::to_string(&catalogue()).unwrap());
    let table = succeeded(&run_without_database(&["actions", "--catalogue", &path]).await);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("ACTION") && lines[0].contains("CATEGORY"),
        "{table}"
    );
    assert!(lines[1].starts_with("auth.login.failed  auth"), "{table}");
    assert!(
        lines[1].contains("holder: string (personal), reason*: string  A sign-in attempt failed"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("create") && lines[2].contains("crud"),
        "{table}"
    );

    let printed = succeeded(&run_without_database(&["actions", "--catalogue", &path, "--json"]).await);
    let printed: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(printed, serde_json::to_value(catalogue()).unwrap());
}

#[tokio::test]
async fn a_bad_catalogue_file_is_one_error_line_naming_the_file() {
    let missing = failed(
        &run_without_database(&["actions", "--catalogue", "/nonexistent/catalogue.json"]).await,
        1,
    );
    assert!(
        missing.starts_with("error: cannot read the catalogue /nonexistent/catalogue.json:"),
        "{missing}"
    );
    let (_dir, path) = catalogue_file("{\"actions\": [");
    let truncated = failed(&run_without_database(&["actions", "--catalogue", &path]).await, 1);
    assert!(
        truncated.contains(&format!("{path} is not a valid catalogue: EOF")),
        "{truncated}"
    );
    let (_dir, path) = catalogue_file(r#"{"actions": [{"action": "Login", "description": "x"}]}"#);
    let invalid = failed(&run_without_database(&["actions", "--catalogue", &path]).await, 1);
    assert!(
        invalid.contains("catalogue entry \"Login\": invalid action name"),
        "{invalid}"
    );
}

#[tokio::test]
async fn query_filters_by_category_and_anonymize_clears_personal_keys() {
    let (_dir, path) = catalogue_file(&serde_json::to_string(&catalogue()).unwrap());
    let failed_login = ActivityEvent::builder("auth.login.failed")
        .category("auth")
        .actor(Actor::user("u_42"))
        .detail("reason", "bad_password")
        .detail("holder", "Ada Lovelace")
        .build()
        .unwrap();
    let created = ActivityEvent::builder(Action::Create)
        .category("crud")
        .build()
        .unwrap();
    let uncategorized = ActivityEvent::builder(Action::Create).build().unwrap();
    each_backend(async |db| {
        events::write(
            db,
            &[failed_login.clone(), created.clone(), uncategorized.clone()],
        )
        .await;
        let auth = succeeded(&run(db, &["query", "--category", "auth", "--json"]).await);
        let ids: Vec<String> = auth
            .lines()
            .map(|line| {
                serde_json::from_str::<ActivityEvent>(line)
                    .unwrap()
                    .id
                    .to_string()
            })
            .collect();
        assert_eq!(ids, [failed_login.id.to_string()]);
        let both = succeeded(
            &run(
                db,
                &["query", "--category", "auth", "--category", "crud", "--json"],
            )
            .await,
        );
        assert_eq!(both.lines().count(), 2);

        succeeded(&run(db, &["anonymize", "--actor", "u_42", "--catalogue", &path]).await);
        let details = db
            .store()
            .get(failed_login.id)
            .await
            .unwrap()
            .unwrap()
            .details
            .unwrap();
        assert_ne!(details.get("holder"), Some(json!("Ada Lovelace")));
        assert_eq!(details.get("reason"), Some(json!("bad_password")));
    })
    .await;
}
