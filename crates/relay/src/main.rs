//! `lotse-relay`: serve, show the pin, manage reps, verify the audit log.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use lotse_relay::identity;
use lotse_relay::settings::Settings;
use lotse_relay::store::{AccountChange, Role, Store, StoreError};
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "lotse-relay",
    version,
    about = "The Lotse relay: the organisation's own meeting point for customers and supporters"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Serve customers and reps over QUIC until SIGINT/SIGTERM. Settings come from the flags,
    /// from `--config FILE`, or both (a flag wins over the file).
    Serve {
        /// The settings file (TOML; the keys are the flags' names with `_`, the portal's in a
        /// `[portal]` table — see `lotse-relay check-config`).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Check a settings file: every key known, every value valid, the files it names readable.
    /// Prints the effective settings; exits non-zero with the reason (and line) otherwise.
    CheckConfig {
        /// The settings file.
        file: PathBuf,
    },
    /// Write a backup of the data directory into one file, while the relay serves: a snapshot
    /// of the database taken under the audit lock, with the keys and the audit anchor.
    Backup {
        #[arg(long)]
        data: PathBuf,
        /// The backup file to write (mode 0600; replaced only once complete).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restore a backup into a new data directory; its audit chain is verified before the
    /// directory is put in place.
    Restore {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The data directory to create (must not exist or be empty).
        #[arg(long)]
        data: PathBuf,
    },
    /// Print the relay's key pin (sha256//…), for the client and rep configuration.
    Pin {
        #[arg(long)]
        data: PathBuf,
    },
    /// Stamp this relay's pin into a client build in place, for an organisation that signs its
    /// Windows build (Authenticode): stamp first, then sign, then put the file into the clients
    /// directory. The portal cannot stamp a signed build without breaking its signature.
    Stamp {
        #[arg(long)]
        data: PathBuf,
        /// The client build (e.g. lotse-windows-x86_64.exe).
        file: PathBuf,
    },
    /// Drain this relay (while it serves): new customers are turned away to the next relay
    /// their download names (several relays on one database), sessions here go on, and the
    /// portal hands out downloads for the other relays. `--stop` takes new customers again.
    /// Takes effect within two seconds.
    Drain {
        #[arg(long)]
        data: PathBuf,
        /// Take new customers again.
        #[arg(long)]
        stop: bool,
    },
    /// Manage rep accounts.
    Rep {
        #[command(subcommand)]
        cmd: RepCmd,
    },
    /// Work with the audit log.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Manage security profiles: what a colleague or an external supporter invited into a
    /// session may ask the customer for (the customer is still asked for every tier).
    Profile {
        #[command(subcommand)]
        cmd: ProfileCmd,
    },
    /// Settings that can change while the relay serves (key_lifetime in seconds,
    /// external_licences, second_factor_for_reps): they override the settings file's and take
    /// effect within seconds; the administrators' pages change the same.
    Setting {
        #[command(subcommand)]
        cmd: SettingCmd,
    },
}

#[derive(Subcommand, Debug)]
enum SettingCmd {
    /// The values set at run time.
    List {
        #[arg(long)]
        data: PathBuf,
    },
    /// Set one (e.g. `setting set external_licences 10`).
    Set {
        key: String,
        value: String,
        #[arg(long)]
        data: PathBuf,
    },
    /// Back to the settings file's value.
    Reset {
        key: String,
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum ProfileCmd {
    /// Add a profile, or replace the one of the same name.
    Add {
        /// The profile's name (what reps choose).
        name: String,
        #[arg(long)]
        data: PathBuf,
        /// What the holder may ask for or do, comma-separated: view, control, clipboard,
        /// files-upload, files-download (files: both), sysinfo, chat; `none` for nothing.
        #[arg(long, value_name = "LIST")]
        allows: String,
        /// The full description reps see, in German.
        #[arg(long, value_name = "TEXT")]
        description_de: String,
        /// The full description reps see, in English.
        #[arg(long, value_name = "TEXT")]
        description_en: String,
        /// Who it is offered for: colleagues, externals or both.
        #[arg(long = "for", value_name = "colleagues|externals|both")]
        usable_for: String,
    },
    /// List the profiles.
    List {
        #[arg(long)]
        data: PathBuf,
    },
    /// Show one profile in full.
    Show {
        name: String,
        #[arg(long)]
        data: PathBuf,
    },
    /// Remove a profile (sessions joined with it keep its limits until they end).
    Remove {
        name: String,
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum RepCmd {
    /// Add a rep; the password is read from the first line of standard input.
    Add {
        /// Login name.
        name: String,
        #[arg(long)]
        data: PathBuf,
        /// Name shown to customers (defaults to the login name).
        #[arg(long)]
        display_name: Option<String>,
        /// `rep`, or `admin` (administers the relay on the portal; must set up a second
        /// factor at the first login there).
        #[arg(long, default_value = "rep", value_parser = ["rep", "admin"])]
        role: String,
    },
    /// Disable an account: it cannot log in, and its live consoles are dropped within seconds.
    Disable {
        name: String,
        #[arg(long)]
        data: PathBuf,
    },
    /// Enable a disabled account again.
    Enable {
        name: String,
        #[arg(long)]
        data: PathBuf,
    },
    /// Set a new password (first line of standard input); the account's portal sessions and
    /// console tickets are void.
    ResetPassword {
        name: String,
        #[arg(long)]
        data: PathBuf,
    },
    /// Remove the account's second factor (a lost phone): it sets one up again at its next
    /// login on the portal; its portal sessions and console tickets are void.
    ResetSecondFactor {
        name: String,
        #[arg(long)]
        data: PathBuf,
    },
    /// Set what an account may do beyond its own customers (flags not given stay as they
    /// are; takes effect at the rep's next login).
    Set {
        name: String,
        #[arg(long)]
        data: PathBuf,
        /// Invite colleagues into sessions it owns.
        #[arg(long, value_name = "true|false")]
        may_share: Option<bool>,
        /// Hand sessions it owns to a colleague's queue.
        #[arg(long, value_name = "true|false")]
        may_transfer: Option<bool>,
        /// Invite external supporters (who have no account).
        #[arg(long, value_name = "true|false", num_args = 0..=1, default_missing_value = "true")]
        may_invite_externals: Option<bool>,
        /// `rep` or `admin`.
        #[arg(long, value_parser = ["rep", "admin"])]
        role: Option<String>,
        /// The name customers see.
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Show an account's name and permissions.
    Show {
        name: String,
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Check the keyed chain and its anchor (audit.head): prints the count, the head and the
    /// time of the last entry, or names the first bad entry or the truncation.
    Verify {
        #[arg(long)]
        data: PathBuf,
    },
    /// Retention by hand (the relay does it hourly with `audit_retention_days`): removes the
    /// entries older than the given age — never the newest — and audits the removal with the
    /// chain head at that moment. Refused if the chain does not verify.
    Prune {
        #[arg(long)]
        data: PathBuf,
        /// Remove entries written more than DAYS days ago.
        #[arg(
            long,
            value_name = "DAYS",
            required_unless_present = "before",
            conflicts_with = "before"
        )]
        older_than_days: Option<u32>,
        /// Remove entries written before this time (Unix seconds).
        #[arg(long, value_name = "UNIX")]
        before: Option<i64>,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve { config, settings } => {
            let file = match &config {
                Some(path) => Settings::load(path)?,
                None => Settings::default(),
            };
            let cfg = settings.over(file).config()?;
            let relay = lotse_relay::start(cfg).await?;
            // The one line scripts and admins look for.
            #[allow(clippy::print_stdout)]
            {
                println!("listening on {} pin {}", relay.addr, relay.pin);
                if let Some(p) = &relay.portal {
                    // A second line only with --portal, so the first stays as it was.
                    println!("portal on https://{} tls-pin {}", p.addr, p.tls_pin);
                }
                if let Some(m) = &relay.metrics {
                    println!("metrics on http://{}/metrics", m.addr);
                }
            }
            std::io::stdout().flush()?;
            wait_for_signal().await?;
            tracing::info!("stopping");
            relay.shutdown().await;
        }
        Cmd::CheckConfig { file } => {
            let cfg = Settings::load(&file)?.config()?;
            #[allow(clippy::print_stdout)]
            {
                println!("{} is valid:", file.display());
                println!("  data {}", cfg.data.display());
                match &cfg.database {
                    Some(_) => {
                        println!("  database PostgreSQL (shared by the installation's relays)")
                    }
                    None => println!("  database SQLite in the data directory"),
                }
                println!("  listen {} (UDP)", cfg.listen);
                println!("  key_lifetime {} s", cfg.key_lifetime.as_secs());
                println!("  max_file_mib {}", cfg.max_file_size / (1024 * 1024));
                println!("  max_clipboard_kib {}", cfg.max_clipboard / 1024);
                println!(
                    "  max_connections {} ({} per address)",
                    cfg.max_connections, cfg.max_connections_per_address
                );
                match &cfg.portal {
                    Some(p) => println!(
                        "  portal https on {}{}",
                        p.listen,
                        if p.tls.is_some() {
                            ""
                        } else {
                            " (self-signed certificate)"
                        }
                    ),
                    None => println!("  portal off"),
                }
                match cfg.metrics {
                    Some(a) => println!("  metrics on http://{a}/metrics"),
                    None => println!("  metrics off"),
                }
                match cfg.audit_retention {
                    Some(d) => println!("  audit_retention_days {}", d.as_secs() / 86_400),
                    None => println!("  audit log kept for ever"),
                }
                println!("  external_licences {}", cfg.external_licences);
                println!("  second_factor_for_reps {}", cfg.second_factor_for_reps);
                println!("  owner_grace {} s", cfg.owner_grace.as_secs_f64());
                for p in &cfg.profiles {
                    println!("  profile {}", profile_line(p));
                }
            }
        }
        Cmd::Drain { data, stop } => {
            open_existing(&data).await?;
            let file = data.join(lotse_relay::DRAIN_FILE);
            if stop {
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => bail!("cannot remove {}: {e}", file.display()),
                }
                eprintln!("{} takes new customers again (within 2 s)", data.display());
            } else {
                lotse_relay::fsutil::create_private_file(&file)
                    .with_context(|| format!("cannot create {}", file.display()))?;
                eprintln!(
                    "{} is draining (within 2 s): new customers go to the other relays, sessions \
                     here go on; `lotse-relay drain --stop` ends it",
                    data.display()
                );
            }
        }
        Cmd::Backup { data, to } => {
            if data.join(lotse_relay::store::DATABASE_FILE).is_file() {
                bail!(StoreError::SqliteOnly("backup"));
            }
            if !data.join("lotse.db").is_file() {
                bail!("{} holds no relay data (no lotse.db)", data.display());
            }
            let store = Store::open(&data).await?;
            let done = lotse_relay::backup::backup(&store, &to).await?;
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "backup {}: {} files, audit entries {}, head {}",
                    to.display(),
                    done.files.len(),
                    done.audit_entries,
                    done.audit_head
                );
            }
        }
        Cmd::Restore { from, data } => {
            let done = lotse_relay::backup::restore(&from, &data).await?;
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "restored into {}: {} files, audit chain verified, entries {}, head {}",
                    data.display(),
                    done.files.len(),
                    done.audit_entries,
                    done.audit_head
                );
            }
        }
        Cmd::Pin { data } => {
            let pin = identity::pin(&data)?;
            #[allow(clippy::print_stdout)]
            {
                println!("{pin}");
            }
        }
        Cmd::Stamp { data, file } => {
            let ident = identity::load_or_create(&data)?;
            let signer = lotse_bundle::Signer::from_pkcs8(&ident.key_der)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            lotse_bundle::stamp(&mut bytes, &signer.pin())
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            std::fs::write(&file, &bytes)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
            #[allow(clippy::print_stdout)]
            {
                println!("{} stamped for {}", file.display(), signer.pin_string());
            }
        }
        Cmd::Rep {
            cmd:
                RepCmd::Add {
                    name,
                    data,
                    display_name,
                    role,
                },
        } => {
            let name = name.trim().to_owned();
            if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
                bail!("a rep name must be 1 to 64 printable characters");
            }
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 8 {
                bail!("the password must have at least 8 characters");
            }
            lotse_relay::fsutil::private_dir(&data)
                .with_context(|| format!("cannot use the data directory {}", data.display()))?;
            let store = Store::open(&data).await?;
            let display = display_name.unwrap_or_else(|| name.clone());
            let now = unix_now();
            // Audited in the same transaction: no audit entry, no rep.
            store.add_rep(&name, &display, password, now).await?;
            let role = Role::parse(&role).unwrap_or(Role::Rep);
            if role != Role::Rep {
                store
                    .change_account(&name, AccountChange::Role(role), "admin:cli", now)
                    .await?;
            }
            eprintln!("{} {name:?} added", role.as_str());
        }
        Cmd::Rep {
            cmd:
                RepCmd::Set {
                    name,
                    data,
                    may_share,
                    may_transfer,
                    may_invite_externals,
                    role,
                    display_name,
                },
        } => {
            let store = open_existing(&data).await?;
            let Some(rec) = store.rep_by_name(&name).await? else {
                bail!("no rep named {name:?}");
            };
            let mut p = rec.permissions;
            p.share = may_share.unwrap_or(p.share);
            p.transfer = may_transfer.unwrap_or(p.transfer);
            p.invite_externals = may_invite_externals.unwrap_or(p.invite_externals);
            if !store
                .set_permissions(&name, p, "admin:cli", unix_now())
                .await?
            {
                bail!("no rep named {name:?}");
            }
            if let Some(role) = role.as_deref().and_then(Role::parse) {
                store
                    .change_account(&name, AccountChange::Role(role), "admin:cli", unix_now())
                    .await?;
            }
            if let Some(d) = display_name {
                let d = d.trim().to_owned();
                if d.is_empty() || d.chars().count() > 64 || d.chars().any(char::is_control) {
                    bail!("a display name must be 1 to 64 printable characters");
                }
                store
                    .change_account(
                        &name,
                        AccountChange::DisplayName(d),
                        "admin:cli",
                        unix_now(),
                    )
                    .await?;
            }
            #[allow(clippy::print_stdout)]
            {
                println!("{}", permissions_line(&name, &p));
            }
        }
        Cmd::Rep {
            cmd: RepCmd::Show { name, data },
        } => {
            let store = open_existing(&data).await?;
            let Some(rec) = store.rep_by_name(&name).await? else {
                bail!("no rep named {name:?}");
            };
            #[allow(clippy::print_stdout)]
            {
                println!(
                    "{} display_name={:?} role={} disabled={} second_factor={}",
                    permissions_line(&name, &rec.permissions),
                    rec.display_name,
                    rec.role.as_str(),
                    rec.disabled,
                    rec.totp_secret.is_some()
                );
            }
        }
        Cmd::Rep {
            cmd:
                cmd @ (RepCmd::Disable { .. }
                | RepCmd::Enable { .. }
                | RepCmd::ResetPassword { .. }
                | RepCmd::ResetSecondFactor { .. }),
        } => account_cmd(cmd).await?,
        Cmd::Profile { cmd } => profile_cmd(cmd).await?,
        Cmd::Setting { cmd } => setting_cmd(cmd).await?,
        Cmd::Audit {
            cmd: AuditCmd::Verify { data },
        } => {
            let store = Store::open(&data).await?;
            match store.verify_audit().await {
                Ok(v) => {
                    #[allow(clippy::print_stdout)]
                    {
                        print!("{}", v.report());
                    }
                }
                Err(e @ (StoreError::Chain(_) | StoreError::Anchor(_))) => {
                    bail!("audit log damaged: {e}")
                }
                Err(e) => return Err(e.into()),
            }
        }
        Cmd::Audit {
            cmd:
                AuditCmd::Prune {
                    data,
                    older_than_days,
                    before,
                },
        } => {
            let store = Store::open(&data).await?;
            let now = unix_now();
            let before = match (older_than_days, before) {
                (Some(days), _) => now.saturating_sub(i64::from(days) * 86_400),
                (None, Some(t)) => t,
                (None, None) => bail!("give --older-than-days DAYS or --before UNIX"),
            };
            match store.prune_audit(before, now, "admin").await {
                Ok(Some((from, to))) => eprintln!(
                    "audit entries {from} to {to} (written before {}) removed; the removal is \
                     entry {} of the chain",
                    lotse_proto::utc_text(before),
                    store.audit_head().await?.0
                ),
                Ok(None) => eprintln!(
                    "no audit entry was written before {}: nothing removed",
                    lotse_proto::utc_text(before)
                ),
                Err(e @ (StoreError::Chain(_) | StoreError::Anchor(_))) => {
                    bail!("audit log damaged, nothing removed: {e}")
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Opens the store of an existing data directory (never creates one for a mistyped path).
async fn open_existing(data: &std::path::Path) -> Result<Store> {
    if !data.join("lotse.db").exists() && !data.join(lotse_relay::store::DATABASE_FILE).exists() {
        bail!("{} holds no relay database", data.display());
    }
    Ok(Store::open(data).await?)
}

#[allow(clippy::print_stdout)]
async fn setting_cmd(cmd: SettingCmd) -> Result<()> {
    use lotse_relay::runtime::{Key, Runtime};
    let key_of = |k: &str| {
        Key::parse(k).ok_or_else(|| {
            let names: Vec<&str> = Key::ALL.iter().map(|k| k.as_str()).collect();
            anyhow::anyhow!("no setting {k:?}; say one of {}", names.join(", "))
        })
    };
    match cmd {
        SettingCmd::List { data } => {
            let store = open_existing(&data).await?;
            for (k, v) in store.runtime_settings().await? {
                println!("{k} = {v}");
            }
        }
        SettingCmd::Set { key, value, data } => {
            let key = key_of(&key)?;
            // The same check as the admin page (any base: a value's validity is its own).
            Runtime::from_config(&lotse_relay::Config::new(
                data.clone(),
                "127.0.0.1:0".parse()?,
            ))
            .with(key, &value)?;
            let store = open_existing(&data).await?;
            store
                .set_runtime_setting(key, Some(value.trim()), "admin:cli", unix_now())
                .await?;
            eprintln!(
                "{} = {} (in force within seconds)",
                key.as_str(),
                value.trim()
            );
        }
        SettingCmd::Reset { key, data } => {
            let key = key_of(&key)?;
            let store = open_existing(&data).await?;
            store
                .set_runtime_setting(key, None, "admin:cli", unix_now())
                .await?;
            eprintln!("{}: the settings file's value again", key.as_str());
        }
    }
    Ok(())
}

/// Disabling, enabling and resets: one change each, through the store's audited path (the
/// admin pages use the same).
async fn account_cmd(cmd: RepCmd) -> Result<()> {
    let now = unix_now();
    let (name, data, change, done) = match cmd {
        RepCmd::Disable { name, data } => (name, data, AccountChange::Disabled(true), "disabled"),
        RepCmd::Enable { name, data } => (name, data, AccountChange::Disabled(false), "enabled"),
        RepCmd::ResetPassword { name, data } => {
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 8 {
                bail!("the password must have at least 8 characters");
            }
            let hash = lotse_relay::auth::hash_password(password).map_err(anyhow::Error::msg)?;
            (
                name,
                data,
                AccountChange::Password { hash, now },
                "has a new password",
            )
        }
        RepCmd::ResetSecondFactor { name, data } => (
            name,
            data,
            AccountChange::ResetSecondFactor { now },
            "has no second factor now; it sets one up at its next login on the portal",
        ),
        _ => unreachable!("only account changes come here"),
    };
    let store = open_existing(&data).await?;
    if !store
        .change_account(&name, change, "admin:cli", now)
        .await?
    {
        bail!("no rep named {name:?}");
    }
    eprintln!("{name:?} {done}");
    Ok(())
}

fn permissions_line(name: &str, p: &lotse_proto::profile::Permissions) -> String {
    format!(
        "{name}: may_share={} may_transfer={} may_invite_externals={}",
        p.share, p.transfer, p.invite_externals
    )
}

#[allow(clippy::print_stdout)]
async fn profile_cmd(cmd: ProfileCmd) -> Result<()> {
    use lotse_proto::profile::{Profile, parse_allowances};
    match cmd {
        ProfileCmd::Add {
            name,
            data,
            allows,
            description_de,
            description_en,
            usable_for,
        } => {
            let name = name.trim().to_owned();
            let list = parse_allowances(&allows)?;
            let (for_colleagues, for_externals) = match usable_for.as_str() {
                "colleagues" => (true, false),
                "externals" => (false, true),
                "both" => (true, true),
                other => bail!("--for {other:?}: say colleagues, externals or both"),
            };
            let profile = Profile::checked(
                &name,
                description_de,
                description_en,
                &list,
                for_colleagues,
                for_externals,
            )
            // The flags' names for the descriptions.
            .map_err(|e| {
                anyhow::anyhow!(e.to_string().replacen("description_", "--description-", 1))
            })?;
            let store = open_existing(&data).await?;
            let new = store.put_profile(profile, "admin:cli", unix_now()).await?;
            eprintln!(
                "profile {name:?} {}",
                if new { "added" } else { "replaced" }
            );
        }
        ProfileCmd::List { data } => {
            let store = open_existing(&data).await?;
            for p in store.profiles().await? {
                println!("{}", profile_line(&p));
            }
        }
        ProfileCmd::Show { name, data } => {
            let store = open_existing(&data).await?;
            let Some(p) = store.profile(&name).await? else {
                bail!("no profile named {name:?}");
            };
            println!("{}", profile_line(&p));
            println!("de: {}", p.description_de);
            println!("en: {}", p.description_en);
        }
        ProfileCmd::Remove { name, data } => {
            let store = open_existing(&data).await?;
            if !store.remove_profile(&name, "admin:cli", unix_now()).await? {
                bail!("no profile named {name:?}");
            }
            eprintln!("profile {name:?} removed");
        }
    }
    Ok(())
}

fn profile_line(p: &lotse_proto::profile::Profile) -> String {
    let usable = match (p.for_colleagues, p.for_externals) {
        (true, true) => "both",
        (true, false) => "colleagues",
        (false, true) => "externals",
        (false, false) => "nobody",
    };
    format!("{:?} allows={} for={usable}", p.name, p.limits.summary())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn wait_for_signal() -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}
