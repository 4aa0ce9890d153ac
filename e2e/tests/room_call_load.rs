//! Benchmark (run by `cargo xtask bench room`, ignored by the test run): what a room call
//! costs each page, at 2, 3 and 4 participants. Each participant is a Chromium of its own
//! (its own driver and process group) on the embedding page, with the fake camera at its
//! default size; once every connection is up, the bytes each video sender sent and the
//! CPU time each browser used are read over a window of 10 s.

use std::time::{Duration, Instant};

use peercall_e2e::{Driver, api_page::ApiUser};
use serde_json::{Value, json};

/// How long the figures are taken over.
const WINDOW: Duration = Duration::from_secs(10);

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`).
fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Bytes sent by each video sender of `user`'s connections so far.
async fn video_bytes_sent(user: &ApiUser) -> Vec<f64> {
    let value = user
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             Promise.all(window.connections
               .filter((c) => c.connectionState === 'connected')
               .map((c) => c.getStats().then((report) => {
                 let bytes = 0;
                 report.forEach((s) => {
                   if (s.type === 'outbound-rtp' && s.kind === 'video') bytes += s.bytesSent;
                 });
                 return bytes;
               }))).then(done, () => done([]));",
            vec![],
        )
        .await
        .expect("stats");
    value
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

async fn room_of(people: usize, tick: f64) {
    let room = format!("load-{people}-{}", std::process::id());
    let mut drivers = Vec::new();
    let mut users = Vec::new();
    for at in 0..people {
        let driver = Driver::start().await;
        let user = ApiUser::join(
            driver.browser().await,
            &format!("p{at}-{}", std::process::id()),
            json!({"room": room}),
        )
        .await;
        let joined = user
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 pc.joinCall().then((peers) => done(peers.length), (e) => done(`${e.code}`));",
                vec![],
            )
            .await
            .expect("joins");
        assert_eq!(joined, json!(at), "{} joins after {at}", user.name);
        drivers.push(driver);
        users.push(user);
    }
    let others = people - 1;
    for user in &users {
        user.until(
            &format!(
                "return window.connections.filter((c) => c.connectionState === 'connected')
                   .length === {others};"
            ),
            "every connection up",
        )
        .await;
    }
    // The bandwidth estimate ramps up over the first seconds: the window starts after it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let started = Instant::now();
    let mut before = Vec::new();
    for (user, driver) in users.iter().zip(&drivers) {
        before.push((video_bytes_sent(user).await, driver.cpu_ticks()));
    }
    tokio::time::sleep(WINDOW).await;
    let mut per_sender = Vec::new();
    let mut per_page = Vec::new();
    let mut cpu = Vec::new();
    for ((user, driver), (bytes, ticks)) in users.iter().zip(&drivers).zip(before) {
        let seconds = started.elapsed().as_secs_f64();
        let after = video_bytes_sent(user).await;
        assert_eq!(after.len(), others, "{}: a sender per other", user.name);
        let kbps: Vec<f64> = after
            .iter()
            .zip(bytes.iter().chain(std::iter::repeat(&0.0)))
            .map(|(after, before)| (after - before) * 8.0 / seconds / 1000.0)
            .collect();
        per_page.push(kbps.iter().sum());
        per_sender.extend(kbps);
        cpu.push((driver.cpu_ticks() - ticks) as f64 / tick / seconds * 100.0);
    }
    println!(
        "BENCH room call of {people}: video uplink per sender median {:.0} kbps (max {:.0}), \
         per page median {:.0} kbps; CPU per page median {:.0} % of one core (max {:.0} %)",
        median(per_sender.clone()),
        per_sender.iter().copied().fold(0.0, f64::max),
        median(per_page),
        median(cpu.clone()),
        cpu.iter().copied().fold(0.0, f64::max),
    );
    for user in users {
        user.browser.close().await.ok();
    }
}

#[tokio::test]
#[ignore = "a benchmark: cargo xtask bench room"]
async fn room_call_load() {
    let tick = ticks_per_second();
    for people in [2, 3, 4] {
        room_of(people, tick).await;
    }
}
