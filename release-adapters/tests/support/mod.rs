//! Shared test rig: a release root with `releases/<version>/run.sh` scripts that exec the
//! Python demo service, and a guard that kills every recorded process on drop.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use release_adapters::process::{ProcessTarget, ProcessTargetConfig, Readiness};

/// Each test binary and each rig gets its own port block, so tests run in parallel.
static NEXT_BLOCK: AtomicU16 = AtomicU16::new(0);

pub fn demo_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/demo_service.py")
}

/// Unpacks a "release": a directory with a `run.sh` that execs the demo service; `broken`
/// releases answer 500.
pub fn unpack(root: &Path, version: &str, broken: bool) {
    let dir = root.join("releases").join(version);
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!(
        "#!/bin/sh\nexec python3 -u {} \"$@\"\n",
        demo_script().display()
    );
    let run = dir.join("run.sh");
    std::fs::write(&run, script).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    if broken {
        std::fs::write(dir.join("FAIL"), "").unwrap();
    }
}

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub target: Arc<ProcessTarget>,
    pub config: ProcessTargetConfig,
}

impl Rig {
    /// A root with the given (version, broken) releases unpacked.
    pub fn new(base_port: u16, releases: &[(&str, bool)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (v, broken) in releases {
            unpack(dir.path(), v, *broken);
        }
        let block = NEXT_BLOCK.fetch_add(1, Ordering::SeqCst);
        let start = base_port + block * 50;
        let config = ProcessTargetConfig::new(dir.path(), "run.sh")
            .with_args(["--port", "{port}"])
            .with_ports(start, start + 49)
            .with_grace_period(std::time::Duration::from_millis(1500))
            .with_readiness(Readiness::Http {
                path: "/healthz".into(),
            });
        let target = Arc::new(ProcessTarget::new(config.clone()));
        Self {
            dir,
            target,
            config,
        }
    }

    /// A second target value over the same root, as after an engine restart.
    pub fn reopen(&self) -> Arc<ProcessTarget> {
        Arc::new(ProcessTarget::new(self.config.clone()))
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.target.kill_all_blocking();
    }
}

/// Unpacks a release whose program exits at once with status 3.
pub fn unpack_crashing(root: &Path, version: &str) {
    unpack(root, version, false);
    let run = root.join("releases").join(version).join("run.sh");
    std::fs::write(
        &run,
        "#!/bin/sh\necho 'cannot start: no database' >&2\nexit 3\n",
    )
    .unwrap();
}
