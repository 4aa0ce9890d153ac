//! Token mode end to end: a backend's tokens (minted here by `peercall-server mint-token`)
//! let people into a room and call; a forged one is refused; after a server restart, a
//! page that handed a fresh token with `setToken()` logs in again, and one whose token
//! expired is refused for good, without retrying.

use fantoccini::Client;
use peercall_e2e::{
    Driver, Engine,
    api_page::ApiUser,
    services::{PeerCallServer, server_binary},
};
use serde_json::json;
use tokio::process::Command;

const SECRET: &str = "the backend and the server share this secret";

/// A token for `name` in `room`, good for `ttl` seconds, as an operator mints one.
async fn mint(room: &str, name: &str, ttl: u64) -> String {
    let output = Command::new(server_binary())
        .args(["mint-token", "--room", room, "--name", name, "--ttl"])
        .arg(ttl.to_string())
        .env("PEERCALL_AUTH_SECRET", SECRET)
        .output()
        .await
        .expect("mint-token runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .expect("text")
        .trim()
        .to_owned()
}

/// How long the short-lived tokens last, in seconds.
const SHORT_SECS: u64 = 8;

/// A server in token mode on `addr`.
async fn server(addr: &str) -> PeerCallServer {
    let mut command = Command::new(server_binary());
    command
        .args(["--addr", addr, "--token-leeway-secs", "0"])
        .env("PEERCALL_AUTH_SECRET", SECRET);
    PeerCallServer::start(command).await
}

async fn join(browser: Client, base: &str, name: &str, room: &str, token: &str) -> ApiUser {
    ApiUser::join_at(browser, base, name, json!({"room": room, "token": token})).await
}

#[tokio::test]
async fn tokens_let_people_in_and_set_token_carries_the_next_login() {
    let first = server("127.0.0.1:0").await;
    let addr = first.addr.clone();
    let base = format!("http://{addr}/");
    let suffix = std::process::id();
    let room = format!("team-{suffix}");
    let chromium = Driver::start_for(Engine::Chromium).await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let (alice, bob, carol) = (
        format!("alice-{suffix}"),
        format!("bob-{suffix}"),
        format!("carol-{suffix}"),
    );

    let alice = join(
        chromium.browser().await,
        &base,
        &alice,
        &room,
        &mint(&room, &alice, 600).await,
    )
    .await;
    // bob's and carol's tokens are short-lived, as a careful backend mints them: long
    // enough for a page to open and log in on a busy machine, and no longer. Each is
    // minted as its page opens, as a backend would, so that one slow page does not eat
    // into the other's time; carol's, the later, runs out last.
    let bob_token = mint(&room, &bob, SHORT_SECS).await;
    let bob = join(firefox.browser().await, &base, &bob, &room, &bob_token).await;
    let carol_token = mint(&room, &carol, SHORT_SECS).await;
    // No later than this, both have run out.
    let short_lived = std::time::Instant::now() + std::time::Duration::from_secs(SHORT_SECS);
    let carol = join(chromium.browser().await, &base, &carol, &room, &carol_token).await;
    alice.calls(&bob).await;
    bob.run("pc.hangup();", vec![]).await;

    // A token of another room, or one for someone else, lets nobody in.
    let elsewhere = mint("elsewhere", "mallory", 600).await;
    let refused = ApiUser::try_join_at(
        chromium.browser().await,
        &base,
        "mallory",
        json!({"room": room, "token": elsewhere}),
    )
    .await
    .err()
    .expect("refused");
    assert!(refused.starts_with("unauthorized: "), "{refused}");

    // bob's page hands a fresh token; carol's does not. Both tokens run out, and the server
    // restarts (with a new resume key: nobody resumes, everyone logs in afresh).
    bob.run(
        "pc.setToken(arguments[0]);",
        vec![json!(mint(&room, &bob.name, 600).await)],
    )
    .await;
    // Waiting out the short tokens' lifetime is what this is about.
    tokio::time::sleep_until((short_lived + std::time::Duration::from_secs(1)).into()).await;
    first.stop().await;
    let second = server(&addr).await;
    carol
        .until(
            "return window.seen.some(([e, p]) => e === 'error' && p.code === 'unauthorized') && pc.state === 'offline';",
            "carol is refused",
        )
        .await;
    bob.until(
        &format!(
            "return pc.state === 'idle' && pc.id && pc.id !== {:?};",
            bob.id
        ),
        "bob is back, under a new id",
    )
    .await;
    alice
        .until(
            &format!("return pc.state === 'idle' && pc.id !== {:?};", alice.id),
            "alice is back",
        )
        .await;
    let bob_again = ApiUser {
        browser: bob.browser.clone(),
        name: bob.name.clone(),
        id: bob
            .run("return pc.id;", vec![])
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    // The ring of the first call is history.
    bob.run("window.seen = [];", vec![]).await;
    alice.calls(&bob_again).await;
    // All that took far longer than a reconnect: carol's page asked once, no more.
    assert_eq!(
        second.refusals("unauthorized").await,
        1,
        "carol did not retry"
    );

    for user in [&alice, &bob, &carol] {
        user.browser.clone().close().await.ok();
    }
}
