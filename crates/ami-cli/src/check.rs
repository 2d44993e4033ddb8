//! `ami check manager.conf`: load the file as Asterisk would and report what it grants.

use std::path::PathBuf;
use std::process::ExitCode;

use ami_proto::config::{ConfigOptions, NoIncludes, parse_manager_conf};

/// Arguments of `ami check`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  ami check /etc/asterisk/manager.conf\n  ami check --json manager.conf | jq .users"
)]
pub struct CheckArgs {
    /// The manager.conf to load
    pub config: PathBuf,
    /// Print the report as one JSON document
    #[arg(long)]
    pub json: bool,
}

/// Runs `ami check`; exit 0 = loaded without errors, 1 = errors (or unreadable file).
pub fn run(args: &CheckArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("ami check: cannot read {}: {e}", args.config.display());
            return ExitCode::from(1);
        }
    };
    match parse_manager_conf(&text, &mut NoIncludes, &ConfigOptions::default()) {
        Ok(cfg) => {
            for u in &cfg.users {
                println!("[{}] read={} write={}", u.name, u.read, u.write);
            }
            for d in &cfg.diagnostics {
                println!("warning: {d}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ami check: {}: {e}", args.config.display());
            ExitCode::from(1)
        }
    }
}
