//! A real Kannel on loopback for tests: bearerbox, smsbox and the fake SMSC from `kannel-extras`.
//!
//! [`KannelHarness::start`] writes a `kannel.conf` into a temporary directory with four free
//! loopback ports (admin, box, fake SMSC, sendsms), every listener bound to 127.0.0.1, starts
//! bearerbox, the fake SMSC client `fakesmsc` (which connects to bearerbox and logs every message
//! bearerbox hands it) and smsbox, and waits until the SMSC is online and `sendsms` answers.
//! [`KannelHarness::received`] parses what `fakesmsc` got. [`KannelHarness::stop_kannel`] and
//! [`KannelHarness::start_kannel`] simulate an outage on the same ports.
//!
//! No process outlives the test: each box runs under a small `sh` watchdog that stops it when the
//! test process disappears (even on SIGKILL, when no destructor runs), and dropping the harness
//! stops everything (TERM, then KILL after 5 s). On a panicking test the log tails are printed.
//!
//! [`kannel_binaries`] finds the programs; when they are missing it returns `None` with a printed
//! reason, except under `CI=true`, where a missing Kannel is a failure (CI installs it).

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use url::Url;

/// Where Debian puts the Kannel programs.
const BEARERBOX: &str = "/usr/sbin/bearerbox";
const SMSBOX: &str = "/usr/sbin/smsbox";
const FAKESMSC: &str = "/usr/lib/kannel/test/fakesmsc";

/// How long a box may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The sendsms credentials the harness configures.
pub const USERNAME: &str = "simgate-test";
/// The sendsms password the harness configures.
pub const PASSWORD: &str = "s3cret&pass";
const ADMIN_PASSWORD: &str = "admin-secret";

/// Paths of the three Kannel programs.
#[derive(Debug, Clone)]
pub struct KannelBinaries {
    /// `bearerbox`.
    pub bearerbox: PathBuf,
    /// `smsbox`.
    pub smsbox: PathBuf,
    /// `fakesmsc` (package `kannel-extras`).
    pub fakesmsc: PathBuf,
}

/// The Kannel programs, or `None` after printing why the caller should skip.
///
/// # Panics
/// When a program is missing and `CI=true`: `make test` installs Kannel, so CI must not skip.
pub fn kannel_binaries() -> Option<KannelBinaries> {
    let binaries = KannelBinaries {
        bearerbox: PathBuf::from(BEARERBOX),
        smsbox: PathBuf::from(SMSBOX),
        fakesmsc: PathBuf::from(FAKESMSC),
    };
    let missing: Vec<&Path> = [&binaries.bearerbox, &binaries.smsbox, &binaries.fakesmsc]
        .into_iter()
        .map(PathBuf::as_path)
        .filter(|path| !path.is_file())
        .collect();
    if missing.is_empty() {
        return Some(binaries);
    }
    let reason = format!(
        "Kannel not installed ({} missing); install the Debian packages kannel and \
         kannel-extras (scripts/setup.sh does)",
        missing
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("CI=true and {reason}");
    }
    eprintln!("skipping Kannel test: {reason}");
    None
}

/// One message the fake SMSC received from bearerbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSmscMessage {
    /// Sender (`from`).
    pub from: String,
    /// Recipient as Kannel passed it on.
    pub to: String,
    /// The text, decoded from Kannel's `text` / `ucs-2` / `data` encodings.
    pub text: String,
}

#[derive(Debug, Clone, Copy)]
struct Ports {
    admin: u16,
    boxes: u16,
    smsc: u16,
    sendsms: u16,
}

/// A running box under its watchdog.
#[derive(Debug)]
struct Running {
    name: &'static str,
    child: Child,
}

/// Kannel on loopback with a fake SMSC; everything stops when dropped.
#[derive(Debug)]
pub struct KannelHarness {
    binaries: KannelBinaries,
    dir: tempfile::TempDir,
    ports: Ports,
    running: Vec<Running>,
    starts: u32,
}

impl KannelHarness {
    /// Writes the configuration and starts bearerbox, fakesmsc and smsbox; waits until ready.
    pub fn start(binaries: KannelBinaries) -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("simgate-kannel-")
            .tempdir()?;
        let ports = free_ports()?;
        let mut harness = Self {
            binaries,
            dir,
            ports,
            running: Vec::new(),
            starts: 0,
        };
        fs::write(harness.config_path(), harness.config())?;
        harness.start_kannel()?;
        Ok(harness)
    }

    /// The smsbox `sendsms` URL.
    pub fn sendsms_url(&self) -> Url {
        let raw = format!("http://127.0.0.1:{}/cgi-bin/sendsms", self.ports.sendsms);
        Url::parse(&raw).unwrap_or_else(|e| unreachable!("{raw} is a URL: {e}"))
    }

    /// The temporary directory holding configuration and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts (again) bearerbox, fakesmsc and smsbox on the configured ports and waits until the
    /// fake SMSC is online and `sendsms` accepts connections.
    pub fn start_kannel(&mut self) -> io::Result<()> {
        if !self.running.is_empty() {
            return Ok(());
        }
        self.starts += 1;
        let config = self.config_path();
        let bearerbox = self.spawn(
            "bearerbox",
            &self.binaries.bearerbox.clone(),
            &[config.as_os_str().to_owned()],
        )?;
        self.running.push(bearerbox);
        self.wait_until("bearerbox admin interface", |h| h.admin_status().is_some())?;

        let fakesmsc_args = [
            "-H".into(),
            "127.0.0.1".into(),
            "-r".into(),
            self.ports.smsc.to_string().into(),
            "-m".into(),
            "0".into(),
            // fakesmsc needs a message template even when told to send none (-m 0).
            "0000 0000 text unused".into(),
        ];
        // fakesmsc gives up at once if bearerbox's SMSC listener is not up yet: start it again.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let mut fakesmsc =
                self.spawn("fakesmsc", &self.binaries.fakesmsc.clone(), &fakesmsc_args)?;
            let attempt_until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < attempt_until
                && fakesmsc.child.try_wait()?.is_none()
                && !self.smsc_online()
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            if self.smsc_online() {
                self.running.push(fakesmsc);
                break;
            }
            stop(&mut fakesmsc);
            if Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "the fake SMSC did not come online within {START_TIMEOUT:?}; logs in {}",
                    self.dir.path().display()
                )));
            }
        }

        let smsbox = self.spawn(
            "smsbox",
            &self.binaries.smsbox.clone(),
            &[config.as_os_str().to_owned()],
        )?;
        self.running.push(smsbox);
        let sendsms = SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports.sendsms));
        self.wait_until("smsbox sendsms port", |h| {
            h.admin_status()
                .is_some_and(|s| !s.contains("No boxes connected"))
                && TcpStream::connect_timeout(&sendsms, Duration::from_millis(200)).is_ok()
        })
    }

    /// Stops smsbox, fakesmsc and bearerbox (an outage: `sendsms` refuses connections).
    pub fn stop_kannel(&mut self) {
        // smsbox first, so no request is half-accepted while bearerbox goes away.
        self.running.sort_by_key(|r| match r.name {
            "smsbox" => 0,
            "fakesmsc" => 1,
            _ => 2,
        });
        for mut running in std::mem::take(&mut self.running) {
            stop(&mut running);
        }
    }

    /// Every message the fake SMSC has received so far, across restarts, oldest first.
    pub fn received(&self) -> Vec<FakeSmscMessage> {
        (1..=self.starts)
            .filter_map(|n| fs::read_to_string(self.log_path("fakesmsc", n)).ok())
            .flat_map(|log| {
                log.lines()
                    .filter_map(parse_fakesmsc_line)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Waits until the fake SMSC has received at least `count` messages, then returns them all.
    pub fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<FakeSmscMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() >= deadline {
                return received;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("kannel.conf")
    }

    fn log_path(&self, name: &str, start: u32) -> PathBuf {
        self.dir.path().join(format!("{name}-{start}.log"))
    }

    fn config(&self) -> String {
        let dir = self.dir.path().display();
        let Ports {
            admin,
            boxes,
            smsc,
            sendsms,
        } = self.ports;
        format!(
            r#"# Written by simgate's Kannel test harness: loopback only, throw-away.
group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = {ADMIN_PASSWORD}
admin-allow-ip = "127.0.0.1"
smsbox-port = {boxes}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
box-deny-ip = "*.*.*.*"
log-file = "{dir}/bearerbox-core.log"
log-level = 1
dlr-storage = internal
store-type = file
store-location = "{dir}/bearerbox.store"

group = smsc
smsc = fake
smsc-id = fake
port = {smsc}
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {boxes}
sendsms-port = {sendsms}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox-core.log"
log-level = 1

group = sendsms-user
username = {USERNAME}
password = "{PASSWORD}"
user-deny-ip = "*.*.*.*"
user-allow-ip = "127.0.0.1"
max-messages = 3
concatenation = true
"#
        )
    }

    /// Starts `program` under a watchdog shell that ends it when this test process is gone.
    fn spawn(
        &self,
        name: &'static str,
        program: &Path,
        args: &[std::ffi::OsString],
    ) -> io::Result<Running> {
        let log = fs::File::create(self.log_path(name, self.starts))?;
        // $1 = owner pid, $2 = program, rest = its arguments. TERM to the shell stops the program
        // (KILL after 5 s); the loop stops it when the owner (the test process) has exited.
        let watchdog = r#"owner=$1; shift
"$@" & child=$!
finish() {
    kill -TERM "$child" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        kill -0 "$child" 2>/dev/null || break
        sleep 0.25
    done
    kill -KILL "$child" 2>/dev/null
    wait "$child" 2>/dev/null
    exit 0
}
trap finish TERM INT HUP
while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do
    sleep 0.2
done
finish"#;
        let child = Command::new("sh")
            .arg("-c")
            .arg(watchdog)
            .arg("kannel-watchdog")
            .arg(std::process::id().to_string())
            .arg(program)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(Running { name, child })
    }

    fn wait_until(&mut self, what: &str, ready: impl Fn(&Self) -> bool) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if ready(self) {
                return Ok(());
            }
            for running in &mut self.running {
                if let Some(status) = running.child.try_wait()? {
                    return Err(io::Error::other(format!(
                        "{} exited ({status}) while waiting for {what}; logs in {}",
                        running.name,
                        self.dir.path().display()
                    )));
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(io::Error::other(format!(
            "timed out after {START_TIMEOUT:?} waiting for {what}; logs in {}",
            self.dir.path().display()
        )))
    }

    /// Whether bearerbox reports the fake SMSC connection online.
    fn smsc_online(&self) -> bool {
        self.admin_status()
            .is_some_and(|status| status.contains("(online"))
    }

    /// bearerbox's `status.txt`, if the admin interface answers.
    fn admin_status(&self) -> Option<String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.ports.admin));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        write!(
            stream,
            "GET /status.txt?password={ADMIN_PASSWORD} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        answer.starts_with("HTTP/1.").then_some(answer)
    }

    fn print_log_tails(&self) {
        let Ok(entries) = fs::read_dir(self.dir.path()) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = fs::read_to_string(&path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(15)..].join("\n");
                eprintln!("---- {} (last lines)\n{tail}", path.display());
            }
        }
    }
}

impl Drop for KannelHarness {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_log_tails();
        }
        self.stop_kannel();
    }
}

/// Stops one box: TERM to its watchdog (which stops the box), KILL if it takes longer than 10 s.
fn stop(running: &mut Running) {
    if matches!(running.child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &running.child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if matches!(running.child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = running.child.kill();
    let _ = running.child.wait();
}

/// Four distinct free loopback ports (held together while choosing, so they differ).
fn free_ports() -> io::Result<Ports> {
    let listeners = (0..4)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()?;
    let port = |i: usize| -> io::Result<u16> { Ok(listeners[i].local_addr()?.port()) };
    Ok(Ports {
        admin: port(0)?,
        boxes: port(1)?,
        smsc: port(2)?,
        sendsms: port(3)?,
    })
}

/// Parses fakesmsc's `Got message N: <from to type data>` log line.
fn parse_fakesmsc_line(line: &str) -> Option<FakeSmscMessage> {
    let (_, rest) = line.split_once("Got message ")?;
    let (_, rest) = rest.split_once(": <")?;
    let body = rest.strip_suffix('>')?;
    let mut parts = body.splitn(4, ' ');
    let from = parts.next()?.to_owned();
    let to = parts.next()?.to_owned();
    let kind = parts.next()?;
    let data = parts.next().unwrap_or_default();
    let text = match kind {
        "text" => data.to_owned(),
        "ucs-2" | "ucs2" => {
            let bytes = url_decode(data);
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(&url_decode(data)).into_owned(),
    };
    Some(FakeSmscMessage { from, to, text })
}

/// Decodes Kannel's URL encoding (`+` is a space, `%XX` a byte) into raw bytes.
fn url_decode(data: &str) -> Vec<u8> {
    let bytes = data.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_byte = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[i], hex_byte) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (b'+', _) => {
                decoded.push(b' ');
                i += 1;
            }
            (other, _) => {
                decoded.push(other);
                i += 1;
            }
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fakesmsc_lines_decode_text_and_ucs2() {
        let text = "2026-11-26 00:56:14 [10273] [0] DEBUG: Got message 1: <Simgate +33612345678 text 123456 est votre code de vérification>";
        assert_eq!(
            parse_fakesmsc_line(text),
            Some(FakeSmscMessage {
                from: "Simgate".into(),
                to: "+33612345678".into(),
                text: "123456 est votre code de vérification".into(),
            })
        );
        let ucs2 =
            "DEBUG: Got message 2: <Simgate +33612345678 ucs-2 %04%3A%04%3E%044%00+%001%002%003>";
        assert_eq!(parse_fakesmsc_line(ucs2).unwrap().text, "код 123");
        assert_eq!(parse_fakesmsc_line("INFO: fakesmsc starting"), None);
    }
}
