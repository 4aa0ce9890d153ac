//! The embedding example (www/embed.html) driven through its own buttons: join, call,
//! and what its log says.

use fantoccini::{Client, Locator};

use crate::wait_for_js;

/// The embedding example open in a browser.
pub struct EmbedPage {
    /// The browser.
    pub browser: Client,
}

impl EmbedPage {
    /// Opens the example at `url` in `browser`.
    pub async fn open(browser: Client, url: &str) -> Self {
        browser.goto(url).await.expect("the page opens");
        Self { browser }
    }

    /// Types `name` and joins, once the module has loaded; does not wait for the login.
    pub async fn join(&self, name: &str) {
        wait_for_js(
            &self.browser,
            "return !document.getElementById('join-button').disabled;",
            "the module loaded",
        )
        .await;
        self.browser
            .find(Locator::Id("name"))
            .await
            .expect("a name field")
            .send_keys(name)
            .await
            .expect("typing");
        self.browser
            .find(Locator::Id("join-button"))
            .await
            .expect("a join button")
            .click()
            .await
            .expect("clicking join");
    }

    /// Joins as `name` and waits until logged in.
    pub async fn log_in(&self, name: &str) {
        self.join(name).await;
        self.until_log_has("logged in, id ", "logged in").await;
    }

    /// Clicks "Call `name`" once that person is listed.
    pub async fn call(&self, name: &str) {
        let label = format!("Call {name}");
        // Found and clicked in one go: the list is redrawn whenever someone comes or goes.
        wait_for_js(
            &self.browser,
            &format!(
                "const b = [...document.querySelectorAll('#peers button')].find(b => b.textContent === {label:?});
                 if (b) b.click();
                 return !!b;"
            ),
            &format!("calls {name}"),
        )
        .await;
    }

    /// Waits until the page's log holds `text` somewhere.
    pub async fn until_log_has(&self, text: &str, what: &str) {
        let script =
            format!("return document.getElementById('log').textContent.includes({text:?});");
        wait_for_js(&self.browser, &script, what).await;
    }

    /// Waits until the page's log has the line `line`.
    pub async fn until_log_line(&self, line: &str, what: &str) {
        let script = format!(
            "return document.getElementById('log').textContent.split('\\n').includes({line:?});"
        );
        wait_for_js(&self.browser, &script, what).await;
    }

    /// Waits until the video `id` plays: frames, and its clock moving on.
    pub async fn until_video_plays(&self, id: &str) {
        let script = format!(
            "const v = document.getElementById({id:?});
             const seen = window.__seen ?? (window.__seen = v.currentTime);
             return v.videoWidth > 0 && v.currentTime > seen;"
        );
        wait_for_js(&self.browser, &script, &format!("{id} video plays")).await;
    }
}
