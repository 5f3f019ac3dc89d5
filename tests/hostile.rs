//! The real `dtcost` binary against a hostile Dynatrace (`support/hostile.rs`) that echoes every
//! request back in its errors, or floods them: no secret the host holds (nor its part after the
//! last dot, nor an access token) reaches stdout, stderr (text and JSON logs) or the state file,
//! and server text reaches the terminal bounded, on one line, with no control character raw.

mod support;

use std::path::PathBuf;

use support::hostile::{ACCESS_TOKEN, Behaviour, FLOOD_BYTES, FORGED_LINE, Hostile};

const ACCOUNT_SECRET: &str = "dt0s02.HOSTILE.accountSECRETpart0123456789";
/// Plain secrets (no token shape to give them away), with characters a form percent-encodes.
const INGEST_TOKEN: &str = "ingest+Token/with=odd&chars-42";
const TARGET_CLIENT_SECRET: &str = "target Client+Secret/9876&x";
const CLUSTER_TOKEN: &str = "cluster.Token-plugh-xyzzy-5150";

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    env: Vec<(&'static str, &'static str)>,
}

/// A config whose SSO, account API, target and cluster are all the hostile server; `extra` is
/// added to the top-level settings.
fn config(server: &Hostile, oauth_target: bool, extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = &server.url;
    let target = if oauth_target {
        "client-id = \"dt0s02.TARGET\"\nclient-secret-env = \"TARGET_CLIENT_SECRET\""
    } else {
        "api-token-env = \"INGEST_TOKEN\""
    };
    let text = format!(
        "token-url = \"{url}/sso/oauth2/token\"\napi-url = \"{url}\"\n{extra}\n\n[retry]\nmax-elapsed-seconds = 0\n\n\
         [target]\nurl = \"{url}\"\n{target}\n\n\
         [[accounts]]\nname = \"Hostile\"\nuuid = \"7c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6a\"\n\
         client-id = \"dt0s02.HOSTILE\"\nclient-secret-env = \"ACCOUNT_SECRET\"\n\n\
         [[clusters]]\nname = \"echo\"\nurl = \"{url}\"\napi-token-env = \"CLUSTER_TOKEN\"\n"
    );
    let config = dir.path().join("dtcost.toml");
    std::fs::write(&config, text).unwrap();
    let env = vec![
        ("ACCOUNT_SECRET", ACCOUNT_SECRET),
        ("INGEST_TOKEN", INGEST_TOKEN),
        ("TARGET_CLIENT_SECRET", TARGET_CLIENT_SECRET),
        ("CLUSTER_TOKEN", CLUSTER_TOKEN),
    ];
    Setup { dir, config, env }
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn dtcost(setup: &Setup, args: &[&str]) -> Output {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_dtcost"))
        .args(args)
        .arg("--config")
        .arg(&setup.config)
        .env_clear()
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("RUST_BACKTRACE", "0")
        .envs(setup.env.iter().copied())
        .output()
        .await
        .expect("dtcost runs");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Every secret of the config and the access token, whole, by the part after the last dot, and
/// as a form posts them.
fn forbidden() -> Vec<String> {
    let mut forbidden = Vec::new();
    for secret in [ACCOUNT_SECRET, INGEST_TOKEN, TARGET_CLIENT_SECRET, CLUSTER_TOKEN, ACCESS_TOKEN] {
        forbidden.push(secret.to_owned());
        forbidden.push(secret.rsplit('.').next().unwrap().to_owned());
        forbidden.push(secret.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D").replace(' ', "+"));
    }
    forbidden
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in forbidden() {
        assert!(!text.contains(&secret), "{what} shows {secret:?}:\n{text}");
    }
}

/// Runs `run` (text and JSON logs, debug level) and `check` against `behaviour`, with an API
/// token target and with an OAuth target; returns every output for more checks.
async fn run_everything(behaviour: Behaviour) -> Vec<(String, Output)> {
    let server = Hostile::start(behaviour).await;
    let mut outputs = Vec::new();
    for oauth_target in [false, true] {
        let setup = config(&server, oauth_target, "");
        for args in [&["run", "-vv"][..], &["run", "-vv", "--log-format", "json"], &["check", "-vv"]] {
            let out = dtcost(&setup, args).await;
            let what = format!("{behaviour:?}, OAuth target {oauth_target}, {args:?}");
            assert_eq!(out.code, 1, "{what}: every export fails\n{}", out.stderr);
            assert_no_secret(&format!("{what}: stdout"), &out.stdout);
            assert_no_secret(&format!("{what}: stderr"), &out.stderr);
            if args.contains(&"json") {
                // Redaction keeps every JSON log line JSON.
                let logs: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with('{')).collect();
                assert!(!logs.is_empty(), "{what}: {}", out.stderr);
                for line in logs {
                    assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "{what}: {line}");
                }
            }
            if let Ok(state) = std::fs::read_to_string(setup.dir.path().join("dtcost-state.json")) {
                assert_no_secret(&format!("{what}: the state file"), &state);
            }
            outputs.push((what, out));
        }
    }
    assert!(server.requests().iter().any(|r| r.contains("/clusterLicense")), "{:?}", server.requests());
    outputs
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_echoing_the_posted_form_in_json_shows_no_secret() {
    let outputs = run_everything(Behaviour::EchoJson).await;
    // The echoes were printed, redacted: the test saw what it is about.
    let (what, run) = &outputs[0];
    assert!(run.stderr.contains("client_secret=(redacted)"), "{what}: {}", run.stderr);
    assert!(run.stderr.contains("(redacted)") && run.stderr.contains("FAILED cluster echo"), "{what}: {}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_echoing_the_request_as_plain_text_shows_no_secret() {
    let outputs = run_everything(Behaviour::EchoText).await;
    let (what, check) = &outputs[2];
    assert!(
        check.stdout.contains("FAILED account Hostile") && check.stdout.contains("(redacted)"),
        "{what}: {}",
        check.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_echoing_the_bearer_token_shows_no_access_token() {
    let outputs = run_everything(Behaviour::GrantThenEcho).await;
    let (what, run) = &outputs[0];
    assert!(run.stderr.contains("Bearer (redacted)"), "{what}: {}", run.stderr);
}

/// Every line of `text` is bounded, forges no summary line and holds no raw control character.
fn assert_safe_lines(what: &str, text: &str) {
    assert!(text.len() < 20_000, "{what}: {} bytes", text.len());
    for line in text.lines() {
        assert!(line.chars().count() <= 1000, "{what}: a line of {} chars", line.len());
        assert!(!line.starts_with(FORGED_LINE), "{what}: a forged line:\n{text}");
        assert!(!line.chars().any(char::is_control), "{what}: a raw control character in {line:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_30_mb_error_body_is_refused_as_too_large_at_the_default_memory_limit() {
    let server = Hostile::start(Behaviour::Flood(FLOOD_BYTES)).await;
    let setup = config(&server, false, "");
    for args in [&["run"][..], &["check"]] {
        let out = dtcost(&setup, args).await;
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert_safe_lines(&format!("{args:?} stdout"), &out.stdout);
        assert_safe_lines(&format!("{args:?} stderr"), &out.stderr);
        let printed = if args[0] == "check" { &out.stdout } else { &out.stderr };
        // The permanent "too large", read from the Content-Length before the body: no
        // out-of-memory trap, no retry.
        assert!(printed.contains("exceeds the 8388608-byte cap; refused"), "{args:?}:\n{printed}");
        assert!(!printed.contains("memory") && !printed.contains("attempts"), "{args:?}:\n{printed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2_mb_message_of_terminal_escapes_is_printed_bounded_escaped_and_forges_no_line() {
    let server = Hostile::start(Behaviour::Flood(2 << 20)).await;
    let setup = config(&server, false, "");
    for args in [&["run"][..], &["check"]] {
        let out = dtcost(&setup, args).await;
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert_safe_lines(&format!("{args:?} stdout"), &out.stdout);
        assert_safe_lines(&format!("{args:?} stderr"), &out.stderr);
        let printed = if args[0] == "check" { &out.stdout } else { &out.stderr };
        assert!(printed.contains("Invalid\\r\\nok     account Forged"), "{args:?}: the excerpt, escaped:\n{printed}");
        assert!(printed.contains("… (cut"), "{args:?}: marked as cut:\n{printed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_uuid_of_terminal_escapes_forges_no_summary_line() {
    let server = Hostile::start(Behaviour::ForgedSubscription).await;
    let setup = config(&server, false, "");
    for args in [&["run"][..], &["check"]] {
        let out = dtcost(&setup, args).await;
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            for line in text.lines() {
                assert!(!line.starts_with(FORGED_LINE), "{args:?} {stream}: a forged line:\n{text}");
                assert!(!line.chars().any(char::is_control), "{args:?} {stream}: a raw control character in {line:?}");
            }
        }
        let printed = if args[0] == "check" { &out.stdout } else { &out.stderr };
        assert!(printed.contains("7c0d4f5e\\u{1b}[2K\\r\\nok     account Forged"), "{args:?}: escaped:\n{printed}");
    }
    assert!(server.requests().iter().any(|r| r.ends_with("/subscriptions")), "{:?}", server.requests());
}
