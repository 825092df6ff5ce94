//! Command-line interface: one function per subcommand, each wiring configuration to the crate
//! that does the work.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use simgate_api::{
    Application, Settings, routes::api_keys::validate_key_name, signing_keys, telemetry,
};
use simgate_core::{
    Clock as _, ScopeSet, SystemClock, TenantId,
    api_key::{generate_api_key, hash_api_key},
};
use simgate_store::{
    ApiKeyRecord, NewApiKey, SqlStore, Store as _,
    encryption::DataKeys,
    incident::{IncidentStore as _, NewAuditEntry},
};
use simgate_tokens::SigningAlgorithm;

/// simgate: identity verification in front of eSIM activation.
#[derive(Debug, Parser)]
#[command(name = "simgate", version, about)]
pub struct Cli {
    /// TOML configuration file; `SIMGATE__SECTION__KEY` environment variables override it.
    #[arg(long, global = true, env = "SIMGATE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API until SIGTERM or Ctrl-C.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Manage activation-token signing keys.
    #[command(subcommand, name = "signing-key")]
    SigningKey(SigningKeyCommand),
    /// Manage data-encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Exit 0 when the server's /readyz answers 200 (for container health checks).
    Healthcheck {
        /// URL to probe; defaults to /readyz on the configured host and port.
        #[arg(long)]
        url: Option<String>,
    },
    /// Face-threshold calibration on labelled image sets: score distributions, FNMR at
    /// FMR 1e-2/1e-3/1e-4, the threshold for a target FMR (models/MODEL_CARD.md).
    #[command(name = "calibrate-faces")]
    CalibrateFaces(crate::calibrate::CalibrateArgs),
    /// Batch re-verification: re-score a manifest of records (resumable, shardable), or
    /// `reverify merge` the shard outputs.
    Reverify(crate::reverify::ReverifyArgs),
    /// Delete what has outlived its retention period (`[retention]`); prints rows per table and
    /// appends one audit entry.
    Purge {
        /// Purge as if it were this instant (RFC 3339), e.g. to replay a missed night; default now.
        #[arg(long)]
        as_of: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SigningKeyCommand {
    /// Create a new signing key and make it current; older keys stay published for the overlap.
    Rotate {
        /// `EdDSA` (default from configuration) or `ES256`.
        #[arg(long)]
        algorithm: Option<String>,
        /// Hours the previous keys stay valid (default from configuration).
        #[arg(long)]
        overlap_hours: Option<u64>,
        /// Do nothing when a current key exists (first start, `make run`).
        #[arg(long)]
        if_none: bool,
    },
    /// List unretired keys: kid, algorithm, created, retires.
    List,
    /// Delete keys whose overlap has ended.
    Purge,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain: exit 0 and print the head hash when intact, exit 1 naming the first
    /// edited, relinked or missing entry otherwise.
    Verify,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a new random 32-byte data key as `ID=base64`, for `encryption.keys`.
    GenerateDataKey {
        /// Key id, e.g. the month it was made: `2026-11`.
        #[arg(long)]
        id: String,
    },
    /// Re-seal every encrypted value under the current data key (after adding a new key and
    /// making it current), so the old key can be removed; prints values re-sealed per column.
    RotateDataKey,
}

/// What a new key is: owner, name and permissions.
#[derive(Debug, clap::Args)]
struct NewKeyArgs {
    /// Tenant the key belongs to.
    #[arg(long)]
    tenant: String,
    /// Human name of the key.
    #[arg(long)]
    name: String,
    /// Comma-separated scopes: verify, otp, tokens, admin, batch, events.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    scopes: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print its secret once.
    Create(NewKeyArgs),
    /// List keys (all tenants, or one).
    List {
        /// Only this tenant's keys.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a key by id.
    Revoke {
        /// Key id (`key_...`).
        id: String,
    },
    /// Print the key stored in `--key-file` if it is still active with this tenant and these
    /// scopes, else create one and store it there (mode 0600). Used by `make run`.
    Ensure {
        #[command(flatten)]
        key: NewKeyArgs,
        /// Where the secret is kept.
        #[arg(long)]
        key_file: PathBuf,
    },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref()).context("loading configuration")?;
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let store = connect(&settings).await?;
            store.migrate().await.context("migrating")?;
            eprintln!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::ApiKey(command) => api_key(settings, command).await,
        Command::SigningKey(command) => signing_key(settings, command).await,
        Command::Keys(KeysCommand::GenerateDataKey { id }) => {
            let entry = DataKeys::generate_spec_entry(&id);
            DataKeys::parse(&entry, None).context("--id")?;
            #[allow(clippy::print_stdout)] // the key is the command's output
            {
                println!("{entry}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(KeysCommand::RotateDataKey) => rotate_data_key(&settings).await,
        Command::Audit(AuditCommand::Verify) => verify_audit(&settings).await,
        Command::Healthcheck { url } => healthcheck(&settings, url).await,
        Command::CalibrateFaces(args) => {
            tokio::task::spawn_blocking(move || crate::calibrate::run(&settings, args)).await?
        }
        Command::Purge { as_of } => purge(&settings, as_of.as_deref()).await,
        Command::Reverify(args) => {
            telemetry::init_logging(&settings.logging).context("installing the log subscriber")?;
            crate::reverify::run(settings, args).await
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    telemetry::init_logging(&settings.logging).context("installing the log subscriber")?;
    let application = Application::build(settings)
        .await
        .context("starting the application")?;
    application
        .run_until_stopped(shutdown_signal())
        .await
        .context("serving")?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGTERM (Kubernetes, systemd) or SIGINT (Ctrl-C).
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[allow(clippy::print_stdout)] // the verdict is the command's output
async fn verify_audit(settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = connect(settings).await?;
    let report = simgate_store::incident::verify_audit_log(&store).await?;
    store.close().await;
    match report.broken {
        None => {
            println!(
                "audit chain intact: {} entries, head {}",
                report.checked, report.head_hash
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(broken) => {
            println!(
                "audit chain BROKEN at {broken}; {} entries before it are intact",
                report.checked
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

#[allow(clippy::print_stdout)] // the counts are the command's output
async fn rotate_data_key(settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = connect(settings).await?;
    let counts = store
        .reseal_with_current_key()
        .await
        .context("re-sealing under the current data key (is every old key still configured?)")?;
    let current = signing_keys::data_keys(&settings.encryption)?
        .current_key_id()
        .unwrap_or_default()
        .to_owned();
    store
        .append_audit(
            &NewAuditEntry {
                tenant: TenantId::parse("system")?,
                actor: "simgate keys rotate-data-key".to_owned(),
                action: "data_key.resealed".to_owned(),
                subject: format!("data_key:{current}"),
                details: serde_json::json!({ "resealed": counts }).to_string(),
            },
            SystemClock.now(),
        )
        .await
        .context("auditing the rotation")?;
    store.close().await;
    for (column, resealed) in &counts {
        println!("{column}: {resealed}");
    }
    println!(
        "re-sealed {} values under data key {current}",
        counts.values().sum::<u64>()
    );
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stdout)] // the counts are the command's output
async fn purge(settings: &Settings, as_of: Option<&str>) -> anyhow::Result<ExitCode> {
    let now = match as_of {
        Some(text) => {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .context("--as-of must be an RFC 3339 instant, e.g. 2026-11-26T03:17:00Z")?
        }
        None => SystemClock.now(),
    };
    let store = connect(settings).await?;
    let cutoffs = simgate_api::retention::purge_cutoffs(settings, now);
    let counts = store.purge_expired(&cutoffs).await.context("purging")?;
    let total: u64 = counts.values().sum();
    let details = serde_json::json!({ "as_of": now.unix_timestamp(), "deleted": counts });
    store
        .append_audit(
            &NewAuditEntry {
                tenant: TenantId::parse("system")?,
                actor: "simgate purge".to_owned(),
                action: "retention.purged".to_owned(),
                subject: "retention".to_owned(),
                details: details.to_string(),
            },
            SystemClock.now(),
        )
        .await
        .context("auditing the purge")?;
    store.close().await;
    for (table, deleted) in &counts {
        println!("{table}: {deleted}");
    }
    println!("purged {total} rows");
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn connect(settings: &Settings) -> anyhow::Result<SqlStore> {
    let store = SqlStore::connect(&simgate_store::DatabaseSettings {
        url: settings.database.url.clone(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(settings.database.acquire_timeout_secs),
    })
    .await
    .context("connecting to the database")?
    .with_data_keys(signing_keys::data_keys(&settings.encryption).context("encryption.keys")?);
    if settings.database.migrate_on_start {
        store.migrate().await.context("migrating")?;
    }
    Ok(store)
}

fn parse_new_key(key: &NewKeyArgs) -> anyhow::Result<(TenantId, String, ScopeSet)> {
    let tenant = TenantId::parse(&key.tenant)?;
    let name = validate_key_name(&key.name)
        .map_err(anyhow::Error::msg)
        .context("--name")?;
    let scopes = ScopeSet::parse_list(&key.scopes.join(","))?;
    Ok((tenant, name, scopes))
}

async fn create_key(
    store: &SqlStore,
    tenant: TenantId,
    name: String,
    scopes: ScopeSet,
) -> anyhow::Result<(String, String)> {
    let generated = generate_api_key();
    let audit = NewAuditEntry {
        tenant: tenant.clone(),
        actor: "cli".into(),
        action: "api_key.created".into(),
        subject: format!("api_key:{}", generated.id),
        details: serde_json::json!({ "scopes": scopes.to_list() }).to_string(),
    };
    let record = ApiKeyRecord {
        id: generated.id.clone(),
        tenant,
        name,
        display_prefix: generated.display_prefix,
        scopes,
        created_at: SystemClock.now(),
        revoked_at: None,
    };
    store
        .insert_api_key(&NewApiKey {
            record,
            key_hash: generated.hash,
        })
        .await?;
    store.append_audit(&audit, SystemClock.now()).await?;
    Ok((generated.id, generated.secret))
}

#[allow(clippy::print_stdout)] // printing the key is the command's whole output
async fn api_key(settings: Settings, command: ApiKeyCommand) -> anyhow::Result<ExitCode> {
    let store = connect(&settings).await?;
    match command {
        ApiKeyCommand::Create(key) => {
            let (tenant, name, scopes) = parse_new_key(&key)?;
            let (id, secret) = create_key(&store, tenant, name, scopes).await?;
            eprintln!("created {id}; the key is printed once below and cannot be shown again");
            println!("{secret}");
        }
        ApiKeyCommand::List { tenant } => {
            let tenant = tenant.as_deref().map(TenantId::parse).transpose()?;
            for key in store.list_api_keys(tenant.as_ref()).await? {
                let state = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    key.id,
                    key.tenant,
                    key.name,
                    key.display_prefix,
                    key.scopes.to_list(),
                    state
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            let tenant = store
                .list_api_keys(None)
                .await?
                .into_iter()
                .find(|key| key.id == id)
                .map(|key| key.tenant);
            let now = SystemClock.now();
            let Some(tenant) = tenant else {
                bail!("no active key with id {id}");
            };
            if !store.revoke_api_key(None, &id, now).await? {
                bail!("no active key with id {id}");
            }
            let audit = NewAuditEntry {
                tenant,
                actor: "cli".into(),
                action: "api_key.revoked".into(),
                subject: format!("api_key:{id}"),
                details: "{}".into(),
            };
            store.append_audit(&audit, now).await?;
            eprintln!("revoked {id}");
        }
        ApiKeyCommand::Ensure { key, key_file } => {
            let (tenant, name, scopes) = parse_new_key(&key)?;
            if let Ok(existing) = std::fs::read_to_string(&key_file) {
                let existing = existing.trim();
                // Reuse only a key that still grants what was asked, so a changed Makefile gets a new key.
                let reusable = store
                    .find_active_api_key(&hash_api_key(existing))
                    .await?
                    .is_some_and(|key| key.tenant == tenant && key.scopes == scopes);
                if reusable {
                    println!("{existing}");
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let (id, secret) = create_key(&store, tenant, name, scopes).await?;
            write_secret_file(&key_file, &secret)?;
            eprintln!("created {id} and stored it in {}", key_file.display());
            println!("{secret}");
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stdout)] // listings are the command's output
async fn signing_key(settings: Settings, command: SigningKeyCommand) -> anyhow::Result<ExitCode> {
    let store = connect(&settings).await?;
    let now = SystemClock.now();
    match command {
        SigningKeyCommand::Rotate {
            algorithm,
            overlap_hours,
            if_none,
        } => {
            if if_none && signing_keys::load_key_ring(&store, now).await?.is_some() {
                eprintln!("a current signing key exists; nothing to do");
                return Ok(ExitCode::SUCCESS);
            }
            let algorithm = SigningAlgorithm::from_jws_name(
                algorithm.as_deref().unwrap_or(&settings.tokens.algorithm),
            )
            .context("--algorithm must be EdDSA or ES256")?;
            let hours = overlap_hours.unwrap_or(settings.tokens.rotation_overlap_hours);
            let key = signing_keys::rotate_signing_key(
                &store,
                algorithm,
                Duration::from_secs(hours * 3600),
                now,
            )
            .await?;
            eprintln!(
                "new current signing key {} ({}); previous keys retire in {hours} h",
                key.kid().as_str(),
                algorithm.as_str()
            );
            println!("{}", key.kid().as_str());
        }
        SigningKeyCommand::List => {
            for key in store.active_signing_keys(now).await? {
                let retires = key
                    .retire_at
                    .map_or_else(|| "current".to_owned(), |at| format!("retires {at}"));
                println!(
                    "{}\t{}\t{}\t{retires}",
                    key.kid, key.algorithm, key.created_at
                );
            }
        }
        SigningKeyCommand::Purge => {
            for kid in store.purge_retired_signing_keys(now).await? {
                println!("{kid}");
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

fn write_secret_file(path: &std::path::Path, secret: &str) -> anyhow::Result<()> {
    use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{secret}")?;
    Ok(())
}

async fn healthcheck(settings: &Settings, url: Option<String>) -> anyhow::Result<ExitCode> {
    let url = url.unwrap_or_else(|| {
        let host = match settings.server.host.as_str() {
            "0.0.0.0" | "::" => "127.0.0.1",
            host => host,
        };
        format!("http://{host}:{}/readyz", settings.server.port)
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(response) => {
            let status = response.status();
            eprintln!(
                "{url}: {status} {}",
                response.text().await.unwrap_or_default()
            );
            Ok(ExitCode::FAILURE)
        }
        Err(error) => {
            eprintln!("{url}: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
