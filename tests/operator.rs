//! What an operator's environment does to the real `dtcost` binary (issue #20, rows 8 to 12): a
//! SIGTERM during the first `--every` run, a state file that is a symbolic link, secret and
//! config files that are a FIFO or a device, a secret pasted on a config line of its own, and a
//! server whose answers are not well-formed HTTP/1.1 (a raw TCP server on loopback).

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dtcost_sim::{Fault, FaultRule, Service, Simulator};
use support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A plain secret: no token shape gives it away to the scrubber.
const PLAIN_SECRET: &str = "hunter2-plain-Secret-0451";

/// The real binary on `args`, without any secret variable but `env`, killed if it outlives
/// `within` (then `None`).
async fn run_within(args: &[&str], env: &[(&str, &str)], within: Duration) -> Option<Output> {
    let child = dtcost_command()
        .args(args)
        .env_clear()
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true) // a hang is killed when the timeout drops it
        .spawn()
        .expect("dtcost starts");
    let output = tokio::time::timeout(within, child.wait_with_output()).await.ok()?.expect("dtcost runs");
    Some(Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// A config whose every URL is `url` (loopback), its ingest token in `token_file`, one account
/// whose secret is `ACCOUNT_SECRET`; no state file.
fn config_text(url: &str, token_file: &str) -> String {
    format!(
        "token-url = \"{url}/sso/oauth2/token\"\napi-url = \"{url}\"\nstate-file = \"\"\n\n\
         [target]\nurl = \"{url}\"\napi-token-file = \"{token_file}\"\n\n\
         [[accounts]]\nname = \"Operator\"\nuuid = \"7c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6a\"\n\
         client-id = \"dt0s02.OPERATOR\"\nclient-secret-env = \"ACCOUNT_SECRET\"\n"
    )
}

fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
}

fn signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("still running").to_string();
    assert!(std::process::Command::new("kill").args([name, &pid]).status().unwrap().success());
}

/// `dtcost run --every 10m` on `setup`, its stderr piped, killed when dropped.
fn run_every(setup: &Setup) -> tokio::process::Child {
    dtcost_command()
        .args(["run", "--every", "10m", "--config"])
        .arg(&setup.config)
        .env_clear()
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs(setup.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Row 8: before, the first run had no handler yet: SIGTERM killed it mid-ingest (exit 143) and
/// the rerun sent again what it had not recorded.
#[tokio::test(flavor = "multi_thread")]
async fn a_sigterm_during_the_first_every_run_lets_it_finish_and_nothing_is_sent_twice() {
    let scenario = generate(6, 30, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    // Slow ingest, one account at a time: the signal lands between acknowledgements.
    sim.inject(FaultRule {
        service: Some(Service::Environment),
        fault: Fault::Slow(Duration::from_millis(300)),
        times: 100,
    });
    let setup =
        write_config(&scenario, &sim, &ConfigOptions { extra: "concurrency = 1".into(), ..ConfigOptions::default() });
    let child = run_every(&setup);
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.accepted_events().len() < 31 {
        assert!(Instant::now() < deadline, "the first run never ingested");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(&child, "-TERM");
    let at_signal = sim.accepted_events().len();
    assert!(at_signal < 6 * 31, "the signal came before the first run finished ({at_signal} events)");
    let signalled = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(40), child.wait_with_output())
        .await
        .expect("dtcost exits within the grace after SIGTERM")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the finished run's exit code (status {:?}):\n{stderr}", out.status);
    assert!(stderr.contains("stopping after the run in progress"), "{stderr}");
    assert!(stderr.contains("signal received during the run, which finished"), "{stderr}");
    assert_no_secret(&scenario, &stderr);
    let accepted = sim.accepted_events();
    let cost = of_type(&accepted, "dps.cost2.booked");
    let ids: BTreeSet<&str> = cost.iter().map(|e| e["event.id"].as_str().unwrap()).collect();
    assert_eq!((cost.len(), ids.len()), (6 * 30, 6 * 30), "every cost day once, the run finished after the signal");
    eprintln!("SIGTERM at {at_signal} events; the run finished {:.1} s later", signalled.elapsed().as_secs_f64());

    // The rerun finds every day recorded: no cost day is sent again.
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(of_type(&sim.accepted_events(), "dps.cost2.booked").len(), 6 * 30, "nothing sent twice");
}

/// Row 8's bound: a second signal stops a run at once (exit 1), and says what that means.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_sigterm_stops_the_run_in_progress_at_once() {
    let scenario = generate(4, 30, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    sim.inject(FaultRule {
        service: Some(Service::Environment),
        fault: Fault::Slow(Duration::from_secs(3)),
        times: 100,
    });
    let setup =
        write_config(&scenario, &sim, &ConfigOptions { extra: "concurrency = 1".into(), ..ConfigOptions::default() });
    let child = run_every(&setup);
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.accepted_events().is_empty() {
        assert!(Instant::now() < deadline, "the first run never ingested");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(&child, "-TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&child, "-TERM");
    let out = tokio::time::timeout(Duration::from_secs(5), child.wait_with_output())
        .await
        .expect("a second signal stops dtcost at once")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "status {:?}:\n{stderr}", out.status);
    assert!(stderr.contains("stopped before the run finished"), "{stderr}");
}

/// Row 9: before, the atomic write renamed over the link: it became a regular file, and the
/// volume it pointed to kept the old state (6 duplicates when it came back).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_state_file_that_is_a_symlink_stays_one_and_its_target_is_written() {
    let scenario = generate(2, 5, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    // The config's default state file (dtcost-state.json) links to a file on a "mounted volume".
    let volume = tempfile::tempdir().unwrap();
    let target = volume.path().join("state.json");
    let link = setup.dir.path().join("dtcost-state.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is kept");
    assert_eq!(std::fs::read_link(&link).unwrap(), target, "pointing where it did");
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&target).unwrap()).unwrap();
    assert_eq!(state["accounts"].as_object().map(|a| a.len()), Some(2), "the target holds both accounts");
    let mut left: Vec<String> =
        std::fs::read_dir(volume.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    left.sort();
    assert_eq!(left, ["state.json", "state.json.lock"], "no temporary file left beside the target");

    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let cost = of_type(&sim.accepted_events(), "dps.cost2.booked").len();
    assert_eq!(cost, 2 * 5, "the second run read the target: no cost day sent twice");
}

/// Row 10: before, a FIFO with no writer hung the binary forever, and `/dev/zero` was read
/// until memory ran out.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_or_config_file_that_is_a_fifo_or_a_device_is_refused_at_once_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ingest.token");
    mkfifo(&fifo);
    let config_fifo = dir.path().join("fifo.toml");
    mkfifo(&config_fifo);
    let url = "http://127.0.0.1:9";
    let zero = PathBuf::from("/dev/zero");
    // What happened, the config, the file the error must name, and what it must say it is.
    let cases: Vec<(&str, PathBuf, PathBuf, &str)> = vec![
        (
            "a secret file that is a FIFO",
            write(dir.path(), "a.toml", &config_text(url, "ingest.token")),
            fifo,
            "a FIFO",
        ),
        (
            "/dev/zero as a secret file",
            write(dir.path(), "b.toml", &config_text(url, "/dev/zero")),
            zero.clone(),
            "a character device",
        ),
        ("/dev/zero as the config", zero.clone(), zero, "a character device"),
        ("a config that is a FIFO", config_fifo.clone(), config_fifo, "a FIFO"),
    ];
    for (case, config, named, what) in cases {
        let started = Instant::now();
        let args = ["check", "--config", &config.to_string_lossy()];
        let out = run_within(&args, &[("ACCOUNT_SECRET", PLAIN_SECRET)], Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{case}: dtcost still running after 10 s"));
        assert_eq!(out.code, 2, "{case}: {}", out.stderr);
        let named = named.display().to_string();
        assert!(out.stderr.contains(&named) && out.stderr.contains(what), "{case}: {}", out.stderr);
        assert!(out.stderr.contains("not a regular file"), "{case}: {}", out.stderr);
        assert!(started.elapsed() < Duration::from_secs(5), "{case}: {:?}", started.elapsed());
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Row 11: before, a line that could not be parsed was quoted whole (`line 14 (hunter2-…)`), and
/// a type error quoted the value of a secret's key.
#[tokio::test(flavor = "multi_thread")]
async fn a_config_error_never_quotes_a_secret_or_a_line_that_cannot_be_parsed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ingest.token"), "ingest-token\n").unwrap();
    let good = config_text("http://127.0.0.1:9", "ingest.token");
    let secret_key = "client-secret-env = \"ACCOUNT_SECRET\"";
    let numeric = "91827364550192837465";
    let cases = [
        // A secret pasted on a line of its own, under the account.
        (
            "a secret on a line of its own",
            good.replace(secret_key, &format!("{secret_key}\n{PLAIN_SECRET}")),
            PLAIN_SECRET,
            "line 14",
        ),
        // The secret itself where its variable's name belongs, unquoted.
        (
            "an unquoted secret as a value",
            good.replace(secret_key, &format!("client-secret-env = {PLAIN_SECRET}")),
            PLAIN_SECRET,
            "line 13 (client-secret-env)",
        ),
        // A numeric secret where its variable's name belongs: a type error.
        (
            "a numeric secret as a value",
            good.replace(secret_key, &format!("client-secret-env = {numeric}")),
            numeric,
            "client-secret-env",
        ),
    ];
    for (case, text, secret, named) in cases {
        let config = write(dir.path(), "dtcost.toml", &text);
        let config_arg = config.to_string_lossy().into_owned();
        let out = run_within(&["check", "--config", &config_arg], &[("ACCOUNT_SECRET", "s")], Duration::from_secs(20))
            .await
            .expect("dtcost ends");
        assert_eq!(out.code, 2, "{case}: {}", out.stderr);
        assert!(
            !out.stderr.contains(secret) && !out.stdout.contains(secret),
            "{case}: the secret is quoted: {}",
            out.stderr
        );
        assert!(out.stderr.contains(&config_arg) && out.stderr.contains(named), "{case}: {}", out.stderr);
    }
}

/// How a raw TCP server answers every request.
#[derive(Clone, Copy, Debug)]
enum Malformed {
    /// An SSH banner: not HTTP at all.
    NotHttp,
    /// 10,000 headers.
    ManyHeaders,
    /// A header of 1 MB.
    HugeHeader,
    /// Two Content-Length headers that differ.
    TwoContentLengths,
}

impl Malformed {
    fn answer(self) -> Vec<u8> {
        match self {
            Malformed::NotHttp => b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
            Malformed::ManyHeaders => {
                let mut answer = b"HTTP/1.1 200 OK\r\n".to_vec();
                for index in 0..10_000 {
                    answer.extend_from_slice(format!("X-Header-{index}: v\r\n").as_bytes());
                }
                answer.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
                answer
            }
            Malformed::HugeHeader => {
                let mut answer = b"HTTP/1.1 200 OK\r\nX-Huge: ".to_vec();
                answer.extend(std::iter::repeat_n(b'a', 1 << 20));
                answer.extend_from_slice(b"\r\nContent-Length: 2\r\n\r\n{}");
                answer
            }
            Malformed::TwoContentLengths => {
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
                    .to_vec()
            }
        }
    }
}

/// A loopback server that reads each request's head and answers `malformed`; counts the heads.
async fn malformed_server(malformed: Malformed) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = socket.write_all(&malformed.answer()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, requests, task)
}

/// Row 12: before, a malformed answer was retried as a dropped connection for the whole retry
/// budget (272 s), then failed as `HttpProtocolError`.
#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_answer_fails_in_seconds_saying_what_was_malformed() {
    let cases = [
        (Malformed::NotHttp, "not valid HTTP/1.1 (invalid HTTP version parsed)"),
        (Malformed::ManyHeaders, "too many headers, or a header too large"),
        (Malformed::HugeHeader, "too many headers, or a header too large"),
        (Malformed::TwoContentLengths, "not valid HTTP/1.1 (invalid content-length parsed)"),
    ];
    let runs = cases.map(|(malformed, expected)| {
        tokio::spawn(async move {
            let (url, requests, server) = malformed_server(malformed).await;
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("ingest.token"), "ingest-token\n").unwrap();
            let config = write(dir.path(), "dtcost.toml", &config_text(&url, "ingest.token"));
            let started = Instant::now();
            // The default retry policy: a transient failure would be retried for 300 s.
            let out = run_within(
                &["run", "--config", &config.to_string_lossy()],
                &[("ACCOUNT_SECRET", PLAIN_SECRET)],
                Duration::from_secs(60),
            )
            .await;
            server.abort();
            let out = out.unwrap_or_else(|| panic!("{malformed:?}: still retrying after 60 s"));
            let took = started.elapsed();
            assert_eq!(out.code, 1, "{malformed:?}: {}", out.stderr);
            assert!(out.stderr.contains(expected), "{malformed:?}: expected {expected:?} in:\n{}", out.stderr);
            // The account's token request and the summary event, not the retry loop's dozens (a 1 MB
            // header was seen sent twice each under load: 4; not the guest's retry, see the time bound).
            let requests = requests.load(Ordering::SeqCst);
            assert!(requests <= 4, "{malformed:?}: {requests} requests: a malformed answer was retried");
            assert!(!out.stderr.contains(PLAIN_SECRET), "{malformed:?}: {}", out.stderr);
            (malformed, took, requests)
        })
    });
    for run in runs {
        let (malformed, took, requests) = run.await.unwrap();
        eprintln!("{malformed:?}: failed in {:.2} s after {requests} requests", took.as_secs_f64());
        // Seconds (the component's compilation on a cold cache included), not the 300 s retry budget.
        assert!(took < Duration::from_secs(30), "{malformed:?}: {took:?}");
    }
}

/// Beyond row 10: the state file too. Before, a FIFO in its place (a volume mounted wrong) made a
/// run wait for a writer for ever.
#[tokio::test(flavor = "multi_thread")]
async fn a_state_file_that_is_a_fifo_is_refused_at_once_naming_it_and_nothing_is_sent() {
    let scenario = generate(1, 5, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let state = setup.dir.path().join("dtcost-state.json");
    mkfifo(&state);
    let config = setup.config.to_string_lossy().into_owned();
    let env: Vec<(&str, &str)> = setup.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = run_within(&["run", "--config", &config], &env, Duration::from_secs(10))
        .await
        .expect("dtcost still running after 10 s");
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains(&state.display().to_string()) && out.stderr.contains("a FIFO"), "{}", out.stderr);
    assert_eq!(sim.accepted_count(), 0, "nothing is sent without the state");
}
