//! The NATS side: connecting with the `[nats]` credentials and TLS, and making sure the role
//! streams and the two key-value buckets exist as configured.

use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use async_nats::{Client, ConnectOptions};

use super::config::{CredentialSource, NatsAuth, NatsConfig, Retention, Storage};
use super::roles::Role;

fn read_credential(source: &CredentialSource) -> Result<String, String> {
    match source {
        CredentialSource::Env(var) => {
            std::env::var(var).map_err(|_| format!("environment variable {var} is not set"))
        }
        CredentialSource::File(path) => std::fs::read_to_string(path)
            .map(|s| s.lines().next().unwrap_or_default().trim().to_owned())
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
    }
}

/// Connects to NATS (in the background if it is down: the client keeps trying).
/// `acknowledgements` is the most publishes one PBX has in flight (`in_flight` × roles): its
/// acknowledgement subscription holds that many, so that none is dropped while the PBX's task
/// is busy.
pub async fn connect(
    c: &NatsConfig,
    name: &str,
    acknowledgements: usize,
) -> Result<Client, String> {
    let mut opts = ConnectOptions::new()
        .name(format!("ami-bridge {name}"))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .client_capacity(65_536)
        .subscription_capacity(acknowledgements.max(65_536))
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((100 * attempts as u64).min(2000))
        });
    opts = match &c.auth {
        NatsAuth::None => opts,
        NatsAuth::Credentials(path) => opts
            .credentials_file(path)
            .await
            .map_err(|e| format!("[nats] credentials {}: {e}", path.display()))?,
        NatsAuth::Nkey(path) => {
            let seed = read_credential(&CredentialSource::File(path.clone()))
                .map_err(|e| format!("[nats] nkey: {e}"))?;
            opts.nkey(seed)
        }
        NatsAuth::UserPassword { user, password } => {
            let p = read_credential(password).map_err(|e| format!("[nats] password: {e}"))?;
            opts.user_and_password(user.clone(), p)
        }
        NatsAuth::Token(t) => {
            opts.token(read_credential(t).map_err(|e| format!("[nats] token: {e}"))?)
        }
    };
    if let Some(ca) = &c.tls_ca {
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &c.tls_client {
        opts = opts.add_client_certificate(cert.clone(), key.clone()).require_tls(true);
    }
    if c.tls_required {
        opts = opts.require_tls(true);
    }
    opts.connect(c.servers.join(","))
        .await
        .map_err(|e| format!("NATS {}: {e}", c.servers.join(", ")))
}

/// The JetStream context the bridge publishes with.
pub fn context(client: Client, in_flight: usize) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .ack_timeout(Duration::from_secs(5))
        .max_ack_inflight(in_flight.max(1))
        .build(client)
}

/// The subjects of role `role`'s stream (never its `act` subjects).
pub fn stream_subjects(c: &NatsConfig, role: &Role) -> Vec<String> {
    let base = format!("{}.{}.*", c.subject_prefix, role.name);
    vec![format!("{base}.ev.>"), format!("{base}.gap"), format!("{base}.snap.>")]
}

fn storage(s: Storage) -> stream::StorageType {
    match s {
        Storage::File => stream::StorageType::File,
        Storage::Memory => stream::StorageType::Memory,
    }
}

/// Creates (or updates) every role's stream and the lease and progress buckets; retries until
/// NATS answers.
pub async fn ensure(
    js: &jetstream::Context,
    c: &NatsConfig,
    roles: &[Role],
) -> Result<(kv::Store, kv::Store), String> {
    for role in roles {
        let config = stream::Config {
            name: c.stream_of(role),
            subjects: stream_subjects(c, role),
            retention: match c.retention {
                Retention::Limits => stream::RetentionPolicy::Limits,
                Retention::Interest => stream::RetentionPolicy::Interest,
                Retention::WorkQueue => stream::RetentionPolicy::WorkQueue,
            },
            max_age: c.max_age,
            max_bytes: c.max_bytes,
            storage: storage(c.storage),
            num_replicas: c.replicas,
            duplicate_window: c.duplicate_window,
            allow_direct: true,
            ..Default::default()
        };
        retry(&format!("stream {}", config.name), || async {
            match js.get_stream(&config.name).await {
                Ok(_) => js.update_stream(&config).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(_) => {
                    js.create_stream(config.clone()).await.map(|_| ()).map_err(|e| e.to_string())
                }
            }
        })
        .await;
    }
    // The buckets' streams are made here, as async-nats would make them, because its
    // `create_key_value` first asks for the account information in a form nats-server 2.9
    // does not send.
    let bucket = |name: String, max_age: Duration| stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: storage(c.storage),
        num_replicas: c.replicas,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    };
    let mut stores = Vec::new();
    for (name, max_age) in [(c.lease_bucket(), c.lease_ttl), (c.progress_bucket(), Duration::ZERO)]
    {
        let config = bucket(name.clone(), max_age);
        let store = retry(&format!("bucket {name}"), || async {
            if js.get_stream(&config.name).await.is_err() {
                js.create_stream(config.clone()).await.map_err(|e| e.to_string())?;
            }
            js.get_key_value(name.as_str()).await.map_err(|e| e.to_string())
        })
        .await;
        stores.push(store);
    }
    let progress = stores.pop().ok_or("no progress bucket")?;
    let leases = stores.pop().ok_or("no lease bucket")?;
    Ok((leases, progress))
}

async fn retry<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut wait = Duration::from_millis(200);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) => {
                tracing::warn!("NATS: cannot set up the {what}: {e}; trying again in {wait:?}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}
