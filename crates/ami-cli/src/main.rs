//! The `ami` tool: libami over real sockets.
//!
//! Every subcommand is a thin layer of I/O (tokio) around the sans-IO core in `ami-proto`:
//! the bytes on the wire, logins, permissions and event fan-out are all decided there.

mod check;
mod decode;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The Asterisk Manager Interface tool, built on libami.
#[derive(Debug, Parser)]
#[command(
    name = "ami",
    version,
    about = "The Asterisk Manager Interface (AMI) tool, built on libami",
    after_help = "Start with `ami demo`: a mock PBX, two users with different rights, live calls.\n\
                  Every subcommand has --help with examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a manager.conf as Asterisk would and report what it grants
    Check(check::CheckArgs),
    /// Print the frames of a captured AMI byte stream
    Decode(DecodeArgs),
}

/// Arguments of `ami decode`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ami decode capture.s2c\n  ami decode --server < client_to_server.bin"
)]
struct DecodeArgs {
    /// The capture (default: standard input)
    file: Option<PathBuf>,
    /// Read the stream as client input (with Asterisk's server limits) instead of server output
    #[arg(long)]
    server: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Decode(a) => match decode::run(a.file.as_deref(), a.server) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("ami decode: {e}");
                ExitCode::from(1)
            }
        },
        Command::Check(a) => check::run(&a),
    }
}
