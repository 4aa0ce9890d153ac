//! A call that only receives, answered through the API without a click, in browsers that
//! keep sound back until the person clicks: the video plays muted, the page is told, and
//! the first click brings the sound. Each engine receives once, from the other.

use peercall_e2e::{Autoplay, Driver, Engine, api_page::ApiUser};
use serde_json::json;

/// `listener` (on `engine`, autoplay held back, no camera or microphone) answers a call
/// from a person on the other engine.
async fn answered_without_a_click(listener_engine: Engine, caller_engine: Engine) {
    let (listener_driver, caller_driver) = (
        Driver::start_for(listener_engine).await,
        Driver::start_for(caller_engine).await,
    );
    let suffix = std::process::id();
    let listener = ApiUser::join(
        listener_driver.browser_where(Autoplay::NeedsAClick).await,
        &format!("listens-{listener_engine:?}-{suffix}"),
        // Receives only: a page using the camera or microphone may autoplay anyway.
        json!({"media": {"audio": false, "video": false}}),
    )
    .await;
    let caller = ApiUser::join(
        caller_driver.browser().await,
        &format!("speaks-{caller_engine:?}-{suffix}"),
        json!({}),
    )
    .await;
    caller.calls(&listener).await;

    listener
        .until(
            "return window.seen.some(([e, p]) => e === 'error' && p.code === 'autoplay-blocked');",
            "is told the sound is held back",
        )
        .await;
    let plays = "const v = document.getElementById('remote');
         const seen = window.__seen ?? (window.__seen = v.currentTime);
         return v.videoWidth > 0 && !v.paused && v.currentTime > seen";
    listener
        .until(&format!("{plays} && v.muted;"), "shows the video, muted")
        .await;

    // A real click on the page, through WebDriver's pointer actions.
    listener
        .browser
        .find(fantoccini::Locator::Css("h1"))
        .await
        .expect("a heading")
        .click()
        .await
        .expect("a click");
    listener
        .until(
            "const v = document.getElementById('remote'); window.__seen = v.currentTime;
             return !v.muted && !v.paused;",
            "plays the sound after the click",
        )
        .await;
    listener
        .until(&format!("{plays} && !v.muted;"), "keeps playing")
        .await;
    caller.run("pc.hangup();", vec![]).await;
    listener
        .until(
            "return window.seen.some(([e]) => e === 'ended') && !document.getElementById('remote').muted;",
            "ends the call with the element's sound given back",
        )
        .await;
}

#[tokio::test]
async fn firefox_holding_back_sound_plays_a_call_from_chromium_muted_until_a_click() {
    answered_without_a_click(Engine::Firefox, Engine::Chromium).await;
}

#[tokio::test]
async fn chromium_holding_back_sound_plays_a_call_from_firefox_muted_until_a_click() {
    answered_without_a_click(Engine::Chromium, Engine::Firefox).await;
}
