//! The HTML report opens in a real browser (headless Chromium, Debian's `chromium`) without
//! console errors and shows its charts; the screenshot is left in the test's artefacts
//! (`target/tmp/report.png`). Skips, saying so, when Chromium is not installed; under CI (`CI`
//! set) it fails instead (`.ci/run` installs it).

mod support;

use std::path::Path;

#[test]
fn the_demo_report_renders_its_charts_in_chromium_without_console_errors() {
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|name| std::process::Command::new(name).arg("--version").output().is_ok_and(|out| out.status.success()))
    else {
        support::skip("Chromium is not installed (apt-get install chromium)");
        return;
    };
    let artefacts = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let page = artefacts.join("report.html");
    let demo = std::process::Command::new(env!("CARGO_BIN_EXE_dtcost"))
        .args(["demo", "--accounts", "2", "--days", "45", "--clusters", "1", "--report"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(demo.status.success(), "{}", String::from_utf8_lossy(&demo.stderr));

    let profile = tempfile::tempdir().unwrap();
    let browse = |extra: &[&str]| {
        std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=900,1400",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .unwrap()
    };
    let dom = browse(&["--dump-dom"]);
    assert!(dom.status.success());
    let (dom, log) = (String::from_utf8_lossy(&dom.stdout), String::from_utf8_lossy(&dom.stderr));
    assert!(!log.contains("CONSOLE"), "the page logged to the console:\n{log}");
    for id in ["burn-up", "daily-cost", "license-usage"] {
        assert!(dom.contains(&format!("<svg id=\"{id}\"")), "chart {id} is in the DOM");
    }
    assert_eq!(dom.matches("class=\"account\"").count(), 2, "a line per account");
    assert_eq!(dom.matches("class=\"usage\"").count(), 3, "a bar per license unit");
    assert!(dom.contains("class=\"budget\"") && dom.contains("class=\"forecast\""));

    let screenshot = artefacts.join("report.png");
    let shot = browse(&[&format!("--screenshot={}", screenshot.display())]);
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000, "a screenshot with something on it");
}
