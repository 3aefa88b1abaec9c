//! The `tenants` example's database as its tests see it from outside: a
//! SQLite file holding the table the example reads, and the tokens it
//! wrote back. (The example's own `TenantSource` over it is in
//! `examples/tenants/tenant_db.rs`.)

use std::path::Path;

use rusqlite::Connection;

/// A tenants database file, opened.
pub struct TenantDb(Connection);

impl TenantDb {
    /// A new file at `path` with a `tenants` table (a `waba_id` column
    /// too) holding `rows`: phone number id, token, business account.
    pub fn create(path: &Path, rows: &[(&str, &str, &str)]) -> rusqlite::Result<()> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "CREATE TABLE tenants(phone_number_id TEXT PRIMARY KEY, access_token TEXT NOT NULL, waba_id TEXT)",
        )?;
        let mut insert = conn.prepare(
            "INSERT INTO tenants (phone_number_id, access_token, waba_id) VALUES (?1, ?2, ?3)",
        )?;
        for &row in rows {
            insert.execute(row)?;
        }
        Ok(())
    }

    pub fn open(path: &Path) -> rusqlite::Result<TenantDb> {
        Connection::open(path).map(TenantDb)
    }

    /// The token the file holds for `phone`.
    pub fn token(&self, phone: &str) -> Option<String> {
        let query = "SELECT access_token FROM tenants WHERE phone_number_id = ?1";
        self.0.query_row(query, [phone], |row| row.get(0)).ok()
    }
}
