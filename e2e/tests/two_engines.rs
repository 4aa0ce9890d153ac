//! Firefox and Chromium on either end of one call, through the demo page: each calls the
//! other once, they see each other's video, and chat and files go both ways.

use std::path::PathBuf;

use peercall_e2e::{Driver, Engine, Person, wait_for_js};
use sha2::{Digest, Sha256};

/// A file of `size` bytes that no compression or pattern could fake, and its SHA-256.
fn random_file(name: &str, size: usize, seed: u64) -> (PathBuf, String) {
    let mut state = seed | 1;
    let bytes: Vec<u8> = (0..size)
        .map(|_| {
            // xorshift64: enough to make every chunk differ.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let path = std::env::temp_dir().join(name);
    std::fs::write(&path, &bytes).expect("a temporary file");
    let digest = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (path, digest)
}

/// A chat message and a file of several MiB each way; each file arrives with the same
/// SHA-256 it left with.
async fn exchange(one: &Person, other: &Person, round: &str) {
    let suffix = std::process::id();
    for (from, to, seed) in [(one, other, 1), (other, one, 2)] {
        let text = format!("{round}: hello from {}", from.name);
        from.say(&text).await;
        to.hears(&text).await;

        let name = format!("peercall-{round}-{seed}-{suffix}.bin");
        let (path, digest) = random_file(&name, 3 * 1024 * 1024 + 17, seed + suffix as u64);
        from.send_file(&path).await;
        let (size, received) = to.receive_file(&name).await;
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            (size, received),
            (3 * 1024 * 1024 + 17, digest),
            "{name} from {} to {} arrives whole",
            from.name,
            to.name
        );
    }
}

/// `caller` calls `callee`; chat and files go both ways; `caller` hangs up while one
/// more file waits for an answer, and both pages say the call's end stopped it.
async fn one_call(caller: &Person, callee: &Person, label: &str) {
    caller.calls(callee).await;
    caller.keep_screenshot(label).await;
    exchange(caller, callee, label).await;

    let name = format!("peercall-{label}-unanswered-{}.bin", std::process::id());
    let (path, _) = random_file(&name, 1024, 3);
    caller.send_file(&path).await;
    let offered = format!(
        "return [...document.querySelectorAll('#transfers li.offered .name')]
            .some(n => n.textContent === {name:?});"
    );
    wait_for_js(&callee.browser, &offered, "the last file is offered").await;
    caller.click("hangup-button").await;
    let stopped = format!(
        "return [...document.querySelectorAll('#transfers li.cancelled')]
            .some(li => li.querySelector('.name').textContent === {name:?}
                && li.querySelector('.detail').textContent === 'stopped: the call ended');"
    );
    for person in [caller, callee] {
        let what = format!(
            "{} shows the unanswered file stopped by the end",
            person.name
        );
        wait_for_js(&person.browser, &stopped, &what).await;
    }
    let _ = std::fs::remove_file(&path);
    callee
        .wait_for_text("status", &format!("{} hung up", caller.name))
        .await;
    caller.wait_for_text("status", "call ended").await;
}

#[tokio::test]
async fn firefox_and_chromium_call_each_other_and_chat_and_send_files_both_ways() {
    // geckodriver serves one session at a time: Firefox gets a driver of its own.
    let chromium = Driver::start_for(Engine::Chromium).await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let suffix = std::process::id();
    let fern = Person::log_in(&firefox, &format!("fern-firefox-{suffix}")).await;
    let carl = Person::log_in(&chromium, &format!("carl-chromium-{suffix}")).await;

    one_call(&fern, &carl, "firefox-calls-chromium").await;
    one_call(&carl, &fern, "chromium-calls-firefox").await;

    fern.browser.close().await.ok();
    carl.browser.close().await.ok();
}
