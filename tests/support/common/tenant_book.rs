//! An in-memory [`TenantSource`] for the tests: phone number id → token and
//! business account, counting look-ups and keeping renewed tokens.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tower::BoxError;
use tower_whatsapp_auth::tenants::{Tenant, TenantSource};
use tower_whatsapp_auth::{BoxFuture, Token};

use super::fake_graph::tenants::FakeTenant;

/// The platform's tenants, in memory.
#[derive(Clone, Default)]
pub struct TenantBook {
    rows: Arc<Mutex<HashMap<String, (String, String)>>>,
    saved: Arc<Mutex<Vec<(String, String)>>>,
    lookups: Arc<AtomicU64>,
}

impl TenantBook {
    /// The book of `tenants`, as the fake knows them.
    pub fn of(tenants: &[FakeTenant]) -> TenantBook {
        let book = TenantBook::default();
        for t in tenants {
            book.put(&t.phone, &t.token, &t.waba);
        }
        book
    }

    /// Sets `phone`'s token and business account.
    pub fn put(&self, phone: &str, token: &str, waba: &str) {
        let mut rows = self.rows.lock().unwrap();
        rows.insert(phone.into(), (token.into(), waba.into()));
    }

    /// Removes `phone` (the business left the platform).
    pub fn remove(&self, phone: &str) {
        self.rows.lock().unwrap().remove(phone);
    }

    /// The token kept for `phone`.
    pub fn token(&self, phone: &str) -> Option<String> {
        self.rows.lock().unwrap().get(phone).map(|(t, _)| t.clone())
    }

    /// Every (phone, token) renewal saved, in order.
    pub fn saved(&self) -> Vec<(String, String)> {
        self.saved.lock().unwrap().clone()
    }

    /// How many look-ups were made.
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::SeqCst)
    }
}

impl TenantSource for TenantBook {
    fn tenant(&self, phone: &str) -> BoxFuture<'_, Result<Option<Tenant>, BoxError>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let row = self.rows.lock().unwrap().get(phone).cloned();
        Box::pin(async move { Ok(row.map(|(token, waba)| Tenant::new(token).waba_id(waba))) })
    }

    fn save(&self, phone: &str, token: &Token) -> BoxFuture<'_, Result<(), BoxError>> {
        let value = token.value().expose().to_owned();
        if let Some(row) = self.rows.lock().unwrap().get_mut(phone) {
            row.0 = value.clone();
        }
        self.saved.lock().unwrap().push((phone.into(), value));
        Box::pin(async { Ok(()) })
    }
}
