//! Benchmark (run by `cargo xtask bench`, ignored by the test run): call setup, peercall
//! against PeerJS, side by side in one run. Each call is placed between two separate
//! Chromium pages; the clock runs on the caller's page from `call()` (PeerJS: from
//! getUserMedia and `peer.call()`) to the first remote video frame (`loadeddata`). The
//! callee accepts at once, then after a pause of 1 s. The two libraries take turns.

use fantoccini::Client;
use peercall_e2e::{Driver, api_page::ApiUser};
use serde_json::{Value, json};

/// Calls per library and pause.
const ROUNDS: usize = 12;

fn peerjs_url() -> String {
    std::env::var("PEERJS_URL").expect("PEERJS_URL: the PeerJS bench server (cargo xtask bench)")
}

/// Runs `script` (async, returning a value) in `browser`.
async fn run(browser: &Client, script: &str, args: Vec<Value>) -> Value {
    let wrapped = format!(
        "const done = arguments[arguments.length - 1];
         (async (...args) => {{ {script} }})(...arguments).then(done,
           (e) => done(`failed: ${{e.message ?? e}}`));"
    );
    let value = browser
        .execute_async(&wrapped, args)
        .await
        .unwrap_or_else(|error| panic!("{script}: {error}"));
    if let Some(failed) = value.as_str().filter(|v| v.starts_with("failed")) {
        panic!("{script}: {failed}");
    }
    value
}

/// One peercall call: ms on the caller from `call()` to the first remote frame.
async fn peercall(caller: &Client, callee: &Client, round: usize, pause: u64) -> f64 {
    let suffix = format!("{}-{round}-{pause}", std::process::id());
    let callee = ApiUser::join(callee.clone(), &format!("callee-{suffix}"), json!({})).await;
    let caller = ApiUser::join(caller.clone(), &format!("caller-{suffix}"), json!({})).await;
    callee
        .run(
            "const pause = arguments[0];
             pc.on('incoming', () => pause ? setTimeout(() => pc.accept(), pause) : pc.accept());",
            vec![json!(pause)],
        )
        .await;
    let took = run(
        &caller.browser,
        "const [id] = args;
         const video = document.getElementById('remote');
         const first = new Promise((shown) =>
           video.addEventListener('loadeddata', shown, {once: true}));
         const started = performance.now();
         await pc.call(id);
         await first;
         return performance.now() - started;",
        vec![json!(callee.id)],
    )
    .await;
    for user in [&caller, &callee] {
        user.run("pc.close();", vec![]).await;
    }
    took.as_f64().expect("a time")
}

/// One PeerJS call, timed the same way.
async fn peerjs(caller: &Client, callee: &Client, round: usize, pause: u64) -> f64 {
    let page = format!("{}peerjs.html", peerjs_url());
    let suffix = format!("{}-{round}-{pause}", std::process::id());
    let (caller_id, callee_id) = (format!("caller-{suffix}"), format!("callee-{suffix}"));
    for (browser, id) in [(callee, &callee_id), (caller, &caller_id)] {
        browser.goto(&page).await.expect("the PeerJS page opens");
        run(
            browser,
            "await join(args[0]); return true;",
            vec![json!(id)],
        )
        .await;
    }
    run(
        callee,
        "answerAfter(args[0]); return true;",
        vec![json!(pause)],
    )
    .await;
    let took = run(
        caller,
        "return callAndTime(args[0]);",
        vec![json!(callee_id)],
    )
    .await;
    for browser in [caller, callee] {
        run(browser, "hangUp(); peer.destroy(); return true;", vec![]).await;
    }
    took.as_f64().expect("a time")
}

fn median(mut millis: Vec<f64>) -> f64 {
    millis.sort_by(f64::total_cmp);
    millis[millis.len() / 2]
}

#[tokio::test]
#[ignore = "a benchmark: cargo xtask bench runs it"]
async fn call_setup_against_peerjs() {
    let driver = Driver::start().await;
    let (caller, callee) = (driver.browser().await, driver.browser().await);
    for pause in [0, 1_000] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Taking turns, first one then the other: a slow moment of the machine falls on both.
            if round % 2 == 0 {
                ours.push(peercall(&caller, &callee, round, pause).await);
                theirs.push(peerjs(&caller, &callee, round, pause).await);
            } else {
                theirs.push(peerjs(&caller, &callee, round, pause).await);
                ours.push(peercall(&caller, &callee, round, pause).await);
            }
        }
        let (a, b) = (median(ours.clone()), median(theirs.clone()));
        // The pause is the person's, not the library's: the ratio is also given without it.
        let pause_ms = pause as f64;
        println!(
            "BENCH call setup, callee accepting after {pause} ms: peercall median {a:.0} ms, \
             PeerJS median {b:.0} ms, ratio {:.2}, beyond the pause {:.2} \
             (peercall {ours:.0?}, PeerJS {theirs:.0?})",
            a / b,
            (a - pause_ms) / (b - pause_ms)
        );
    }
    for browser in [caller, callee] {
        browser.close().await.ok();
    }
}
