//! No renewal is lost: a token whose save fails is used all the same, and
//! its save goes on with back-off until it lands (the cell's stats say
//! when a save is behind); a save that hangs does not hold requests past
//! the store timeout, and still lands once the store answers. In memory,
//! on a paused clock (no sockets: the counts depend on virtual time).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::service_fn;
use tower_whatsapp_auth::{
    source::token_fn,
    store::{StoreError, StoredToken, TokenStore},
    BoxFuture, ReplayBody, Token, WhatsAppAuthLayer,
};

/// A store whose first `failures` saves fail, and whose saves take `delay`.
#[derive(Clone, Default)]
struct FlakyStore {
    failures: usize,
    delay: Duration,
    attempts: Arc<AtomicUsize>,
    saved: Arc<Mutex<Vec<String>>>,
}

impl TokenStore for FlakyStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<StoredToken>, StoreError>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    fn save(&self, token: StoredToken) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            if self.attempts.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err(StoreError::Io {
                    location: "flaky".into(),
                    reason: "the database is failing over".into(),
                });
            }
            self.saved
                .lock()
                .unwrap()
                .push(token.token.expose().to_owned());
            Ok(())
        })
    }
}

fn graph() -> impl tower::Service<
    Request<ReplayBody>,
    Response = Response<Full<Bytes>>,
    Error = tower::BoxError,
    Future = impl Send,
> + Clone {
    service_fn(|_req: Request<ReplayBody>| async {
        Ok::<_, tower::BoxError>(
            Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(
                    br#"{"id":"106540352242922"}"#,
                )))
                .unwrap(),
        )
    })
}

fn layer(store: &FlakyStore) -> WhatsAppAuthLayer {
    let source = token_fn(|_| {
        std::future::ready(Ok(
            Token::new("EAAG-from-the-source").expires_in(Duration::from_secs(86_400))
        ))
    });
    WhatsAppAuthLayer::from_source(source)
        .without_validation()
        .store_timeout(Duration::from_millis(500))
        .token_store(store.clone())
}

/// Lets the tasks beside the cell run what the clock made due.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_save_is_retried_until_it_lands() {
    let store = FlakyStore {
        failures: 3,
        ..FlakyStore::default()
    };
    let cell = layer(&store).token_cell(graph());
    cell.ready().await.unwrap();
    settle().await;
    assert!(
        cell.stats().save_behind,
        "the token is used, its save behind"
    );
    assert_eq!(store.attempts.load(Ordering::SeqCst), 1);
    // Back-off between attempts (doubling): 1 s, 2 s, 4 s; none sooner.
    for (pause, attempts) in [(1, 2), (2, 3), (4, 4)] {
        tokio::time::advance(Duration::from_secs(pause) - Duration::from_millis(10)).await;
        settle().await;
        assert_eq!(
            store.attempts.load(Ordering::SeqCst),
            attempts - 1,
            "before {pause} s"
        );
        tokio::time::advance(Duration::from_millis(10)).await;
        settle().await;
        assert_eq!(
            store.attempts.load(Ordering::SeqCst),
            attempts,
            "after {pause} s"
        );
    }
    assert_eq!(*store.saved.lock().unwrap(), ["EAAG-from-the-source"]);
    assert!(!cell.stats().save_behind);
    // Nothing more: a save that landed is done.
    tokio::time::advance(Duration::from_secs(600)).await;
    settle().await;
    assert_eq!(store.attempts.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_slow_save_holds_nobody_and_still_lands() {
    let store = FlakyStore {
        delay: Duration::from_secs(3),
        ..FlakyStore::default()
    };
    let cell = layer(&store).token_cell(graph());
    let started = tokio::time::Instant::now();
    cell.ready().await.unwrap();
    assert!(
        started.elapsed() <= Duration::from_millis(600),
        "waited {:?} for a save that takes 3 s",
        started.elapsed()
    );
    assert!(store.saved.lock().unwrap().is_empty());
    tokio::time::advance(Duration::from_secs(3)).await;
    settle().await;
    assert_eq!(*store.saved.lock().unwrap(), ["EAAG-from-the-source"]);
    assert_eq!(
        store.attempts.load(Ordering::SeqCst),
        1,
        "not cut, not repeated"
    );
}
