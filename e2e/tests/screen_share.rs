//! Screen sharing on the demo page, with real clicks on "Share screen" (Firefox asks for
//! one): the other side sees the screen beside the camera and is told who shares it, the
//! mute mark follows the other side, the quality panel shows the figures, stopping ends
//! it there, and a browser with nothing to share says so in words.

use peercall_e2e::{Driver, Engine, Person, wait_for_js};

/// Waits until `person` sees the other side's shared screen playing (frames, and time
/// moving on), or (`shown` false) no shared screen at all.
async fn sees_shared_screen(person: &Person, shown: bool) {
    let script = if shown {
        "const v = document.getElementById('remote-screen');
         if (v.hidden || !v.videoWidth) return false;
         const seen = Number(v.dataset.seen ?? -1);
         v.dataset.seen = v.currentTime;
         return seen >= 0 && v.currentTime > seen;"
    } else {
        "return document.getElementById('remote-screen').hidden;"
    };
    wait_for_js(
        &person.browser,
        script,
        &format!("{}: shared screen shown {shown}", person.name),
    )
    .await;
}

/// Whether `person`'s page offers picture-in-picture; fails unless it does exactly where
/// the browser has it.
async fn offers_picture_in_picture(person: &Person) -> bool {
    let found = person
        .browser
        .execute(
            "return [document.pictureInPictureEnabled === true,
                     !document.getElementById('pip-button').hidden];",
            vec![],
        )
        .await
        .expect("a script runs");
    let (has, offered) = (found[0].as_bool(), found[1].as_bool());
    assert_eq!(
        offered, has,
        "{}: offered where the browser has it",
        person.name
    );
    has == Some(true)
}

#[tokio::test]
async fn a_screen_shared_by_a_click_is_seen_beside_the_camera_and_ends_on_stop() {
    let chromium = Driver::start().await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let (alice, bob) = Person::in_chromium_and_firefox(&chromium, &firefox).await;
    alice.calls(&bob).await;

    // Headless Firefox has no screen to capture: its refusal is said in words, and the
    // call goes on.
    bob.click("share-button").await;
    bob.wait_for_text("alert", "there is no screen to share")
        .await;
    assert_eq!(bob.text("share-button").await, "Share screen");
    bob.sees_remote_video().await;

    // Chromium shares, from a click; Firefox sees it beside the camera.
    alice.click("share-button").await;
    alice.wait_for_text("share-button", "Stop sharing").await;
    bob.wait_for_text("notice", &format!("{} is sharing their screen", alice.name))
        .await;
    sees_shared_screen(&bob, true).await;
    bob.sees_remote_video().await;

    // The mark on bob's side is what alice tells, not a guess from silence.
    alice.click("mic-button").await;
    bob.wait_for_text("remote-marks", "muted").await;
    // The quality panel: the figures of the connection, and graphs that grow each second.
    bob.click("quality-button").await;
    wait_for_js(
        &bob.browser,
        "const text = document.getElementById('quality-figures').textContent;
         return text.includes(' kbps') && text.includes('path host');",
        "bob's quality panel shows the figures",
    )
    .await;
    bob.keep_screenshot("screen-share-quality").await;
    bob.click("quality-button").await;

    alice.click("share-button").await;
    alice.wait_for_text("share-button", "Share screen").await;
    sees_shared_screen(&bob, false).await;
    wait_for_js(
        &bob.browser,
        "return document.getElementById('notice').hidden;",
        "the sharing notice goes",
    )
    .await;

    // Picture-in-picture, where the browser has it (Chromium; Firefox has only its own
    // button on videos): the other side pops out of the page.
    offers_picture_in_picture(&bob).await;
    if offers_picture_in_picture(&alice).await {
        alice.click("pip-button").await;
        wait_for_js(
            &alice.browser,
            "return document.pictureInPictureElement?.id === 'remote-video';",
            "the other side in picture-in-picture",
        )
        .await;
    }

    alice.click("hangup-button").await;
    bob.wait_for_text("status", &format!("{} hung up", alice.name))
        .await;
}
