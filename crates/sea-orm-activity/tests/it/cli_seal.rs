//! `activity-log verify` and `activity-log checkpoint` on each backend.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sea_orm_activity::entity::{Column, Entity, Model};

use crate::cli::{run, stderr, stdout, succeeded};
use crate::seal::{key, rows, sealed_log};
use crate::support::{TestDb, each_backend};

#[tokio::test]
async fn verify_passes_then_names_the_entry_edited_by_hand() {
    each_backend(async |db| {
        let events = sealed_six(db).await;
        let dir = tempfile::tempdir().unwrap();
        let public_key = dir.path().join("seal.pub");
        std::fs::write(&public_key, hex(&key().public_key().to_bytes())).unwrap();
        let checkpoint = dir.path().join("checkpoint.txt");
        let text = succeeded(&run(db, &["checkpoint"]).await);
        assert!(
            text.starts_with("tower-activity checkpoint v1\nchain main\nsequence 2\n"),
            "{text}"
        );
        std::fs::write(&checkpoint, text).unwrap();
        let args = [
            "verify",
            "--public-key",
            public_key.to_str().unwrap(),
            "--checkpoint",
            checkpoint.to_str().unwrap(),
        ];
        let report = succeeded(&run(db, &args).await);
        assert!(report.contains("entries verified: 6"), "{report}");
        assert!(report.ends_with("result:           intact\n"), "{report}");

        // Every entry edited: the first one is named.
        db.execute("UPDATE activity_log SET tenant_id = 'someone_else'")
            .await;
        let output = run(db, &args).await;
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let report = stdout(&output);
        assert!(
            report.contains(&format!(
                "seal 1, entry {}: the column `tenant_id` was changed",
                events[0].id
            )),
            "{report}"
        );
        assert_eq!(stderr(&output), "error: the activity log was tampered with\n");
    })
    .await;
}

#[tokio::test]
async fn checkpoint_without_a_seal_and_a_bad_key_file_are_refused() {
    each_backend(async |db| {
        let output = run(db, &["checkpoint"]).await;
        assert_eq!(output.status.code(), Some(1));
        assert!(stderr(&output).contains("has no seal yet"), "{}", stderr(&output));
        let dir = tempfile::tempdir().unwrap();
        let public_key = dir.path().join("seal.pub");
        std::fs::write(&public_key, "not hex").unwrap();
        let output = run(db, &["verify", "--public-key", public_key.to_str().unwrap()]).await;
        assert_eq!(output.status.code(), Some(1));
        assert!(
            stderr(&output).contains("does not hold a public key"),
            "{}",
            stderr(&output)
        );
    })
    .await;
}

#[tokio::test]
async fn verify_narrowed_to_a_tenant_or_to_recent_seals_says_what_it_covered() {
    each_backend(async |db| {
        let events = sealed_six(db).await;
        // Entries 1 and 4 are tenant_1's, entry 2 tenant_2's.
        assert_eq!(events[2].tenant_id.as_deref(), Some("tenant_2"));
        let report = succeeded(&run(db, &["verify", "--tenant", "tenant_1"]).await);
        assert!(
            report.starts_with("scope:            the entries of tenant \"tenant_1\"\n"),
            "{report}"
        );
        assert!(
            report.contains("entries verified: 2 (of tenant \"tenant_1\")\n"),
            "{report}"
        );
        assert!(
            report.contains("entries skipped:  4 out of the scope"),
            "{report}"
        );

        Entity::update_many()
            .col_expr(Column::Method, Expr::value("PATCH"))
            .filter(Column::Id.eq(events[2].id))
            .exec(&db.db)
            .await
            .unwrap();
        succeeded(&run(db, &["verify", "--tenant", "tenant_1"]).await);
        let output = run(db, &["verify", "--tenant", "tenant_2"]).await;
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        names_changed_method(&output, events[2].id);

        // Every seal was made before: links and signatures only.
        let report = succeeded(&run(db, &["verify", "--since", "2999-01-01"]).await);
        assert!(
            report.contains("seals recomputed: 0 (root, count and id range; the 2 before were not read)\n"),
            "{report}"
        );
        assert!(report.contains("6 in the seals before (not read)"), "{report}");
        // Both seals were made within the hour: the changed entry is found.
        let output = run(db, &["verify", "--since", "1h"]).await;
        assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
        names_changed_method(&output, events[2].id);
    })
    .await;
}

/// Six varied entries made now, written and sealed four to a seal (two
/// seals), as stored.
async fn sealed_six(db: &TestDb) -> Vec<Model> {
    let _sealer = sealed_log(db, 6, 4).await;
    rows(db).await
}

/// Asserts that `output` names `entry` of seal 1 as the one whose method
/// was changed.
fn names_changed_method(output: &std::process::Output, entry: uuid::Uuid) {
    let report = stdout(output);
    assert!(
        report.contains(&format!("seal 1, entry {entry}: the column `method` was changed")),
        "{report}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
