//! The embedding example (www/embed.html): a whole call through nothing but /pkg/peercall.js.

use fantoccini::{Client, Locator};
use peercall_e2e::{Driver, base_url, wait_for_js};

async fn join(driver: &Driver, name: &str) -> Client {
    let browser = driver.browser().await;
    browser
        .goto(&format!("{}embed.html", base_url()))
        .await
        .expect("the page opens");
    wait_for_js(
        &browser,
        "return !document.getElementById('join-button').disabled;",
        "the module loaded",
    )
    .await;
    let input = browser
        .find(Locator::Id("name"))
        .await
        .expect("a name field");
    input.send_keys(name).await.expect("typing");
    browser
        .find(Locator::Id("join-button"))
        .await
        .expect("a join button")
        .click()
        .await
        .expect("clicking join");
    wait_for_js(
        &browser,
        "return document.getElementById('log').textContent.includes('logged in, id ');",
        "logged in",
    )
    .await;
    browser
}

fn log_says(line: &str) -> String {
    format!("return document.getElementById('log').textContent.split('\\n').includes({line:?});")
}

fn video_plays(id: &str) -> String {
    format!(
        "const v = document.getElementById({id:?});
         const seen = window.__seen ?? (window.__seen = v.currentTime);
         return v.videoWidth > 0 && v.currentTime > seen;"
    )
}

#[tokio::test]
async fn the_embed_example_holds_a_whole_call() {
    let driver = Driver::start().await;
    let suffix = std::process::id();
    let (alice_name, bob_name) = (format!("ann-{suffix}"), format!("ben-{suffix}"));
    let alice = join(&driver, &alice_name).await;
    let bob = join(&driver, &bob_name).await;

    let call_bob = format!("Call {bob_name}");
    // Found and clicked in one go: the list is redrawn whenever someone comes or goes.
    wait_for_js(
        &alice,
        &format!(
            "const b = [...document.querySelectorAll('#peers button')].find(b => b.textContent === {call_bob:?});
             if (b) b.click();
             return !!b;"
        ),
        "alice calls bob",
    )
    .await;
    wait_for_js(
        &bob,
        "return !document.getElementById('incoming').hidden;",
        "bob's phone rings",
    )
    .await;
    assert_eq!(
        bob.find(Locator::Id("caller"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        alice_name
    );
    bob.find(Locator::Id("accept"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    for browser in [&alice, &bob] {
        wait_for_js(browser, &log_says("state: connected"), "connected").await;
        wait_for_js(browser, &video_plays("remote"), "remote video plays").await;
    }
    alice
        .find(Locator::Id("hangup"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_js(&alice, &log_says("ended: hangup"), "alice hung up").await;
    wait_for_js(
        &bob,
        &log_says("ended: remote-hangup"),
        "bob sees the hang-up",
    )
    .await;

    alice.close().await.ok();
    bob.close().await.ok();
}
