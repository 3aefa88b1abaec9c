//! The tenant of a request, and the tenant map's residency rules.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::registry::{Registry, Settings};
use super::*;
use crate::config::Config;
use crate::ids::GraphId;

fn request(path: &str, named: Option<&str>) -> Request<()> {
    let mut req = Request::post(path).body(()).unwrap();
    if let Some(id) = named {
        req.extensions_mut().insert(TenantId::new(id));
    }
    req
}

#[test]
fn the_tenant_is_the_path_s_number_unless_a_call_names_one() {
    let cases: Vec<(&str, Option<&str>, Result<&str, &str>)> = vec![
        (
            "/v25.0/106540352242922/messages",
            None,
            Ok("106540352242922"),
        ),
        (
            "https://graph.facebook.com/v25.0/106540352242922/messages",
            None,
            Ok("106540352242922"),
        ),
        ("/106540352242922/media", None, Ok("106540352242922")),
        ("/106540352242922", None, Ok("106540352242922")),
        (
            "/102290129340398/message_templates",
            Some("106540352242922"),
            Ok("106540352242922"),
        ),
        (
            "/1015000000000001",
            Some("106540352242922"),
            Ok("106540352242922"),
        ),
        (
            "/106540352242922/messages",
            Some("106540352242922"),
            Ok("106540352242922"),
        ),
        (
            "/106540352242922/messages",
            Some("107777777777777"),
            Err("TenantMismatch"),
        ),
        ("/v25.0/debug_token", None, Err("NoTenant")),
        ("/me/permissions", None, Err("NoTenant")),
        ("/", None, Err("NoTenant")),
        // Digits Graph never issues as an id: no source is asked.
        ("/0106540352242922/messages", None, Err("UnknownTenant")),
        (
            "/123456789012345678901/messages",
            None,
            Err("UnknownTenant"),
        ),
        (
            "/102290129340398/media",
            Some("+1 555"),
            Err("UnknownTenant"),
        ),
    ];
    for (path, named, want) in cases {
        let req = request(path, named);
        let got = tenant_of(&req).map_err(|e| match e {
            Error::TenantMismatch { .. } => "TenantMismatch",
            Error::NoTenant => "NoTenant",
            Error::UnknownTenant { .. } => "UnknownTenant",
            _ => "other",
        });
        assert_eq!(
            got.map(|id| id.to_string()),
            want.map(str::to_owned),
            "{path} {named:?}"
        );
    }
}

/// A source that counts its look-ups and knows every number below 1000.
struct Counting(AtomicUsize);

impl TenantSource for Counting {
    fn tenant(
        &self,
        phone: &str,
    ) -> crate::bounds::BoxFuture<'_, Result<Option<Tenant>, tower::BoxError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let known = phone.parse::<u32>().is_ok_and(|n| n < 1000);
        let tenant = known.then(|| Tenant::new(format!("EAAG-token-{phone}")).waba_id("waba-1"));
        Box::pin(async move {
            tokio::task::yield_now().await;
            Ok(tenant)
        })
    }
}

fn registry(max_tenants: usize) -> (Arc<Registry>, Arc<Counting>) {
    let source = Arc::new(Counting(AtomicUsize::new(0)));
    let settings = Settings {
        max_tenants,
        idle_after: Duration::from_secs(60),
        lookup_timeout: Duration::from_secs(1),
        unknown_for: Duration::from_secs(30),
        store_for: None,
        metrics_per_tenant: false,
    };
    let registry = Registry::new(source.clone(), Config::new(None), settings);
    (Arc::new(registry), source)
}

/// `digits` as a Graph id.
fn id(digits: &str) -> GraphId {
    GraphId::parse(digits).unwrap()
}

async fn resolved(
    registry: &Arc<Registry>,
    digits: &str,
) -> Result<crate::token::TokenCell, Error> {
    match registry.resolve(id(digits)) {
        Ok(cell) => Ok(cell),
        Err(mut lookup) => loop {
            if let Some(found) = lookup.borrow_and_update().clone() {
                return found;
            }
            lookup.changed().await.unwrap();
        },
    }
}

#[tokio::test]
async fn a_number_is_looked_up_once_however_many_ask() {
    let (registry, source) = registry(100);
    let asks: Vec<_> = (0..50).map(|_| resolved(&registry, "7")).collect();
    let cells = futures_all(asks).await;
    assert_eq!(source.0.load(Ordering::SeqCst), 1);
    let first = cells[0].as_ref().unwrap().clone();
    assert!(cells.iter().all(|c| c.as_ref().unwrap().ptr_eq(&first)));
    assert!(registry.resident(id("7")).unwrap().ptr_eq(&first));
    // An unknown number is asked for once, then answered from memory.
    for _ in 0..3 {
        let err = resolved(&registry, "5000").await.unwrap_err();
        assert!(
            matches!(err, Error::UnknownTenant { ref phone_number_id } if phone_number_id == "5000")
        );
    }
    assert_eq!(source.0.load(Ordering::SeqCst), 2);
    assert_eq!(registry.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_number_is_remembered_for_a_while_and_within_a_bound() {
    let (registry, source) = registry(3);
    let asked = || source.0.load(Ordering::SeqCst);
    assert!(resolved(&registry, "5000").await.is_err());
    assert!(resolved(&registry, "5000").await.is_err());
    assert_eq!(asked(), 1);
    // Past the time it is remembered for: asked again.
    tokio::time::advance(Duration::from_secs(31)).await;
    assert!(resolved(&registry, "5000").await.is_err());
    assert_eq!(asked(), 2);
    // Forgetting the number ends it at once.
    assert!(!registry.forget(id("5000")));
    assert!(resolved(&registry, "5000").await.is_err());
    assert_eq!(asked(), 3);
    // Installing a tenant for it (TenantMap::replace) makes it known.
    registry.install(id("5000"), Tenant::new("EAAG-token-5000"), true);
    assert!(resolved(&registry, "5000").await.is_ok());
    assert_eq!((asked(), registry.len()), (3, 1));
    // At most max_tenants unknown ids are remembered: past that, asked
    // every time (random ids cannot fill the memory).
    for n in 6000..6010 {
        assert!(resolved(&registry, &n.to_string()).await.is_err());
    }
    let before = asked();
    for n in 6000..6010 {
        assert!(resolved(&registry, &n.to_string()).await.is_err());
    }
    assert_eq!(
        asked() - before,
        10 - 3,
        "three remembered, seven asked again"
    );
    // A sweep past their time clears them.
    tokio::time::advance(Duration::from_secs(31)).await;
    registry.sweep();
    assert_eq!(registry.unknown_len(), 0);
}

async fn futures_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out = Vec::new();
    // Polled together: all ask before the first look-up answers.
    let joined = std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out.len() <= i {
                out.resize_with(i + 1, || None);
            }
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    });
    joined.await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn idle_tenants_go_after_two_sweeps_and_busy_ones_stay() {
    let (registry, _) = registry(100);
    for id in ["1", "2", "3"] {
        resolved(&registry, id).await.unwrap();
    }
    assert_eq!(registry.sweep(), 0, "seen this epoch");
    registry.resident(id("1"));
    assert_eq!(registry.sweep(), 0);
    registry.resident(id("1"));
    assert_eq!(registry.sweep(), 2, "2 and 3 unused for two sweeps");
    assert!(registry.resident(id("1")).is_some() && registry.resident(id("2")).is_none());
    assert_eq!(registry.len(), 1);
}

#[tokio::test]
async fn past_the_capacity_the_least_recently_used_go() {
    let (registry, _) = registry(10);
    for n in 1..=10 {
        resolved(&registry, &n.to_string()).await.unwrap();
    }
    registry.sweep();
    for n in 6..=10 {
        registry.resident(id(&n.to_string()));
    }
    // The eleventh evicts down to 90%: two of the five least recently
    // used (equally old: map order decides), never it nor a busier one.
    resolved(&registry, "11").await.unwrap();
    assert_eq!(registry.len(), 9);
    let old_left = (1..=5)
        .filter(|n| registry.resident(id(&n.to_string())).is_some())
        .count();
    assert_eq!(old_left, 3);
    for n in 6..=11 {
        assert!(registry.resident(id(&n.to_string())).is_some(), "{n}");
    }
}

#[tokio::test]
async fn a_forgotten_tenant_s_cell_fails_every_request_holding_it() {
    let (registry, source) = registry(10);
    let cell = resolved(&registry, "7").await.unwrap();
    assert!(registry.forget(id("7")));
    assert!(!registry.forget(id("7")));
    assert!(
        matches!(cell.blocked(), Some(Error::TenantRemoved { ref phone_number_id }) if phone_number_id == "7")
    );
    assert_eq!(registry.len(), 0);
    // The next request asks the source again.
    let again = resolved(&registry, "7").await.unwrap();
    assert!(!again.ptr_eq(&cell));
    assert_eq!(source.0.load(Ordering::SeqCst), 2);
    assert_eq!(registry.numbers_of("waba-1"), vec![id("7")]);
}
