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

#[path = "../tests/support/common/mod.rs"]
mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::sender::build_stack;
use common::setup::{self, Setup};
use tower_whatsapp_auth::diagnose::{describe_expiry, Check};

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
    } = match setup::from_env(false) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    let (_stack, cell) = build_stack(auth, Duration::from_secs(30));

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
