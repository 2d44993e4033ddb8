//! `ami decode`: print the frames of an AMI byte stream.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use ami_proto::{Decoder, Frame, Role};

/// Decodes `path` (or standard input) as server output (`role` Client) or client input.
pub fn run(path: Option<&Path>, server_input: bool) -> io::Result<ExitCode> {
    let role = if server_input { Role::Server } else { Role::Client };
    let mut input = Vec::new();
    match path {
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
