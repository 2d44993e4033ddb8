//! `ami tail nats://HOST:PORT -u ROLE`: a role's events from JetStream, through a durable pull
//! consumer (it resumes where it stopped; what it printed is acknowledged).

use std::process::ExitCode;
use std::time::Duration;

use ami_proto::{Decoder, Frame, Role as DecoderRole};
use async_nats::ConnectOptions;
use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;

use crate::error::CliError;
use crate::output;
use crate::tail::{TailArgs, TailFilter};

/// Whether a `tail` target is a NATS URL.
pub fn is_nats_url(target: &str) -> bool {
    ["nats://", "tls://"]
        .iter()
        .any(|p| target.len() > p.len() && target[..p.len()].eq_ignore_ascii_case(p))
}

/// Runs `ami tail` against NATS.
pub async fn run(args: TailArgs) -> Result<ExitCode, CliError> {
    let filter = TailFilter::new(&args.events, &args.matches)?;
    let conn = &args.conn;
    let source = crate::secret::SecretSource {
        env: conn.secret_env.clone(),
        file: conn.secret_file.clone(),
    };
    let password = source.read(&format!("{}@{}", conn.user, conn.target))?;
    let role = args.role.clone().unwrap_or_else(|| conn.user.to_ascii_lowercase());
    let inbox = format!("_INBOX_{role}");
    let mut opts = ConnectOptions::new()
        .user_and_password(conn.user.clone(), password.expose().to_owned())
        .custom_inbox_prefix(inbox)
        .connection_timeout(Duration::from_secs_f64(conn.timeout.clamp(0.1, 3600.0)));
    if let Some(ca) = &conn.tls_ca {
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    } else if conn.tls {
        opts = opts.require_tls(true);
    }
    let nc = opts.connect(conn.target.as_str()).await.map_err(|e| CliError::Io {
        context: format!("cannot connect to {}", conn.target),
        source: std::io::Error::other(e),
    })?;
    let js = jetstream::new(nc);
    let stream_name = format!("{}_{}", args.stream, role.to_ascii_uppercase());
    let stream = js.get_stream(&stream_name).await.map_err(|e| {
        CliError::Config(format!(
            "stream {stream_name}: {e} (is `ami bridge` running with role {role}?)"
        ))
    })?;
    let subject =
        format!("{}.{role}.{}.>", args.subject_prefix, args.pbx.as_deref().unwrap_or("*"));
    let durable = args.durable.clone().unwrap_or_else(|| format!("ami-tail-{role}"));
    let config = consumer::pull::Config {
        durable_name: Some(durable.clone()),
        filter_subject: subject.clone(),
        ack_policy: consumer::AckPolicy::Explicit,
        ..Default::default()
    };
    let consumer = stream.get_or_create_consumer(&durable, config).await.map_err(|e| {
        CliError::Config(format!("consumer {durable} on {stream_name} ({subject}): {e}"))
    })?;
    eprintln!("ami tail: reading {stream_name} ({subject}) as durable consumer {durable}");
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| CliError::Config(format!("consumer {durable}: {e}")))?;
    let mut printed = 0u64;
    let ctrlc = tokio::signal::ctrl_c();
    tokio::pin!(ctrlc);
    loop {
        let msg = tokio::select! {
            m = messages.next() => m,
            _ = &mut ctrlc => return Ok(ExitCode::SUCCESS),
        };
        let msg = match msg {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                eprintln!("ami tail: {e}");
                continue;
            }
            None => return Ok(ExitCode::from(1)),
        };
        let mut d = Decoder::new(DecoderRole::Client);
        d.feed(&msg.payload);
        if let Some(Ok(Frame::Message(m))) = d.next_frame() {
            let owned = m.to_owned_message();
            if filter.passes(&owned) {
                let header = |n: &str| {
                    msg.headers.as_ref().and_then(|h| h.get(n)).map(|v| v.as_str().to_owned())
                };
                let pbx = header("Ami-Pbx").unwrap_or_default();
                if args.json {
                    let mut obj = output::json(&m);
                    if let Some(o) = obj.as_object_mut() {
                        o.insert("@pbx".into(), pbx.into());
                        o.insert("@kind".into(), header("Ami-Kind").unwrap_or_default().into());
                        o.insert("@id".into(), header("Nats-Msg-Id").unwrap_or_default().into());
                    }
                    outln!("{obj}");
                } else {
                    outln!("[{pbx}] {}", output::block(&m));
                }
                printed += 1;
            }
        }
        msg.ack().await.map_err(|e| CliError::Config(format!("cannot acknowledge: {e}")))?;
        if args.count.is_some_and(|n| printed >= n) {
            return Ok(ExitCode::SUCCESS);
        }
    }
}
