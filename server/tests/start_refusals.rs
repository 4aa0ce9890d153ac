//! A server that cannot do what its flags ask refuses to start, with one line saying what
//! to fix.

use std::{path::PathBuf, process::Command};

fn folder(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peercall-start-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the server with `args` (and `env`); it must exit at once with status 2 and one
/// line on standard error containing every one of `hints`.
fn refused(args: &[&str], env: &[(&str, &str)], hints: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_peercall-server"))
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env_remove("PEERCALL_TURN_SECRET")
        .env_remove("PEERCALL_AUTH_SECRET")
        .env_remove("PEERCALL_RESUME_SECRET")
        .envs(env.iter().copied())
        .output()
        .expect("the server runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    for hint in hints {
        assert!(stderr.contains(hint), "{args:?}: {stderr:?} lacks {hint:?}");
    }
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("listening on"),
        "it never listened"
    );
}

#[test]
fn bad_tls_files_and_turn_secrets_stop_the_server_at_start() {
    let dir = folder("tls");
    let path = |name: &str| dir.join(name).display().to_string();
    let one = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), one.cert.pem()).unwrap();
    std::fs::write(dir.join("other-key.pem"), other.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("not-pem.pem"), "hello").unwrap();
    std::fs::write(dir.join("short-secret"), "too short\n").unwrap();

    let (cert, missing) = (path("cert.pem"), path("missing.pem"));
    refused(
        &["--tls-cert", &missing, "--tls-key", &path("other-key.pem")],
        &[],
        &["cannot read the TLS certificate", &missing],
    );
    refused(
        &["--tls-cert", &cert, "--tls-key", &missing],
        &[],
        &["cannot read the TLS key", &missing],
    );
    refused(
        &[
            "--tls-cert",
            &path("not-pem.pem"),
            "--tls-key",
            &path("other-key.pem"),
        ],
        &[],
        &["holds no certificate"],
    );
    refused(
        &["--tls-cert", &cert, "--tls-key", &path("other-key.pem")],
        &[],
        &["does not belong to the certificate", &cert],
    );
    refused(
        &["--turn-url", "turn:turn.peercall.test"],
        &[],
        &["--turn-secret-file", "PEERCALL_TURN_SECRET"],
    );
    refused(
        &[
            "--turn-url",
            "turn:turn.peercall.test",
            "--turn-secret-file",
            &path("short-secret"),
        ],
        &[],
        &["9 bytes", "at least 32"],
    );
    refused(
        &["--turn-url", "turn:turn.peercall.test"],
        &[("PEERCALL_TURN_SECRET", "short")],
        &["5 bytes"],
    );
    refused(
        &[
            "--turn-url",
            "turn:turn.peercall.test",
            "--turn-secret-file",
            &path("absent"),
        ],
        &[],
        &["cannot read the TURN secret file"],
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn short_token_and_resume_secrets_stop_the_server_at_start() {
    let dir = folder("secrets");
    let short = dir.join("short");
    std::fs::write(&short, "tiny\n").unwrap();
    let short = short.display().to_string();
    refused(
        &["--auth-secret-file", &short],
        &[],
        &["token secret", "4 bytes", "at least 32"],
    );
    refused(
        &[],
        &[("PEERCALL_AUTH_SECRET", "tiny")],
        &["token secret", "at least 32"],
    );
    refused(
        &["--resume-secret-file", &short],
        &[],
        &["resume key", "at least 32"],
    );
    refused(
        &[],
        &[("PEERCALL_RESUME_SECRET", "tiny")],
        &["resume key", "at least 32"],
    );
    refused(
        &[
            "--auth-secret-file",
            &dir.join("absent").display().to_string(),
        ],
        &[],
        &["cannot read the token secret file"],
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_missing_resume_key_file_is_made_once_and_kept() {
    let dir = folder("resume-key");
    let file = dir.join("resume.key");
    let mut config = peercall_server::Config::with_static_dir(&dir);
    config.resume_secret = None;
    config.resume_secret_file = Some(file.clone());
    peercall_server::Prepared::new(config.clone()).expect("starts");
    let key = std::fs::read_to_string(&file).expect("the key was written");
    assert_eq!(key.trim().len(), 64, "32 random bytes in hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only its owner may read it");
    }
    peercall_server::Prepared::new(config).expect("starts again");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        key,
        "kept, not remade"
    );
    let _ = std::fs::remove_dir_all(dir);
}
