//! Writes the generated AMI corpus (server output: banner, responses, events, lists) to a file,
//! for benchmarks outside Rust (`make python-bench`).
//!
//! Usage: `cargo run -p ami-benches --example dump_corpus -- <path> [megabytes] [seed]`.

use ami_benches::{CorpusConfig, generate};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: dump_corpus <path> [megabytes (default 8)] [seed (default 2024)]");
        return std::process::ExitCode::FAILURE;
    };
    let mb: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2024);
    let corpus = generate(&CorpusConfig { seed, target_bytes: mb << 20 });
    if let Err(e) = std::fs::write(&path, &corpus.bytes) {
        eprintln!("cannot write {path}: {e}");
        return std::process::ExitCode::FAILURE;
    }
    println!(
        "{path}: {} bytes, {} messages ({} events, {} list items, {} responses)",
        corpus.bytes.len(),
        corpus.messages,
        corpus.events,
        corpus.list_items,
        corpus.responses
    );
    std::process::ExitCode::SUCCESS
}
