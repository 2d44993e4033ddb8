//! `ami-catalog-gen`: generates libami's catalog of AMI actions and events from Asterisk's
//! documentation XML. Run by `make catalog` (write) and `make catalog-check` (compare).
//!
//! ```text
//! ami-catalog-gen --xml core-en_US-22.10.1.xml.xz [--root DIR] [--check]
//! ami-catalog-gen --facts catalog/asterisk.json   [--root DIR] [--check]
//! ```
//!
//! * `--xml` reads the documentation ([`extract`]) and writes the prose-free facts extract
//!   `catalog/asterisk.json` ([`facts`]) as well as the code; `--facts` regenerates the code
//!   from the committed extract (no XML needed).
//! * Every [`emit::Emitter`] then writes its files under `--root` (default: the current
//!   directory, which `make` sets to the repository root). See [`emit`] for adding a language.
//! * `--check` writes nothing: it compares each file with a fresh generation, names the stale
//!   ones with their first differing line, and exits with status 1 if any is stale.

mod emit;
mod extract;
mod facts;
mod naming;
mod source_facts;
mod xpointer;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use emit::Output;

/// Where the facts extract is committed.
const FACTS_PATH: &str = "catalog/asterisk.json";

#[derive(Debug, PartialEq, Eq)]
enum Input {
    Xml(PathBuf),
    Facts(PathBuf),
}

#[derive(Debug, PartialEq, Eq)]
struct Options {
    input: Input,
    root: PathBuf,
    check: bool,
}

const USAGE: &str = "usage: ami-catalog-gen (--xml CORE.xml[.xz] | --facts catalog/asterisk.json) \
                     [--root DIR] [--check]";

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let (mut input, mut root, mut check) = (None, PathBuf::from("."), false);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--xml" => input = Some(Input::Xml(value("--xml")?.into())),
            "--facts" => input = Some(Input::Facts(value("--facts")?.into())),
            "--root" => root = value("--root")?.into(),
            "--check" => check = true,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let input = input.ok_or(format!("--xml or --facts is required\n{USAGE}"))?;
    Ok(Options { input, root, check })
}

fn generate(input: &Input) -> Result<Vec<Output>, String> {
    let (facts, mut outputs) = match input {
        Input::Xml(path) => {
            let facts = extract::extract_file(path).map_err(|e| e.to_string())?;
            let json = Output { path: FACTS_PATH.into(), contents: facts.to_json() };
            (facts, vec![json])
        }
        Input::Facts(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let facts: facts::Facts =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            if facts.format != facts::FORMAT {
                return Err(format!(
                    "{}: format {:?}, this generator reads {:?}",
                    path.display(),
                    facts.format,
                    facts::FORMAT
                ));
            }
            (facts, Vec::new())
        }
    };
    outputs.extend(
        emit::emit_all(&facts).map_err(|(emitter, e)| format!("the {emitter} emitter: {e}"))?,
    );
    Ok(outputs)
}

/// The first line where `old` and `new` differ (1-based), with both versions of it.
fn first_difference(old: &str, new: &str) -> (usize, String, String) {
    let (mut a, mut b) = (old.lines(), new.lines());
    let mut line = 1;
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => line += 1,
            (x, y) => {
                let show = |l: Option<&str>| l.map_or("<end of file>".to_string(), str::to_string);
                return (line, show(x), show(y));
            }
        }
    }
}

fn check(root: &Path, outputs: &[Output]) -> Result<usize, String> {
    let mut stale = 0;
    for out in outputs {
        let path = root.join(&out.path);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if old != out.contents {
            stale += 1;
            let (line, was, now) = first_difference(&old, &out.contents);
            eprintln!(
                "{} is stale: line {line} is\n    {was}\nand would be\n    {now}",
                out.path.display()
            );
        }
    }
    Ok(stale)
}

fn write(root: &Path, outputs: &[Output]) -> Result<(), String> {
    for out in outputs {
        let path = root.join(&out.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&path, &out.contents).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn run(options: &Options) -> Result<bool, String> {
    let outputs = generate(&options.input)?;
    if options.check {
        let stale = check(&options.root, &outputs)?;
        if stale > 0 {
            eprintln!("{stale} generated file(s) are stale: run `make catalog` and commit them");
            return Ok(false);
        }
        println!("catalog: {} generated files are up to date", outputs.len());
    } else {
        write(&options.root, &outputs)?;
        for out in &outputs {
            println!("wrote {}", out.path.display());
        }
    }
    Ok(true)
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ami-catalog-gen: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Options, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn arguments() {
        let o = args(&["--xml", "a.xml.xz", "--check", "--root", "/r"]).unwrap();
        assert_eq!(
            o,
            Options { input: Input::Xml("a.xml.xz".into()), root: "/r".into(), check: true }
        );
        assert!(args(&[]).unwrap_err().contains("--xml or --facts"));
        assert!(args(&["--xml"]).unwrap_err().contains("needs a value"));
        assert!(args(&["--frobnicate"]).unwrap_err().contains("unknown argument"));
    }

    #[test]
    fn differences_are_located() {
        assert_eq!(first_difference("a\nb\nc\n", "a\nB\nc\n"), (2, "b".into(), "B".into()));
        assert_eq!(first_difference("a\n", "a\nb\n"), (2, "<end of file>".into(), "b".into()));
    }
}
