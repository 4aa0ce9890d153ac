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
        from.is_refused_a_message_and_keeps_it().await;
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

/// Files the demo page keeps in its list of transfers.
const TRANSFERS_KEPT: usize = 50;

/// `from` drops two files more than the page keeps on the call, all at once; `to` accepts
/// them all. Each page then lists the latest it keeps, and `to`'s two oldest downloads
/// are gone from its memory (their links no longer load) while the latest still saves.
async fn more_files_than_the_page_keeps(from: &Person, to: &Person) {
    let count = TRANSFERS_KEPT + 2;
    to.browser
        .execute(
            "window.downloads = [];
             const make = URL.createObjectURL.bind(URL);
             URL.createObjectURL = blob => {
                 const url = make(blob);
                 window.downloads.push(url);
                 return url;
             };",
            vec![],
        )
        .await
        .expect("downloads counted");
    from.browser
        .execute(
            "const files = new DataTransfer();
             for (let i = 0; i < arguments[0]; i++) {
                 files.items.add(new File([`file ${i}`], `small-${i}.txt`, {type: 'text/plain'}));
             }
             const call = document.getElementById('call');
             call.dispatchEvent(new DragEvent('drop', {dataTransfer: files, bubbles: true, cancelable: true}));",
            vec![count.into()],
        )
        .await
        .expect("files dropped");
    wait_for_js(
        &to.browser,
        &format!(
            "document.querySelectorAll('#transfers li.offered button.accept')
                 .forEach(button => button.click());
             return window.downloads.length === {count};"
        ),
        &format!("{} receives {count} files", to.name),
    )
    .await;
    let latest = format!(
        "const names = [...document.querySelectorAll('#transfers li.done .name')]
             .map(name => name.textContent);
         const latest = Array.from({{length: {TRANSFERS_KEPT}}}, (_, i) => `small-${{i + 2}}.txt`);
         return JSON.stringify(names) === JSON.stringify(latest);"
    );
    for person in [from, to] {
        let what = format!("{} lists the latest {TRANSFERS_KEPT} files", person.name);
        wait_for_js(&person.browser, &latest, &what).await;
    }
    let loads = to
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const load = url => fetch(url).then(r => r.text(), () => null);
             Promise.all([0, 1, window.downloads.length - 1].map(i => load(window.downloads[i])))
                 .then(done);",
            vec![],
        )
        .await
        .expect("downloads loaded");
    assert_eq!(
        loads,
        serde_json::json!([null, null, format!("file {}", count - 1)]),
        "the two oldest downloads are released, the latest still saves"
    );
}

/// `caller` calls `callee`; chat and files go both ways; `caller` hangs up while one
/// more file waits for an answer, and both pages say the call's end stopped it.
async fn one_call(caller: &Person, callee: &Person, label: &str) {
    caller.calls(callee).await;
    caller.keep_screenshot(label).await;
    exchange(caller, callee, label).await;
    more_files_than_the_page_keeps(caller, callee).await;

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
