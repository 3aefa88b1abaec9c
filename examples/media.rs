//! Downloads or uploads WhatsApp media through the stack, with the right
//! token: `GET /{media-id}`, then the file from the URL it answers (on
//! `lookaside.fbsbx.com`), streamed to disk with its SHA-256 checked; or a
//! file uploaded to `POST /{phone-number-id}/media`, streamed.
//!
//! ```text
//! WHATSAPP_TOKEN=… WHATSAPP_PHONE_NUMBER_ID=… \
//!   cargo run --example media -- download <media-id> --out <path>
//! WHATSAPP_TOKEN=… WHATSAPP_PHONE_NUMBER_ID=… \
//!   cargo run --example media -- upload <path> --type <mime-type>
//! ```
//!
//! Prints `downloaded <bytes> bytes <mime-type> sha256 <hex>` or
//! `uploaded <media-id>`.
//!
//! Environment: as the `send` example's (`WHATSAPP_TOKEN`,
//! `WHATSAPP_PHONE_NUMBER_ID`, `META_APP_ID`, `META_APP_SECRET`,
//! `GRAPH_API_BASE`, `GRAPH_API_VERSION`), plus `WHATSAPP_MEDIA_HOSTS`:
//! comma-separated `host[:port]` the token may also go to, besides Graph's
//! host and `lookaside.fbsbx.com`.
//!
//! Exit codes: 0 done, 1 Graph (or the media host) refused or the file
//! failed its checks (the error's kind and what to do are printed), 2 bad
//! arguments or environment.

use std::path::PathBuf;
use std::process::ExitCode;

use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::Layer;
use tower_whatsapp_auth::graph::GraphError;
use tower_whatsapp_auth::media::{FileSource, Media, MediaError};
use tower_whatsapp_auth::{
    Error, RefreshError, ReplayBody, WhatsAppAuthLayer, DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION,
};

const USAGE: &str =
    "usage: media download <media-id> --out <path>\n       media upload <path> --type <mime-type>";

enum Command {
    Download { id: String, out: PathBuf },
    Upload { path: PathBuf, mime: String },
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let verb = args
        .next()
        .ok_or("a command is required: download or upload")?;
    let what = args
        .next()
        .ok_or_else(|| format!("{verb} needs an argument"))?;
    let (mut out, mut mime) = (None, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--out" if verb == "download" => out = Some(PathBuf::from(value()?)),
            "--type" if verb == "upload" => mime = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    match verb.as_str() {
        "download" => {
            if what.is_empty() || !what.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{what:?} is not a media id (digits)"));
            }
            Ok(Command::Download {
                id: what,
                out: out.ok_or("--out is required")?,
            })
        }
        "upload" => {
            let path = PathBuf::from(what);
            if !path.is_file() {
                return Err(format!("{} is not a file", path.display()));
            }
            Ok(Command::Upload {
                path,
                mime: mime.ok_or("--type is required")?,
            })
        }
        "-h" | "--help" => Err(String::new()),
        other => Err(format!("unknown command {other}")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = match parse_args(std::env::args().skip(1)) {
        Ok(command) => command,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("error: {why}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (auth, phone) = match layer_from_env() {
        Ok(configured) => configured,
        Err(code) => return code,
    };

    // The stack: a hyper client that speaks TLS (plain HTTP only where the
    // host rule allows it: loopback, for a local fake), under the layer.
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, ReplayBody> = Client::builder(TokioExecutor::new()).build(connector);
    let media = Media::new(auth.layer(client)).phone_number_id(phone);

    let done = match command {
        Command::Download { id, out } => media.download_to(&id, &out).await.map(|d| {
            println!(
                "downloaded {} bytes {} sha256 {}",
                d.bytes, d.info.mime_type, d.sha256
            )
        }),
        Command::Upload { path, mime } => media
            .upload(&FileSource::new(path), &mime)
            .await
            .map(|id| println!("uploaded {id}")),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let (reason, fix) = explain(err);
            eprintln!("error: {reason}");
            if !fix.is_empty() {
                eprintln!("       fix: {fix}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The error's kind and cause, and what to do about it.
fn explain(err: MediaError) -> (String, String) {
    let kind = err.kind();
    let fix = match &err {
        MediaError::Graph(g) => return graph_reason("", g),
        MediaError::Stack(e) => return stack_reason(e),
        MediaError::Refused { .. } => "the URL was refused twice: check that the token belongs to the business the media was sent to",
        MediaError::NotMedia { .. } | MediaError::Length { .. } | MediaError::Body(_) => "the media host sent something other than the file: try again",
        MediaError::Checksum { .. } => "the bytes are not the file Graph described: try again; nothing was kept",
        MediaError::TooLarge { .. } => "the file is larger than allowed: raise Media::max_size if you expect it",
        MediaError::Unsupported(_) => "convert the file to a type and size WhatsApp takes",
        MediaError::Stalled(_) | MediaError::Transport(_) => "check network access to Graph and the media host; try again",
        _ => "",
    };
    (format!("{kind}: {err}"), fix.to_owned())
}

/// Graph's refusal, after `prefix`: its kind and codes; and Graph's remedy.
fn graph_reason(prefix: &str, g: &GraphError) -> (String, String) {
    let code = g
        .subcode()
        .map_or_else(|| g.code().to_string(), |sub| format!("{}/{sub}", g.code()));
    let status = g.status().as_u16();
    let reason = format!("{prefix}{} (Graph code {code}, HTTP {status})", g.kind());
    (reason, g.hint().to_owned())
}

/// Why the stack did not carry the call through, and the fix.
fn stack_reason(err: &Error) -> (String, String) {
    match err {
        Error::Graph(g) => graph_reason("", g),
        Error::TokenDead { cause } => graph_reason("not sent, token dead: ", cause),
        Error::NotReplayed { source, .. } => {
            graph_reason("not replayed (body too large): ", source)
        }
        Error::Misconfigured { what, cause } => {
            graph_reason(&format!("not sent, {}: ", what.describe()), cause)
        }
        Error::Refresh(RefreshError::BackingOff { last, .. }) => (
            format!("not sent, refresh backing off after: {last}"),
            last.graph_error()
                .map_or_else(String::new, |g| g.hint().to_owned()),
        ),
        Error::Refresh(r) => (format!("not sent, refresh failed: {r}"), String::new()),
        other => (other.to_string(), String::new()),
    }
}

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The layer the environment configures, with the media hosts of
/// `WHATSAPP_MEDIA_HOSTS`, and the phone number id. A missing required
/// variable or a bad value is printed and gives exit code 2.
fn layer_from_env() -> Result<(WhatsAppAuthLayer, String), ExitCode> {
    let required = ["WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"];
    let [Some(token), Some(phone)] = required.map(var) else {
        for name in required.iter().filter(|name| var(name).is_none()) {
            eprintln!("error: environment variable {name} is required but not set");
        }
        return Err(ExitCode::from(2));
    };
    let mut auth = WhatsAppAuthLayer::new(token)
        .phone_number_id(phone.as_str())
        .graph_base(var("GRAPH_API_BASE").unwrap_or_else(|| DEFAULT_GRAPH_BASE.into()))
        .graph_version(var("GRAPH_API_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.into()));
    if let Some(waba) = var("WHATSAPP_BUSINESS_ACCOUNT_ID") {
        auth = auth.business_account_id(waba);
    }
    auth = match (var("META_APP_ID"), var("META_APP_SECRET")) {
        (Some(id), Some(secret)) => auth.app_credentials(id, secret),
        (None, Some(secret)) => auth.app_secret(secret),
        _ => auth,
    };
    if let Err(e) = auth.check() {
        eprintln!("error: {e}");
        return Err(ExitCode::from(2));
    }
    // Hosts besides Graph's and lookaside.fbsbx.com the token may go to.
    let hosts = var("WHATSAPP_MEDIA_HOSTS").unwrap_or_default();
    for host in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
        auth = auth.media_host(host);
    }
    if let Err(e) = auth.check() {
        eprintln!("error: WHATSAPP_MEDIA_HOSTS: {e}");
        return Err(ExitCode::from(2));
    }
    Ok((auth, phone))
}
