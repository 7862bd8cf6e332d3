//! The application every HTTP variant serves, and the variants: the same two
//! handlers with nothing, with tower-http's request id and trace layers, with
//! this toolkit's layer and wrapper, or with one database insert per request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header::USER_AGENT};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_activity::{Action, Recorder, audited};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseConnection};
use sea_orm_activity::SeaOrmStore;
use sea_orm_activity::entity::ActiveModel;
use serde::{Deserialize, Serialize};
use tower_activity::NullSink;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::databases::{self, Backend, Result};

/// A server configuration under load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Variant {
    /// The handlers alone.
    Bare,
    /// tower-http's request id (UUID) and trace layers, no subscriber.
    TowerHttp,
    /// `ActivityLayer` + `audited` wrappers, events to a `NullSink`.
    NullSink,
    /// Layer + wrappers, events batched into SQLite (file, WAL).
    Sqlite,
    /// Layer + wrappers, events batched into PostgreSQL.
    Postgres,
    /// Layer + wrappers, events batched into MariaDB.
    Mariadb,
    /// One sea-orm insert per request, awaited in the handler, into SQLite.
    NaiveSqlite,
    /// One sea-orm insert per request, awaited in the handler, into PostgreSQL.
    NaivePostgres,
}

impl Variant {
    /// Every variant, in the order they run and are reported.
    pub(crate) const ALL: [Variant; 8] = [
        Variant::Bare,
        Variant::TowerHttp,
        Variant::NullSink,
        Variant::Sqlite,
        Variant::Postgres,
        Variant::Mariadb,
        Variant::NaiveSqlite,
        Variant::NaivePostgres,
    ];

    /// The name on the command line and in the tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::Bare => "bare",
            Variant::TowerHttp => "tower-http",
            Variant::NullSink => "null-sink",
            Variant::Sqlite => "sqlite",
            Variant::Postgres => "postgres",
            Variant::Mariadb => "mariadb",
            Variant::NaiveSqlite => "naive-sqlite",
            Variant::NaivePostgres => "naive-postgres",
        }
    }

    /// What the variant is, for the tables.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Variant::Bare => "bare axum",
            Variant::TowerHttp => "tower-http request id + trace",
            Variant::NullSink => "layer + wrapper, null sink",
            Variant::Sqlite => "layer + wrapper, batched to SQLite",
            Variant::Postgres => "layer + wrapper, batched to PostgreSQL",
            Variant::Mariadb => "layer + wrapper, batched to MariaDB",
            Variant::NaiveSqlite => "INSERT per request, SQLite",
            Variant::NaivePostgres => "INSERT per request, PostgreSQL",
        }
    }

    /// The database it writes to, if any.
    pub(crate) fn backend(self) -> Option<Backend> {
        match self {
            Variant::Sqlite | Variant::NaiveSqlite => Some(Backend::Sqlite),
            Variant::Postgres | Variant::NaivePostgres => Some(Backend::Postgres),
            Variant::Mariadb => Some(Backend::MariaDb),
            Variant::Bare | Variant::TowerHttp | Variant::NullSink => None,
        }
    }

    /// Whether each 2xx response is meant to leave one event behind.
    pub(crate) fn records_events(self) -> bool {
        !matches!(self, Variant::Bare | Variant::TowerHttp)
    }
}

/// The app of `variant`, and the recorder to shut down after the server.
pub(crate) async fn build(
    variant: Variant,
    database_url: Option<&str>,
) -> Result<(Router, Option<Recorder>)> {
    let items = Items::default();
    let database = match database_url {
        Some(url) => Some(databases::connect(url).await?),
        None if variant.backend().is_some() => {
            return Err(format!("the {} variant needs --database-url", variant.name()).into());
        }
        None => None,
    };
    let plain = || {
        Router::new()
            .route("/items", post(create_item))
            .route("/items/{id}", get(read_item))
            .with_state(items.clone())
    };
    let audited_with = |recorder: Recorder| {
        Router::new()
            .route("/items", post(audited(create_item, Action::Create, "item")))
            .route(
                "/items/{id}",
                get(audited(read_item, Action::Read, "item").id_from_path("id")),
            )
            .with_state(items.clone())
            .layer(axum_activity::layer().recorder(recorder))
    };
    Ok(match (variant, database) {
        (Variant::Bare, _) => (plain(), None),
        (Variant::TowerHttp, _) => {
            // The last layer added is the outermost: the id is set first, then
            // traced, then copied onto the response.
            let app = plain()
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(TraceLayer::new_for_http())
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
            (app, None)
        }
        (Variant::NullSink, _) => {
            let recorder = Recorder::builder(NullSink).spawn();
            (audited_with(recorder.clone()), Some(recorder))
        }
        (Variant::Sqlite | Variant::Postgres | Variant::Mariadb, Some(db)) => {
            let recorder = Recorder::builder(SeaOrmStore::new(db)).spawn();
            (audited_with(recorder.clone()), Some(recorder))
        }
        (Variant::NaiveSqlite | Variant::NaivePostgres, Some(db)) => {
            let naive = Naive { items, db };
            let app = Router::new()
                .route("/items", post(naive_create_item))
                .route("/items/{id}", get(naive_read_item))
                .with_state(naive);
            (app, None)
        }
        (_, None) => unreachable!("checked above: database variants have a database"),
    })
}

/// The ids of created items.
#[derive(Clone, Debug, Default)]
struct Items {
    next_id: Arc<AtomicU64>,
}

#[derive(Debug, Deserialize)]
struct NewItem {
    name: String,
    price: u64,
}

#[derive(Debug, Serialize)]
struct Item {
    id: u64,
    name: String,
    price: u64,
}

async fn create_item(State(items): State<Items>, Json(new): Json<NewItem>) -> (StatusCode, Json<Item>) {
    let id = items.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let item = Item {
        id,
        name: new.name,
        price: new.price,
    };
    (StatusCode::CREATED, Json(item))
}

async fn read_item(Path(id): Path<u64>) -> Json<Item> {
    Json(Item {
        id,
        name: String::from("widget"),
        price: 12,
    })
}

/// The naive pattern: the handler writes its audit row itself and waits for
/// the insert before answering.
#[derive(Clone, Debug)]
struct Naive {
    items: Items,
    db: DatabaseConnection,
}

async fn naive_create_item(
    State(naive): State<Naive>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(new): Json<NewItem>,
) -> Result<(StatusCode, Json<Item>), StatusCode> {
    let (status, Json(item)) = create_item(State(naive.items), Json(new)).await;
    let row = audit_row("create", item.id, status, "POST", "/items", peer, &headers);
    row.insert(&naive.db)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok((status, Json(item)))
}

async fn naive_read_item(
    State(naive): State<Naive>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<Json<Item>, StatusCode> {
    let item = read_item(Path(id)).await;
    let row = audit_row("read", id, StatusCode::OK, "GET", "/items/{id}", peer, &headers);
    row.insert(&naive.db)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(item)
}

/// The audit row a hand-written handler fills in.
fn audit_row(
    action: &str,
    id: u64,
    status: StatusCode,
    method: &str,
    route: &str,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> ActiveModel {
    ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        occurred_at: Set(chrono::Utc::now()),
        action: Set(action.to_owned()),
        category: Set(None),
        resource_type: Set(Some(String::from("item"))),
        resource_id: Set(Some(id.to_string())),
        actor_kind: Set(Some(String::from("anonymous"))),
        actor_id: Set(None),
        actor_label: Set(None),
        tenant_id: Set(None),
        outcome: Set(String::from("success")),
        http_status: Set(Some(i32::from(status.as_u16()))),
        request_id: Set(None),
        ip: Set(Some(peer.ip().to_string())),
        user_agent: Set(headers
            .get(USER_AGENT)
            .and_then(|agent| agent.to_str().ok())
            .map(str::to_owned)),
        method: Set(Some(method.to_owned())),
        route: Set(Some(route.to_owned())),
        details: Set(None),
    }
}
