//! Benchmark 3: the time of a tenant's first page against a page whose
//! cursor sits deep in that tenant's entries, and the same for the entries of
//! one client IP (the exact IP filter and its index).

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_activity::SeaOrmStore;
use tower_activity::{ActivityFilter, ActivityQuery, ActivityStore, Cursor};
use uuid::Uuid;

use crate::bulk_load::{self, BIG_TENANT, BIG_TENANT_IP};
use crate::databases::{Backend, BenchDatabase, Result, Servers};
use crate::report::{Section, Table, Target, count};

#[derive(Clone, Copy, Debug)]
pub(crate) struct QueryOptions {
    /// Rows in the table (6 in 10 of them the queried tenant's).
    pub(crate) rows: u64,
    /// How deep the deep page's cursor sits in the tenant's entries.
    pub(crate) depth: u64,
    /// Timed runs of each page (the median is reported).
    pub(crate) runs: usize,
}

pub(crate) async fn run(options: QueryOptions, servers: &Servers) -> Result<Section> {
    if !servers.enabled(Backend::Postgres) {
        return Ok(skipped());
    }
    let database = BenchDatabase::create(Backend::Postgres, servers).await?;
    let db = database.connect().await?;
    eprintln!(
        "query-depth: loading {} rows into PostgreSQL",
        count(options.rows)
    );
    let load_seconds =
        bulk_load::load(&db, options.rows, chrono::Utc::now() - chrono::TimeDelta::days(1)).await?;
    let store = SeaOrmStore::new(db.clone());
    let cursor_id = nth_newest(&db, options.depth).await?;
    let first = ActivityQuery::new(ActivityFilter::new().tenant(BIG_TENANT));
    let deep = first.clone().after(Some(Cursor::after_event(cursor_id)));
    let page_size = first.page_size();
    // The tenant's entries are exactly those of its IP: the same cursor sits
    // as deep in them.
    let ip = tower_activity::parse_ip_filter(BIG_TENANT_IP)?;
    let ip_first = ActivityQuery::new(ActivityFilter::new().ip(ip));
    let ip_deep = ip_first.clone().after(Some(Cursor::after_event(cursor_id)));

    // Warm the cache and check the pages before timing them.
    let first_page = store.list(&first).await?;
    let deep_page = store.list(&deep).await?;
    if store.list(&ip_first).await?.events != first_page.events
        || store.list(&ip_deep).await?.events != deep_page.events
    {
        return Err("query-depth: the IP's pages differ from the tenant's".into());
    }
    if first_page.events.len() != page_size || deep_page.events.len() != page_size {
        return Err(format!(
            "query-depth: pages of {} and {} events, expected {page_size}",
            first_page.events.len(),
            deep_page.events.len()
        )
        .into());
    }
    if deep_page.events.iter().any(|event| event.id >= cursor_id) {
        return Err("query-depth: the deep page is not after its cursor".into());
    }
    eprintln!("query-depth: timing {} runs of each page", options.runs);
    let mut first_times = Vec::with_capacity(options.runs);
    let mut deep_times = Vec::with_capacity(options.runs);
    let mut offset_times = Vec::with_capacity(options.runs);
    let mut ip_first_times = Vec::with_capacity(options.runs);
    let mut ip_deep_times = Vec::with_capacity(options.runs);
    let offset_sql = format!(
        "SELECT * FROM activity_log WHERE tenant_id = '{BIG_TENANT}' ORDER BY id DESC LIMIT {} OFFSET {}",
        page_size + 1,
        options.depth
    );
    for _ in 0..options.runs {
        first_times.push(timed(store.list(&first)).await?);
        deep_times.push(timed(store.list(&deep)).await?);
        offset_times
            .push(timed(db.query_all_raw(Statement::from_string(DbBackend::Postgres, &offset_sql))).await?);
        ip_first_times.push(timed(store.list(&ip_first)).await?);
        ip_deep_times.push(timed(store.list(&ip_deep)).await?);
    }
    db.close().await?;
    database.drop().await?;

    let first_ms = median_ms(&mut first_times);
    let deep_ms = median_ms(&mut deep_times);
    let offset_ms = median_ms(&mut offset_times);
    let ip_first_ms = median_ms(&mut ip_first_times);
    let ip_deep_ms = median_ms(&mut ip_deep_times);
    let tenant_rows = options.rows * 6 / 10;
    let mut table = Table::new(
        format!(
            "Query depth: {} entries in PostgreSQL, {} of them tenant `{BIG_TENANT}`'s, pages of {page_size}",
            count(options.rows),
            count(tenant_rows)
        ),
        &["page", "median ms", "min ms", "max ms", "vs its first page"],
    );
    let line = |name: String, times: &[Duration], median: f64, base: f64| {
        vec![
            name,
            format!("{median:.3}"),
            format!("{:.3}", ms(times[0])),
            format!("{:.3}", ms(times[times.len() - 1])),
            format!("{:.2}×", median / base),
        ]
    };
    table.row(line(
        String::from("first page (`SeaOrmStore::list`)"),
        &first_times,
        first_ms,
        first_ms,
    ));
    table.row(line(
        format!(
            "cursor {} entries deep (`SeaOrmStore::list`)",
            count(options.depth)
        ),
        &deep_times,
        deep_ms,
        first_ms,
    ));
    table.row(line(
        format!("for comparison: raw SQL `OFFSET {}`", count(options.depth)),
        &offset_times,
        offset_ms,
        first_ms,
    ));
    table.row(line(
        format!("ip `{BIG_TENANT_IP}`: first page"),
        &ip_first_times,
        ip_first_ms,
        ip_first_ms,
    ));
    table.row(line(
        format!(
            "ip `{BIG_TENANT_IP}`: cursor {} entries deep",
            count(options.depth)
        ),
        &ip_deep_times,
        ip_deep_ms,
        ip_first_ms,
    ));
    table.note(format!(
        "Newest first, filtered by tenant, then by client IP (the tenant's entries are that IP's; \
         the (ip, id) index serves it); {} timed runs of each, interleaved, after one warm-up run. \
         The table was filled with one `INSERT … SELECT generate_series` ({load_seconds:.1} s) and \
         `VACUUM ANALYZE`d and checkpointed; the deep cursor is the id of the tenant's {}th newest entry.",
        options.runs,
        count(options.depth)
    ));
    Ok(Section {
        tables: vec![table],
        targets: vec![
            Target::new(
                "deep page vs first page",
                "within 2× the first page's time",
                format!("{:.2}× ({deep_ms:.3} ms vs {first_ms:.3} ms)", deep_ms / first_ms),
                deep_ms <= 2.0 * first_ms,
            ),
            Target::new(
                "deep page vs first page, by client IP",
                "within 2× the first page's time",
                format!(
                    "{:.2}× ({ip_deep_ms:.3} ms vs {ip_first_ms:.3} ms)",
                    ip_deep_ms / ip_first_ms
                ),
                ip_deep_ms <= 2.0 * ip_first_ms,
            ),
        ],
    })
}

/// The id of the big tenant's `n`th newest entry.
async fn nth_newest(db: &DatabaseConnection, n: u64) -> Result<Uuid> {
    let sql = format!(
        "SELECT id FROM activity_log WHERE tenant_id = '{BIG_TENANT}' ORDER BY id DESC OFFSET {} LIMIT 1",
        n.saturating_sub(1)
    );
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or("query-depth: the tenant has fewer entries than the depth")?;
    Ok(row.try_get_by_index(0)?)
}

async fn timed<T, E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    future: impl Future<Output = Result<T, E>>,
) -> Result<Duration> {
    let started = Instant::now();
    future.await.map_err(Into::into)?;
    Ok(started.elapsed())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// Sorts `times` and returns their median in milliseconds.
fn median_ms(times: &mut [Duration]) -> f64 {
    times.sort();
    ms(times[times.len() / 2])
}

fn skipped() -> Section {
    let mut table = Table::new("Query depth", &["page", "median ms"]);
    table.note("skipped: the PostgreSQL URL is `skip`");
    Section {
        tables: vec![table],
        targets: Vec::new(),
    }
}
