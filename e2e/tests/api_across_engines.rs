//! The embeddable API with Firefox calling Chromium: a call that is changed while it
//! runs (ICE restarts from either side, a second camera and a data channel) keeps its
//! media, and closing the Firefox tab ends it on the other side.

use std::time::{Duration, Instant};

use peercall_e2e::{Driver, Engine, PATIENCE, api_page::ApiUser};
use serde_json::json;

#[tokio::test]
async fn firefox_calls_chromium_and_the_call_survives_restarts_new_tracks_and_a_closed_tab() {
    // geckodriver serves one session at a time: Firefox gets a driver of its own.
    let chromium = Driver::start_for(Engine::Chromium).await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let suffix = std::process::id();
    let fox = ApiUser::join(
        firefox.browser().await,
        &format!("fox-firefox-{suffix}"),
        json!({}),
    )
    .await;
    let crow = ApiUser::join(
        chromium.browser().await,
        &format!("crow-chromium-{suffix}"),
        json!({}),
    )
    .await;

    fox.calls(&crow).await;
    let fox_frames = fox.decodes(1, &[]).await;
    let crow_frames = crow.decodes(1, &[]).await;

    // ICE restarts from either side: new credentials, and the media goes on.
    let (mut fox_frames, mut crow_frames) = (fox_frames, crow_frames);
    for restarting in [&fox, &crow] {
        let before = restarting.ice_ufrag().await;
        assert!(!before.is_empty(), "{}: an ICE transport", restarting.name);
        restarting.run("pc.restartIce();", vec![]).await;
        let started = Instant::now();
        while restarting.ice_ufrag().await == before {
            assert!(
                started.elapsed() < PATIENCE,
                "{}: ICE did not restart",
                restarting.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        fox_frames = fox.decodes(1, &fox_frames).await;
        crow_frames = crow.decodes(1, &crow_frames).await;
        for user in [&fox, &crow] {
            assert_eq!(
                user.run("return pc.state;", vec![]).await,
                json!("connected")
            );
        }
    }

    // Chromium adds a second camera and a data channel mid-call: Firefox decodes both
    // videos and gets the channel, whose binary messages arrive as ArrayBuffers.
    let sent = crow
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             (async () => {
               const stream = await navigator.mediaDevices.getUserMedia({video: true});
               pc.addTrack(stream.getVideoTracks()[0], stream);
               const channel = await pc.createDataChannel('extra');
               if (channel.readyState !== 'open')
                 await new Promise((open) => channel.addEventListener('open', open, {once: true}));
               channel.send(new Uint8Array([7, 8, 9]));
               return channel.binaryType;
             })().then(done, (e) => done(`failed: ${e.message ?? e}`));",
            vec![],
        )
        .await
        .expect("a second camera and a channel");
    assert_eq!(sent, json!("arraybuffer"));
    fox.until(
        "return window.messages.some(([label, data]) => label === 'extra'
            && Object.prototype.toString.call(data) === '[object ArrayBuffer]'
            && new Uint8Array(data).join() === '7,8,9');",
        "gets the bytes on the new channel as an ArrayBuffer",
    )
    .await;
    fox_frames = fox.decodes(2, &[]).await;

    fox.decodes(2, &fox_frames).await;

    // Firefox's tab closes: Chromium's call ends as peer-left within 3 s.
    let closed = Instant::now();
    fox.browser
        .close_window()
        .await
        .expect("fox closes the tab");
    crow.until(
        "return window.seen.some(([e, p]) => e === 'ended' && p.reason === 'peer-left');",
        "the call ends as peer-left",
    )
    .await;
    let took = closed.elapsed();
    println!("Firefox tab closed to peer-left in Chromium: {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    crow.browser.close().await.ok();
}
