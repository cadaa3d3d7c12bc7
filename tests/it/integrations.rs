//! Issue 8: the solver adapters against the real solver crates. They live in `integrations/`, a
//! crate on nalgebra 0.34 with its own workspace — in this one, cargo would unify its features
//! with the default nalgebra 0.35 — so this test builds and runs its tests with cargo, and checks
//! that its dependency tree holds one nalgebra.

use std::path::Path;
use std::process::{Command, Output};

/// `cargo <args>` on the nested workspace, with its own target directory under ours.
fn cargo(args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(args)
        .arg("--manifest-path")
        .arg(root.join("integrations/Cargo.toml"))
        .env("CARGO_TARGET_DIR", root.join("target/integrations"));
    // What cargo sets for this test binary describes this package, not the nested one.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_CRATE_")
            || matches!(
                key.as_str(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
            )
        {
            cmd.env_remove(key);
        }
    }
    cmd.output().expect("run cargo")
}

fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn solver_crates_with_one_nalgebra() {
    let tree = cargo(&["tree", "-d", "-e", "normal"]);
    assert!(tree.status.success(), "cargo tree failed:\n{}", text(&tree));
    let duplicated = String::from_utf8_lossy(&tree.stdout);
    assert!(
        !duplicated.lines().any(|l| l.starts_with("nalgebra v")),
        "more than one nalgebra in a crate on nalgebra 0.34 with matgrad, argmin and levenberg-marquardt:\n{duplicated}"
    );

    let test = cargo(&["test"]);
    assert!(
        test.status.success(),
        "integrations/ tests failed:\n{}",
        text(&test)
    );
}
