//! Drives real Chromium sessions through chromedriver, against a running peercall-server.
//!
//! `cargo xtask test` starts the server on the built client and sets `PEERCALL_E2E_URL`;
//! each test starts its own chromedriver.

#![forbid(unsafe_code)]

use std::{
    net::TcpListener,
    path::PathBuf,
    process::Stdio,
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

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

/// A running chromedriver, stopped on drop.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until it answers.
    pub async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("a free port");
        let program =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        let child = Command::new(&program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {program}: {error}"));
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, port }
    }

    /// A new browser session with fake camera and microphone.
    pub async fn browser(&self) -> Client {
        static SESSIONS: AtomicUsize = AtomicUsize::new(0);
        let user_data = std::env::temp_dir().join(format!(
            "peercall-e2e-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::Relaxed)
        ));
        let capabilities = json!({
            "goog:chromeOptions": {
                "args": [
                    "--headless=new",
                    "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream",
                    "--autoplay-policy=no-user-gesture-required",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--window-size=1280,800",
                    format!("--user-data-dir={}", user_data.display()),
                ]
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object");
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
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
        let browser = driver.browser().await;
        browser.goto(&base_url()).await.expect("the page opens");
        let input = browser
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Id("name-input"))
            .await
            .expect("a name field");
        input.send_keys(name).await.expect("typing");
        browser
            .find(Locator::Id("login-button"))
            .await
            .expect("a join button")
            .click()
            .await
            .expect("clicking join");
        let person = Self {
            browser,
            name: name.to_owned(),
        };
        person.wait_for_text("me", &format!("you are {name}")).await;
        person
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
