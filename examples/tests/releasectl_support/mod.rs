//! Shared by releasectl's tests: finding the built example binaries, running releasectl in
//! a working directory as a CI job would, building demo artifacts, and stopping every
//! process a state directory's process target started.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU16, Ordering};

use release_adapters::process::{ProcessTarget, ProcessTargetConfig};

/// An example binary built by `cargo test` (or `cargo build --examples`) next to the test
/// binaries' directory.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    let path = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} not built; run `cargo build -p release-examples --examples` first",
        path.display()
    );
    path
}

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// releasectl with its working directory at `dir`, without the CI variables of the
/// environment the tests run in.
pub fn releasectl(dir: &Path) -> Command {
    let mut cmd = Command::new(example("releasectl"));
    cmd.current_dir(dir)
        .env_remove("RELEASECTL_AS")
        .env_remove("RELEASECTL_STATE");
    cmd
}

/// Runs releasectl in `dir`: (exit code, stdout, stderr).
pub fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    output(releasectl(dir).args(args))
}

/// Runs a prepared command: (exit code, stdout, stderr).
pub fn output(command: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("releasectl runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// The manifest of the CI examples: `ci-1.0.0` (good) and `ci-1.1.0` (unhealthy build).
pub fn ci_manifest() -> String {
    root()
        .join("examples/tests/fixtures/ci.yaml")
        .display()
        .to_string()
}

/// Writes `<dir>/<component>/<version>/run.sh` execing the demo service; `unhealthy` builds
/// answer 500 on `/healthz`.
pub fn demo_build(dir: &Path, component: &str, version: &str, unhealthy: bool) {
    let build = dir.join(component).join(version);
    std::fs::create_dir_all(&build).unwrap();
    let script = format!(
        "#!/bin/sh\nexec {} --name {component}{}\n",
        example("releasectl_demo").display(),
        if unhealthy { " --unhealthy" } else { "" }
    );
    let run = build.join("run.sh");
    std::fs::write(&run, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// A block of 100 loopback ports per call, so tests in one binary never share ports.
pub fn ports() -> String {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = 24_000 + NEXT.fetch_add(1, Ordering::SeqCst) * 100;
    format!("{start}-{}", start + 99)
}

/// A CI workspace in a temporary directory; on drop, kills every process the state
/// directories under it started (they outlive releasectl by design).
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_in(self.path(), args)
    }

    /// Runs releasectl with one more environment variable (a CI secret).
    pub fn run_with(&self, variable: (&str, &str), args: &[&str]) -> (i32, String, String) {
        output(
            releasectl(self.path())
                .env(variable.0, variable.1)
                .args(args),
        )
    }

    /// Kills what the process target of `state` started.
    pub fn kill_processes(&self, state: &str) {
        let process = self.path().join(state).join("process");
        ProcessTarget::new(ProcessTargetConfig::new(process, "run.sh")).kill_all_blocking();
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if let Ok(entries) = std::fs::read_dir(self.path()) {
            for entry in entries.flatten() {
                if entry.path().join("process").is_dir() {
                    self.kill_processes(&entry.file_name().to_string_lossy());
                }
            }
        }
    }
}

/// `GET http://<endpoint><path>` with std only: (status, body).
pub fn http_get(endpoint: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
