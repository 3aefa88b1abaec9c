//! The platform's tenants in a SQLite file: `tenants(phone_number_id TEXT
//! PRIMARY KEY, access_token TEXT NOT NULL)`, with an optional `waba_id`
//! column. Renewed tokens are written back into `access_token`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use tower::BoxError;
use tower_whatsapp_auth::tenants::{Tenant, TenantSource};
use tower_whatsapp_auth::{BoxFuture, Token};

/// The tenants table, behind a lock (queries run on the blocking pool).
#[derive(Clone)]
pub struct TenantDb {
    conn: Arc<Mutex<Connection>>,
    has_waba: bool,
}

impl TenantDb {
    /// Opens `path`; an error when it holds no `tenants` table.
    pub fn open(path: &Path) -> Result<TenantDb, String> {
        let conn =
            Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('tenants')")
            .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect())
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for needed in ["phone_number_id", "access_token"] {
            if !columns.iter().any(|c| c == needed) {
                return Err(format!(
                    "{} has no table tenants(phone_number_id TEXT PRIMARY KEY, access_token TEXT NOT NULL) (column {needed} missing)",
                    path.display()
                ));
            }
        }
        Ok(TenantDb {
            has_waba: columns.iter().any(|c| c == "waba_id"),
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Creates the table (with `waba_id`) and fills it: for the demo.
    pub fn create(path: &Path, rows: &[(&str, &str, &str)]) -> Result<(), rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "CREATE TABLE tenants(phone_number_id TEXT PRIMARY KEY, access_token TEXT NOT NULL, waba_id TEXT)",
        )?;
        for (phone, token, waba) in rows {
            conn.execute(
                "INSERT INTO tenants VALUES (?1, ?2, ?3)",
                params![phone, token, waba],
            )?;
        }
        Ok(())
    }

    /// Every phone number id, in order.
    pub fn phone_numbers(&self) -> Result<Vec<String>, rusqlite::Error> {
        let conn = self.conn.lock().unwrap();
        let mut query =
            conn.prepare("SELECT phone_number_id FROM tenants ORDER BY phone_number_id")?;
        let rows = query.query_map([], |row| row.get(0))?;
        rows.collect()
    }

    /// The token kept for `phone`.
    pub fn token(&self, phone: &str) -> Option<String> {
        let conn = self.conn.lock().unwrap();
        conn.query_row(
            "SELECT access_token FROM tenants WHERE phone_number_id = ?1",
            [phone],
            |row| row.get(0),
        )
        .ok()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, BoxError> {
        let conn = self.conn.clone();
        let done =
            tokio::task::spawn_blocking(move || f(&conn.lock().unwrap_or_else(|p| p.into_inner())));
        Ok(done.await??)
    }
}

impl TenantSource for TenantDb {
    fn tenant(&self, phone: &str) -> BoxFuture<'_, Result<Option<Tenant>, BoxError>> {
        let (phone, has_waba) = (phone.to_owned(), self.has_waba);
        Box::pin(async move {
            let row = self
                .blocking(move |conn| {
                    let sql = match has_waba {
                        true => {
                            "SELECT access_token, waba_id FROM tenants WHERE phone_number_id = ?1"
                        }
                        false => {
                            "SELECT access_token, NULL FROM tenants WHERE phone_number_id = ?1"
                        }
                    };
                    conn.query_row(sql, [phone], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
                    })
                    .optional()
                })
                .await?;
            Ok(row.map(|(token, waba)| match waba {
                Some(waba) => Tenant::new(token).waba_id(waba),
                None => Tenant::new(token),
            }))
        })
    }

    fn save(&self, phone: &str, token: &Token) -> BoxFuture<'_, Result<(), BoxError>> {
        let (phone, value) = (phone.to_owned(), token.value().expose().to_owned());
        Box::pin(async move {
            self.blocking(move |conn| {
                conn.execute(
                    "UPDATE tenants SET access_token = ?1 WHERE phone_number_id = ?2",
                    params![value, phone],
                )
            })
            .await?;
            Ok(())
        })
    }
}
