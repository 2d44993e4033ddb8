//! The `ami` tool. It grows subcommands with the CLI issue (demo, mock, tail, action, check);
//! today it decodes AMI captures.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use ami_proto::{Decoder, Frame, Role};

const USAGE: &str = "\
usage: ami decode [--server] [FILE]

  decode    print the frames of an AMI byte stream (FILE, or standard input).
            By default the stream is server output (what a client reads);
            --server reads it as client input, with Asterisk's server limits.
  --version print the version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("decode") => match decode(&args[1..]) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("ami decode: {e}");
                ExitCode::from(1)
            }
        },
        Some("--version" | "-V") => {
            println!("ami {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn decode(args: &[String]) -> io::Result<ExitCode> {
    let mut role = Role::Client;
    let mut path = None;
    for a in args {
        match a.as_str() {
            "--server" => role = Role::Server,
            other if path.is_none() && !other.starts_with("--") => path = Some(other.to_owned()),
            other => {
                eprintln!("ami decode: unexpected argument {other:?}\n{USAGE}");
                return Ok(ExitCode::from(2));
            }
        }
    }
    let mut input = Vec::new();
    match &path {
        Some(p) => input = std::fs::read(p)?,
        None => {
            io::stdin().read_to_end(&mut input)?;
        }
    }
    let mut dec = Decoder::new(role);
    dec.feed(&input);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut errors = 0;
    while let Some(frame) = dec.next_frame() {
        match frame {
            Ok(Frame::Banner(b)) => writeln!(out, "banner {}", String::from_utf8_lossy(b.line()))?,
            Ok(Frame::Message(m)) => {
                writeln!(out, "{} ({} lines)", m.kind().as_str(), m.len())?;
                for h in m.iter() {
                    if h.is_bare() {
                        writeln!(out, "  | {}", String::from_utf8_lossy(h.line()))?;
                    } else {
                        let (n, v) = (h.name(), h.value());
                        writeln!(
                            out,
                            "  {}: {}",
                            String::from_utf8_lossy(n),
                            String::from_utf8_lossy(v)
                        )?;
                    }
                }
                if let Some(output) = m.command_output().filter(|o| o.is_legacy()) {
                    for line in output.lines() {
                        writeln!(out, "  > {}", String::from_utf8_lossy(line))?;
                    }
                }
            }
            Err(e) => {
                errors += 1;
                writeln!(out, "error: {e}")?;
            }
        }
    }
    if dec.is_mid_message() {
        writeln!(out, "incomplete: {} bytes after the last frame", dec.buffered())?;
    }
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
