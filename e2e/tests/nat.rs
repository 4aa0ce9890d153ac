//! Two homes, each behind its own NAT router, with no path to each other: a call between
//! them goes through coturn on the public side, with the credentials peercall-server mints,
//! over HTTPS with a self-signed certificate. Without TURN the same call fails, which
//! proves the network leaves no direct path.
//!
//! Runs as root (network namespaces); see `peercall_e2e::network`.

use std::time::Instant;

use fantoccini::Client;
use peercall_e2e::{
    Driver, KEEP_CONNECTIONS, PATIENCE, Person,
    network::{Network, SERVER},
    services::{
        Coturn, PeerCallServer, random_hex, readme_turnserver_conf, server_binary, workdir,
    },
};

/// The public side: peercall-server and, with TURN, coturn.
struct Public {
    server: PeerCallServer,
    _coturn: Option<Coturn>,
}

const TURN_PORT: u16 = 3478;

/// Starts, in `pub`, coturn with the README's `deploy/turnserver.conf` (if `with_turn`)
/// and peercall-server on HTTPS with a self-signed certificate, telling clients about
/// STUN and, with TURN, minting credentials with the same secret.
async fn public_side(network: &Network, dir: &std::path::Path, with_turn: bool) -> Public {
    let secret = random_hex() + &random_hex();
    let secret_file = dir.join("turn-secret");
    std::fs::write(&secret_file, &secret).unwrap();
    let coturn = if with_turn {
        let conf = readme_turnserver_conf()
            .replace(
                "static-auth-secret=CHANGE-ME-the-same-secret-as-PEERCALL_TURN_SECRET",
                &format!("static-auth-secret={secret}"),
            )
            .replace("realm=call.example.org", "realm=peercall.test")
            + &format!(
                "listening-ip={SERVER}\nrelay-ip={SERVER}\nmin-port=49160\nmax-port=49200\n\
                 no-tls\nno-dtls\n"
            );
        assert!(conf.contains(&format!("static-auth-secret={secret}")));
        let command = Coturn::command(Some(network.command("pub", "stdbuf")));
        Some(Coturn::start(command, dir, &conf).await)
    } else {
        None
    };
    let mut server = network.command("pub", server_binary());
    server
        .args(["--addr", &format!("{SERVER}:443"), "--tls-self-signed"])
        .args([
            "--tls-name",
            SERVER,
            "--stun",
            &format!("stun:{SERVER}:{TURN_PORT}"),
        ]);
    if with_turn {
        server
            .args([
                "--turn-url",
                &format!("turn:{SERVER}:{TURN_PORT}?transport=udp"),
            ])
            .arg("--turn-secret-file")
            .arg(&secret_file);
    }
    Public {
        server: PeerCallServer::start(server).await,
        _coturn: coturn,
    }
}

/// A Chromium in `place` that trusts the server's certificate by its pin only.
async fn browser_in(driver: &Driver, network: &Network, place: &str, public: &Public) -> Client {
    let launcher = network.launcher(place, std::path::Path::new("/usr/bin/chromium"));
    driver
        .chromium_at(
            &launcher,
            &[format!(
                "--ignore-certificate-errors-spki-list={}",
                public
                    .server
                    .spki
                    .as_deref()
                    .expect("the server names its certificate's pin")
            )],
        )
        .await
}

/// Keeps every peer connection the page makes in `window.connections`, for `getStats`.
async fn watch_connections(person: &Person) {
    person
        .browser
        .execute(KEEP_CONNECTIONS, vec![])
        .await
        .expect("a script runs");
}

/// The candidate types of the selected pair of the page's last connection:
/// `[local, remote]`.
async fn selected_pair(person: &Person) -> Vec<String> {
    let pair = person
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const pc = window.connections[window.connections.length - 1];
             pc.getStats().then((report) => {
               const stats = [...report.values()];
               const transport = stats.find((s) => s.type === 'transport');
               const pair = stats.find((s) => s.id === transport?.selectedCandidatePairId);
               const type = (id) => stats.find((s) => s.id === id)?.candidateType ?? 'none';
               done(pair ? [type(pair.localCandidateId), type(pair.remoteCandidateId)] : []);
             });",
            vec![],
        )
        .await
        .expect("stats");
    pair.as_array()
        .map(|types| {
            types
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Alice in home1 calls bob in home2, who accepts; returns once alice is in the call.
async fn call_across(alice: &Person, bob: &Person) {
    alice.call("bob").await;
    bob.wait_for_text("incoming-name", "alice").await;
    bob.click("accept-button").await;
    alice.wait_for_text("status", "in a call with bob").await;
}

async fn two_homes(driver: &Driver, network: &Network, public: &Public) -> (Person, Person) {
    let url = format!("https://{SERVER}/");
    let alice = Person::log_in_at(
        browser_in(driver, network, "home1", public).await,
        &url,
        "alice",
    )
    .await;
    let bob = Person::log_in_at(
        browser_in(driver, network, "home2", public).await,
        &url,
        "bob",
    )
    .await;
    for person in [&alice, &bob] {
        watch_connections(person).await;
    }
    (alice, bob)
}

#[tokio::test]
async fn nat_a_call_between_two_homes_goes_through_the_relay() {
    let network = Network::up();
    let dir = workdir("nat-relay");
    let public = public_side(&network, &dir, true).await;
    let driver = Driver::start().await;
    let (alice, bob) = two_homes(&driver, &network, &public).await;

    let started = Instant::now();
    alice.call("bob").await;
    bob.wait_for_text("incoming-name", "alice").await;
    bob.click("accept-button").await;
    alice.wait_for_text("status", "in a call with bob").await;
    println!(
        "call set up through the relay in {:?} (from the click to connected)",
        started.elapsed()
    );
    alice.sees_remote_video().await;
    bob.sees_remote_video().await;

    alice.say("hello through two NATs").await;
    bob.hears("hello through two NATs").await;
    let file = dir.join("across.bin");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    bob.send_file(&file).await;
    let (size, _) = alice.receive_file("across.bin").await;
    assert_eq!(size, content.len() as u64);

    for person in [&alice, &bob] {
        let pair = selected_pair(person).await;
        assert!(
            pair.iter().any(|t| t == "relay"),
            "{}: the selected pair {pair:?} is relayed",
            person.name
        );
    }
    // Media still flows after the checks above: the call did not flap.
    alice.sees_remote_video().await;
    bob.sees_remote_video().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn nat_without_turn_the_call_fails_and_says_so() {
    let network = Network::up();
    let dir = workdir("nat-stun");
    let public = public_side(&network, &dir, false).await;
    let driver = Driver::start().await;
    let (alice, bob) = two_homes(&driver, &network, &public).await;

    alice.call("bob").await;
    bob.wait_for_text("incoming-name", "alice").await;
    bob.click("accept-button").await;
    let failed = "const alert = document.getElementById('alert');
                  return !alert.hidden && alert.textContent.includes('could not connect');";
    // ICE gives up on its own (and an accepted call that never connects ends after 30 s).
    let patience = std::time::Duration::from_secs(45);
    for person in [&alice, &bob] {
        let started = Instant::now();
        loop {
            let shown = person
                .browser
                .execute(failed, vec![])
                .await
                .expect("a script runs");
            if shown.as_bool() == Some(true) {
                break;
            }
            assert!(
                started.elapsed() < patience,
                "{}: no failure shown",
                person.name
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Frames decoded from the page's last connection.
async fn frames(person: &Person) -> f64 {
    person
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const pc = window.connections[window.connections.length - 1];
             pc.getStats().then((report) => done([...report.values()]
               .filter((s) => s.type === 'inbound-rtp' && s.kind === 'video')
               .reduce((n, s) => n + (s.framesDecoded ?? 0), 0)));",
            vec![],
        )
        .await
        .expect("stats")
        .as_f64()
        .unwrap_or_default()
}

#[tokio::test]
async fn nat_a_relay_path_that_breaks_mid_call_gives_way_to_the_relays() {
    let network = Network::up();
    let dir = workdir("nat-flaky");
    let public = public_side(&network, &dir, true).await;
    let driver = Driver::start().await;
    let (alice, bob) = two_homes(&driver, &network, &public).await;
    call_across(&alice, &bob).await;
    alice.sees_remote_video().await;

    // Each home router now cuts every flow from its home straight to a relay port once
    // it has carried 300 kB: the pair from one home to the other's relay, which ICE
    // prefers, dies mid-call. Each side's own relay, reached on the TURN port, still works.
    for router in ["nat1", "nat2"] {
        network.nft_in(
            router,
            &[
                "insert",
                "rule",
                "ip",
                "filter",
                "forward",
                "ip",
                "daddr",
                SERVER,
                "udp",
                "dport",
                "49160-49200",
                "ct",
                "original",
                "bytes",
                ">",
                "300000",
                "drop",
            ],
        );
    }
    // ICE moves to the relay-to-relay pair by itself, and the call never ends.
    let started = Instant::now();
    let patience = std::time::Duration::from_secs(40);
    loop {
        let (a, b) = (selected_pair(&alice).await, selected_pair(&bob).await);
        if a == ["relay", "relay"] && b == ["relay", "relay"] {
            break;
        }
        for person in [&alice, &bob] {
            let status = person.text("status").await;
            assert!(
                status.starts_with("in a call with"),
                "{}: {status}",
                person.name
            );
        }
        assert!(started.elapsed() < patience, "still on {a:?} / {b:?}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    println!(
        "moved to the relays {:?} after the path broke",
        started.elapsed()
    );
    let (alice_frames, bob_frames) = (frames(&alice).await, frames(&bob).await);
    let started = Instant::now();
    loop {
        let (a, b) = (frames(&alice).await, frames(&bob).await);
        if a > alice_frames + 20.0 && b > bob_frames + 20.0 {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "video did not resume: {a} {b}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Call setup through the relay, measured in the page: from the caller's click to its
/// status saying the call is on, with the callee's page accepting the moment it rings.
/// A benchmark (`cargo xtask bench nat`), not a test.
#[tokio::test]
#[ignore = "a benchmark: cargo xtask bench nat"]
async fn nat_call_setup_time() {
    const CALLS: usize = 7;
    let network = Network::up();
    let dir = workdir("nat-bench");
    let public = public_side(&network, &dir, true).await;
    let driver = Driver::start().await;
    let (alice, bob) = two_homes(&driver, &network, &public).await;
    let mut times = Vec::new();
    for _ in 0..CALLS {
        bob.browser
            .execute(
                "const incoming = document.getElementById('incoming');
                 const accept = new MutationObserver(() => {
                   if (!incoming.hidden) {
                     accept.disconnect();
                     document.getElementById('accept-button').click();
                   }
                 });
                 accept.observe(incoming, { attributes: true });",
                vec![],
            )
            .await
            .expect("a script runs");
        let took = alice
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const status = document.getElementById('status');
                 const button = [...document.querySelectorAll('#peer-list button.peer')]
                   .find((b) => b.textContent === 'bob');
                 const started = performance.now();
                 const on = new MutationObserver(() => {
                   if (status.textContent === 'in a call with bob') {
                     on.disconnect();
                     done(performance.now() - started);
                   }
                 });
                 on.observe(status, { childList: true, characterData: true, subtree: true });
                 button.click();",
                vec![],
            )
            .await
            .expect("the call is set up")
            .as_f64()
            .unwrap_or_default();
        times.push(took);
        alice.click("hangup-button").await;
        bob.wait_for_text("status", "alice hung up").await;
        alice.wait_for_text("status", "call ended").await;
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "call setup through two NATs and the TURN relay: median {:.0} ms over {CALLS} calls \
         (each: {})",
        sorted[CALLS / 2],
        times
            .iter()
            .map(|t| format!("{t:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = std::fs::remove_dir_all(dir);
}
