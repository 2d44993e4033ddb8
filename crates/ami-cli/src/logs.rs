//! Structured logs for the daemons (`ami proxy`, `ami bridge`): `tracing` events written to
//! standard error as text lines or as one JSON object per line (`--log-format json`).

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-02T17:30:00.123456Z  INFO upstream pbx1 logged in upstream="pbx1"`.
    #[default]
    Text,
    /// `{"timestamp":"…","level":"INFO","fields":{"message":"…","upstream":"pbx1"},…}`.
    Json,
}

/// Sends the process's `tracing` events to standard error in `format`, `quiet` keeping only
/// warnings and errors. Calling it again does nothing.
pub fn init(format: LogFormat, quiet: bool) {
    let level = if quiet { tracing::Level::WARN } else { tracing::Level::INFO };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(false).with_current_span(false).try_init(),
    };
}
