//! The demo page over HTTPS, from a server with a certificate made at start: the page
//! loads under its Content-Security-Policy, signals over `wss://` by itself, and a call
//! between Chromium and Firefox gets camera and microphone (HTTPS pages only) and video.

use peercall_e2e::{Driver, Engine, Person, services::PeerCallServer};

#[tokio::test]
async fn a_call_between_chromium_and_firefox_on_the_https_demo_page() {
    let mut command = tokio::process::Command::new(peercall_e2e::services::server_binary());
    command.args(["--addr", "127.0.0.1:0", "--tls-self-signed"]);
    let server = PeerCallServer::start(command).await;
    let url = format!("https://{}/", server.addr);
    let chromium = Driver::start_for(Engine::Chromium).await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let suffix = std::process::id();
    let alice = Person::log_in_at(
        chromium.browser_accepting_its_certificate().await,
        &url,
        &format!("alice-{suffix}"),
    )
    .await;
    let bob = Person::log_in_at(
        firefox.browser_accepting_its_certificate().await,
        &url,
        &format!("bob-{suffix}"),
    )
    .await;
    // Both are logged in: over `wss://`, as an HTTPS page may not open `ws://`.

    alice.calls(&bob).await;
    alice.browser.close().await.ok();
    bob.browser.close().await.ok();
}
