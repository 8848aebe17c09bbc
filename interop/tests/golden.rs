//! The committed golden files in `ipc-codec/tests/golden/` are exactly what the
//! real node-ipc encoders (and Node's Buffer) produce today.

use std::process::Command;
use std::time::Duration;

use interop::{NodeIpc, PeerProcess};

const REGEN_TIMEOUT: Duration = Duration::from_secs(120);

fn committed_dir() -> std::path::PathBuf {
    interop::interop_dir().parent().expect("interop/ has a parent").join("ipc-codec/tests/golden")
}

#[test]
fn golden_files_match_real_encoders() {
    let (Some(v9), Some(v14)) = (interop::peer(NodeIpc::V9), interop::peer(NodeIpc::V14)) else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut command = Command::new("sh");
    command
        .arg(interop::golden_dir().join("regen.sh"))
        .arg(out.path())
        .env(interop::NODE20_ENV, v9.node())
        .env(interop::NODE22_ENV, v14.node());
    let mut regen =
        PeerProcess::spawn_command(command, "interop/golden/regen.sh").unwrap_or_else(|e| panic!("{e}"));
    regen.close_stdin();
    let status = regen.wait_exit(REGEN_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "regen.sh failed ({status}):\n{}", regen.stderr_text());

    for name in ["frames.json", "encodings.json"] {
        let fresh = std::fs::read_to_string(out.path().join(name)).unwrap();
        let committed_path = committed_dir().join(name);
        let committed = std::fs::read_to_string(&committed_path)
            .unwrap_or_else(|e| panic!("{}: {e}", committed_path.display()));
        if fresh != committed {
            let line = fresh.lines().zip(committed.lines()).position(|(a, b)| a != b).map_or_else(
                || "(length differs)".to_owned(),
                |i| format!("first difference at line {}", i + 1),
            );
            panic!(
                "{} drifted from the real encoders, {line}; regenerate with interop/golden/regen.sh and review the diff",
                committed_path.display()
            );
        }
    }
}

/// The frames file has the shape the codec tests rely on.
#[test]
fn frames_file_shape() {
    let path = committed_dir().join("frames.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["delimiter"], "\u{c}");
    assert_eq!(file["versions"], serde_json::json!(["9.2.1", "14.0.0"]));
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 50, "{} vectors", vectors.len());
    let mut names = std::collections::HashSet::new();
    for vector in vectors {
        let name = vector["name"].as_str().unwrap();
        assert!(names.insert(name), "duplicate name {name}");
        assert!(vector["type"].is_string(), "{name}");
        assert_eq!(vector.get("data").is_some(), vector.get("data_json").is_some(), "{name}");
        if let Some(data_json) = vector["data_json"].as_str() {
            let parsed: serde_json::Value = serde_json::from_str(data_json).unwrap();
            assert_eq!(parsed, vector["data"], "{name}");
        }
        for version in ["9.2.1", "14.0.0"] {
            let frame = &vector["frames"][version];
            let utf8 = frame["utf8"].as_str().unwrap_or_else(|| panic!("{name} {version}: {frame}"));
            assert!(utf8.ends_with('\u{c}'), "{name} {version}");
            assert_eq!(utf8.matches('\u{c}').count(), 1, "{name} {version}: one delimiter");
            let envelope: serde_json::Value = serde_json::from_str(&utf8[..utf8.len() - 1]).unwrap();
            assert_eq!(envelope["type"], vector["type"], "{name} {version}");
            assert!(frame["base64"].is_string(), "{name} {version}");
        }
    }
    // The two encoders differ exactly where the 9.x data rewrite says they do (ipc-codec's `legacy_v9_data`).
    let differs: Vec<&str> = vectors
        .iter()
        .filter(|v| v["frames"]["9.2.1"] != v["frames"]["14.0.0"])
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        differs,
        ["empty string", "null", "max listeners 10", "max listeners string", "nan top level"]
    );
}
