//! Replays every seed and every regression input through its target's check function on
//! stable Rust, so the targets cannot rot and fixed crashes stay fixed.

use std::fs;
use std::path::Path;

type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 10] = [
    ("decode", ami_fuzz::decode),
    ("parse_message", ami_fuzz::parse),
    ("roundtrip", ami_fuzz::roundtrip),
    ("client_session", ami_fuzz::client::client_session),
    ("server_session", ami_fuzz::server::server_session),
    ("config", ami_fuzz::config),
    ("config_edit", ami_fuzz::edit::config_edit),
    ("perm", ami_fuzz::perm),
    ("acl", ami_fuzz::acl),
    ("filter", ami_fuzz::filter),
];

fn replay(folder: &str, required: bool) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut count = 0;
    for (target, check) in TARGETS {
        let dir = root.join(target);
        let Ok(entries) = fs::read_dir(&dir) else {
            assert!(!required, "{} is missing", dir.display());
            continue;
        };
        let before = count;
        let mut files: Vec<_> = entries.map(|e| e.expect("readable folder").path()).collect();
        files.sort();
        for file in files {
            if file.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let data = fs::read(&file).expect("readable input");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: {} fails", file.display());
            count += 1;
        }
        if required {
            assert!(count > before, "no seeds for {target}");
        }
    }
    count
}

#[test]
fn seeds_pass() {
    let n = replay("seeds", true);
    assert!(n > 0);
}

#[test]
fn regressions_pass() {
    replay("regressions", false);
}

/// Replays one file with a backtrace, for debugging a crash:
/// `T=server_session F=artifacts/server_session/crash-… cargo test --test replay_seeds replay_one -- --ignored`
#[test]
#[ignore = "needs T (target) and F (file)"]
fn replay_one() {
    let target = std::env::var("T").expect("T: the target");
    let data = fs::read(std::env::var("F").expect("F: the input file")).expect("readable input");
    let (_, check) = TARGETS.iter().find(|(n, _)| *n == target).expect("a known target");
    check(&data);
}
