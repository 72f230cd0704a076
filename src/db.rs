//! Connecting to Postgres: create the database when missing, apply migrations, one clear error.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::str::FromStr;
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot reach Postgres at {url}: {source}")]
    Unreachable { url: String, source: sqlx::Error },
    #[error("bad DATABASE_URL {url}: {source}")]
    BadUrl { url: String, source: sqlx::Error },
    #[error("cannot create database {name}: {source}")]
    Create { name: String, source: sqlx::Error },
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens a pool, creating the database first if it does not exist yet.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, DbError> {
    let redacted = crate::config::redact(url);
    let options = PgConnectOptions::from_str(url)
        .map_err(|source| DbError::BadUrl {
            url: redacted.clone(),
            source,
        })?
        .log_statements(tracing::log::LevelFilter::Trace)
        // bulk seeds and imports legitimately take a second or two per batch
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(3))
        // short queries over big tables made Postgres compile them (half a second of JIT for a
        // 5 ms index scan on a producer's ledger lines): an OLTP app does not want it
        .options([("jit", "off")]);
    ensure_database(&options, &redacted).await?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|source| DbError::Unreachable {
            url: redacted,
            source,
        })
}

pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

async fn ensure_database(options: &PgConnectOptions, redacted: &str) -> Result<(), DbError> {
    let name = options.get_database().unwrap_or("postgres").to_string();
    let maintenance = options.clone().database("postgres");
    let mut conn = tokio::time::timeout(Duration::from_secs(5), maintenance.connect())
        .await
        .map_err(|_| DbError::Unreachable {
            url: redacted.to_string(),
            source: sqlx::Error::PoolTimedOut,
        })?
        .map_err(|source| DbError::Unreachable {
            url: redacted.to_string(),
            source,
        })?;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(|source| DbError::Unreachable {
                url: redacted.to_string(),
                source,
            })?;
    if !exists {
        let sql = format!("create database \"{}\"", name.replace('"', "\"\""));
        match sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            Ok(_) => tracing::info!(db.name = %name, "created database"),
            // another instance created it at the same moment
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(source) => return Err(DbError::Create { name, source }),
        }
    }
    conn.close().await.ok();
    Ok(())
}
