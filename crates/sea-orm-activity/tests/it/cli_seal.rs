//! `activity-log verify` and `activity-log checkpoint` on each backend.

use sea_orm_activity::Sealer;
use tower_activity::seal::SealSigningKey;

use crate::cli::{run, stderr, stdout, succeeded};
use crate::events::{self, varied};
use crate::support::each_backend;

#[tokio::test]
async fn verify_passes_then_names_the_entry_edited_by_hand() {
    each_backend(async |db| {
        let mut events: Vec<_> = (0..6).map(varied).collect();
        for event in &mut events {
            event.id = uuid::Uuid::now_v7();
            event.occurred_at = chrono::Utc::now();
        }
        events::write(db, &events).await;
        let key = SealSigningKey::from_bytes(&[5; 32]);
        Sealer::new(db.store())
            .signing_key(key.clone())
            .batch_size(4)
            .seal_pending()
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let public_key = dir.path().join("seal.pub");
        std::fs::write(&public_key, hex(&key.public_key().to_bytes())).unwrap();
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
