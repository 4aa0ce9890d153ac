//! The TURN credentials the server mints are the ones coturn checks: a real coturn
//! (`use-auth-secret`, the same secret) allocates a relay with them, and refuses them once
//! expired or with a wrong password.

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use common::{
    TestServer,
    process::{Running, free_udp_port},
};
use serde_json::{Value, json};

const SECRET: &str = "coturn-and-peercall-share-this-secret-0123";

/// coturn, killed when dropped, and its port.
struct Coturn {
    _process: Running,
    port: u16,
}

/// coturn on loopback, once it listens.
fn coturn(dir: &std::path::Path) -> Coturn {
    let port = free_udp_port();
    // Relay ports right after the listening port, which the system picked.
    let relay = port + 1;
    let config = format!(
        "listening-ip=127.0.0.1\nlistening-port={port}\nrelay-ip=127.0.0.1\n\
         min-port={relay}\nmax-port={}\nrealm=peercall.test\nuse-auth-secret\n\
         static-auth-secret={SECRET}\nfingerprint\nno-tls\nno-dtls\nno-cli\n\
         allow-loopback-peers\nverbose\nlog-file=stdout\npidfile={dir}/turnserver.pid\n\
         userdb={dir}/turndb\n",
        relay + 40,
        dir = dir.display(),
    );
    let path = dir.join("turnserver.conf");
    std::fs::write(&path, config).unwrap();
    // Line-buffered: coturn's log is otherwise held back in a pipe.
    let mut child = Command::new("stdbuf")
        .args([
            "-oL",
            "-eL",
            "turnserver",
            "-c",
            &path.display().to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("coturn's turnserver runs (apt-get install coturn)");
    let stdout = child.stdout.take().unwrap();
    let (ready, listening) = std::sync::mpsc::channel();
    // Its log (verbose: only then does it say when it listens) is read to the end, so that
    // it never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("UDP listener opened") {
                let _ = ready.send(());
            }
        }
    });
    let turn = Coturn {
        _process: Running(child),
        port,
    };
    listening
        .recv_timeout(Duration::from_secs(10))
        .expect("coturn opens its UDP listener");
    turn
}

/// Whether coturn allocates relays for `username` and `password` and relays through them
/// (coturn's own test client, two clients talking through their relays).
fn allocates(turn: &Coturn, username: &str, password: &str) -> bool {
    let output = Command::new("timeout")
        .args(["20", "turnutils_uclient", "-y", "-n", "1", "-m", "1"])
        .args([
            "-p",
            &turn.port.to_string(),
            "-u",
            username,
            "-w",
            password,
            "127.0.0.1",
        ])
        .output()
        .expect("turnutils_uclient runs");
    let log = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let refused = log.contains("Cannot complete Allocation");
    // Its progress lines count what came back so far; the counts they show depend on
    // timing, so the largest is read, not any one value.
    let received = log
        .split("tot_recv_msgs=")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0);
    let relayed = received > 0;
    assert!(refused != relayed, "neither refused nor relayed: {log}");
    relayed
}

fn turn_entry(welcome: &Value) -> (String, String) {
    let turn = &welcome["iceServers"][0];
    (
        turn["username"].as_str().unwrap().to_owned(),
        turn["credential"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn coturn_takes_minted_credentials_and_refuses_expired_or_forged_ones() {
    let dir = std::env::temp_dir().join(format!("peercall-coturn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let turn = coturn(&dir);
    let server = TestServer::start_with(|config| {
        config.turn_urls = vec![format!("turn:127.0.0.1:{}?transport=udp", turn.port)];
        config.turn_secret = Some(SECRET.into());
        config.turn_ttl = 3;
    })
    .await;
    let mut alice = server.client().await;
    let (welcome, _) = alice
        .login_with(json!({"type": "login", "name": "alice"}))
        .await;
    let (username, password) = turn_entry(&welcome);

    let check = |user: String, pass: String| {
        let turn = &turn;
        move || allocates(turn, &user, &pass)
    };
    let accepted = tokio::task::block_in_place(check(username.clone(), password.clone()));
    assert!(accepted, "coturn takes the credentials minted at login");
    let forged = tokio::task::block_in_place(check(
        username.clone(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
    ));
    assert!(!forged, "a wrong password is refused");

    // Once the expiry in the user name has passed, coturn refuses them.
    let expiry: u64 = username.split(':').next().unwrap().parse().unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    tokio::time::sleep(Duration::from_secs(expiry + 1).saturating_sub(now)).await;
    let expired = tokio::task::block_in_place(check(username, password));
    assert!(!expired, "expired credentials are refused");
    drop(alice);
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
