//! `ami bridge`: a fleet of Asterisk servers on NATS JetStream, lossless and permission-checked.
//!
//! Per PBX, one task ([`pbx::PbxTask`]) reads the AMI events of one session, numbers them
//! ([`ids`]), keeps them in a bounded buffer ([`buffer`]) and, while this bridge holds the
//! PBX's lease ([`lease`]), stores them in the role streams ([`publisher`]) that the roles'
//! rights admit ([`roles`]), with gap markers and snapshots on every (re)connection
//! ([`snapshot`]). Actions arrive as NATS requests ([`actions`]) and run on a second AMI session.
//! Metrics and logs: [`metrics`], `tracing`. The README's bridge section is the specification.

pub mod actions;
pub mod buffer;
pub mod config;
pub mod consumer;
pub mod ids;
pub mod lease;
pub mod metrics;
pub mod nats;
pub mod pbx;
pub mod publisher;
pub mod roles;
pub mod snapshot;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ami_tokio::{Backoff, Client, ClientOptions, Secret, Target, TlsClientOptions, TlsRoots};
use tokio::sync::{mpsc, watch};

use crate::error::CliError;
use crate::upstreams::UpstreamConfig;

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Arguments of `ami bridge`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The configuration is manager.conf syntax: [general] (name, metrics), [nats] (servers,
credentials, stream, limits, lease_ttl, buffer, snapshot), one [upstream:NAME] per PBX (as for
`ami proxy`) and one section per role (read, write, eventfilter, pbx; no secret):

  [nats]
  servers = nats://127.0.0.1:4222
  user = bridge
  password_env = NATS_BRIDGE_PASSWORD
  stream = AMI                  ; streams AMI_<ROLE>, buckets AMI_LEASE and AMI_PROGRESS
  lease_ttl = 5s
  snapshot = CoreShowChannels, QueueStatus

  [upstream:pbx1]
  host = 10.0.0.5
  username = bridge             ; read = all, write = all on that Asterisk
  secret_env = PBX1_SECRET

  [crm]
  read = call
  write = originate

Events: ami.<role>.<pbx>.ev.<Event>; markers: ami.<role>.<pbx>.gap; snapshots:
ami.<role>.<pbx>.snap.<Action>; actions (request/reply): ami.<role>.<pbx>.act.

Examples:
  ami bridge --config /etc/ami-bridge.conf
  ami bridge --config bridge.conf --metrics 127.0.0.1:9188 --log-format json
  ami check bridge.conf           # the roles' rights, before going live")]
pub struct BridgeArgs {
    /// The bridge configuration
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// This instance's name in leases and logs (default: [general] name, else HOST-PID)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Serve Prometheus metrics on http://ADDR:PORT/metrics (default: [general] metrics)
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,
    /// Log format on standard error
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Longest time to store what is buffered when stopping, in seconds
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub drain: f64,
    /// Longest wait between PBX reconnection attempts, in seconds
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub max_backoff: f64,
    /// Stop after this many seconds (default: until Ctrl-C or SIGTERM)
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
}

/// Sets up `tracing` on standard error.
pub fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::filter::LevelFilter::INFO;
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(filter);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The AMI client options of a PBX.
pub fn client_options(up: &UpstreamConfig, secret: Secret, max_backoff: Duration) -> ClientOptions {
    let tls = up.tls.as_ref().map(|t| {
        TlsClientOptions::new(TlsRoots::CaFile(t.ca_file.clone()))
            .with_server_name(t.server_name.clone())
    });
    ClientOptions::new(Target::new(up.host.clone(), up.port), up.username.clone(), secret)
        .with_login(up.method)
        .with_tls(tls)
        .with_action_timeout(up.action_timeout)
        .with_action_id_prefix("ami-bridge-")
        .with_event_buffer(1 << 17)
        .with_reconnect(Some(Backoff {
            initial: Duration::from_millis(200),
            max: max_backoff,
            ..Backoff::default()
        }))
}

fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "bridge".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Resolves when the process is asked to stop (Ctrl-C, SIGTERM) or after `duration`.
async fn stop_signal(duration: Option<f64>) {
    let term = async {
        #[cfg(unix)]
        {
            if let Ok(mut s) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                s.recv().await;
                return;
            }
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
        () = crate::stop::after(duration) => {}
    }
}

/// Runs `ami bridge`.
pub async fn run(args: BridgeArgs) -> Result<ExitCode, CliError> {
    init_logs(args.log_format);
    let file = args.config.display().to_string();
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| CliError::io(format!("cannot read {file}"), e))?;
    let cfg = config::load(&file, &text).map_err(|e| {
        CliError::Config(format!("{file}: {e} (run `ami check {file}` for a full report)"))
    })?;
    if cfg.roles.len() > 64 {
        return Err(CliError::Config(format!(
            "{file}: at most 64 roles ({} given)",
            cfg.roles.len()
        )));
    }
    for d in &cfg.manager.diagnostics {
        tracing::warn!("{file}: {d}");
    }
    let name = args.name.clone().or(cfg.name.clone()).unwrap_or_else(default_name);
    let metrics = Arc::new(metrics::Metrics::new());
    let metrics_addr =
        match (&args.metrics, &cfg.metrics) {
            (Some(a), _) => Some(*a),
            (None, Some(a)) => Some(a.parse().map_err(|_| {
                CliError::Config(format!("{file}: metrics = {a:?} is not ADDR:PORT"))
            })?),
            (None, None) => None,
        };
    if let Some(addr) = metrics_addr {
        let l = metrics::bind(addr)
            .await
            .map_err(|e| CliError::io(format!("cannot listen on {addr} (metrics)"), e))?;
        let local = l.local_addr().map_err(|e| CliError::io("metrics address", e))?;
        tracing::info!("metrics on http://{local}/metrics");
        tokio::spawn(metrics::serve(l, Arc::clone(&metrics)));
    }
    let nc = nats::connect(&cfg.nats, &name, cfg.nats.in_flight.saturating_mul(cfg.roles.len()))
        .await
        .map_err(CliError::Config)?;
    let js =
        nats::context(nc.clone(), cfg.nats.in_flight * cfg.upstreams.upstreams.len().max(1) * 2);
    tracing::info!(bridge = %name, servers = %cfg.nats.servers.join(","), "setting up the streams and buckets");
    let stop = stop_signal(args.duration);
    tokio::pin!(stop);
    let (leases, progress) = tokio::select! {
        r = nats::ensure(&js, &cfg.nats, &cfg.roles) => r.map_err(CliError::Config)?,
        () = &mut stop => return Ok(ExitCode::SUCCESS),
    };
    let roles = Arc::new(cfg.roles.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let max_backoff = Duration::from_secs_f64(args.max_backoff.clamp(0.1, 3600.0));
    let mut action_clients = HashMap::new();
    let mut tasks = Vec::new();
    for (i, up) in cfg.upstreams.upstreams.iter().enumerate() {
        let secret = cfg.upstreams.secret(i).map_err(CliError::Config)?;
        let anchors = ids::Anchors::new(secret.expose().as_bytes(), &cfg.nats.stream, &up.name);
        let options = client_options(up, secret, max_backoff);
        action_clients.insert(up.name.clone(), (i, actions::action_client(options.clone())));
        let (client, events) = Client::spawn(options);
        let (view_tx, view_rx) = watch::channel(lease::LeaseView::default());
        let (stored_tx, stored_rx) = watch::channel(None);
        let (cmd_tx, cmd_rx) = mpsc::channel(4);
        let l = lease::Lease {
            leases: leases.clone(),
            progress: progress.clone(),
            key: up.name.clone(),
            owner: name.clone(),
            ttl: cfg.nats.lease_ttl,
        };
        tokio::spawn(l.run(view_tx, stored_rx, cmd_rx));
        let task = pbx::PbxTask {
            index: i,
            name: up.name.clone(),
            bridge: name.clone(),
            client,
            events,
            anchors,
            roles: Arc::clone(&roles),
            snapshot: cfg.nats.snapshot.clone(),
            buffer: buffer::Buffer::new(cfg.nats.buffer_events, cfg.nats.buffer_bytes),
            publisher: publisher::Publisher::new(
                &up.name,
                &cfg.nats.subject_prefix,
                Arc::clone(&roles),
                js.clone(),
                cfg.nats.in_flight,
                Arc::clone(&metrics),
            ),
            lease: view_rx,
            stored: stored_tx,
            lease_commands: cmd_tx,
            metrics: Arc::clone(&metrics),
        };
        let drain = Duration::from_secs_f64(args.drain.clamp(0.0, 600.0));
        tasks.push(tokio::spawn(task.run(stop_rx.clone(), drain)));
    }
    let action_clients = Arc::new(action_clients);
    let service = tokio::spawn(actions::serve(
        nc.clone(),
        cfg.nats.subject_prefix.clone(),
        Arc::clone(&roles),
        Arc::clone(&action_clients),
        Arc::clone(&metrics),
    ));
    tracing::info!(
        bridge = %name,
        pbxs = cfg.upstreams.upstreams.len(),
        roles = %roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(","),
        "bridge running"
    );
    stop.await;
    tracing::info!("stopping: storing what is buffered and releasing the leases");
    let _ = stop_tx.send(true);
    let shutdown = async {
        for t in tasks {
            let _ = t.await;
        }
        service.abort();
        for (_, c) in action_clients.values() {
            c.close().await;
        }
        // A flush waits for a connection: with NATS unreachable it would never end.
        match tokio::time::timeout(FLUSH_LIMIT, nc.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("NATS: the last flush failed: {e}"),
            Err(_) => tracing::warn!("NATS unreachable: stopped without the last flush"),
        }
    };
    // Each step is bounded (a PBX's task: `--drain`, then 3 s for its lease and 3 s for its
    // AMI session; the flush: FLUSH_LIMIT); a second request to stop does not wait for them.
    tokio::select! {
        () = shutdown => {}
        () = stop_signal(None) => tracing::warn!("asked again to stop: stopping now"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The longest the last flush to NATS may take when stopping.
const FLUSH_LIMIT: Duration = Duration::from_secs(2);
