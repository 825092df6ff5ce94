//! What the process-level tests of the `simgate` binary share (`cli.rs`, `faults.rs`): the
//! binary's path, the fixture check, free ports, and one-shot commands run to completion within
//! a time limit by a guard that kills and reaps them even when an assertion fails.

#![allow(dead_code)] // each test binary uses part of it

use std::{
    ffi::OsStr,
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use simgate_biometrics::testing;

/// The `simgate` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_simgate");

/// How long a one-shot command (`migrate`, `api-key ...`, `keys ...`) may take.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// A valid TD3 MRZ (ICAO 9303 specimen data, expiring 2034-12-31) for the document step.
pub const SPECIMEN_MRZ: &str =
    "P<UTOERIKSSON<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<<\nL898902C36UTO9008124F3412318ZE184226B<<<<<16";

/// The labelled photos as (file, subject) pairs.
pub fn photos() -> Vec<(String, String)> {
    testing::labelled_photos()
        .into_iter()
        .map(|p| (p.file, p.subject))
        .collect()
}

/// Fails the test with the `make setup` hint when models or face fixtures are absent.
pub fn require_models_and_fixtures() {
    let _ = testing::engine_config();
    assert_eq!(photos().len(), 6, "fixtures missing: run `make setup`");
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// Kills and reaps the child when dropped, so a failing test leaves no process behind.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.0.try_wait().expect("poll child")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// What a finished one-shot command left behind.
#[derive(Debug)]
pub struct Outcome {
    /// The command line, for messages.
    pub what: String,
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// How long it ran.
    pub elapsed: Duration,
}

impl Outcome {
    /// Fails the test unless the command exited 0.
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.status.success(),
            "`{}` failed with {}\nstdout: {}\nstderr: {}",
            self.what,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Fails the test unless the command exited non-zero, by itself and without a panic.
    pub fn assert_failure(&self) -> &Self {
        assert!(
            !self.status.success(),
            "`{}` should have failed but exited {}\nstdout: {}\nstderr: {}",
            self.what,
            self.status,
            self.stdout,
            self.stderr
        );
        assert!(
            self.status.code().is_some(),
            "`{}` died of a signal instead of exiting: {}\nstderr: {}",
            self.what,
            self.status,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "`{}` panicked:\n{}",
            self.what,
            self.stderr
        );
        self
    }

    /// Its stdout, line by line.
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

fn read_all(mut pipe: impl std::io::Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Runs `command` to completion, killing it (and failing) if it takes longer than `limit`.
pub fn run_bounded(mut command: Command, limit: Duration) -> Outcome {
    let program = Command::get_program(&command)
        .to_os_string()
        .into_string()
        .unwrap_or_default();
    let program = if program == BIN {
        "simgate".to_owned()
    } else {
        program
    };
    let what = std::iter::once(OsStr::new(&program))
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(ChildGuard)
        .unwrap_or_else(|e| panic!("cannot start `{what}`: {e}"));
    let stdout = read_all(child.0.stdout.take().expect("stdout pipe"));
    let stderr = read_all(child.0.stderr.take().expect("stderr pipe"));
    let status = loop {
        if let Some(status) = child.try_wait() {
            break status;
        }
        if started.elapsed() > limit {
            drop(child);
            panic!(
                "`{what}` did not finish within {limit:?}; stderr so far: {}",
                stderr.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        what,
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        elapsed: started.elapsed(),
    }
}
