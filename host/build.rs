//! Builds the guest component for `wasm32-wasip2` so that `cargo build`, `cargo test` and
//! `cargo install --path host` embed the component users get. It builds into `target/guest`, a
//! separate target dir, so that the nested cargo never contends with the outer build.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let host_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = host_dir.parent().expect("host/ lives in the workspace root").to_path_buf();
    let guest_manifest = root.join("guest/Cargo.toml");
    for path in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=DTCOST_GUEST_WASM");
    println!("cargo:rerun-if-env-changed=CARGO_HOME");

    // A prebuilt component may be supplied (e.g. a reproducible release build).
    if let Some(prebuilt) = std::env::var_os("DTCOST_GUEST_WASM") {
        println!("cargo:rustc-env=DTCOST_GUEST_WASM={}", PathBuf::from(prebuilt).display());
        return;
    }

    let target_dir = root.join("target/guest");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--locked", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&guest_manifest)
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags, target and wrappers (clippy-driver under `cargo clippy`) are not the guest's.
    for variable in [
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        command.env_remove(variable);
    }
    // A reproducible component: the same source gives the same bytes wherever it is checked out
    // (paths in panic messages are remapped; the rest is deterministic in rustc).
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let mut flags = vec![format!("--remap-path-prefix={}=/dtcost", root.display())];
    if let Some(cargo_home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", cargo_home.display()));
    }
    command.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"));
    let status = command.status().expect("failed to run cargo to build the guest component");
    if !status.success() {
        panic!(
            "building the dtcost guest component for wasm32-wasip2 failed (see above). \
             If the target is missing, run: rustup target add wasm32-wasip2"
        );
    }
    let wasm = target_dir.join("wasm32-wasip2/release/dtcost_guest.wasm");
    assert!(wasm.exists(), "the guest build did not produce {}", wasm.display());
    println!("cargo:rustc-env=DTCOST_GUEST_WASM={}", wasm.display());
}
