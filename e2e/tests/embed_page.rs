//! The embedding example (www/embed.html): a whole call through nothing but /pkg/peercall.js.

use fantoccini::Locator;
use peercall_e2e::{Driver, base_url, embed_page::EmbedPage, wait_for_js};

async fn click(page: &EmbedPage, id: &str) {
    page.browser
        .find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_embed_example_holds_a_whole_call() {
    let driver = Driver::start().await;
    let suffix = std::process::id();
    let (alice_name, bob_name) = (format!("ann-{suffix}"), format!("ben-{suffix}"));
    let url = format!("{}embed.html", base_url());
    let alice = EmbedPage::open(driver.browser().await, &url).await;
    alice.log_in(&alice_name).await;
    let bob = EmbedPage::open(driver.browser().await, &url).await;
    bob.log_in(&bob_name).await;

    alice.call(&bob_name).await;
    wait_for_js(
        &bob.browser,
        "return !document.getElementById('incoming').hidden;",
        "bob's phone rings",
    )
    .await;
    let caller = bob.browser.find(Locator::Id("caller")).await.unwrap();
    assert_eq!(caller.text().await.unwrap(), alice_name);
    click(&bob, "accept").await;

    for page in [&alice, &bob] {
        page.until_log_line("state: connected", "connected").await;
        page.until_video_plays("remote").await;
    }
    click(&alice, "hangup").await;
    alice.until_log_line("ended: hangup", "alice hung up").await;
    bob.until_log_line("ended: remote-hangup", "bob sees the hang-up")
        .await;

    alice.browser.close().await.ok();
    bob.browser.close().await.ok();
}
