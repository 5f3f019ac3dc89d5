//! What dtcost refuses, with the real binary against the simulator: a config that would fail
//! only at run time (exit 2, the key named, nothing sent), the same account or cluster twice, and
//! a second run on a state file that a run holds (exit 1, nothing sent); the other exit codes.

mod support;

use dtcost_sim::{Service, Simulator};
use support::*;

/// Each edit of a good config, the key the error must name, and a word of its reason.
struct Case {
    edit: fn(&str, &dtcost_sim::Scenario) -> String,
    env: &'static [(&'static str, &'static str)],
    key: &'static str,
    reason: &'static str,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_that_would_fail_at_run_time_exits_2_naming_the_key_and_sends_nothing() {
    let scenario = generate(2, 3, 2, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let cases = [
        Case {
            edit: |text, _| text.replacen("/sso/oauth2/token\"", "/sso/oauth2/token?foo\"", 1),
            env: &[],
            key: "token-url",
            reason: "a query",
        },
        Case {
            edit: |text, _| {
                let start = text.find("[[clusters]]").unwrap();
                let url_line = text[start..].lines().find(|l| l.starts_with("url = ")).unwrap().to_owned();
                text.replacen(&url_line, "url = \"http://127.0.0.1:0\"", 1)
            },
            env: &[],
            key: "clusters[0].url",
            reason: "port 0",
        },
        Case {
            edit: |text, _| text.replacen("name = \"Account 1\"", "name = \"\"", 1),
            env: &[],
            key: "accounts[0].name",
            reason: "is empty",
        },
        Case { edit: |text, _| format!("provider = \"\"\n{text}"), env: &[], key: "provider", reason: "is empty" },
        // Issue #11: a 3 MB provider (copied into every event) and a 9 KiB secret. (A config file
        // over 4 MiB is refused whole, naming the file: tests/operator.rs.)
        Case {
            edit: |text, _| format!("provider = \"{}\"\n{text}", "p".repeat(3 << 20)),
            env: &[],
            key: "provider",
            reason: "is 3145728 characters long, more than 256",
        },
        Case {
            edit: |text, _| text.replacen("api-token-file = \"ingest.token\"", "api-token-file = \"huge.token\"", 1),
            env: &[],
            key: "target.api-token-file",
            reason: "holds 9216 bytes, more than a secret's 8192",
        },
        Case {
            edit: |text, _| format!("state-file = \"missing-folder/state.json\"\n{text}"),
            env: &[],
            key: "state-file",
            reason: "does not exist",
        },
        Case {
            edit: |text, _| text.to_owned(),
            env: &[("ACCOUNT_1_SECRET", "")],
            key: "accounts[1].client-secret-env",
            reason: "set but empty",
        },
        Case {
            edit: |text, _| {
                text.replacen("api-token-file = \"ingest.token\"", "api-token-file = \"two-lines.token\"", 1)
            },
            env: &[],
            key: "target.api-token-file",
            reason: "more than one line",
        },
        Case {
            edit: |text, scenario| {
                text.replacen(&scenario.accounts[1].uuid, &scenario.accounts[0].uuid.to_uppercase(), 1)
            },
            env: &[],
            key: "accounts[1].uuid",
            reason: "accounts[0] (\"Account 1\") and accounts[1] (\"Account 2\") are the same account",
        },
        Case {
            edit: |text, _| {
                let start = text.find("[[clusters]]").unwrap();
                let url_line = text[start..].lines().find(|l| l.starts_with("url = ")).unwrap().to_owned();
                let second = text.rfind("[[clusters]]").unwrap();
                let second_url = text[second..].lines().find(|l| l.starts_with("url = ")).unwrap().to_owned();
                text.replace(&second_url, &format!("{}/\"", url_line.trim_end_matches('"')))
            },
            env: &[],
            key: "clusters[1].url",
            reason: "clusters[0] (\"managed-1\") and clusters[1] (\"managed-2\") are the same cluster",
        },
    ];
    for case in cases {
        let mut setup = write_config(&scenario, &sim, &ConfigOptions::default());
        std::fs::write(
            setup.dir.path().join("two-lines.token"),
            format!("{}\nsecond line\n", scenario.ingest.api_token),
        )
        .unwrap();
        std::fs::write(setup.dir.path().join("huge.token"), "h".repeat(9 << 10)).unwrap();
        let text = std::fs::read_to_string(&setup.config).unwrap();
        let edited = (case.edit)(&text, &scenario);
        assert!(text != edited || !case.env.is_empty(), "{}: the edit applies", case.key);
        std::fs::write(&setup.config, edited).unwrap();
        for (name, value) in case.env {
            setup.env.retain(|(k, _)| k != name);
            setup.env.push((name.to_string(), value.to_string()));
        }
        for command in ["run", "check"] {
            let out = dtcost(&scenario, &setup, &[command]).await;
            assert_eq!(out.code, 2, "{} ({command}): {}", case.key, out.stderr);
            let expected = format!("dtcost.toml: {}: ", case.key);
            assert!(
                out.stderr.contains(&expected) && out.stderr.contains(case.reason),
                "{expected}…{}: {}",
                case.reason,
                out.stderr
            );
            assert!(
                out.stderr.len() < 4096,
                "{} ({command}): the value is not echoed: {} bytes",
                case.key,
                out.stderr.len()
            );
        }
        assert!(sim.requests().is_empty(), "{}: nothing is sent: {:?}", case.key, sim.requests());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn urls_in_upper_case_work_as_in_lower_case() {
    let scenario = generate(1, 3, 1, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let text = std::fs::read_to_string(&setup.config).unwrap().replace("http://127.0.0.1", "HTTP://127.0.0.1");
    std::fs::write(&setup.config, text).unwrap();
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.accepted_events().len(), 3 + 1 + 3 + 1, "3 days, the status, 3 quotas, the run summary");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_while_another_holds_the_state_file_exits_1_and_sends_nothing() {
    let scenario = generate(1, 4, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let state = setup.dir.path().join("dtcost-state.json");
    let held = dtcost::state::StateLock::acquire(&state).unwrap();

    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("another dtcost run is using it"), "{}", out.stderr);
    assert!(out.stderr.contains("dtcost-state.json.lock"), "{}", out.stderr);
    assert!(sim.requests().is_empty(), "nothing is sent: {:?}", sim.requests());
    // A dry run only reads the state: it needs no lock.
    let dry = dtcost(&scenario, &setup, &["run", "--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);

    drop(held);
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the state file is its owner's alone");
    }
    let mut files: Vec<String> = std::fs::read_dir(setup.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["dtcost-state.json", "dtcost-state.json.lock", "dtcost.toml", "ingest.token"],
        "no temporary file left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn three_runs_at_once_on_one_state_file_send_every_cost_day_once() {
    let scenario = generate(2, 20, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let (a, b, c) = tokio::join!(
        dtcost(&scenario, &setup, &["run"]),
        dtcost(&scenario, &setup, &["run"]),
        dtcost(&scenario, &setup, &["run"])
    );
    let outs = [a, b, c];
    let mut ran = 0;
    for out in &outs {
        match out.code {
            0 => ran += 1,
            1 => assert!(out.stderr.contains("another dtcost run is using it"), "{}", out.stderr),
            other => panic!("exit {other}: {}", out.stderr),
        }
    }
    assert!(ran >= 1, "one run at least exported");
    eprintln!("{ran} of 3 runs exported; the others found the state file in use");
    let events = sim.accepted_events();
    let mut ids: Vec<&str> =
        of_type(&events, "dps.cost2.booked").iter().map(|e| e["event.id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 40, "every cost day of both accounts, each once");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    let posts = sim.requests().iter().filter(|r| r.service == Service::Environment).count();
    assert!(posts <= 3 * 2, "at most an ingest and a summary per run: {posts}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_from_the_environment_alone_names_the_variable_and_sends_nothing() {
    let scenario = generate(1, 1, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let folder = tempfile::tempdir().unwrap(); // no dtcost.toml here: the DT_* variables configure
    for (variable, value, reason) in [
        ("DT_ACCOUNT_ID", "not-a-uuid", "is not a UUID"),
        ("DT_ACCOUNT_ID", "", "is set but empty"),
        ("DT_ENVIRONMENT_URL", "https://abc.live.dynatrace.com/?x", "a query"),
    ] {
        let mut env = vec![
            ("DT_ACCOUNT_ID", scenario.accounts[0].uuid.clone()),
            ("DT_CLIENT_ID", scenario.accounts[0].client_id.clone()),
            ("DT_CLIENT_SECRET", scenario.accounts[0].client_secret.clone()),
            ("DT_ENVIRONMENT_URL", sim.environment_url.clone()),
            ("DT_API_TOKEN", scenario.ingest.api_token.clone()),
        ];
        env.retain(|(name, _)| *name != variable);
        env.push((variable, value.to_owned()));
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_dtcost"))
            .arg("run")
            .current_dir(folder.path())
            .env_clear()
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .envs(env)
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{variable}={value:?}: {stderr}");
        assert!(stderr.contains(&format!("environment: {variable}: ")) && stderr.contains(reason), "{stderr}");
        assert_no_secret(&scenario, &stderr);
    }
    assert!(sim.requests().is_empty(), "nothing is sent: {:?}", sim.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_help_lists_every_exit_code() {
    let out = dtcost_command().arg("--help").output().await.unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{help}");
    for exit in dtcost::exit::Exit::ALL {
        assert!(help.contains(&format!("  {}  {}", exit.code(), exit.meaning())), "{help}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_state_file_exits_4_naming_it_and_sends_nothing() {
    let scenario = generate(1, 3, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    std::fs::write(setup.dir.path().join("dtcost-state.json"), "{\"version\":3,\"accounts\":").unwrap();
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("dtcost-state.json") && out.stderr.contains("delete it"), "{}", out.stderr);
    assert!(sim.requests().is_empty(), "nothing is sent: {:?}", sim.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_that_cannot_be_written_exits_5_naming_the_file() {
    let scenario = generate(1, 3, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["report", "--out", "/nonexistent-dtcost/report.html"]).await;
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(out.stderr.contains("cannot write the report to /nonexistent-dtcost/report.html"), "{}", out.stderr);
}
