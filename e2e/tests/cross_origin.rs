//! Embedding from another site: a page on a second origin, listed with `--allowed-origin`,
//! imports `/pkg` across origins and calls someone on the demo page; the same page on an
//! origin that is not listed can neither import the module nor, with a bundled copy of the
//! npm package, open a socket.

use peercall_e2e::{
    Driver, Engine, Person,
    embed_page::EmbedPage,
    services::{PeerCallServer, StaticSite, pkg_dir, server_binary, static_dir, workdir},
};
use tokio::process::Command;

/// The example page, and beside it the npm package as `target/pkg/package.json` lists it,
/// as a site that bundles the module would ship it.
fn site_files() -> std::path::PathBuf {
    let dir = workdir("cross-origin");
    std::fs::copy(static_dir().join("embed.html"), dir.join("embed.html")).expect("embed.html");
    let package: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(pkg_dir().join("package.json")).expect("the npm package"),
    )
    .expect("package.json is JSON");
    let bundled = dir.join("bundled");
    std::fs::create_dir_all(&bundled).expect("a folder");
    let files = package["files"]
        .as_array()
        .expect("package.json lists its files");
    for file in files.iter().filter_map(|file| file.as_str()) {
        std::fs::copy(pkg_dir().join(file), bundled.join(file)).expect("a file of the package");
    }
    for key in ["module", "types"] {
        let named = package[key].as_str().expect("package.json names it");
        assert!(
            bundled.join(named).is_file(),
            "{key}: {named} is in the package"
        );
    }
    dir
}

#[tokio::test]
async fn a_page_on_an_allowed_site_calls_the_demo_page_and_others_are_refused() {
    let dir = site_files();
    let allowed = StaticSite::serve(dir.clone()).await;
    let stranger = StaticSite::serve(dir.clone()).await;
    let mut command = Command::new(server_binary());
    command.args(["--addr", "127.0.0.1:0", "--allowed-origin", &allowed.origin]);
    let server = PeerCallServer::start(command).await;
    let server_origin = format!("http://{}", server.addr);
    let suffix = std::process::id();

    let chromium = Driver::start_for(Engine::Chromium).await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let dana_name = format!("dana-demo-{suffix}");
    let dana = Person::log_in_at(
        chromium.browser().await,
        &format!("{server_origin}/"),
        &dana_name,
    )
    .await;

    // The page on the allowed site, in Firefox, loads /pkg from the server across origins.
    let site = EmbedPage::open(
        firefox.browser().await,
        &format!("{}/embed.html?server={server_origin}", allowed.origin),
    )
    .await;
    let sam = format!("sam-site-{suffix}");
    site.log_in(&sam).await;
    site.call(&dana_name).await;
    dana.wait_for_text("incoming-name", &sam).await;
    dana.click("accept-button").await;
    dana.wait_for_text("status", &format!("in a call with {sam}"))
        .await;
    dana.sees_remote_video().await;
    site.until_log_has("state: connected", "the site's page is in the call")
        .await;
    site.until_video_plays("remote").await;

    // A site that is not listed cannot import the module from the server...
    let stranger_page = format!("{}/embed.html?server={server_origin}", stranger.origin);
    let other = EmbedPage::open(chromium.browser().await, &stranger_page).await;
    other
        .until_log_has("error: load-failed", "the import is refused")
        .await;
    // ...and with its own copy of the package, its socket is refused, in words.
    let other = EmbedPage::open(
        other.browser,
        &format!("{stranger_page}&module=/bundled/peercall.js"),
    )
    .await;
    other.join(&format!("eve-{suffix}")).await;
    other
        .until_log_has("error: origin-refused: ", "the socket is refused")
        .await;

    for browser in [&site.browser, &other.browser, &dana.browser] {
        browser.clone().close().await.ok();
    }
    let _ = std::fs::remove_dir_all(dir);
}
