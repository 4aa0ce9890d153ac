//! Two people, two browsers, one call, through the demo page.

use peercall_e2e::{Driver, Person};

#[tokio::test]
async fn alice_calls_bob_they_see_each_other_and_bob_hangs_up() {
    let driver = Driver::start().await;
    let suffix = std::process::id();
    let alice = Person::log_in(&driver, &format!("alice-{suffix}")).await;
    let bob = Person::log_in(&driver, &format!("bob-{suffix}")).await;

    alice.call(&bob.name).await;
    alice
        .wait_for_text("status", &format!("calling {}…", bob.name))
        .await;
    bob.wait_for_text("incoming-name", &alice.name).await;
    bob.click("accept-button").await;

    alice
        .wait_for_text("status", &format!("in a call with {}", bob.name))
        .await;
    bob.wait_for_text("status", &format!("in a call with {}", alice.name))
        .await;
    alice.sees_remote_video().await;
    bob.sees_remote_video().await;

    alice.keep_screenshot("connected-call").await;

    bob.click("hangup-button").await;
    alice
        .wait_for_text("status", &format!("{} hung up", bob.name))
        .await;
    bob.wait_for_text("status", "call ended").await;

    alice.browser.close().await.ok();
    bob.browser.close().await.ok();
}
