//! A private PostgreSQL cluster for tests: Debian's binaries (`initdb`, `pg_ctl` from the
//! `postgresql` package), a temporary directory, a Unix socket only (no TCP port, nothing shared
//! with a system service), stopped and removed when dropped.
//!
//! PostgreSQL refuses to run as root: when the tests run as root, the cluster runs as the
//! `postgres` system user (made by the package) and its directory is handed to that user.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The database role the tests connect as (trusted on the private socket).
const ROLE: &str = "lotse";

/// A running private cluster.
#[derive(Debug)]
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    next: AtomicUsize,
}

/// The newest installed PostgreSQL's binaries (`/usr/lib/postgresql/N/bin`).
fn bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(root)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .unwrap_or_else(|| {
            panic!(
                "no PostgreSQL under {} (scripts/deps.sh installs it)",
                root.display()
            )
        });
    root.join(newest.to_string()).join("bin")
}

impl Postgres {
    /// Makes and starts a cluster; waits until it accepts connections.
    pub fn start() -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("lotse-pg")
            .tempdir()
            .expect("a temporary directory");
        // SAFETY: geteuid has no preconditions.
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            crate::run_ok(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let pg = Postgres {
            dir,
            bin: bin_dir(),
            as_postgres,
            next: AtomicUsize::new(0),
        };
        let data = pg.dir.path().join("data");
        pg.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                ROLE.as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        // Socket in the cluster's own directory; no TCP; durability not needed for tests.
        let opts = format!(
            "-k {} -c listen_addresses='' -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            pg.dir.path().display()
        );
        let log = pg.dir.path().join("server.log");
        pg.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                opts.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        );
        pg
    }

    /// One of the cluster's programs, to run as `postgres` when the tests run as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--clear-groups",
                "--",
            ])
            .arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.current_dir(self.dir.path());
        cmd
    }

    /// Runs one of the cluster's programs; its output.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> String {
        crate::run_ok(self.command(program).args(args))
    }

    /// The directory of the cluster's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql:///{db}?user={ROLE}&host={}",
            self.socket_dir().display()
        )
    }

    /// Runs `sql` in database `db` with `psql`; its output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let psql = self.bin.join("psql");
        crate::run_ok(
            Command::new(psql)
                .arg("-X")
                .arg("-q")
                .arg("-A")
                .arg("-t")
                .arg("-v")
                .arg("ON_ERROR_STOP=1")
                .arg("-h")
                .arg(self.socket_dir())
                .arg("-U")
                .arg(ROLE)
                .arg("-d")
                .arg(db)
                .arg("-c")
                .arg(sql),
        )
    }

    /// A new empty database; its URL.
    pub fn new_database(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("lotse_{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        // Immediate: a test's cluster holds nothing worth a clean shutdown.
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The PostgreSQL database for a test relay when the suite runs on PostgreSQL
/// (`LOTSE_TEST_POSTGRES` names a running cluster's socket directory, as `scripts/test` sets it
/// for its second pass); `None`: SQLite, the default.
pub fn test_database() -> Option<String> {
    let socket = std::env::var_os("LOTSE_TEST_POSTGRES")?;
    let socket = PathBuf::from(socket);
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!("lotse_{}_{n}_{nanos}", std::process::id());
    let psql = bin_dir().join("psql");
    crate::run_ok(
        Command::new(psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&socket)
            .args(["-U", ROLE, "-d", "postgres", "-c"])
            .arg(format!("CREATE DATABASE {name}")),
    );
    Some(format!(
        "postgresql:///{name}?user={ROLE}&host={}",
        socket.display()
    ))
}

/// When the suite runs on PostgreSQL (`LOTSE_TEST_POSTGRES`), binds the relay data directory
/// `data` to a new database of the suite's cluster before any `lotse-relay` command uses it:
/// writes the directory's `database.url`, which every command given `--data` follows. Does
/// nothing on SQLite, or for a directory already in use.
pub fn bind_data_dir(data: &Path) {
    if data.join("lotse.db").exists() || data.join("database.url").exists() {
        return;
    }
    let Some(url) = test_database() else {
        return;
    };
    let made = std::fs::create_dir_all(data).and_then(|()| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))?;
        std::fs::write(data.join("database.url"), format!("{url}\n"))?;
        std::fs::set_permissions(
            data.join("database.url"),
            std::fs::Permissions::from_mode(0o600),
        )
    });
    if let Err(e) = made {
        panic!("cannot bind {} to {url}: {e}", data.display());
    }
}

/// Makes `to` (a new relay data directory) a second relay of the installation whose first relay
/// keeps its data in `from`: the secrets every relay of one database shares (identity, audit
/// key, lookup key) are copied, as an administrator does.
pub fn copy_installation_secrets(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("cannot make {}: {e}", to.display()));
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700));
    }
    for file in ["relay-cert.der", "relay-key.der", "audit.key", "lookup.key"] {
        std::fs::copy(from.join(file), to.join(file))
            .unwrap_or_else(|e| panic!("cannot copy {file} to {}: {e}", to.display()));
    }
}
