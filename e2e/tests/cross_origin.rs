//! Embedding from another site: a page on a second origin, listed with `--allowed-origin`,
//! imports `/pkg` across origins and calls someone on the demo page; the same page on an
//! origin that is not listed can neither import the module nor, with a bundled copy of the
//! npm package, open a socket.

use fantoccini::{Client, Locator};
use peercall_e2e::{
    Driver, Engine, Person,
    services::{PeerCallServer, StaticSite, pkg_dir, server_binary, static_dir, workdir},
    wait_for_js,
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

async fn open(browser: &Client, url: &str) {
    browser.goto(url).await.expect("the page opens");
}

fn log_has(text: &str) -> String {
    format!("return document.getElementById('log').textContent.includes({text:?});")
}

/// Types `name` and joins, once the module has loaded.
async fn join(browser: &Client, name: &str) {
    wait_for_js(
        browser,
        "return !document.getElementById('join-button').disabled;",
        "the module loaded",
    )
    .await;
    browser
        .find(Locator::Id("name"))
        .await
        .expect("a name field")
        .send_keys(name)
        .await
        .expect("typing");
    browser
        .find(Locator::Id("join-button"))
        .await
        .expect("a join button")
        .click()
        .await
        .expect("clicking join");
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
    let site = firefox.browser().await;
    open(
        &site,
        &format!("{}/embed.html?server={server_origin}", allowed.origin),
    )
    .await;
    let sam = format!("sam-site-{suffix}");
    join(&site, &sam).await;
    wait_for_js(&site, &log_has("logged in, id "), "the site's page logs in").await;
    let call_dana = format!("Call {dana_name}");
    wait_for_js(
        &site,
        &format!(
            "const b = [...document.querySelectorAll('#peers button')].find(b => b.textContent === {call_dana:?});
             if (b) b.click();
             return !!b;"
        ),
        "the site's page calls dana",
    )
    .await;
    dana.wait_for_text("incoming-name", &sam).await;
    dana.click("accept-button").await;
    dana.wait_for_text("status", &format!("in a call with {sam}"))
        .await;
    dana.sees_remote_video().await;
    wait_for_js(
        &site,
        &log_has("state: connected"),
        "the site's page is in the call",
    )
    .await;
    wait_for_js(
        &site,
        "const v = document.getElementById('remote');
         const seen = window.__seen ?? (window.__seen = v.currentTime);
         return v.videoWidth > 0 && v.currentTime > seen;",
        "the site's page plays dana's video",
    )
    .await;

    // A site that is not listed cannot import the module from the server...
    let other = chromium.browser().await;
    open(
        &other,
        &format!("{}/embed.html?server={server_origin}", stranger.origin),
    )
    .await;
    wait_for_js(
        &other,
        &log_has("error: load-failed"),
        "the import is refused",
    )
    .await;
    // ...and with its own copy of the package, its socket is refused, in words.
    open(
        &other,
        &format!(
            "{}/embed.html?server={server_origin}&module=/bundled/peercall.js",
            stranger.origin
        ),
    )
    .await;
    join(&other, &format!("eve-{suffix}")).await;
    wait_for_js(
        &other,
        &log_has("error: origin-refused: "),
        "the socket is refused",
    )
    .await;

    for browser in [&site, &other, &dana.browser] {
        browser.clone().close().await.ok();
    }
    let _ = std::fs::remove_dir_all(dir);
}
