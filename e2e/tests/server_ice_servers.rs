//! A page that names no ICE servers uses the server's: TURN credentials minted per login,
//! which coturn takes (the calls are relayed only), and fresh ones before they expire,
//! applied to the call in progress with an ICE restart through the relay.
//! A page that names its own, even none, keeps exactly those. Chromium and Firefox, each
//! in both roles. The relay is on loopback, which Firefox reaches only with loopback ICE,
//! which it keeps to calls with Firefox (see `peercall_e2e::Engine`): the relay calls are
//! Chromium to Chromium and Firefox to Firefox.
//! The demo page's "Hide my address" sends media through the relay only, as its call
//! quality panel shows; without it the same call on loopback goes direct.

use peercall_e2e::{
    Driver, Engine, PATIENCE, Person,
    api_page::ApiUser,
    services::{Coturn, PeerCallServer, random_hex, server_binary, workdir},
};
use serde_json::{Value, json};

/// How long minted credentials last: fresh ones come 6 s after login.
const TTL_SECONDS: u64 = 8;

struct Servers {
    server: PeerCallServer,
    _coturn: Coturn,
}

async fn servers(name: &str) -> Servers {
    let dir = workdir(name);
    let secret = random_hex() + &random_hex();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|socket| socket.local_addr())
        .expect("a free port")
        .port();
    // Relay ports right after the listening port, which the system picked: two tests of
    // one process (or two runs) keep apart.
    let conf = format!(
        "listening-ip=127.0.0.1\nlistening-port={port}\nrelay-ip=127.0.0.1\n\
         min-port={}\nmax-port={}\nrealm=peercall.test\nuse-auth-secret\n\
         static-auth-secret={secret}\nfingerprint\nno-tls\nno-dtls\nno-cli\n\
         allow-loopback-peers\n",
        port + 1,
        port + 40
    );
    let coturn = Coturn::start(Coturn::command(None), &dir, &conf).await;
    let mut server = tokio::process::Command::new(server_binary());
    server
        .args([
            "--addr",
            "127.0.0.1:0",
            "--stun",
            &format!("stun:127.0.0.1:{port}"),
        ])
        .args([
            "--turn-url",
            &format!("turn:127.0.0.1:{port}?transport=udp"),
        ])
        .args(["--turn-ttl", &TTL_SECONDS.to_string()])
        .env("PEERCALL_TURN_SECRET", &secret);
    Servers {
        server: PeerCallServer::start(server).await,
        _coturn: coturn,
    }
}

/// The connection's `iceServers` and its relayed local candidates.
async fn ice_of(user: &ApiUser) -> (Value, usize) {
    let seen = user
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const pc = window.connections[window.connections.length - 1];
             pc.getStats().then((report) => done([
               pc.getConfiguration().iceServers ?? [],
               [...report.values()].filter((s) => s.type === 'local-candidate'
                 && String(s.candidateType).startsWith('relay')).length,
             ]));",
            vec![],
        )
        .await
        .expect("stats");
    (
        seen[0].clone(),
        seen[1].as_u64().unwrap_or_default() as usize,
    )
}

/// The TURN user name in `servers`.
fn turn_user(servers: &Value) -> String {
    servers
        .as_array()
        .into_iter()
        .flatten()
        .filter(|server| server["urls"].to_string().contains("turn:"))
        .find_map(|server| server["username"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn call(
    browsers: (fantoccini::Client, fantoccini::Client),
    options: (Value, Value),
    at: &str,
    round: &str,
) -> (ApiUser, ApiUser) {
    // A closed page's user stays away for the resume grace and keeps the name: each round
    // of one test has names of its own.
    let suffix = format!("{}-{round}", std::process::id());
    let caller = ApiUser::join_at(browsers.0, at, &format!("caller-{suffix}"), options.0).await;
    let callee = ApiUser::join_at(browsers.1, at, &format!("callee-{suffix}"), options.1).await;
    caller.calls(&callee).await;
    (caller, callee)
}

#[tokio::test]
async fn the_server_s_turn_credentials_are_used_and_refreshed_during_a_call() {
    let servers = servers("server-ice").await;
    let at = format!("http://{}/", servers.server.addr);
    let chromium = Driver::start_for(Engine::Chromium).await;
    let (firefox, other_firefox) = (
        Driver::start_for(Engine::Firefox).await,
        Driver::start_for(Engine::Firefox).await,
    );
    for engine in [Engine::Chromium, Engine::Firefox] {
        let browsers = match engine {
            Engine::Chromium => (chromium.browser().await, chromium.browser().await),
            Engine::Firefox => (
                firefox.firefox_on_loopback().await,
                other_firefox.firefox_on_loopback().await,
            ),
        };
        // Relayed candidates only: the call connects only if coturn takes the credentials,
        // and after the refresh, only if it takes the fresh ones too.
        let relay = json!({ "iceTransportPolicy": "relay" });
        let (caller, callee) = call(
            browsers,
            (relay.clone(), relay),
            &at,
            &format!("{engine:?}"),
        )
        .await;
        let mut before = Vec::new();
        for user in [&caller, &callee] {
            // The relayed candidate may come after the connection (trickle ICE).
            let started = std::time::Instant::now();
            let (ice, relays) = loop {
                let (ice, relays) = ice_of(user).await;
                if relays > 0 || started.elapsed() > PATIENCE {
                    break (ice, relays);
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            };
            let username = turn_user(&ice);
            assert!(
                username.ends_with(&format!(":{}", user.id)),
                "{}: the server's TURN credentials for this login: {ice}",
                user.name
            );
            assert!(relays > 0, "{}: relayed", user.name);
            before.push((username, user.ice_ufrag().await));
        }
        let frames = caller.decodes(1, &[]).await;

        // Fresh credentials arrive before these expire; the call takes them up with an
        // ICE restart and goes on.
        let started = std::time::Instant::now();
        for (user, (username, ufrag)) in [&caller, &callee].into_iter().zip(&before) {
            loop {
                let (ice, _) = ice_of(user).await;
                let now = turn_user(&ice);
                if now != *username && user.ice_ufrag().await != *ufrag {
                    let expiry = |name: &str| {
                        name.split(':')
                            .next()
                            .unwrap_or("")
                            .parse::<u64>()
                            .unwrap_or(0)
                    };
                    assert!(
                        expiry(&now) > expiry(username),
                        "{}: later expiry",
                        user.name
                    );
                    break;
                }
                assert!(
                    started.elapsed() < PATIENCE + std::time::Duration::from_secs(TTL_SECONDS),
                    "{}: no fresh credentials applied: {ice}",
                    user.name
                );
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
        }
        caller
            .until("return pc.state === 'connected';", "still connected")
            .await;
        caller.decodes(1, &frames).await;
        callee.decodes(1, &[]).await;
        caller.browser.close().await.ok();
        callee.browser.close().await.ok();
    }
}

#[tokio::test]
async fn a_page_that_names_its_own_ice_servers_keeps_exactly_those() {
    let servers = servers("own-ice").await;
    let at = format!("http://{}/", servers.server.addr);
    let chromium = Driver::start_for(Engine::Chromium).await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let none = json!({ "iceServers": [] });
    let browsers = (firefox.browser().await, chromium.browser().await);
    let (caller, callee) = call(browsers, (none.clone(), none), &at, "own").await;
    for user in [&caller, &callee] {
        let (ice, relays) = ice_of(user).await;
        assert_eq!(
            ice,
            json!([]),
            "{}: no servers but its own (none)",
            user.name
        );
        assert_eq!(relays, 0, "{}: no relay was asked for", user.name);
    }
    caller.decodes(1, &[]).await;
    callee.decodes(1, &[]).await;
}

/// Waits until `person`'s call-quality panel (opened here) says the media takes `path`.
async fn quality_panel_says_path(person: &Person, path: &str) {
    person.click("quality-button").await;
    peercall_e2e::wait_for_js(
        &person.browser,
        &format!(
            "return document.getElementById('quality-figures').textContent.includes('path {path}');"
        ),
        &format!("{}: the quality panel says path {path}", person.name),
    )
    .await;
}

#[tokio::test]
async fn hide_my_address_sends_the_media_through_the_relay_only() {
    let servers = servers("hide-address").await;
    let at = format!("http://{}/", servers.server.addr);
    let suffix = std::process::id();
    let chromium = Driver::start_for(Engine::Chromium).await;
    let (firefox, other_firefox) = (
        Driver::start_for(Engine::Firefox).await,
        Driver::start_for(Engine::Firefox).await,
    );
    // The direct path is read in both engines by the browser tests; here Chromium's
    // control call shows that the relay path comes from the choice.
    let runs = [
        (Engine::Chromium, true),
        (Engine::Chromium, false),
        (Engine::Firefox, true),
    ];
    for (engine, hide) in runs {
        let browsers = match engine {
            Engine::Chromium => (chromium.browser().await, chromium.browser().await),
            Engine::Firefox => (
                firefox.firefox_on_loopback().await,
                other_firefox.firefox_on_loopback().await,
            ),
        };
        let boxes: &[&str] = if hide { &["relay-only"] } else { &[] };
        let name = |who: &str| format!("{who}-{engine:?}-{hide}-{suffix}").to_lowercase();
        let alice = Person::log_in_ticking(browsers.0, &at, &name("alice"), boxes).await;
        let bob = Person::log_in_at(browsers.1, &at, &name("bob")).await;
        alice.calls(&bob).await;
        // Hidden, alice's media leaves through the relay, and bob's reaches her there.
        let path = if hide { "relay" } else { "host" };
        quality_panel_says_path(&alice, path).await;
        quality_panel_says_path(&bob, path).await;
        alice.browser.close().await.ok();
        bob.browser.close().await.ok();
    }
}
