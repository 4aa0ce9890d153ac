//! Drives real Chromium and Firefox sessions through their WebDriver servers, against a
//! running peercall-server.
//!
//! `cargo xtask test` starts the server on the built client and sets `PEERCALL_E2E_URL`;
//! each test starts the drivers it needs.

#![forbid(unsafe_code)]

pub mod api_page;
pub mod cluster;
pub mod embed_page;
pub mod network;
pub mod services;

use std::{
    path::PathBuf,
    process::Stdio,
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// A page script that keeps every RTCPeerConnection the page makes from then on in
/// `window.connections`, for `getStats` and `getConfiguration`.
pub const KEEP_CONNECTIONS: &str = "
    const Native = window.RTCPeerConnection;
    window.connections = [];
    window.RTCPeerConnection = function (...args) {
      const connection = new Native(...args);
      window.connections.push(connection);
      return connection;
    };
    window.RTCPeerConnection.prototype = Native.prototype;
    Object.setPrototypeOf(window.RTCPeerConnection, Native);
";

/// How long anything a person would wait for may take.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The page under test, e.g. `http://127.0.0.1:8095/`.
pub fn base_url() -> String {
    std::env::var("PEERCALL_E2E_URL").unwrap_or_else(|_| "http://127.0.0.1:8080/".to_owned())
}

/// Where tests keep what a person would want to look at afterwards.
pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../artifacts");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A browser engine, with the driver that speaks WebDriver for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Debian's Chromium through chromedriver (`CHROMEDRIVER`); one driver serves many
    /// sessions.
    Chromium,
    /// Debian's Firefox ESR (`FIREFOX`) through geckodriver (`GECKODRIVER`); one driver
    /// serves one session at a time, so each Firefox person needs a driver of their own.
    Firefox,
}

impl Engine {
    fn driver_program(self) -> String {
        let (variable, default) = match self {
            Self::Chromium => ("CHROMEDRIVER", "/usr/bin/chromedriver".to_owned()),
            Self::Firefox => (
                "GECKODRIVER",
                std::env::var("HOME").unwrap_or_default() + "/.cargo/bin/geckodriver",
            ),
        };
        std::env::var(variable).unwrap_or(default)
    }

    /// The session's capabilities: the browser-test settings of `webdriver.json` (fake
    /// devices, no permission prompt, autoplay, ICE on loopback) plus a window of a
    /// person's size and, for Chromium, a profile of the session's own under `profiles`.
    fn capabilities(
        self,
        autoplay: Autoplay,
        profiles: &std::path::Path,
    ) -> serde_json::Map<String, Value> {
        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let shared: Value = serde_json::from_str(include_str!("../../webdriver.json"))
            .expect("webdriver.json is JSON");
        let (key, mut options) = match self {
            Self::Chromium => ("goog:chromeOptions", shared["goog:chromeOptions"].clone()),
            Self::Firefox => ("moz:firefoxOptions", shared["moz:firefoxOptions"].clone()),
        };
        let args: &[String] = match self {
            Self::Chromium => &[
                "--headless=new".to_owned(),
                "--window-size=1280,800".to_owned(),
                format!(
                    "--user-data-dir={}",
                    profiles
                        .join(format!(
                            "chromium-{}",
                            SESSIONS.fetch_add(1, Ordering::Relaxed)
                        ))
                        .display()
                ),
            ],
            Self::Firefox => &[
                "-headless".to_owned(),
                "--width=1280".to_owned(),
                "--height=800".to_owned(),
            ],
        };
        let list = options["args"].as_array().cloned().unwrap_or_default();
        options["args"] = Value::Array(
            list.into_iter()
                .chain(args.iter().cloned().map(Value::String))
                .collect(),
        );
        if autoplay == Autoplay::NeedsAClick {
            match self {
                Self::Chromium => {
                    for arg in options["args"].as_array_mut().into_iter().flatten() {
                        if arg
                            .as_str()
                            .is_some_and(|a| a.starts_with("--autoplay-policy="))
                        {
                            *arg = json!("--autoplay-policy=document-user-activation-required");
                        }
                    }
                }
                // Firefox's own default: media with sound waits for a click on the page.
                Self::Firefox => options["prefs"]["media.autoplay.default"] = json!(1),
            }
        }
        if self == Self::Firefox {
            // The browser tests keep both ends of a call and the TURN relay on loopback.
            // Here Firefox meets Chromium, which gathers no loopback candidates: pairs of
            // Firefox's loopback address with Chromium's host address lost the media of
            // every other ICE restart, so both use the machine's own address.
            options["prefs"]["media.peerconnection.ice.loopback"] = json!(false);
            options["binary"] = Value::String(
                std::env::var("FIREFOX").unwrap_or_else(|_| "/usr/bin/firefox-esr".to_owned()),
            );
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(key.to_owned(), options);
        capabilities
    }
}

/// Whether a page may play media with sound before the person has clicked on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Autoplay {
    /// Allowed: the setting of every other test.
    Allowed,
    /// Only after a click, tap or key press on the page (as real browsers ship).
    NeedsAClick,
}

/// How many times a driver is started before a test gives up on it.
const DRIVER_TRIES: u32 = 3;

/// A running WebDriver server in a process group of its own. On drop the whole group is
/// killed: the driver and every browser it started, even one whose session was never
/// closed because a test failed first. The browsers' profiles live in a folder of the
/// driver's own, removed with it.
pub struct Driver {
    child: Child,
    port: u16,
    engine: Engine,
    profiles: PathBuf,
}

impl Driver {
    /// Starts chromedriver (see [`Driver::start_for`]).
    pub async fn start() -> Self {
        Self::start_for(Engine::Chromium).await
    }

    /// Starts the driver of `engine` on a port the system picks, read from the line the
    /// driver prints once it listens.
    pub async fn start_for(engine: Engine) -> Self {
        static DRIVERS: AtomicUsize = AtomicUsize::new(0);
        let program = engine.driver_program();
        let profiles = std::env::temp_dir().join(format!(
            "peercall-driver-{}-{}",
            std::process::id(),
            DRIVERS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profiles).expect("a folder for the browsers' profiles");
        // A driver that ends before it says where it listens (seen once in many runs:
        // chromedriver gone at start with nothing on its output) is started again.
        let mut tries = 0;
        let (child, port) = loop {
            tries += 1;
            match Self::spawn(&program, &profiles).await {
                Some(started) => break started,
                None if tries < DRIVER_TRIES => continue,
                None => panic!("{program} did not say where it listens, {tries} times"),
            }
        };
        Self {
            child,
            port,
            engine,
            profiles,
        }
    }

    /// Starts `program` with its browsers' profiles in `profiles`; the process and its
    /// port, once it says where it listens.
    async fn spawn(program: &str, profiles: &std::path::Path) -> Option<(Child, u16)> {
        // Both drivers make their browsers' profiles in the temporary folder they are given.
        let mut child = Command::new(program)
            .arg("--port=0")
            .env("TMPDIR", profiles)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {program}: {error}"));
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let listening = tokio::time::timeout(PATIENCE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = listening_port(&line) {
                    return Some(port);
                }
            }
            None
        });
        let port = listening.await.ok().flatten()?;
        // The driver goes on logging: its output is read to the end, so that it never
        // waits on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some((child, port))
    }

    /// CPU time (user and system, in clock ticks) used so far by the driver and every
    /// browser process it started: they share its process group.
    pub fn cpu_ticks(&self) -> u64 {
        let Some(group) = self.child.id() else {
            return 0;
        };
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return 0;
        };
        entries
            .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("stat")).ok())
            .filter_map(|stat| {
                // After the command name in parentheses: state, ppid, pgrp, ... utime (14),
                // stime (15).
                let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                let pgrp: u32 = fields.get(2)?.parse().ok()?;
                (pgrp == group).then(|| {
                    let tick = |at: usize| fields.get(at).and_then(|f| f.parse::<u64>().ok());
                    tick(11).unwrap_or(0) + tick(12).unwrap_or(0)
                })
            })
            .sum()
    }

    /// A new browser session with fake camera and microphone.
    pub async fn browser(&self) -> Client {
        self.browser_where(Autoplay::Allowed).await
    }

    /// A new browser session with fake camera and microphone and the given autoplay rule.
    pub async fn browser_where(&self, autoplay: Autoplay) -> Client {
        self.session(self.engine.capabilities(autoplay, &self.profiles))
            .await
    }

    /// A Chromium session whose browser is started by `launcher` (e.g. inside a network
    /// namespace), with `args` added. The driver reaches it over a pipe, not a port.
    pub async fn chromium_at(&self, launcher: &std::path::Path, args: &[String]) -> Client {
        assert_eq!(self.engine, Engine::Chromium, "a Chromium driver");
        let mut capabilities = self.engine.capabilities(Autoplay::Allowed, &self.profiles);
        let options = &mut capabilities["goog:chromeOptions"];
        options["binary"] = json!(launcher.display().to_string());
        if let Some(list) = options["args"].as_array_mut() {
            list.push(json!("--remote-debugging-pipe"));
            list.extend(args.iter().map(|arg| json!(arg)));
        }
        self.session(capabilities).await
    }

    /// A session that accepts the certificate the test server made for itself.
    pub async fn browser_accepting_its_certificate(&self) -> Client {
        let mut capabilities = self.engine.capabilities(Autoplay::Allowed, &self.profiles);
        capabilities.insert("acceptInsecureCerts".to_owned(), json!(true));
        self.session(capabilities).await
    }

    /// A Firefox session that gathers loopback candidates and reaches STUN and TURN
    /// servers on loopback: for calls between Firefox sessions only (see
    /// `Engine::capabilities` for why calls with Chromium do without).
    pub async fn firefox_on_loopback(&self) -> Client {
        assert_eq!(self.engine, Engine::Firefox, "a Firefox driver");
        let mut capabilities = self.engine.capabilities(Autoplay::Allowed, &self.profiles);
        capabilities["moz:firefoxOptions"]["prefs"]["media.peerconnection.ice.loopback"] =
            json!(true);
        self.session(capabilities).await
    }

    async fn session(&self, capabilities: serde_json::Map<String, Value>) -> Client {
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.child.id() {
            let group = nix::unistd::Pid::from_raw(id as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.profiles);
    }
}

/// The port in a driver's line saying it listens: chromedriver's `... started
/// successfully on port N.`, geckodriver's `... Listening on 127.0.0.1:N`.
fn listening_port(line: &str) -> Option<u16> {
    let port = match line.split_once("successfully on port ") {
        Some((_, port)) => port,
        None => line.split_once("Listening on ")?.1.rsplit(':').next()?,
    };
    port.trim().trim_end_matches('.').parse().ok()
}

/// Clicks the button `id` once the page has made it usable: the demo page's form buttons
/// come disabled until its module has taken the forms over.
pub async fn click_when_ready(browser: &Client, id: &str) {
    let script = format!("return document.getElementById('{id}')?.disabled === false;");
    wait_for_js(browser, &script, &format!("#{id} enabled")).await;
    browser
        .find(Locator::Id(id))
        .await
        .expect("the button")
        .click()
        .await
        .expect("clicking");
}

/// Waits until `script` (a function body returning a boolean) returns true in `browser`.
pub async fn wait_for_js(browser: &Client, script: &str, what: &str) {
    let started = Instant::now();
    loop {
        let value = browser.execute(script, vec![]).await.unwrap_or(Value::Null);
        if value == Value::Bool(true) {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "never true: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Crashes the page's renderer process (Chrome DevTools `Page.crash`, through
/// chromedriver): the tab dies without unloading, as on a real crash.
#[derive(Debug)]
struct CrashPage;

impl fantoccini::wd::WebDriverCompatibleCommand for CrashPage {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": "Page.crash", "params": {}}).to_string();
        (http::Method::POST, Some(body))
    }
}

/// Crashes the tab `browser` shows.
pub async fn crash_tab(browser: &Client) {
    // The command never answers: the page it ran in is gone.
    let _ = tokio::time::timeout(Duration::from_secs(2), browser.issue_cmd(CrashPage)).await;
}

/// A person at a browser on the demo page.
pub struct Person {
    /// The browser.
    pub browser: Client,
    /// Their name.
    pub name: String,
}

impl Person {
    /// Opens the demo page and logs in as `name`.
    pub async fn log_in(driver: &Driver, name: &str) -> Self {
        Self::log_in_at(driver.browser().await, &base_url(), name).await
    }

    /// Opens the demo page at `url` in `browser` and logs in as `name`.
    pub async fn log_in_at(browser: Client, url: &str, name: &str) -> Self {
        let person = Self::try_log_in_at(browser, url, name).await;
        person.wait_for_text("me", &format!("you are {name}")).await;
        person
    }

    /// Alice in Chromium and bob in Firefox, logged in to the demo page, named after this
    /// process.
    pub async fn in_chromium_and_firefox(chromium: &Driver, firefox: &Driver) -> (Self, Self) {
        let suffix = std::process::id();
        let alice = Self::log_in(chromium, &format!("alice-{suffix}")).await;
        let bob = Self::log_in(firefox, &format!("bob-{suffix}")).await;
        (alice, bob)
    }

    /// Opens the demo page at `url` in `browser`, ticks the login form's checkboxes
    /// `boxes` (by id), and logs in as `name`.
    pub async fn log_in_ticking(browser: Client, url: &str, name: &str, boxes: &[&str]) -> Self {
        let person = Self::try_log_in_with(browser, url, name, boxes).await;
        person.wait_for_text("me", &format!("you are {name}")).await;
        person
    }

    /// Opens the demo page at `url` in `browser`, types `name` and clicks Join; does not
    /// wait to see whether the login went through.
    pub async fn try_log_in_at(browser: Client, url: &str, name: &str) -> Self {
        Self::try_log_in_with(browser, url, name, &[]).await
    }

    async fn try_log_in_with(browser: Client, url: &str, name: &str, boxes: &[&str]) -> Self {
        browser.goto(url).await.expect("the page opens");
        for id in boxes {
            browser
                .wait()
                .at_most(PATIENCE)
                .for_element(Locator::Id(id))
                .await
                .expect("the checkbox")
                .click()
                .await
                .expect("ticking");
        }
        let input = browser
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Id("name-input"))
            .await
            .expect("a name field");
        input.send_keys(name).await.expect("typing");
        click_when_ready(&browser, "login-button").await;
        Self {
            browser,
            name: name.to_owned(),
        }
    }

    /// Calls `callee`, who accepts; both see the other's video.
    pub async fn calls(&self, callee: &Person) {
        self.call(&callee.name).await;
        callee.wait_for_text("incoming-name", &self.name).await;
        callee.click("accept-button").await;
        self.wait_for_text("status", &format!("in a call with {}", callee.name))
            .await;
        callee
            .wait_for_text("status", &format!("in a call with {}", self.name))
            .await;
        self.sees_remote_video().await;
        callee.sees_remote_video().await;
    }

    /// Waits until the element `id` says `text`.
    pub async fn wait_for_text(&self, id: &str, text: &str) {
        let started = Instant::now();
        loop {
            let now = self.text(id).await;
            if now == text {
                return;
            }
            if started.elapsed() > PATIENCE {
                self.keep_screenshot("failure").await;
                panic!("{}: #{id} says {now:?}, not {text:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the first element matching `css` says `text`.
    pub async fn wait_for_text_in(&self, css: &str, text: &str) {
        let script = format!(
            "const e = document.querySelector({css:?}); return !!e && e.textContent === {text:?};"
        );
        wait_for_js(
            &self.browser,
            &script,
            &format!("{}: {css} says {text:?}", self.name),
        )
        .await;
    }

    /// Saves what this person sees as `artifacts/<label>-<name>.png`.
    pub async fn keep_screenshot(&self, label: &str) {
        if let Ok(png) = self.browser.screenshot().await {
            let _ = std::fs::write(artifacts().join(format!("{label}-{}.png", self.name)), png);
        }
    }

    /// The text of the element `id`.
    pub async fn text(&self, id: &str) -> String {
        self.browser
            .find(Locator::Id(id))
            .await
            .expect("the element exists")
            .text()
            .await
            .unwrap_or_default()
    }

    /// Clicks the button `id` once it is shown.
    pub async fn click(&self, id: &str) {
        let css = format!("#{id}:not([hidden])");
        let started = Instant::now();
        loop {
            let shown = self.browser.find(Locator::Css(&css)).await;
            if let Ok(button) = shown
                && button.is_displayed().await.unwrap_or(false)
            {
                button.click().await.expect("clicking");
                return;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{}: #{id} never showed",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks `name` in the list of who is online.
    pub async fn call(&self, name: &str) {
        let started = Instant::now();
        loop {
            for button in self
                .browser
                .find_all(Locator::Css("#peer-list button.peer"))
                .await
                .unwrap_or_default()
            {
                // The list is redrawn whenever someone comes or goes: a button found a
                // moment ago may be gone, so look again rather than fail.
                if button.text().await.unwrap_or_default() == name && button.click().await.is_ok() {
                    return;
                }
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{}: {name} is not listed",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The remote `<video>`'s width and playback position.
    pub async fn remote_video(&self) -> (f64, f64) {
        let value = self
            .browser
            .execute(
                "const v = document.getElementById('remote-video'); return [v.videoWidth, v.currentTime];",
                vec![],
            )
            .await
            .expect("a script runs");
        let number = |i: usize| value.get(i).and_then(Value::as_f64).unwrap_or(0.0);
        (number(0), number(1))
    }

    /// Waits until the remote video has frames and its time moves on.
    pub async fn sees_remote_video(&self) {
        let started = Instant::now();
        let mut first_time = None;
        loop {
            let (width, time) = self.remote_video().await;
            if width > 0.0 {
                match first_time {
                    None => first_time = Some(time),
                    Some(first) if time > first => return,
                    Some(_) => {}
                }
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{}: remote video width {width}, time {time}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Person {
    /// Sends `text` in the chat.
    pub async fn say(&self, text: &str) {
        let input = self
            .browser
            .find(Locator::Id("chat-input"))
            .await
            .expect("a chat field");
        input.send_keys(text).await.expect("typing");
        self.click("chat-send").await;
    }

    /// Sends a chat message the client refuses (too long: set past the field's own
    /// limit) and waits until the page says it was refused with its text kept in the
    /// field, not lost; then empties the field.
    pub async fn is_refused_a_message_and_keeps_it(&self) {
        let long = "x".repeat(4_001);
        self.browser
            .execute(
                &format!("document.getElementById('chat-input').value = {long:?};"),
                vec![],
            )
            .await
            .expect("the field takes the text");
        self.click("chat-send").await;
        wait_for_js(
            &self.browser,
            "const alert = document.getElementById('alert');
             return !alert.hidden && alert.textContent.includes('at most 4000 characters')
                 && document.getElementById('chat-input').value.length === 4001;",
            &format!("{} is told, and keeps the text", self.name),
        )
        .await;
        self.browser
            .execute("document.getElementById('chat-input').value = '';", vec![])
            .await
            .expect("the field is emptied");
    }

    /// Waits until the other side's message `text` is in the chat.
    pub async fn hears(&self, text: &str) {
        let script = format!(
            "return [...document.querySelectorAll('#chat-log li.theirs p.text')]
                .some(m => m.textContent === {text:?});"
        );
        wait_for_js(
            &self.browser,
            &script,
            &format!("{} reads {text:?}", self.name),
        )
        .await;
    }

    /// Picks the file at `path` to send.
    pub async fn send_file(&self, path: &std::path::Path) {
        let picker = self
            .browser
            .find(Locator::Id("file-input"))
            .await
            .expect("a file picker");
        picker
            .send_keys(&path.display().to_string())
            .await
            .expect("picking a file");
    }

    /// Accepts the offered file `name`, waits until it is whole, and returns its size and
    /// SHA-256 (hex) as the page would save it.
    pub async fn receive_file(&self, name: &str) -> (u64, String) {
        let offered = format!(
            "const li = [...document.querySelectorAll('#transfers li.offered')]
                .find(li => li.querySelector('.name').textContent === {name:?});
             if (!li) return false;
             li.querySelector('button.accept').click();
             return true;"
        );
        wait_for_js(
            &self.browser,
            &offered,
            &format!("{} is offered {name}", self.name),
        )
        .await;
        let link = format!(
            "[...document.querySelectorAll('#transfers li.done a.download')]
                .find(a => a.download === {name:?})"
        );
        wait_for_js(
            &self.browser,
            &format!("return !!{link};"),
            &format!("{} can save {name}", self.name),
        )
        .await;
        let saved = self
            .browser
            .execute_async(
                &format!(
                    "const done = arguments[arguments.length - 1];
                     fetch({link}.href)
                       .then(r => r.arrayBuffer())
                       .then(b => crypto.subtle.digest('SHA-256', b).then(d => [b.byteLength, d]))
                       .then(([n, d]) => done([n, [...new Uint8Array(d)]
                         .map(x => x.toString(16).padStart(2, '0')).join('')]));"
                ),
                vec![],
            )
            .await
            .expect("the saved file is read");
        (
            saved[0].as_u64().unwrap_or_default(),
            saved[1].as_str().unwrap_or_default().to_owned(),
        )
    }
}
