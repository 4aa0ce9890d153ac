//! Two people, two browsers, one call, through the demo page.

use fantoccini::Locator;
use peercall_e2e::{Driver, Person, wait_for_js};

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

    // alice mutes herself: bob sees it on her video.
    alice.click("mic-button").await;
    bob.wait_for_text("remote-marks", "muted").await;

    bob.click("hangup-button").await;
    alice
        .wait_for_text("status", &format!("{} hung up", bob.name))
        .await;
    bob.wait_for_text("status", "call ended").await;

    // Muted stays muted into the next call, and her button says so.
    alice.call(&bob.name).await;
    bob.wait_for_text("incoming-name", &alice.name).await;
    bob.click("accept-button").await;
    bob.wait_for_text("status", &format!("in a call with {}", alice.name))
        .await;
    bob.wait_for_text("remote-marks", "muted").await;
    alice.wait_for_text("mic-button", "Unmute").await;
    alice.click("mic-button").await;
    alice.wait_for_text("mic-button", "Mute").await;
    wait_for_js(
        &bob.browser,
        "return document.getElementById('remote-marks').hidden;",
        "bob sees alice unmuted",
    )
    .await;
    alice.click("hangup-button").await;
    bob.wait_for_text("status", &format!("{} hung up", alice.name))
        .await;

    alice.browser.close().await.ok();
    bob.browser.close().await.ok();
}

#[tokio::test]
async fn closing_a_tab_mid_call_tells_the_other_side_within_3_s() {
    let driver = Driver::start().await;
    let (alice, bob) = in_a_call(&driver, "ada", "bo").await;

    let closed = std::time::Instant::now();
    bob.browser
        .close_window()
        .await
        .expect("bob closes his tab");
    sees_left_within_3_s(&alice, &bob, closed, "tab closed").await;
    alice.browser.close().await.ok();
}

#[tokio::test]
async fn a_tab_crashing_mid_call_tells_the_other_side_within_3_s() {
    let driver = Driver::start().await;
    let (alice, bob) = in_a_call(&driver, "cy", "dan").await;

    let crashed = std::time::Instant::now();
    peercall_e2e::crash_tab(&bob.browser).await;
    sees_left_within_3_s(&alice, &bob, crashed, "tab crashed").await;
    alice.browser.close().await.ok();
}

#[tokio::test]
async fn chat_and_a_file_through_the_demo_page() {
    let driver = Driver::start().await;
    let (alice, bob) = in_a_call(&driver, "eve", "fay").await;

    // A chat message that looks like markup arrives as text.
    let html = r#"<img src=x onerror="document.title='pwned'">hi"#;
    let input = alice.browser.find(Locator::Id("chat-input")).await.unwrap();
    input.send_keys(html).await.unwrap();
    alice.click("chat-send").await;
    wait_for_js(
        &bob.browser,
        &format!(
            "const m = document.querySelector('#chat-log li.theirs p.text');
             return !!m && m.textContent === {html:?} && !document.querySelector('#chat-log img');"
        ),
        "bob sees the message as text",
    )
    .await;

    // A file picked by alice is offered to bob, accepted, and saved whole.
    let path = std::env::temp_dir().join(format!("peercall-e2e-{}.txt", std::process::id()));
    let content = "peercall file transfer\n".repeat(20_000);
    std::fs::write(&path, &content).unwrap();
    let picker = alice.browser.find(Locator::Id("file-input")).await.unwrap();
    picker.send_keys(&path.display().to_string()).await.unwrap();
    wait_for_js(
        &bob.browser,
        "return !!document.querySelector('#transfers li.offered button.accept');",
        "bob is offered the file",
    )
    .await;
    let size = bob
        .browser
        .execute(
            "return document.querySelector('#transfers li.offered .size').textContent;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        size,
        serde_json::json!("460.0 KB"),
        "the offer shows the size"
    );
    bob.browser
        .find(Locator::Css("#transfers li.offered button.accept"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_js(
        &bob.browser,
        "return !!document.querySelector('#transfers li.done a.download');",
        "bob can save the file",
    )
    .await;
    let saved = bob
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const link = document.querySelector('#transfers li.done a.download');
             fetch(link.href).then(r => r.text()).then(text => done([link.download, text.length, text.slice(0, 22)]));",
            vec![],
        )
        .await
        .unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        saved,
        serde_json::json!([name, content.len(), "peercall file transfer"])
    );
    alice
        .wait_for_text_in("#transfers li.done .detail", "sent")
        .await;
    bob.keep_screenshot("chat-and-file").await;

    // A file dropped on the call is offered too.
    alice
        .browser
        .execute(
            "const files = new DataTransfer();
             files.items.add(new File(['dropped!'], 'dropped.txt', {type: 'text/plain'}));
             const call = document.getElementById('call');
             call.dispatchEvent(new DragEvent('dragover', {dataTransfer: files, bubbles: true, cancelable: true}));
             call.dispatchEvent(new DragEvent('drop', {dataTransfer: files, bubbles: true, cancelable: true}));",
            vec![],
        )
        .await
        .unwrap();
    wait_for_js(
        &bob.browser,
        "return [...document.querySelectorAll('#transfers li.offered')]
            .some(li => li.querySelector('.name').textContent === 'dropped.txt'
                && li.querySelector('.size').textContent === '8 B');",
        "bob is offered the dropped file",
    )
    .await;
    let _ = std::fs::remove_file(&path);
    alice.browser.close().await.ok();
    bob.browser.close().await.ok();
}

/// Two people on the demo page, alice having called bob and bob having accepted.
async fn in_a_call(driver: &Driver, alice: &str, bob: &str) -> (Person, Person) {
    let suffix = std::process::id();
    let alice = Person::log_in(driver, &format!("{alice}-{suffix}")).await;
    let bob = Person::log_in(driver, &format!("{bob}-{suffix}")).await;
    alice.call(&bob.name).await;
    bob.click("accept-button").await;
    alice
        .wait_for_text("status", &format!("in a call with {}", bob.name))
        .await;
    (alice, bob)
}

/// Alice's page says bob left, less than 3 s after `since` (when `what` happened to him).
async fn sees_left_within_3_s(alice: &Person, bob: &Person, since: std::time::Instant, what: &str) {
    alice
        .wait_for_text("status", &format!("{} left", bob.name))
        .await;
    let took = since.elapsed();
    println!(
        "{what} to \"{} left\" on the other page: {took:?}",
        bob.name
    );
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
}
