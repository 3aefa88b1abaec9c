//! What Graph refuses, through the full stack over real sockets: rate
//! limits and bad gateways reach the caller untouched, with no renewal and
//! no replay; a revoked token, an expired one without app credentials and
//! one whose exchange is refused are typed errors, after which requests fail
//! fast (`Error::TokenDead`) without reaching Graph.

#[path = "support/common/mod.rs"]
mod common;

use common::fake_graph::{FakeConfig, Fault};
use common::full_stack::{crate_error, fake_config, send_one, start};
use common::sender::text_message;
use tower_whatsapp_auth::{
    graph::{ErrorKind, GraphError},
    Error,
};

#[tokio::test]
async fn rate_limits_and_bad_gateways_pass_through_untouched_without_refresh() {
    let (fake, stack, cell) = start(fake_config(None), |l| l).await;
    let body = text_message("1555", "limits");
    for (status, code) in [
        (400, 130429),
        (400, 4),
        (400, 80007),
        (429, 131056),
        (400, 613),
    ] {
        fake.push_fault(Fault::GraphError {
            status,
            code,
            subcode: None,
        });
        let res = send_one(&stack, &fake, &body).await.unwrap();
        assert_eq!(res.status(), status);
        let err = res.extensions().get::<GraphError>().expect("classified");
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.code(), code);
        assert!(
            res.body().starts_with(b"{\"error\""),
            "body kept for the caller"
        );
    }
    fake.push_fault(Fault::BadGatewayHtml);
    let res = send_one(&stack, &fake, &body).await.unwrap();
    assert_eq!(res.status(), 502);
    assert!(res.extensions().get::<GraphError>().is_none());
    assert_eq!(
        &res.body()[..],
        b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
    );
    // Nothing refreshed, nothing replayed, and the stack still works.
    assert_eq!(fake.counters().exchanges, 0);
    assert_eq!(fake.counters().message_requests, 6);
    assert_eq!(send_one(&stack, &fake, &body).await.unwrap().status(), 200);
    assert_eq!(cell.stats().generation, 0);
}

#[tokio::test]
async fn a_revoked_token_fails_fast_without_reaching_graph() {
    let (fake, stack, _cell) = start(fake_config(None), |l| l).await;
    let body = text_message("1555", "revoked");
    fake.push_fault(Fault::Revoke { subcode: 460 });
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    match crate_error(&err) {
        Error::Graph(g) => {
            assert_eq!((g.code(), g.subcode()), (190, Some(460)));
            assert_eq!(g.kind(), ErrorKind::TokenRevoked);
            assert!(g.hint().contains("password"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let before = fake.counters();
    for _ in 0..20 {
        let err = send_one(&stack, &fake, &body).await.unwrap_err();
        assert!(
            matches!(crate_error(&err), Error::TokenDead { cause } if cause.subcode() == Some(460)),
            "{err}"
        );
    }
    let after = fake.counters();
    assert_eq!(
        after.message_requests, before.message_requests,
        "nothing sent"
    );
    assert_eq!(after.exchanges, 0, "a revoked token is not exchanged");
}

#[tokio::test]
async fn an_expired_token_without_app_credentials_is_a_typed_error_that_says_what_to_do() {
    let config = FakeConfig {
        app_secret: None,
        ..fake_config(Some(1))
    };
    let (fake, stack, _cell) = start(config, |l| l).await;
    let body = text_message("1555", "no creds");
    assert_eq!(send_one(&stack, &fake, &body).await.unwrap().status(), 200);
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    let Error::Graph(g) = crate_error(&err) else {
        panic!("{err}")
    };
    assert_eq!(g.kind(), ErrorKind::TokenExpired);
    assert!(err.to_string().contains("app id and secret"), "{err}");
    let sent = fake.counters().message_requests;
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    assert!(matches!(crate_error(&err), Error::TokenDead { .. }));
    assert_eq!(fake.counters().message_requests, sent, "fails fast");
}

#[tokio::test]
async fn a_refused_exchange_marks_the_token_dead() {
    let config = FakeConfig {
        exchange_accepts_expired: false,
        ..fake_config(Some(1))
    };
    let (fake, stack, _cell) = start(config, |l| l).await;
    let body = text_message("1555", "refused");
    assert_eq!(send_one(&stack, &fake, &body).await.unwrap().status(), 200);
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    assert!(
        matches!(crate_error(&err), Error::TokenDead { cause } if cause.code() == 190),
        "{err}"
    );
    let err = send_one(&stack, &fake, &body).await.unwrap_err();
    assert!(matches!(crate_error(&err), Error::TokenDead { .. }));
    assert_eq!(fake.counters().exchanges, 1);
    assert_eq!(
        fake.counters().message_requests,
        2,
        "the replay and later requests are not sent"
    );
}
