//! Whether a failed write is worth retrying: a database error becomes a
//! transient or a permanent [`SinkError`].

use sea_orm::sqlx::error::ErrorKind;
use sea_orm::{DbBackend, DbErr, RuntimeErr};
use tower_activity::SinkError;

/// `error`, from a write on `backend`, as the recorder's error: permanent
/// when the database refused the values (a constraint, a value a column
/// cannot hold), which writing them again cannot fix; transient otherwise
/// (a lost connection, a timeout, an exhausted pool, a deadlock, a full
/// disk).
pub(crate) fn sink_error(error: DbErr, backend: DbBackend) -> SinkError {
    if refuses_the_values(&error, backend) {
        SinkError::permanent(error)
    } else {
        SinkError::transient(error)
    }
}

fn refuses_the_values(error: &DbErr, backend: DbBackend) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error))) = error
    else {
        return false;
    };
    let Some(database) = error.as_database_error() else {
        return false;
    };
    if database.kind() != ErrorKind::Other {
        // A unique, foreign key, not-null or check constraint.
        return true;
    }
    let Some(code) = database.code() else {
        return false;
    };
    match backend {
        // SQLSTATE classes 22 (data exception: a value out of range, too
        // long, malformed) and 23 (integrity constraint violation).
        DbBackend::Postgres | DbBackend::MySql => code.starts_with("22") || code.starts_with("23"),
        // An extended result code, whose low byte is the primary code:
        // SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_RANGE.
        _ => code
            .parse::<u32>()
            .is_ok_and(|code| matches!(code & 0xff, 18 | 19 | 20 | 25)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_pool_errors_are_transient() {
        let lost = DbErr::Conn(RuntimeErr::Internal("connection reset".into()));
        assert!(!sink_error(lost, DbBackend::Postgres).is_permanent());
        let pool = DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout);
        assert!(!sink_error(pool, DbBackend::MySql).is_permanent());
        let io = DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(
            sea_orm::sqlx::Error::PoolTimedOut,
        )));
        assert!(!sink_error(io, DbBackend::Sqlite).is_permanent());
    }
}
