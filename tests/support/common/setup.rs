//! The environment `send` and `doctor` share: `WHATSAPP_TOKEN`,
//! `WHATSAPP_PHONE_NUMBER_ID` (required), `META_APP_ID`, `META_APP_SECRET`,
//! `GRAPH_API_BASE`, `GRAPH_API_VERSION` and `WHATSAPP_BUSINESS_ACCOUNT_ID`.

use std::process::ExitCode;

use tower_whatsapp_auth::{WhatsAppAuthLayer, DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION};

/// A layer configured from the environment, and where it points.
pub struct Setup {
    pub auth: WhatsAppAuthLayer,
    pub base: String,
    pub version: String,
    pub phone: String,
}

pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Reads the environment. A missing required variable or a bad value is
/// printed and gives exit code 2. With `announce`, says what the app
/// credentials enable.
pub fn from_env(announce: bool) -> Result<Setup, ExitCode> {
    let (Some(token), Some(phone)) = (env("WHATSAPP_TOKEN"), env("WHATSAPP_PHONE_NUMBER_ID"))
    else {
        for name in ["WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"] {
            if env(name).is_none() {
                eprintln!("error: environment variable {name} is required but not set");
            }
        }
        return Err(ExitCode::from(2));
    };
    let base = env("GRAPH_API_BASE").unwrap_or_else(|| DEFAULT_GRAPH_BASE.to_owned());
    let version = env("GRAPH_API_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.to_owned());
    let mut auth = WhatsAppAuthLayer::new(token)
        .phone_number_id(phone.as_str())
        .graph_base(base.as_str())
        .graph_version(version.as_str());
    if let Some(waba) = env("WHATSAPP_BUSINESS_ACCOUNT_ID") {
        auth = auth.business_account_id(waba);
    }
    let say = |what: &str| {
        if announce {
            println!("{what}");
        }
    };
    match (env("META_APP_ID"), env("META_APP_SECRET")) {
        (Some(id), Some(secret)) => {
            say("app credentials set: token refresh and appsecret_proof enabled");
            auth = auth.app_credentials(id, secret);
        }
        (None, Some(secret)) => {
            say("META_APP_SECRET set without META_APP_ID: appsecret_proof enabled, token refresh disabled");
            auth = auth.app_secret(secret);
        }
        (Some(_), None) => say("META_APP_ID set without META_APP_SECRET: token refresh disabled"),
        (None, None) => say("no app credentials: an expiring token will not be refreshed"),
    }
    if let Err(e) = auth.check() {
        eprintln!("error: {e}");
        return Err(ExitCode::from(2));
    }
    Ok(Setup {
        auth,
        base,
        version,
        phone,
    })
}

/// `auth` with the media hosts of `WHATSAPP_MEDIA_HOSTS` (comma-separated
/// `host[:port]`) added to the ones the token may go to. A value that is
/// not one is printed and gives exit code 2.
pub fn with_media_hosts(mut auth: WhatsAppAuthLayer) -> Result<WhatsAppAuthLayer, ExitCode> {
    let hosts = env("WHATSAPP_MEDIA_HOSTS").unwrap_or_default();
    for host in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
        auth = auth.media_host(host);
    }
    if let Err(e) = auth.check() {
        eprintln!("error: WHATSAPP_MEDIA_HOSTS: {e}");
        return Err(ExitCode::from(2));
    }
    Ok(auth)
}
