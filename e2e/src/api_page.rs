//! A page that embeds the client through `/pkg/peercall.js` alone, driven by WebDriver.

use std::time::{Duration, Instant};

use fantoccini::Client;
use serde_json::{Value, json};

use crate::{KEEP_CONNECTIONS, PATIENCE, base_url, wait_for_js};

/// A page that uses `/pkg/peercall.js` as any embedding page would, with everything its
/// `PeerCall` reported kept in `window.seen`.
pub struct ApiUser {
    /// The browser.
    pub browser: Client,
    /// The name logged in with.
    pub name: String,
    /// The id the server gave.
    pub id: String,
}

impl ApiUser {
    /// Calls `callee`, who accepts; waits until both are connected.
    pub async fn calls(&self, callee: &ApiUser) {
        self.run(
            "pc.call(arguments[0]).catch((e) => window.seen.push(['error', e]));",
            vec![json!(callee.id)],
        )
        .await;
        callee
            .until(
                &format!(
                    "return window.seen.some(([e, p]) => e === 'incoming' && p.name === {:?});",
                    self.name
                ),
                "is rung",
            )
            .await;
        callee.run("pc.accept();", vec![]).await;
        let started = Instant::now();
        for user in [self, callee] {
            while user.run("return pc.state === 'connected';", vec![]).await != json!(true) {
                if started.elapsed() > PATIENCE {
                    panic!(
                        "the call never connected: {}: {}; {}: {}",
                        self.name,
                        self.history().await,
                        callee.name,
                        callee.history().await
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Opens the embedding example in `browser` and logs in as `name` with a `PeerCall`
    /// of its own, made with `options` on top of the usual ones.
    pub async fn join(browser: Client, name: &str, options: Value) -> Self {
        Self::join_at(browser, &base_url(), name, options).await
    }

    /// As [`ApiUser::join`], on the server at `base` (e.g. `http://127.0.0.1:8095/`).
    /// Every RTCPeerConnection the module makes is kept in `window.connections`.
    pub async fn join_at(browser: Client, base: &str, name: &str, options: Value) -> Self {
        Self::try_join_at(browser, base, name, options)
            .await
            .unwrap_or_else(|error| panic!("{name}: {error}"))
    }

    /// As [`ApiUser::join_at`]; a refused `connect()` is `Err("<code>: <message>")`.
    pub async fn try_join_at(
        browser: Client,
        base: &str,
        name: &str,
        options: Value,
    ) -> Result<Self, String> {
        browser
            .goto(&format!("{base}embed.html"))
            .await
            .expect("the page opens");
        let id = browser
            .execute_async(
                &format!(
                    "const [name, options, done] = arguments;
                     {KEEP_CONNECTIONS}
                     import('/pkg/peercall.js').then(async (peercall) => {{
                       await peercall.default();
                       const pc = new peercall.PeerCall({{
                         url: `ws://${{location.host}}/ws`, name,
                         localVideo: document.getElementById('local'),
                         remoteVideo: document.getElementById('remote'),
                         ...options,
                       }});
                       window.pc = pc;
                       window.seen = [];
                       for (const event of ['incoming', 'state', 'remote-stream', 'datachannel',
                                            'ended', 'error'])
                         pc.on(event, (payload) => window.seen.push([event, payload]));
                       window.messages = [];
                       pc.on('datachannel', (channel) => channel.addEventListener('message',
                         (message) => window.messages.push([channel.label, message.data])));
                       done(await pc.connect());
                     }}).catch((error) => done(`failed: ${{error.code}}: ${{error.message ?? error}}`));"
                ),
                vec![json!(name), options],
            )
            .await
            .expect("the module runs");
        let id = id.as_str().unwrap_or_default().to_owned();
        if let Some(error) = id.strip_prefix("failed: ") {
            return Err(error.to_owned());
        }
        Ok(Self {
            browser,
            name: name.to_owned(),
            id,
        })
    }

    /// Runs `script` with `args` in the page.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.browser
            .execute(script, args)
            .await
            .unwrap_or_else(|error| panic!("{}: {script}: {error}", self.name))
    }

    /// Waits until `script` returns true.
    pub async fn until(&self, script: &str, what: &str) {
        wait_for_js(&self.browser, script, &format!("{}: {what}", self.name)).await;
    }

    /// Video frames decoded per incoming video, in `mid` order.
    pub async fn frames(&self) -> Vec<f64> {
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
    pub async fn decodes(&self, videos: usize, past: &[f64]) -> Vec<f64> {
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
    pub async fn history(&self) -> String {
        self.run(
            "return window.seen.filter(([e]) => ['state', 'ended', 'error'].includes(e))
                .map(([e, p]) => `${e}: ${JSON.stringify(p)} ${p?.message ?? ''}`).join(', ');",
            vec![],
        )
        .await
        .to_string()
    }

    /// The local ICE username fragment in use.
    pub async fn ice_ufrag(&self) -> String {
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
