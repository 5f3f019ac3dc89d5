//! Every `tests/*.rs` is a test target of `host/Cargo.toml`: cargo discovers no test outside a
//! package's own `tests/` folder, so a file added here and not registered there would never run,
//! and nothing would say so. This one is registered; it fails naming any that is not.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn every_test_file_is_a_test_target_that_cargo_runs() {
    let host = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(host.join("Cargo.toml")).expect("host/Cargo.toml");
    let manifest: toml::Table = manifest.parse().expect("host/Cargo.toml is TOML");
    let registered: BTreeSet<String> = manifest["test"]
        .as_array()
        .expect("[[test]] targets")
        .iter()
        .filter_map(|target| target.get("path").and_then(|path| path.as_str()))
        .map(|path| path.trim_start_matches("../tests/").to_owned())
        .collect();
    let files: BTreeSet<String> = std::fs::read_dir(host.join("../tests"))
        .expect("the tests/ folder")
        .map(|entry| entry.expect("a folder entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".rs"))
        .collect();
    let unregistered: Vec<&String> = files.difference(&registered).collect();
    assert!(unregistered.is_empty(), "tests/ files no [[test]] of host/Cargo.toml runs: {unregistered:?}");
    let missing: Vec<&String> = registered.difference(&files).collect();
    assert!(missing.is_empty(), "[[test]] targets whose file is gone: {missing:?}");
}
