//! Rooms on the demo page: "New room" makes a room and a link; a second person opens the
//! copied link and they call; someone in the default room never sees them; a link without
//! the room's password is refused in words, once, without retrying.

use fantoccini::{Client, Locator};
use peercall_e2e::{
    Driver, Engine, Person, click_when_ready,
    services::{PeerCallServer, server_binary},
    wait_for_js,
};
use tokio::process::Command;

/// The value of the input `id`.
async fn value(browser: &Client, id: &str) -> String {
    browser
        .find(Locator::Id(id))
        .await
        .expect("the element exists")
        .prop("value")
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

#[tokio::test]
async fn two_people_join_a_room_from_its_link_and_call_and_others_stay_out() {
    let mut command = Command::new(server_binary());
    command.args(["--addr", "127.0.0.1:0"]);
    let server = PeerCallServer::start(command).await;
    let home = format!("http://{}/", server.addr);
    let chromium = Driver::start_for(Engine::Chromium).await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let suffix = std::process::id();

    // alice makes a room with a password.
    let browser = chromium.browser().await;
    browser.goto(&home).await.expect("the page opens");
    browser
        .find(Locator::Id("new-room-password"))
        .await
        .expect("a password field")
        .send_keys("open sesame")
        .await
        .expect("typing");
    click_when_ready(&browser, "new-room-button").await;
    wait_for_js(
        &browser,
        "return location.pathname.startsWith('/r/') && !document.getElementById('room-invite').hidden;",
        "the new room's page",
    )
    .await;
    let room_url = browser.current_url().await.expect("a URL").to_string();
    let alice = Person::log_in_at(browser, &room_url, &format!("alice-{suffix}")).await;
    wait_for_js(
        &alice.browser,
        "return !document.getElementById('room-bar').hidden;",
        "alice sees her room",
    )
    .await;
    let room = alice.text("room-name").await;
    assert!(room.len() >= 16, "an unguessable room: {room:?}");
    let link = value(&alice.browser, "room-link").await;
    assert_eq!(link, format!("{home}r/{room}#p=open%20sesame"));
    assert!(
        alice
            .browser
            .find(Locator::Css("#lock-button:not([hidden])"))
            .await
            .is_ok()
    );

    // bob, in Firefox, opens the copied link; carol stays in the default room.
    let bob = Person::log_in_at(firefox.browser().await, &link, &format!("bob-{suffix}")).await;
    bob.wait_for_text("room-name", &room).await;
    // Only a moderator may lock the room: bob is not offered it.
    assert!(
        bob.browser
            .find(Locator::Css("#lock-button[hidden]"))
            .await
            .is_ok(),
        "bob sees no Lock room button"
    );
    let carol =
        Person::log_in_at(chromium.browser().await, &home, &format!("carol-{suffix}")).await;

    alice.calls(&bob).await;
    alice.keep_screenshot("room-call").await;
    let listed = carol.text("peer-list").await;
    assert!(
        !listed.contains(&alice.name) && !listed.contains(&bob.name),
        "{listed:?}"
    );
    assert!(
        carol.text("room-name").await.is_empty(),
        "carol is in no named room"
    );

    // dave opens the link without its password: refused, in words, and only once.
    let without = link.split('#').next().unwrap_or_default().to_owned();
    let dave = Person::try_log_in_at(
        chromium.browser().await,
        &without,
        &format!("dave-{suffix}"),
    )
    .await;
    wait_for_js(
        &dave.browser,
        "return document.getElementById('alert').textContent === 'Wrong password for this room: check the link you were given.'
            && document.getElementById('status').textContent === 'offline'
            && !document.getElementById('login').hidden;",
        "dave is told the password is wrong",
    )
    .await;
    assert_eq!(server.refusals("room-password").await, 1);
    // Long after a retry would have come (erin's whole login), still one refusal.
    let erin = Person::log_in_at(chromium.browser().await, &link, &format!("erin-{suffix}")).await;
    wait_for_js(
        &alice.browser,
        &format!(
            "return [...document.querySelectorAll('#peer-list button.peer')].some(b => b.textContent === {:?});",
            erin.name
        ),
        "alice sees erin",
    )
    .await;
    assert_eq!(
        server.refusals("room-password").await,
        1,
        "dave's page did not retry"
    );
    let listed = alice.text("peer-list").await;
    assert!(!listed.contains(&dave.name), "{listed:?}");

    for browser in [
        &alice.browser,
        &bob.browser,
        &carol.browser,
        &dave.browser,
        &erin.browser,
    ] {
        browser.clone().close().await.ok();
    }
}
