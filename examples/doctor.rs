//! Checks a WhatsApp Cloud API setup and says what to fix.
//!
//! ```text
//! WHATSAPP_TOKEN=… WHATSAPP_PHONE_NUMBER_ID=… [META_APP_ID=… META_APP_SECRET=…] \
//!   cargo run --example doctor
//! ```
//!
//! Same environment as `send` (plus the optional `WHATSAPP_BUSINESS_ACCOUNT_ID`,
//! to check which account the permissions cover). Prints one line per check,
//! each failure with its remediation. Exit codes: 0 the setup can send
//! messages, 1 it cannot, 2 a required variable is missing.

use std::process::ExitCode;

use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::Layer;
use tower_whatsapp_auth::diagnose::{describe_expiry, Check};
use tower_whatsapp_auth::{
    ReplayBody, WhatsAppAuthLayer, DEFAULT_GRAPH_BASE, DEFAULT_GRAPH_VERSION,
};

fn line(status: &str, what: &str, detail: &str) {
    println!("  {status:<5} {what:<16} {detail}");
}

fn fix(fix: &str) {
    println!("  {:<5} {:<16} fix: {fix}", "", "");
}

/// Prints a check; returns whether it failed.
fn report<T>(what: &str, check: &Check<T>, passed: impl Fn(&T) -> String) {
    match check {
        Check::Passed(value) => line("ok", what, &passed(value)),
        Check::Failed {
            problem,
            fix: remedy,
        } => {
            line("FAIL", what, problem);
            fix(remedy);
        }
        Check::Skipped(why) => line("skip", what, why),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let Setup {
        auth,
        base,
        version,
        phone,
    } = match from_env() {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    // The stack: the auth layer over a hyper client that speaks TLS (plain
    // HTTP only to loopback, for a local fake). The doctor sends no
    // message: the token's cell makes its checks through that client.
    let cell = auth.cell();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, ReplayBody> = Client::builder(TokioExecutor::new()).build(connector);
    let _whatsapp = auth.layer(client);

    println!("WhatsApp setup check against {base} ({version})");
    let d = cell.diagnose().await;
    line("ok", "token", &format!("present, {}", d.token));
    report("app id+secret", &d.app_credentials, |_| "accepted".into());
    report("valid", &d.valid, |_| "yes".into());
    if let Some(kind) = &d.token_type {
        let label = match kind.as_str() {
            "SYSTEM_USER" => "system user",
            "USER" => "user",
            "PAGE" => "page",
            "APP" => "app",
            other => other,
        };
        line("info", "type", label);
    }
    report("expiry", &d.expiry, |e| describe_expiry(*e));
    if let Check::Passed(perms) = &d.permissions {
        let source = if perms.from_debug_token() {
            "/debug_token"
        } else {
            "/me/permissions"
        };
        let mut scopes: Vec<String> = perms
            .entries()
            .filter(|(_, s)| s.is_usable())
            .map(|(p, _)| p.to_string())
            .collect();
        scopes.extend(perms.other_scopes().iter().cloned());
        line(
            "info",
            "scopes",
            &format!(
                "{} (from {source})",
                if scopes.is_empty() {
                    "none".into()
                } else {
                    scopes.join(", ")
                }
            ),
        );
        for (permission, status) in perms.entries() {
            if status.is_usable() {
                line("ok", "permission", &format!("{permission}: granted"));
            } else {
                line("FAIL", "permission", &format!("{permission}: {status}"));
                fix(permission.how_to_grant());
            }
        }
    } else {
        report("permissions", &d.permissions, |_| String::new());
    }
    report("appsecret_proof", &d.appsecret_proof, |_| "accepted".into());
    report("phone number", &d.phone_number, |p| {
        format!(
            "{phone} reachable: {} \"{}\" (quality {})",
            p.display_phone_number, p.verified_name, p.quality_rating
        )
    });
    if d.can_send() {
        println!("verdict: this setup can send WhatsApp messages");
        ExitCode::SUCCESS
    } else {
        let missing: Vec<String> = d
            .missing_for_sending()
            .iter()
            .map(|(p, _)| p.to_string())
            .collect();
        if missing.is_empty() {
            println!(
                "verdict: this setup cannot send WhatsApp messages; fix the lines marked FAIL"
            );
        } else {
            println!(
                "verdict: this setup cannot send WhatsApp messages: missing {}",
                missing.join(", ")
            );
        }
        ExitCode::FAILURE
    }
}

/// The layer the environment configures, and where it points.
struct Setup {
    auth: WhatsAppAuthLayer,
    base: String,
    version: String,
    phone: String,
}

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Reads the environment; a missing required variable or a bad value is
/// printed and gives exit code 2.
fn from_env() -> Result<Setup, ExitCode> {
    let required = ["WHATSAPP_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"];
    let [Some(token), Some(phone)] = required.map(var) else {
        for name in required.iter().filter(|name| var(name).is_none()) {
            eprintln!("error: environment variable {name} is required but not set");
        }
        return Err(ExitCode::from(2));
    };
    let base = var("GRAPH_API_BASE").unwrap_or_else(|| DEFAULT_GRAPH_BASE.to_owned());
    let version = var("GRAPH_API_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.to_owned());
    let mut auth = WhatsAppAuthLayer::new(token)
        .phone_number_id(phone.as_str())
        .graph_base(base.as_str())
        .graph_version(version.as_str());
    if let Some(waba) = var("WHATSAPP_BUSINESS_ACCOUNT_ID") {
        auth = auth.business_account_id(waba);
    }
    // With the app id and secret: token renewal and appsecret_proof; with
    // the secret alone, appsecret_proof.
    auth = match (var("META_APP_ID"), var("META_APP_SECRET")) {
        (Some(id), Some(secret)) => auth.app_credentials(id, secret),
        (None, Some(secret)) => auth.app_secret(secret),
        _ => auth,
    };
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
