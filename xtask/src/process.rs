//! Running programs: with the cargo bin folder on PATH, echoed, timed, checked.

use std::{
    env,
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Instant,
};

/// An error that ends the task with a message for the person at the terminal.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root (the folder above `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's home: its registry, and the binaries `cargo install` puts there.
pub fn cargo_home() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
}

/// Where `cargo install` puts binaries.
pub fn cargo_bin() -> PathBuf {
    cargo_home().join("bin")
}

/// Where the embeddable module is built (served at `/pkg`), apart from trunk's `dist/`.
pub fn pkg_dir() -> PathBuf {
    root().join("target/pkg")
}

/// The temporary folder of every program started from here, under `target/`: browsers,
/// drivers and tests that leave files behind (a profile of a killed browser, a test's
/// folder after a failure) leave them there, and each test run empties it.
pub fn scratch() -> PathBuf {
    root().join("target/scratch")
}

/// Where project-local tools from npm live (see `setup`).
pub fn npm_bin() -> PathBuf {
    root().join("target/tools/node_modules/.bin")
}

/// `program` set to run at the workspace root, with the project's npm tools and the cargo
/// bin folder first on PATH so that freshly installed tools are found.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut paths = vec![npm_bin(), cargo_bin()];
    if let Some(path) = env::var_os("PATH") {
        paths.extend(env::split_paths(&path));
    }
    let mut command = Command::new(program);
    if let Ok(path) = env::join_paths(paths) {
        command.env("PATH", path);
    }
    // Every server started from here serves the embeddable module from there.
    command.env("PEERCALL_PKG_DIR", pkg_dir());
    let _ = std::fs::create_dir_all(scratch());
    command.env("TMPDIR", scratch());
    command.current_dir(root());
    command
}

/// `cargo` with the same toolchain that runs this task.
pub fn cargo() -> Command {
    command(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Starts a helper (`what`) that prints `ready ...` as its first line once it can be
/// used, with its input and output piped (closing its input tells it to go); returns it
/// and the words after `ready`.
pub fn spawn_ready(command: &mut Command, what: &str) -> Result<(Child, String)> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot start {what}: {error}"))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line)
            .map_err(|error| format!("{what}: {error}"))?;
    }
    match line.trim().strip_prefix("ready") {
        Some(rest) => Ok((child, rest.trim().to_owned())),
        None => {
            let _ = child.kill();
            Err(format!("{what} did not get ready: {line:?}"))
        }
    }
}

/// Runs `command` to completion, echoing it first; fails unless it succeeds.
pub fn run(command: &mut Command) -> Result {
    let shown = show(command);
    println!("$ {shown}");
    let status = command
        .status()
        .map_err(|error| format!("cannot start `{shown}`: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// The trimmed standard output of `command`, or `None` if it cannot run or fails.
pub fn output(command: &mut Command) -> Option<String> {
    let out = command.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `command` as a person would type it.
pub fn show(command: &Command) -> String {
    let mut shown = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        shown.push(' ');
        shown.push_str(&arg.to_string_lossy());
    }
    shown
}

/// Runs `step`, then says how long it took.
pub fn timed<T>(what: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    println!("==> {what}");
    let result = step();
    let outcome = if result.is_ok() { "done" } else { "FAILED" };
    println!(
        "==> {what}: {outcome} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    result
}

/// Runs `command` in a process group of its own, echoing it first and passing each line of
/// its standard output to `on_line`. Once it ends, whether it passed or not, every process
/// left in its group is killed: the drivers and browsers a test started, even those that
/// outlived their driver.
pub fn run_group(command: &mut Command, mut on_line: impl FnMut(&str)) -> Result {
    use std::{
        io::{BufRead, BufReader},
        os::unix::process::CommandExt,
        sync::mpsc::{RecvTimeoutError, channel},
        time::Duration,
    };
    let shown = show(command);
    println!("$ {shown}");
    let mut child = command
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot start `{shown}`: {error}"))?;
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, lines) = channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(std::io::Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
    }
    let failed = |error: std::io::Error| format!("`{shown}`: {error}");
    let status = loop {
        match lines.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => on_line(&line),
            Err(RecvTimeoutError::Timeout) => {
                if let Some(status) = child.try_wait().map_err(failed)? {
                    break status;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break child.wait().map_err(failed)?,
        }
    };
    // Whatever is left of the group; a browser that outlived its driver holds the pipe.
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(1)) {
        on_line(&line);
    }
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}
