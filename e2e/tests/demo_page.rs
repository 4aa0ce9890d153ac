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

#[tokio::test]
async fn closing_a_tab_mid_call_tells_the_other_side_within_3_s() {
    let driver = Driver::start().await;
    let suffix = std::process::id();
    let alice = Person::log_in(&driver, &format!("ada-{suffix}")).await;
    let bob = Person::log_in(&driver, &format!("bo-{suffix}")).await;
    alice.call(&bob.name).await;
    bob.click("accept-button").await;
    alice
        .wait_for_text("status", &format!("in a call with {}", bob.name))
        .await;

    let closed = std::time::Instant::now();
    bob.browser
        .close_window()
        .await
        .expect("bob closes his tab");
    alice
        .wait_for_text("status", &format!("{} left", bob.name))
        .await;
    let took = closed.elapsed();
    println!(
        "tab closed to \"{} left\" on the other page: {took:?}",
        bob.name
    );
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    alice.browser.close().await.ok();
}

#[tokio::test]
async fn a_tab_crashing_mid_call_tells_the_other_side_within_3_s() {
    let driver = Driver::start().await;
    let suffix = std::process::id();
    let alice = Person::log_in(&driver, &format!("cy-{suffix}")).await;
    let bob = Person::log_in(&driver, &format!("dan-{suffix}")).await;
    alice.call(&bob.name).await;
    bob.click("accept-button").await;
    alice
        .wait_for_text("status", &format!("in a call with {}", bob.name))
        .await;

    let crashed = std::time::Instant::now();
    peercall_e2e::crash_tab(&bob.browser).await;
    alice
        .wait_for_text("status", &format!("{} left", bob.name))
        .await;
    let took = crashed.elapsed();
    println!(
        "tab crashed to \"{} left\" on the other page: {took:?}",
        bob.name
    );
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    alice.browser.close().await.ok();
}
