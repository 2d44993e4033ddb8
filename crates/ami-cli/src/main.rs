//! The `ami` tool: libami over real sockets.
//!
//! Every subcommand is a thin layer of I/O (tokio) around the sans-IO core in `ami-proto`:
//! the bytes on the wire, logins, permissions and event fan-out are all decided there.

#[macro_use]
mod output;
mod action;
mod bridge;
mod check;
mod completions;
mod connect;
mod decode;
mod demo;
mod error;
mod logs;
mod metrics_http;
mod mock;
mod proxy;
mod secret;
mod stop;
mod tail;
mod upstreams;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Run a mock PBX and show what two users with different rights see
    Demo(demo::DemoArgs),
    /// Run an AMI server that behaves like an Asterisk PBX, for client tests
    Mock(mock::MockArgs),
    /// Log in to an AMI server and print its events
    Tail(tail::TailArgs),
    /// Send one action and print its response (or the collected list)
    Action(action::ActionArgs),
    /// Run a permission-enforcing AMI gateway in front of Asterisk servers
    Proxy(proxy::ProxyArgs),
    /// Put a fleet of Asterisk servers on NATS JetStream, lossless and permission-checked
    Bridge(bridge::BridgeArgs),
    /// Load a manager.conf as Asterisk would and report what it grants
    Check(check::CheckArgs),
    /// List, add, change and remove AMI users in a manager.conf, safely
    User(user::UserArgs),
    /// Print the frames of a captured AMI byte stream
    Decode(DecodeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), for `man -l -` or installing as ami.1
    Man,
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
        Command::User(a) => user::run(a),
        Command::Completions(a) => completions::completions(&a, &mut Cli::command()),
        Command::Man => completions::man(Cli::command()),
        Command::Demo(a) => run_async("demo", demo::run(a)),
        Command::Mock(a) => run_async("mock", mock::run(a)),
        Command::Tail(a) => run_async("tail", tail::run(a)),
        Command::Action(a) => run_async("action", action::run(a)),
        Command::Proxy(a) => run_async("proxy", proxy::run(a)),
        Command::Bridge(a) => run_async_threaded("bridge", bridge::run(a)),
    }
}

/// Runs an async subcommand on a runtime with one worker thread per core (the bridge reads
/// PBXs and writes to NATS at once); errors are printed as `ami <cmd>: …`.
fn run_async_threaded(
    name: &str,
    fut: impl std::future::Future<Output = Result<ExitCode, error::CliError>>,
) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => finish(name, rt.block_on(fut)),
        Err(e) => {
            eprintln!("ami {name}: cannot start the runtime: {e}");
            ExitCode::from(1)
        }
    }
}

fn finish(name: &str, result: Result<ExitCode, error::CliError>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ami {name}: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs an async subcommand on a single-threaded runtime; errors are printed as `ami <cmd>: …`.
fn run_async(
    name: &str,
    fut: impl std::future::Future<Output = Result<ExitCode, error::CliError>>,
) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ami {name}: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(fut) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ami {name}: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
