//! When a long-running subcommand stops: after `--duration`, or at SIGINT (Ctrl-C) or SIGTERM.

use std::time::Duration;

/// Completes at SIGINT or SIGTERM.
pub async fn signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminate = async {
        match &mut term {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// Completes after `seconds` (if given, finite and not negative) or at a stop [`signal`],
/// whichever comes first.
pub async fn after(seconds: Option<f64>) {
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
                () = signal() => {}
            }
        }
        _ => signal().await,
    }
}
