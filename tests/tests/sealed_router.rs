//! The log router of a sealed log, on every backend: the newest checkpoint,
//! and an entry's inclusion proof that a third party checks with nothing but
//! the entry, the proof and the public key.

#[path = "../../crates/sea-orm-activity/tests/it/support.rs"]
mod support;

use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_activity::router::{LogAccess, LogRouter};
use http_body_util::BodyExt;
use sea_orm_activity::{Sealer, log_activity_in};
use serde_json::Value;
use tower::ServiceExt;
use tower_activity::seal::{Checkpoint, Hash, SealSigningKey, entry_leaf, verify_inclusion};
use tower_activity::{Action, ActivityEvent};

/// Everything for `x-auditor-of: *`, one tenant otherwise.
fn router(store: sea_orm_activity::SeaOrmStore) -> Router {
    let authorize = |request: &Parts| {
        let tenant = request.headers.get("x-auditor-of").cloned();
        async move {
            match tenant.as_ref().and_then(|value| value.to_str().ok()) {
                Some("*") => Ok(LogAccess::All),
                Some(tenant) => Ok(LogAccess::Tenant(tenant.to_owned())),
                None => Err::<_, Response>(StatusCode::UNAUTHORIZED.into_response()),
            }
        }
    };
    let log = LogRouter::new(store, authorize).audit_reads(false);
    Router::new().nest("/activity", log.into_sealed_router())
}

async fn get(app: &Router, path: &str, auditor: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header("x-auditor-of", auditor)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn unhex(text: &str) -> Hash {
    let mut hash = [0; 32];
    for (at, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[at * 2..at * 2 + 2], 16).unwrap();
    }
    hash
}

#[tokio::test]
async fn a_third_party_checks_an_entry_against_the_sealed_log() {
    support::each_backend(async |test_db| {
        let mut ids = Vec::new();
        for (i, tenant) in ["acme", "globex", "acme", "acme", "globex"]
            .into_iter()
            .enumerate()
        {
            let event = ActivityEvent::builder(Action::Update)
                .resource("invoice", format!("inv_{i}"))
                .tenant(tenant)
                .build()
                .unwrap();
            ids.push(event.id);
            log_activity_in(&test_db.db, event).await.unwrap();
        }
        let key = SealSigningKey::from_bytes(&[3; 32]);
        Sealer::new(test_db.store())
            .signing_key(key.clone())
            .seal_pending()
            .await
            .unwrap();
        let app = router(test_db.store());

        let (status, text) = get(&app, "/activity/seals/checkpoint", "*").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let checkpoint = Checkpoint::parse(&text).unwrap();
        assert_eq!(checkpoint.seal.count, 5);
        let (status, _) = get(&app, "/activity/seals/checkpoint", "acme").await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // The auditor of acme proves its third entry is in the sealed log.
        let path = format!("/activity/{}/proof", ids[3]);
        let (status, body) = get(&app, &path, "acme").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let proof: Value = serde_json::from_str(&body).unwrap();
        let (status, entry) = get(&app, &format!("/activity/{}", ids[3]), "acme").await;
        assert_eq!(status, StatusCode::OK, "{entry}");
        let entry: ActivityEvent = serde_json::from_str(&entry).unwrap();
        let leaf = entry_leaf(&entry.cells(), &unhex(proof["commitment"].as_str().unwrap()));
        assert_eq!(leaf, unhex(proof["leaf"].as_str().unwrap()));
        let seal = Checkpoint::parse(proof["seal"].as_str().unwrap()).unwrap();
        let signature = seal.signature.unwrap();
        key.public_key().verify(&seal.seal, &signature).unwrap();
        let path: Vec<Hash> = proof["path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hash| unhex(hash.as_str().unwrap()))
            .collect();
        let index = proof["index"].as_u64().unwrap();
        assert_eq!(index, 3);
        assert!(verify_inclusion(
            &leaf,
            index,
            seal.seal.count,
            &path,
            &seal.seal.root
        ));

        // Another tenant's auditor learns nothing of it.
        let (status, _) = get(&app, &format!("/activity/{}/proof", ids[3]), "globex").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
    .await;
}
