//! Filling PostgreSQL's `activity_log` with many rows fast, in SQL, for the
//! query and retention benchmarks.

use std::time::Instant;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::databases::Result;

/// The tenant that holds most rows (6 in 10); the other 4 in 10 are spread
/// over `tenant_1` … `tenant_9`.
pub(crate) const BIG_TENANT: &str = "acme";

/// The client IP of every entry of [`BIG_TENANT`]; the other entries come
/// from addresses in `10.0.0.0/16`.
pub(crate) const BIG_TENANT_IP: &str = "203.0.113.7";

/// The category of every entry of [`BIG_TENANT`]; the other entries' is
/// `ops`.
pub(crate) const BIG_TENANT_CATEGORY: &str = "billing";

/// Inserts `rows` rows, one millisecond apart from `first` on, with ids that
/// are UUID v7 of their times (so id order is time order, as for real
/// events), then vacuums and analyzes the table and forces a checkpoint.
/// Returns the seconds it took.
pub(crate) async fn load(db: &DatabaseConnection, rows: u64, first: DateTime<Utc>) -> Result<f64> {
    let started = Instant::now();
    let first_ms = first.timestamp_millis();
    db.execute_unprepared(&format!(
        "INSERT INTO activity_log (id, occurred_at, action, resource_type, resource_id, actor_kind, \
         actor_id, actor_label, tenant_id, outcome, http_status, request_id, ip, user_agent, method, \
         route, details, category) \
         SELECT (lpad(to_hex({first_ms} + i), 12, '0') || '7000' || '8' || lpad(to_hex(i), 15, '0'))::uuid, \
                to_timestamp(({first_ms} + i) / 1000.0), \
                'create', 'item', i::text, 'user', 'user_' || (i % 1000), NULL, \
                CASE WHEN i % 10 < 6 THEN '{BIG_TENANT}' ELSE 'tenant_' || (i % 10) END, \
                'success', 201, md5(i::text), \
                CASE WHEN i % 10 < 6 THEN '{BIG_TENANT_IP}' ELSE '10.0.' || (i % 250) || '.' || (i % 7) END, \
                'activity-bench/1', 'POST', '/items', \
                '{{\"price\": 12}}'::jsonb, \
                CASE WHEN i % 10 < 6 THEN '{BIG_TENANT_CATEGORY}' ELSE 'ops' END \
         FROM generate_series(1, {rows}) AS i"
    ))
    .await?;
    db.execute_unprepared("VACUUM ANALYZE activity_log").await?;
    // Write the load's dirty pages out now, not during the measurement.
    db.execute_unprepared("CHECKPOINT").await?;
    Ok(started.elapsed().as_secs_f64())
}
