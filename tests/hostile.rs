//! The real `dtcost` binary against a hostile Dynatrace (`support/hostile.rs`) that echoes every
//! request back in its errors, or floods them: no secret the host holds (nor its part after the
//! last dot, nor an access token) reaches stdout, stderr (text and JSON logs) or the state file,
//! and server text reaches the terminal bounded, on one line, with no control character raw. A
//! server that puts the secrets it was sent into its data gets none of them into an ingested
//! event, a `--dry-run` line or `report.html` (issue #20).

mod support;

use std::path::PathBuf;

use support::hostile::{ACCESS_TOKEN, Behaviour, FLOOD_BYTES, FORGED_LINE, HIDDEN, Hostile};

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
    let output = support::dtcost_command()
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
async fn a_body_that_drips_in_is_cut_off_at_the_attempt_timeout() {
    let server = Hostile::start(Behaviour::Drip).await;
    let setup = config(&server, false, "");
    let text = std::fs::read_to_string(&setup.config).unwrap();
    std::fs::write(
        &setup.config,
        text.replace("max-elapsed-seconds = 0", "max-elapsed-seconds = 0\nattempt-timeout-seconds = 1"),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = dtcost(&setup, &["run"]).await;
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{}", out.stderr);
    // 1,000 bytes at one per 400 ms would take 400 s; each attempt is cut off after 1 s.
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    assert!(out.stderr.contains("no complete answer within the attempt's time limit"), "{}", out.stderr);
    assert!(
        out.stderr.contains("FAILED account Hostile") && out.stderr.contains("FAILED cluster echo"),
        "{}",
        out.stderr
    );
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

/// The attack of issue #11: a v3 walk whose every page has 200 rows and a fresh `nextPageKey`
/// (it once drove 164,586 requests in 120 s and ran the instance out of memory, losing the
/// account's daily cost too). Now the walk stops at its row bound, 30 days x
/// `max-rows-per-day` 2,000 = 60,000 rows: 301 pages, a clear error naming the bound, and the
/// account's cost days, status and summary are delivered all the same.
#[tokio::test(flavor = "multi_thread")]
async fn an_endless_page_walk_stops_at_its_bound_and_the_daily_cost_is_still_delivered() {
    use dtcost_sim::{Fault, FaultRule, Service, Simulator};
    let scenario = support::generate(1, 30, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let endless = FaultRule {
        service: Some(Service::AccountApi),
        fault: Fault::EndlessPages { rows: 200, pages: None },
        times: u32::MAX,
    };
    sim.inject_on_path(endless, "/environments/cost");
    let options = support::ConfigOptions { environment_cost: true, ..support::ConfigOptions::default() };
    let setup = support::write_config(&scenario, &sim, &options);
    let started = std::time::Instant::now();
    let out = support::dtcost(&scenario, &setup, &["run"]).await;
    let took = started.elapsed();
    assert_eq!(out.code, 1, "{}", out.stderr);
    let pages = sim.requests().iter().filter(|r| r.path.ends_with("/environments/cost")).count();
    assert_eq!(pages, 301, "60,000 rows of 200 a page, and the page that passed them");
    assert!(
        out.stderr.contains("cost per environment not exported: the walk stopped after 60200 rows, more than 30 days x max-rows-per-day 2000 allow"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("raise max-rows-per-day"), "{}", out.stderr);
    let events = sim.accepted_events();
    let of_type = |kind: &str| events.iter().filter(|e| e["event.type"] == kind).count();
    assert_eq!(of_type("dps.cost2.booked"), 30, "every cost day delivered");
    assert_eq!(of_type("dps.subscription.status"), 1);
    assert_eq!(of_type("dps.cost.environment.booked"), 0);
    let summary = support::run_summary(&events);
    assert_eq!(summary["status"], "failed", "{summary}");
    assert!(summary["requests"].as_u64().unwrap() > 301, "{summary}");
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
    eprintln!("endless pages: {pages} pages, stopped in {took:?}");

    // `check` says why it exits 1.
    let out = support::dtcost(&scenario, &setup, &["check"]).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("not read: GET ") && out.stdout.contains("raise max-rows-per-day"), "{}", out.stdout);
}

/// The other side of the bound: a walk of exactly 30 days x 2,000 rows (300 pages of 200, every
/// row a capability of its own, so 60,000 events) is read, reconciled and delivered within the
/// default 128 MB: the bound stops a walk before memory does.
#[tokio::test(flavor = "multi_thread")]
async fn a_walk_at_its_row_bound_is_delivered_within_the_default_memory() {
    use dtcost_sim::{Fault, FaultRule, Service, Simulator};
    let scenario = support::generate(1, 30, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let walk = Fault::EndlessPages { rows: 200, pages: Some(300) };
    sim.inject_on_path(
        FaultRule { service: Some(Service::AccountApi), fault: walk, times: u32::MAX },
        "/environments/cost",
    );
    let options = support::ConfigOptions { environment_cost: true, ..support::ConfigOptions::default() };
    let setup = support::write_config(&scenario, &sim, &options);
    let out = support::dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events = sim.accepted_events();
    let environment = events.iter().filter(|e| e["event.type"] == "dps.cost.environment.booked").count();
    // Every row, and each of the 30 days' unattributed difference (the rows are all on one day).
    assert_eq!(environment, 60_030, "{}", out.stderr);
}

/// The one line of a failed job in `run`'s summary (text and JSON logs alike): no backtrace, no
/// "memory allocation failed" from the component, the run's figures counting its requests.
async fn one_failed_line(behaviour: Behaviour, extra: &str, expected: &[&str], requests: &str) {
    let server = Hostile::start(behaviour).await;
    let setup = config(&server, false, extra);
    for args in [&["run"][..], &["run", "--log-format", "json"]] {
        let out = dtcost(&setup, args).await;
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        let failed: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("FAILED account Hostile")).collect();
        assert_eq!(failed.len(), 1, "{args:?}:\n{}", out.stderr);
        for part in expected {
            assert!(failed[0].contains(part), "{args:?}: {part:?} in\n{}", out.stderr);
        }
        let next = out.stderr.lines().skip_while(|l| !l.starts_with("FAILED account")).nth(1).unwrap_or_default();
        assert!(next.starts_with("FAILED cluster echo"), "{args:?}: one line per failed job:\n{}", out.stderr);
        for noise in ["backtrace", "memory allocation", "wasm trap", "0x"] {
            assert!(!out.stderr.contains(noise), "{args:?}: {noise:?} in\n{}", out.stderr);
        }
        if args.contains(&"json") {
            for line in out.stderr.lines().filter(|l| !l.is_empty()) {
                let summary = ["FAILED ", "ok ", "       ", "run: ", "0 of 2"].iter().any(|p| line.starts_with(p));
                assert!(summary || serde_json::from_str::<serde_json::Value>(line).is_ok(), "{args:?}: {line}");
            }
        }
        assert!(out.stderr.contains(requests), "{args:?}: {requests:?} in\n{}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_7_mb_access_token_fails_the_account_in_one_line_naming_the_header_limit() {
    let expected = [
        "the component's request headers went past the sandbox's 128 KiB limit (wasi-http fields) while handling POST http://",
        "/sso/oauth2/token, e.g. an access token that large, and it was stopped",
    ];
    // The token request, and the cluster's.
    one_failed_line(Behaviour::Large { token_bytes: 7 << 20, cost_records: 10 }, "", &expected, "; 2 requests, ").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cost_list_of_100k_days_is_refused_by_the_body_cap_in_one_line_and_its_requests_count() {
    let expected =
        ["/cost failed: the response body (10300052 bytes by its Content-Length) exceeds the 8388608-byte cap"];
    // Token, list, details, cost and forecast of the failed account, and the cluster's request.
    one_failed_line(Behaviour::Large { token_bytes: 0, cost_records: 100_000 }, "", &expected, "; 6 requests, ").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_out_of_memory_fails_in_one_line_naming_the_limit_and_the_request() {
    // 75,000 days (7.7 MB, under the body cap) in 16 MB of memory.
    // Details, cost and forecast go out together: the line names the three.
    let expected = [
        "the component ran out of its 16 MB of memory (limits.memory-mb) while handling one of GET http://",
        "/cost, GET http://",
        "/forecast (sent together) and was stopped",
    ];
    let behaviour = Behaviour::Large { token_bytes: 0, cost_records: 75_000 };
    one_failed_line(behaviour, "[limits]\nmemory-mb = 16", &expected, "; 6 requests, ").await;
}

/// Issue #20, row 5: the cluster's Api-Token echoed into `licenseName`, the account's client
/// secret (posted to the SSO) into the subscription's name and each cost day's `lastBookingDate`,
/// the access token into the subscription's `account.uuid` and `lastBookingDate`. Events the
/// component ingests itself (cost days, the license) and those the host sends (the status, the
/// summary) pass the run's one scrubber on their way out, as do `--dry-run` and `report.html`.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_a_server_puts_into_its_data_reach_no_ingested_event_no_dry_run_line_and_no_report() {
    let server = Hostile::start(Behaviour::EchoSecretsIntoData).await;
    let setup = config(&server, false, "");

    let dry = dtcost(&setup, &["run", "--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_no_secret("--dry-run stdout", &dry.stdout);
    assert_no_secret("--dry-run stderr", &dry.stderr);
    assert!(dry.stdout.contains(r#""licenseName":"(redacted)""#), "{}", dry.stdout);
    for line in dry.stdout.lines() {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "still JSON: {line}");
    }

    let page = setup.dir.path().join("report.html");
    let report = dtcost(&setup, &["report", "--out", page.to_str().unwrap()]).await;
    assert_eq!(report.code, 0, "{}", report.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    assert_no_secret("report.html", &html);
    assert!(html.contains("(redacted)"), "the subscription's name, its secret redacted");

    let run = dtcost(&setup, &["run"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_secret("run stderr", &run.stderr);
    let bodies = server.ingested();
    for body in &bodies {
        assert_no_secret("an ingested body", body);
    }
    let events: Vec<serde_json::Value> = bodies
        .iter()
        .flat_map(|body| serde_json::from_str::<Vec<serde_json::Value>>(body).expect("an ingest body stays JSON"))
        .collect();
    let of_type = |kind: &str| events.iter().filter(|e| e["event.type"] == kind).collect::<Vec<_>>();
    // Every event sent, none lost to the redaction: 3 cost days, the license, the status, the summary.
    assert_eq!(of_type("dps.cost2.booked").len(), 3, "{events:?}");
    assert!(of_type("dps.cost2.booked").iter().all(|e| e["lastBookingDate"] == "(redacted) (redacted)"), "{events:?}");
    assert_eq!(of_type("cluster.license.quota")[0]["licenseName"], "(redacted)");
    let status = of_type("dps.subscription.status");
    assert_eq!(status.len(), 1, "{events:?}");
    assert_eq!(status[0]["account"]["uuid"], "(redacted)", "{}", status[0]);
    assert_eq!(of_type("dtcost.run.summary").len(), 1, "{events:?}");
}

/// Issue #20, row 13: the token shapes redact values, never dtcost's own words after a name.
#[tokio::test(flavor = "multi_thread")]
async fn an_access_token_of_the_wrong_type_is_reported_in_dtcost_s_own_words() {
    let server = Hostile::start(Behaviour::NumericAccessToken).await;
    let setup = config(&server, false, "");
    for args in [&["run"][..], &["check"]] {
        let out = dtcost(&setup, args).await;
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        let printed = if args[0] == "check" { &out.stdout } else { &out.stderr };
        assert!(printed.contains("access_token: expected a string, got a number"), "{args:?}:\n{printed}");
        assert!(!printed.contains("access_token: (redacted)"), "{args:?}:\n{printed}");
    }
}

/// Issue #20, row 14: U+202E and ESC in server names are shown escaped in `report.html`, as on
/// the terminal and in NDJSON (the one `is_unsafe` rule), never raw.
#[tokio::test(flavor = "multi_thread")]
async fn bidi_controls_and_terminal_escapes_in_server_names_are_escaped_in_the_report() {
    let server = Hostile::start(Behaviour::EchoSecretsIntoData).await;
    let setup = config(&server, false, "");
    let page = setup.dir.path().join("report.html");
    let report = dtcost(&setup, &["report", "--out", page.to_str().unwrap()]).await;
    assert_eq!(report.code, 0, "{}", report.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    for raw in HIDDEN.chars().filter(|c| *c == '\u{202e}' || *c == '\u{1b}') {
        assert!(!html.contains(raw), "{raw:?} raw in report.html");
    }
    assert!(html.contains(r"\u{202e}gnp.exe\u{1b}[31m"), "shown escaped, as on the terminal");
    let dry = dtcost(&setup, &["run", "--dry-run"]).await;
    assert!(dry.stdout.contains(r"\u202egnp.exe\u001b[31m"), "escaped in NDJSON:\n{}", dry.stdout);
}
