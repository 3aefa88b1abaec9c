//! Settings shared by every part of the stack.

use std::sync::Arc;
use std::time::Duration;

use crate::body::DEFAULT_BODY_LIMIT;
use crate::classify::DEFAULT_ERROR_BODY_LIMIT;

use crate::error::Error;
use crate::hosts::HostRule;
use crate::permissions::Permission;
use crate::secret::Secret;
use crate::telemetry::Telemetry;

/// Graph's public base URL.
pub const DEFAULT_GRAPH_BASE: &str = "https://graph.facebook.com";
/// The Graph API version used unless one is configured: v25.0 (released
/// 2026-02-18, available until 2028-07-29). It is the newest version that
/// has been out long enough for the calls this crate makes to be seen
/// working in public captures; v26.0 (2026-07-29) is newer and usable with
/// [`WhatsAppAuthLayer::graph_version`](crate::WhatsAppAuthLayer::graph_version).
pub const DEFAULT_GRAPH_VERSION: &str = "v25.0";
/// How often a token is re-validated: 1 hour.
pub const DEFAULT_VALIDATION_INTERVAL: Duration = Duration::from_secs(3600);

/// How the `fb_exchange_token` request carries its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExchangeMethod {
    /// `POST` with an `application/x-www-form-urlencoded` body, so the app
    /// secret never appears in a URL (the default).
    #[default]
    PostForm,
    /// `GET` with the parameters in the query string, as most Graph examples
    /// do. The app secret then sits in a URL that proxies may log: use only
    /// where a deployment proves `POST` does not work.
    GetQuery,
}

#[derive(Clone)]
pub(crate) struct Config {
    /// The configured token; `None` when a custom source supplies it.
    pub token: Option<Secret>,
    pub refresh_window: Duration,
    pub refresh_window_fraction: f64,
    pub refresh_jitter: f64,
    pub dead_recheck: Duration,
    pub use_debug_token: bool,
    pub required_permissions: Vec<Permission>,
    pub store_timeout: Duration,
    pub refresh_lock_ttl: Duration,
    pub business_account_id: Option<String>,
    pub phone_number_id: Option<String>,
    pub graph_base: String,
    pub graph_version: String,
    pub app_id: Option<String>,
    pub app_secret: Option<Secret>,
    pub validation_interval: Option<Duration>,
    pub validation_timeout: Duration,
    pub validation_retry: Duration,
    pub refresh_timeout: Duration,
    pub refresh_backoff: Duration,
    pub refresh_backoff_max: Duration,
    pub body_limit: usize,
    pub error_body_limit: usize,
    pub usage_warning: f64,
    pub exchange_method: ExchangeMethod,
    /// Shared by the cells of many tenants: validation calls in flight at
    /// once, bounded, so a cold start does not stampede Graph.
    pub validation_gate: Option<Arc<tokio::sync::Semaphore>>,
    /// The cell holds one onboarded business's token in a tenant-aware
    /// stack: a dead token's remedy is that business onboarding again.
    pub tenant: bool,
    /// Media hosts the token may go to besides the default one.
    pub media_hosts: Vec<String>,
    /// `http://` allowed to hosts that are not loopback addresses.
    pub plain_http: bool,
    /// Where the token may go: made from the three settings above by
    /// [`seal`](Config::seal) when a cell takes the configuration.
    pub hosts: HostRule,
    /// How each cell's metrics are made (nothing without the feature).
    pub telemetry: Telemetry,
}

impl Config {
    pub(crate) fn new(token: Option<Secret>) -> Config {
        Config {
            token,
            refresh_window: Duration::from_secs(300),
            refresh_window_fraction: 0.1,
            refresh_jitter: 0.1,
            dead_recheck: Duration::from_secs(30),
            use_debug_token: true,
            required_permissions: Vec::new(),
            store_timeout: Duration::from_millis(500),
            refresh_lock_ttl: Duration::from_secs(15),
            business_account_id: None,
            phone_number_id: None,
            graph_base: DEFAULT_GRAPH_BASE.to_owned(),
            graph_version: DEFAULT_GRAPH_VERSION.to_owned(),
            app_id: None,
            app_secret: None,
            validation_interval: Some(DEFAULT_VALIDATION_INTERVAL),
            validation_timeout: Duration::from_secs(10),
            validation_retry: Duration::from_secs(30),
            refresh_timeout: Duration::from_secs(10),
            refresh_backoff: Duration::from_secs(1),
            refresh_backoff_max: Duration::from_secs(60),
            body_limit: DEFAULT_BODY_LIMIT,
            error_body_limit: DEFAULT_ERROR_BODY_LIMIT,
            usage_warning: crate::classify::DEFAULT_USAGE_WARNING,
            exchange_method: ExchangeMethod::PostForm,
            validation_gate: None,
            tenant: false,
            media_hosts: Vec::new(),
            plain_http: false,
            hosts: HostRule::new(DEFAULT_GRAPH_BASE, &[], false),
            telemetry: Telemetry::default(),
        }
    }

    /// The configuration as a cell keeps it: the host rule made from the
    /// final base, media hosts and plain-http setting.
    pub(crate) fn seal(mut self) -> Config {
        self.hosts = HostRule::new(&self.graph_base, &self.media_hosts, self.plain_http);
        self
    }

    /// `{base}/{version}/{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.graph_base.trim_end_matches('/'),
            self.graph_version.trim_matches('/'),
            path.trim_start_matches('/')
        )
    }

    /// `uri` made absolute when it is a bare path: `graph_base`, then
    /// `/{version}` unless the path already starts with a version segment
    /// (`/v25.0/…`), then the path. `None` when it cannot be.
    pub(crate) fn absolute(&self, uri: &http::Uri) -> Option<http::Uri> {
        let pq = uri.path_and_query()?.as_str();
        let pq = pq.strip_prefix('/').unwrap_or(pq);
        let first = pq.split(['/', '?']).next().unwrap_or("");
        let versioned = crate::graph::path::is_version(first);
        let base = self.graph_base.trim_end_matches('/');
        let url = if versioned {
            format!("{base}/{pq}")
        } else {
            format!("{base}/{}/{pq}", self.graph_version.trim_matches('/'))
        };
        url.parse().ok()
    }

    /// The messages endpoint of the configured phone number.
    pub(crate) fn messages_url(&self) -> Option<String> {
        let phone = self.phone_number_id.as_deref()?;
        Some(self.url(&format!("{phone}/messages")))
    }

    /// App id and secret, when both are set: what a refresh needs.
    pub(crate) fn app_credentials(&self) -> Option<(&str, &Secret)> {
        Some((self.app_id.as_deref()?, self.app_secret.as_ref()?))
    }
}

/// Longer than any setting makes sense for: a sign of a unit mistake.
const IMPLAUSIBLE: Duration = Duration::from_secs(10 * 365 * 86_400);

impl Config {
    /// Every value that makes no sense, as a configuration error.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if let Some(token) = &self.token {
            let token = token.expose();
            if token.is_empty() {
                return Err(Error::Config("the access token is empty".into()));
            }
            if http::HeaderValue::from_str(&format!("Bearer {token}")).is_err() {
                return Err(Error::Config(
                    "the access token has characters that are not allowed in an HTTP header".into(),
                ));
            }
        }
        for (name, value) in [
            ("refresh_window fraction", self.refresh_window_fraction),
            ("refresh_jitter", self.refresh_jitter),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(Error::Config(format!(
                    "{name} must be a number between 0 and 1, not {value}"
                )));
            }
        }
        let positive = [
            ("validation_timeout", self.validation_timeout),
            ("refresh_timeout", self.refresh_timeout),
            ("store_timeout", self.store_timeout),
            ("refresh_lock_ttl", self.refresh_lock_ttl),
            (
                "validation_interval",
                self.validation_interval.unwrap_or(Duration::from_secs(1)),
            ),
        ];
        for (name, value) in positive {
            if value.is_zero() {
                return Err(Error::Config(format!("{name} must be above zero")));
            }
        }
        let bounded = [
            ("refresh_window", self.refresh_window),
            ("dead_recheck", self.dead_recheck),
            ("validation_retry", self.validation_retry),
            ("refresh_backoff", self.refresh_backoff),
            ("refresh_backoff max", self.refresh_backoff_max),
        ];
        for (name, value) in positive.into_iter().chain(bounded) {
            if value > IMPLAUSIBLE {
                return Err(Error::Config(format!(
                    "{name} is {value:?}, longer than ten years: a unit mistake? (use without_validation() to turn validation off)"
                )));
            }
        }
        if let Some(bad) = self.media_hosts.iter().find(|h| !HostRule::valid_host(h)) {
            return Err(Error::Config(format!(
                "media host {bad:?} is not a host[:port] (no scheme, path or user)"
            )));
        }
        let url = self.url("me");
        match url.parse::<http::Uri>() {
            Ok(uri) if uri.scheme_str() == Some("http")
                && !self.plain_http
                && !crate::hosts::is_loopback(uri.host().unwrap_or("")) =>
            {
                Err(Error::Config(format!(
                    "Graph base URL {:?} is plain http:// to a host that is not a loopback address: the token would cross the network in clear text (use https://, or allow_plain_http(true) on a network you trust)",
                    self.graph_base
                )))
            }
            Ok(uri) if uri.scheme().is_some() && uri.authority().is_some() => Ok(()),
            _ => Err(Error::Config(format!(
                "Graph base URL {:?} is not an absolute http(s) URL",
                self.graph_base
            ))),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("token", &self.token)
            .field("phone_number_id", &self.phone_number_id)
            .field("graph_base", &self.graph_base)
            .field("graph_version", &self.graph_version)
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("validation_interval", &self.validation_interval)
            .field("refresh_window", &self.refresh_window)
            .field("refresh_timeout", &self.refresh_timeout)
            .field("body_limit", &self.body_limit)
            .field("exchange_method", &self.exchange_method)
            .field("required_permissions", &self.required_permissions)
            .field("business_account_id", &self.business_account_id)
            .field("telemetry", &self.telemetry)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_paths_go_to_the_configured_base_and_version() {
        let mut config = Config::new(Some(Secret::new("t")));
        config.graph_base = "http://127.0.0.1:9/".into();
        config.graph_version = "v25.0".into();
        let cases = [
            ("/1/messages", "http://127.0.0.1:9/v25.0/1/messages"),
            ("1/messages", "http://127.0.0.1:9/v25.0/1/messages"),
            ("/v24.0/1/messages", "http://127.0.0.1:9/v24.0/1/messages"),
            ("/v26/1", "http://127.0.0.1:9/v26/1"),
            ("/me?fields=id", "http://127.0.0.1:9/v25.0/me?fields=id"),
            ("/video/1", "http://127.0.0.1:9/v25.0/video/1"),
            ("/", "http://127.0.0.1:9/v25.0/"),
        ];
        for (path, expected) in cases {
            let uri: http::Uri = path
                .parse()
                .unwrap_or_else(|_| format!("/{path}").parse().unwrap());
            assert_eq!(
                config.absolute(&uri).unwrap().to_string(),
                expected,
                "{path}"
            );
        }
        config.phone_number_id = Some("42".into());
        assert_eq!(
            config.messages_url().unwrap(),
            "http://127.0.0.1:9/v25.0/42/messages"
        );
    }
}
