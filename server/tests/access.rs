//! Who may log in: token mode (HS256 JWTs), the pages allowed to open sockets and import
//! `/pkg`, and resume tokens bound to room, name and time.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Client, PATIENCE, TestServer, web};
use peercall_server::auth::{Claims, mint};
use serde_json::{Value, json};

const SECRET: &str = "a token secret of at least 32 bytes";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(name: &str, room: &str) -> Claims {
    Claims {
        sub: name.into(),
        room: Some(room.into()),
        exp: now() + 600,
        nbf: None,
        admin: false,
    }
}

fn token(claims: &Claims) -> String {
    mint(SECRET.as_bytes(), claims)
}

async fn token_server() -> TestServer {
    TestServer::start_with(|c| {
        c.auth_secret = Some(SECRET.into());
        c.token_leeway_secs = 0;
    })
    .await
}

#[tokio::test]
async fn every_bad_token_is_refused_and_learns_nothing() {
    let server = token_server().await;
    let (mut alice, _, _) = {
        let mut alice = server.client().await;
        let login = json!({"type": "login", "name": "alice", "room": "team",
            "token": token(&claims("alice", "team"))});
        let (welcome, peers) = alice.join_with(login).await;
        (alice, welcome, peers)
    };
    let forged = mint(
        b"another secret, just as long as that",
        &claims("bob", "team"),
    );
    let bad = [
        None,
        Some(forged),
        Some("not.a.jwt".to_owned()),
        Some(token(&Claims {
            exp: now() - 10,
            ..claims("bob", "team")
        })),
        Some(token(&Claims {
            nbf: Some(now() + 600),
            ..claims("bob", "team")
        })),
        Some(token(&claims("bob", "another-room"))),
        Some(token(&claims("mallory", "team"))),
        // The default room's token does not open a named room.
        Some(mint(
            SECRET.as_bytes(),
            &Claims {
                room: None,
                ..claims("bob", "team")
            },
        )),
    ];
    for token in bad {
        let mut bob = server.client().await;
        bob.send(json!({"type": "login", "name": "bob", "room": "team", "token": token}))
            .await;
        // The refusal and the close, and not a word about who is in the room.
        bob.expect_refusal("unauthorized", 4401).await;
    }
    // Nobody got in: alice heard of no one.
    alice.send(json!({"type": "ping"})).await;
    alice.expect("pong").await;
    server.stop().await;
}

#[tokio::test]
async fn an_admin_token_moderates() {
    let server = token_server().await;
    let join = |name: &str, claims: Claims| json!({"type": "login", "name": name, "room": "team", "token": token(&claims)});
    let mut alice = server.client().await;
    let (welcome, _) = alice
        .join_with(join("alice", claims("alice", "team")))
        .await;
    assert_eq!(welcome["room"]["moderator"], true, "the first in");
    let mut host = server.client().await;
    let admin = Claims {
        admin: true,
        ..claims("host", "team")
    };
    let (welcome, _) = host.join_with(join("host", admin)).await;
    assert_eq!(welcome["room"]["moderator"], true, "an admin token");
    let mut bob = server.client().await;
    let (welcome, _) = bob.join_with(join("bob", claims("bob", "team"))).await;
    assert_eq!(welcome["room"]["moderator"], false);
    server.stop().await;
}

/// A token-mode server with resume grace `grace_ms` and refresh `refresh_ms`; alice logs
/// into room "team" with a token good for 2 s, and her network drops at once. Returns the
/// server, her login, and the same login carrying her resume token.
async fn dropped_short_session(grace_ms: u64, refresh_ms: u64) -> (TestServer, Value, Value) {
    let server = TestServer::start_with(|c| {
        c.auth_secret = Some(SECRET.into());
        c.token_leeway_secs = 0;
        c.resume_grace_ms = grace_ms;
        c.resume_refresh_ms = refresh_ms;
    })
    .await;
    let short = token(&Claims {
        exp: now() + 2,
        ..claims("alice", "team")
    });
    let login = json!({"type": "login", "name": "alice", "room": "team", "token": short});
    let mut alice = server.client().await;
    let (welcome, _) = alice.join_with(login.clone()).await;
    let mut resume = login.clone();
    resume["resume"] = welcome["resume"].clone();
    resume["id"] = welcome["id"].clone();
    drop(alice);
    // Waiting out the token's life is what these tests are about.
    let expiry = UNIX_EPOCH + Duration::from_secs(now() + 3);
    tokio::time::sleep(expiry.duration_since(SystemTime::now()).unwrap_or_default()).await;
    (server, login, resume)
}

#[tokio::test]
async fn a_session_outlives_its_token_across_a_resume() {
    let (server, login, resume) = dropped_short_session(30_000, 60_000).await;
    // The token opens no new session any more...
    let mut stranger = server.client().await;
    stranger.send(login).await;
    stranger.expect_refusal("unauthorized", 4401).await;
    // ...but it still carries the session that began while it was good.
    let mut again = server.client().await;
    let (welcome, _) = again.join_with(resume.clone()).await;
    assert_eq!(welcome["id"], resume["id"]);
    // Not after a clean leave: that session is over, and the token opens no new one.
    again.close().await;
    let mut after = server.client().await;
    after.send(resume).await;
    after.expect_refusal("unauthorized", 4401).await;
    server.stop().await;
}

#[test]
fn mint_token_prints_a_token_the_server_takes() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_peercall-server"))
        .args([
            "mint-token",
            "--room",
            "team",
            "--name",
            "alice",
            "--ttl",
            "60",
        ])
        .env("PEERCALL_AUTH_SECRET", SECRET)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    let minted = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = token_server().await;
        let mut alice = server.client().await;
        let (welcome, _) = alice
            .join_with(json!({"type": "login", "name": "alice", "room": "team", "token": minted}))
            .await;
        assert_eq!(welcome["name"], "alice");
        server.stop().await;
    });
    let short = std::process::Command::new(env!("CARGO_BIN_EXE_peercall-server"))
        .args(["mint-token", "--name", "alice"])
        .env("PEERCALL_AUTH_SECRET", "short")
        .output()
        .expect("runs");
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 32"));
}

#[tokio::test]
async fn pages_of_other_sites_are_refused() {
    let server = TestServer::start().await;
    let mut evil = Client::connect_from(server.addr, "https://evil.example").await;
    evil.expect_refusal("origin-refused", 4403).await;
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1:9999",
        &format!("http://{}", server.addr),
    ] {
        let mut page = Client::connect_from(server.addr, origin).await;
        page.login("alice").await;
        page.close().await;
    }
    server.stop().await;

    let listed =
        TestServer::start_with(|c| c.allowed_origins = vec!["https://site.example".into()]).await;
    let mut site = Client::connect_from(listed.addr, "https://site.example").await;
    site.login("alice").await;
    let own = format!("http://{}", listed.addr);
    let mut own_page = Client::connect_from(listed.addr, &own).await;
    own_page.login("bob").await;
    let mut local = Client::connect_from(listed.addr, "http://localhost:5173").await;
    local.expect_refusal("origin-refused", 4403).await;
    listed.stop().await;
}

/// `GET path` with an `Origin`, and the `access-control-allow-origin` it gets.
async fn cors(server: &TestServer, path: &str, origin: &str) -> (u16, Option<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).await.unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let allowed = text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("access-control-allow-origin")
            .then(|| value.trim().to_owned())
    });
    (status, allowed)
}

#[tokio::test]
async fn the_module_answers_cors_for_allowed_origins_only() {
    let dir = std::env::temp_dir().join(format!("peercall-cors-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("pkg/peercall.js"), "export default 1;").unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>peercall</title>",
    )
    .unwrap();
    let static_dir = dir.clone();
    let server = TestServer::start_with(move |c| {
        c.static_dir = static_dir;
        // `/pkg` inside the static folder, whatever PEERCALL_PKG_DIR the run has.
        c.pkg_dir = None;
        c.allowed_origins = vec!["https://site.example".into()];
    })
    .await;
    assert_eq!(
        cors(&server, "/pkg/peercall.js", "https://site.example").await,
        (200, Some("https://site.example".into()))
    );
    assert_eq!(
        cors(&server, "/pkg/peercall.js", "https://evil.example").await,
        (200, None)
    );
    // A room's link opens the page.
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let page = web::get(stream, "/r/Kq3x9Zt2").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<title>peercall</title>"));
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// The `welcome` of logging in as `name` in room `room` with resume token `resume`.
async fn resume(server: &TestServer, name: &str, room: &str, resume: &Value) -> (Client, Value) {
    let mut client = server.client().await;
    let (welcome, _) = client
        .join_with(json!({"type": "login", "name": name, "room": room, "resume": resume}))
        .await;
    (client, welcome)
}

#[tokio::test]
async fn resume_tokens_are_bound_to_room_time_and_session() {
    let server = TestServer::start_with(|c| {
        c.resume_grace_ms = 200;
        c.resume_refresh_ms = 300;
    })
    .await;
    // A connected user gets fresh tokens; each works, and so does the one before.
    let (mut alice, welcome, _) = {
        let mut client = server.client().await;
        let (welcome, peers) = client
            .join_with(json!({"type": "login", "name": "alice", "room": "a"}))
            .await;
        (client, welcome, peers)
    };
    let id = welcome["id"].clone();
    let first = welcome["resume"].clone();
    let fresh = alice.expect("resume-token").await["resume"].clone();
    assert_ne!(fresh, first);
    // Not in another room.
    let (_elsewhere, other) = resume(&server, "alice", "b", &fresh).await;
    assert_ne!(other["id"], id);
    // A resume while the old socket still looks alive replaces it, which is told so.
    let (mut second, again) = resume(&server, "alice", "a", &first).await;
    assert_eq!(again["id"], id);
    alice.expect_refusal("session-replaced", 4409).await;
    // After a clean leave, the id's tokens are refused: the next login is someone new.
    let newest = again["resume"].clone();
    second.send(json!({"type": "ping"})).await;
    second.expect("pong").await;
    second.close().await;
    let (_later, welcome) = resume(&server, "alice", "a", &newest).await;
    assert_ne!(welcome["id"], id);
    server.stop().await;
}

#[tokio::test]
async fn an_expired_resume_token_gets_a_fresh_id() {
    let server = TestServer::start_with(|c| {
        c.resume_grace_ms = 100;
        c.resume_refresh_ms = 100;
    })
    .await;
    let mut alice = server.client().await;
    let (welcome, _) = alice
        .join_with(json!({"type": "login", "name": "alice", "room": "a"}))
        .await;
    drop(alice);
    // The token says when it expires: `<id>.<started>.<expires>.<mac>`.
    let token = welcome["resume"].as_str().unwrap().to_owned();
    let expires: u64 = token.split('.').nth(2).unwrap().parse().unwrap();
    let until = UNIX_EPOCH + Duration::from_millis(expires + 50);
    let wait = until.duration_since(SystemTime::now()).unwrap_or_default();
    assert!(
        wait < PATIENCE,
        "a token lasts grace plus twice the refresh: {wait:?}"
    );
    tokio::time::sleep(wait).await;
    let (_alice, again) = resume(&server, "alice", "a", &json!(token)).await;
    assert_ne!(again["id"], welcome["id"]);
    server.stop().await;
}

#[tokio::test]
async fn an_expired_token_resumes_only_a_session_the_room_still_holds() {
    // The grace runs out long before the token does, while the resume token (grace plus
    // twice the refresh) is still genuine when the token has run out too.
    let (server, _, resume) = dropped_short_session(200, 5_000).await;
    let mut again = server.client().await;
    again.send(resume).await;
    again.expect_refusal("unauthorized", 4401).await;
    server.stop().await;
}
