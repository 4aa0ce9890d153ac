//! The embeddable API with Firefox calling Chromium: a call that is changed while it
//! runs (ICE restarts from either side, a second camera and a data channel) keeps its
//! media, and closing the Firefox tab ends it on the other side.

use std::time::{Duration, Instant};

use fantoccini::Client;
use peercall_e2e::{Driver, Engine, PATIENCE, base_url, wait_for_js};
use serde_json::{Value, json};

/// A page that uses `/pkg/peercall.js` as any embedding page would, with everything its
/// `PeerCall` reported kept in `window.seen`.
struct User {
    browser: Client,
    name: String,
    id: String,
}

impl User {
    async fn join(driver: &Driver, name: &str) -> Self {
        let browser = driver.browser().await;
        browser
            .goto(&format!("{}embed.html", base_url()))
            .await
            .expect("the page opens");
        let id = browser
            .execute_async(
                "const [name, done] = arguments;
                 import('/pkg/peercall.js').then(async (peercall) => {
                   await peercall.default();
                   const pc = new peercall.PeerCall({
                     url: `ws://${location.host}/ws`, name,
                     localVideo: document.getElementById('local'),
                     remoteVideo: document.getElementById('remote'),
                   });
                   window.pc = pc;
                   window.seen = [];
                   for (const event of ['incoming', 'state', 'remote-stream', 'datachannel',
                                        'ended', 'error'])
                     pc.on(event, (payload) => window.seen.push([event, payload]));
                   window.messages = [];
                   pc.on('datachannel', (channel) => channel.addEventListener('message',
                     (message) => window.messages.push([channel.label, message.data])));
                   done(await pc.connect());
                 }).catch((error) => done(`failed: ${error.message ?? error}`));",
                vec![json!(name)],
            )
            .await
            .expect("the module runs");
        let id = id.as_str().unwrap_or_default().to_owned();
        assert!(!id.starts_with("failed"), "{name}: {id}");
        Self {
            browser,
            name: name.to_owned(),
            id,
        }
    }

    async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.browser
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("{}: {script}: {error}", self.name))
    }

    async fn until(&self, script: &str, what: &str) {
        wait_for_js(&self.browser, script, &format!("{}: {what}", self.name)).await;
    }

    /// Video frames decoded per incoming video, in `mid` order.
    async fn frames(&self) -> Vec<f64> {
        let frames = self
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 pc.getStats().then((report) => {
                   const videos = [...(report?.values() ?? [])]
                     .filter((s) => s.type === 'inbound-rtp' && s.kind === 'video')
                     .sort((a, b) => String(a.mid).localeCompare(String(b.mid)));
                   done(videos.map((s) => s.framesDecoded ?? 0));
                 });",
                vec![],
            )
            .await
            .expect("stats");
        frames
            .as_array()
            .map(|all| all.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    }

    /// Waits until every one of `videos` incoming videos has decoded more than `past`
    /// frames (per video, in `mid` order; missing entries count as 0).
    async fn decodes(&self, videos: usize, past: &[f64]) -> Vec<f64> {
        let started = Instant::now();
        loop {
            let now = self.frames().await;
            let moved = now.len() == videos
                && now
                    .iter()
                    .enumerate()
                    .all(|(i, n)| *n > past.get(i).copied().unwrap_or(0.0));
            if moved {
                return now;
            }
            if started.elapsed() > PATIENCE {
                let history = self.history().await;
                panic!(
                    "{}: frames {now:?}, wanted {videos} videos past {past:?}; {history}",
                    self.name
                );
            }
            // getStats has no change event: look again after a few frames.
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The states, endings and errors reported so far, for failure messages.
    async fn history(&self) -> String {
        self.run(
            "return window.seen.filter(([e]) => ['state', 'ended', 'error'].includes(e))
                .map(([e, p]) => `${e}: ${JSON.stringify(p)} ${p?.message ?? ''}`).join(', ');",
            vec![],
        )
        .await
        .to_string()
    }

    /// The local ICE username fragment in use.
    async fn ice_ufrag(&self) -> String {
        let ufrag = self
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 pc.getStats().then((report) => done([...(report?.values() ?? [])]
                   .find((s) => s.type === 'transport')?.iceLocalUsernameFragment ?? ''));",
                vec![],
            )
            .await
            .expect("stats");
        ufrag.as_str().unwrap_or_default().to_owned()
    }
}

#[tokio::test]
async fn firefox_calls_chromium_and_the_call_survives_restarts_new_tracks_and_a_closed_tab() {
    // geckodriver serves one session at a time: Firefox gets a driver of its own.
    let chromium = Driver::start_for(Engine::Chromium).await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let suffix = std::process::id();
    let fox = User::join(&firefox, &format!("fox-firefox-{suffix}")).await;
    let crow = User::join(&chromium, &format!("crow-chromium-{suffix}")).await;

    fox.run(
        "pc.call(arguments[0]).catch((e) => window.seen.push(['error', e]));",
        vec![json!(crow.id)],
    )
    .await;
    crow.until(
        &format!(
            "return window.seen.some(([e, p]) => e === 'incoming' && p.name === {:?});",
            fox.name
        ),
        "is rung",
    )
    .await;
    crow.run("pc.accept();", vec![]).await;
    for user in [&fox, &crow] {
        user.until("return pc.state === 'connected';", "connected")
            .await;
    }
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
