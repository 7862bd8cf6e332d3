//! Benchmark 3: the time of a tenant's first page against a page whose
//! cursor sits deep in that tenant's entries, and the same for the entries of
//! one client IP and of one category (each filter through its index).

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use sea_orm_activity::SeaOrmStore;
use tower_activity::{ActivityFilter, ActivityQuery, ActivityStore, Cursor};
use uuid::Uuid;

use crate::bulk_load::{self, BIG_TENANT, BIG_TENANT_CATEGORY, BIG_TENANT_IP};
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
    // Each filter selects exactly the tenant's entries, through its own
    // index: the same cursor sits as deep in each.
    let views = [
        (
            format!("tenant `{BIG_TENANT}`"),
            ActivityFilter::new().tenant(BIG_TENANT),
        ),
        (
            format!("ip `{BIG_TENANT_IP}`"),
            ActivityFilter::new().ip(tower_activity::parse_ip_filter(BIG_TENANT_IP)?),
        ),
        (
            format!("category `{BIG_TENANT_CATEGORY}`"),
            ActivityFilter::new().category(BIG_TENANT_CATEGORY),
        ),
    ]
    .map(|(name, filter)| {
        let first = ActivityQuery::new(filter);
        let deep = first.clone().after(Some(Cursor::after_event(cursor_id)));
        View { name, first, deep }
    });
    let page_size = views[0].first.page_size();

    // Warm the cache and check the pages before timing them.
    let first_page = store.list(&views[0].first).await?;
    let deep_page = store.list(&views[0].deep).await?;
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
    for view in &views[1..] {
        if store.list(&view.first).await?.events != first_page.events
            || store.list(&view.deep).await?.events != deep_page.events
        {
            return Err(format!("query-depth: the pages of {} differ from the tenant's", view.name).into());
        }
    }
    eprintln!("query-depth: timing {} runs of each page", options.runs);
    let mut times = views
        .each_ref()
        .map(|_| (Vec::with_capacity(options.runs), Vec::with_capacity(options.runs)));
    let mut offset_times = Vec::with_capacity(options.runs);
    let offset_sql = format!(
        "SELECT * FROM activity_log WHERE tenant_id = '{BIG_TENANT}' ORDER BY id DESC LIMIT {} OFFSET {}",
        page_size + 1,
        options.depth
    );
    for _ in 0..options.runs {
        for (view, (first, deep)) in views.iter().zip(&mut times) {
            first.push(timed(store.list(&view.first)).await?);
            deep.push(timed(store.list(&view.deep)).await?);
        }
        offset_times
            .push(timed(db.query_all_raw(Statement::from_string(DbBackend::Postgres, &offset_sql))).await?);
    }
    db.close().await?;
    database.drop().await?;

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
    let mut targets = Vec::new();
    for (at, (view, (first_times, deep_times))) in views.iter().zip(&mut times).enumerate() {
        let first_ms = median_ms(first_times);
        let deep_ms = median_ms(deep_times);
        table.row(line(
            format!("{}: first page (`SeaOrmStore::list`)", view.name),
            first_times,
            first_ms,
            first_ms,
        ));
        table.row(line(
            format!("{}: cursor {} entries deep", view.name, count(options.depth)),
            deep_times,
            deep_ms,
            first_ms,
        ));
        if at == 0 {
            let offset_ms = median_ms(&mut offset_times);
            table.row(line(
                format!("for comparison: raw SQL `OFFSET {}`", count(options.depth)),
                &offset_times,
                offset_ms,
                first_ms,
            ));
        }
        targets.push(Target::new(
            format!("deep page vs first page, by {}", view.name),
            "within 2× the first page's time",
            format!("{:.2}× ({deep_ms:.3} ms vs {first_ms:.3} ms)", deep_ms / first_ms),
            deep_ms <= 2.0 * first_ms,
        ));
    }
    table.note(format!(
        "Newest first, filtered by tenant, by client IP and by category (each selects exactly the \
         tenant's entries, through its own index: (tenant_id, id), (ip, id), (category, id)); {} timed \
         runs of each, interleaved, after one warm-up run. The table was filled with one \
         `INSERT … SELECT generate_series` ({load_seconds:.1} s) and `VACUUM ANALYZE`d and \
         checkpointed; the deep cursor is the id of the tenant's {}th newest entry.",
        options.runs,
        count(options.depth)
    ));
    Ok(Section {
        tables: vec![table],
        targets,
    })
}

/// One filter's first page and its page a cursor deep.
struct View {
    name: String,
    first: ActivityQuery,
    deep: ActivityQuery,
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
