//! `relay-load URL FLAVOR PAIRS IN_FLIGHT SECONDS [RATE]`: relay throughput and round trips
//! of a signaling server.
//!
//! URL may be two, `CALLERS_URL,CALLEES_URL`: the callers connect to the first and the
//! callees to the second (two nodes of one cluster).
//!
//! PAIRS pairs of clients log in; in each pair one side sends offers of a 200-byte payload
//! to the other, which answers each with an answer of the same size: two relayed messages
//! per round trip. Without RATE each pair keeps IN_FLIGHT offers outstanding (saturation);
//! with RATE the offers go out evenly at RATE relayed messages per second in all, to the
//! pairs in turn: one task sends the offers that are due each time a pacing thread wakes
//! it, every [`PACING_STEP`] (tokio's timers tick by whole milliseconds: the pairs' own
//! timers sent each millisecond's offers in one burst). Each side handles every frame it
//! has read before it flushes once, so that the generator spends as little as it can per
//! message. After a second of warm-up it counts for SECONDS and prints one line:
//! `messages_per_second=… p50_ms=… p99_ms=… round_trips=… load_cpu_pct=…`, and
//! `relay_cpu_pct=…` where `RELAY_PID` names the relay's process: the CPU time each took
//! in the window, in percent of one core (so up to 200 on two cores).
//!
//! FLAVOR `peercall` speaks peercall's protocol (login, then a ring accepted, so that the
//! server's call registry lets the offers through); `seed` speaks the one of the classic
//! tutorials' Node relay (`bench/fixtures/seed-relay.js`): login by name, messages
//! forwarded by `to`.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{
    FutureExt, SinkExt, StreamExt,
    stream::{SplitSink, SplitStream},
};
use serde_json::{Value, json};
use tokio::{net::TcpStream, sync::Notify};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async_with_config,
    tungstenite::{Message, protocol::WebSocketConfig},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Error = Box<dyn std::error::Error + Send + Sync>;

/// Bytes of each message's payload.
const PAYLOAD_BYTES: usize = 200;

/// How often the pacing thread releases the offers that are due.
const PACING_STEP: Duration = Duration::from_micros(100);

/// Each socket's read buffer: room for the frames of a busy moment.
const READ_BUFFER_BYTES: usize = 16 * 1024;

#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    Peercall,
    Seed,
}

/// What the measuring window saw.
#[derive(Default)]
struct Tally {
    round_trips_us: Vec<u32>,
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, flavor, pairs, in_flight, seconds, rest @ ..] = args.as_slice() else {
        return Err("usage: relay-load URL peercall|seed PAIRS IN_FLIGHT SECONDS [RATE]".into());
    };
    let flavor = match flavor.as_str() {
        "peercall" => Flavor::Peercall,
        "seed" => Flavor::Seed,
        other => return Err(format!("unknown flavor {other}").into()),
    };
    let (pairs, in_flight): (usize, usize) = (pairs.parse()?, in_flight.parse()?);
    let seconds: f64 = seconds.parse()?;
    let rate: Option<f64> = rest.first().map(|rate| rate.parse()).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(url, flavor, pairs, in_flight, seconds, rate))
}

async fn run(
    url: &str,
    flavor: Flavor,
    pairs: usize,
    in_flight: usize,
    seconds: f64,
    rate: Option<f64>,
) -> Result<(), Error> {
    let mut ready = Vec::new();
    for pair in 0..pairs {
        ready.push(connect_pair(url, flavor, pair).await?);
    }
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let epoch = Instant::now();
    let mut tasks = Vec::new();
    let mut senders = Vec::new();
    for pair in ready {
        let (caller_tx, caller_rx) = pair.caller.split();
        let (callee_tx, callee_rx) = pair.callee.split();
        tasks.push(tokio::spawn(answer(callee_tx, callee_rx, pair.to_caller)));
        let offers = Offers {
            tx: caller_tx,
            head: head("offer", &pair.to_callee),
        };
        let trips = Trips {
            epoch,
            measuring: Arc::clone(&measuring),
            tally: Arc::clone(&tally),
        };
        match rate {
            None => tasks.push(tokio::spawn(keep_in_flight(
                offers,
                caller_rx,
                in_flight,
                trips,
                Arc::clone(&stop),
            ))),
            Some(_) => {
                tasks.push(tokio::spawn(record_answers(caller_rx, trips)));
                senders.push(offers);
            }
        }
    }
    // Offers at a rate: one task sends them all, woken by a pacing thread.
    let mut sender = None;
    let pacer = rate.map(|rate| {
        let due = Arc::new(Notify::new());
        sender = Some(tokio::spawn(send_paced(
            senders,
            rate / 2.0,
            epoch,
            Arc::clone(&due),
        )));
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(PACING_STEP);
                due.notify_one();
            }
        })
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::SeqCst);
    let relay = std::env::var("RELAY_PID").ok();
    let relay = relay.as_deref();
    let cpu_before = CpuTime::now(relay);
    let began = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    measuring.store(false, Ordering::SeqCst);
    let took = began.elapsed().as_secs_f64();
    let cpu_after = CpuTime::now(relay);
    stop.store(true, Ordering::SeqCst);
    if let Some(pacer) = pacer {
        pacer.join().map_err(|_| "the pacing thread failed")?;
    }
    // A sender that ended early (a socket that failed) ends the run with its error, not
    // with a lower rate.
    if let Some(sender) = sender {
        if sender.is_finished() {
            sender.await??;
            return Err("the paced sender stopped early".into());
        }
        sender.abort();
    }
    for task in tasks {
        if task.is_finished() {
            task.await??;
        } else {
            task.abort();
        }
    }
    let mut trips = std::mem::take(&mut tally.lock().map_err(|_| "poisoned")?.round_trips_us);
    trips.sort_unstable();
    let percentile = |p: f64| {
        trips
            .get(((trips.len() as f64 * p) as usize).min(trips.len().saturating_sub(1)))
            .map_or(f64::NAN, |us| f64::from(*us) / 1000.0)
    };
    let (load_pct, relay_pct) = cpu_before.shares(&cpu_after);
    print!(
        "messages_per_second={:.0} p50_ms={:.2} p99_ms={:.2} round_trips={} load_cpu_pct={load_pct:.0}",
        2.0 * trips.len() as f64 / took,
        percentile(0.50),
        percentile(0.99),
        trips.len()
    );
    if let Some(relay_pct) = relay_pct {
        print!(" relay_cpu_pct={relay_pct:.0}");
    }
    println!();
    Ok(())
}

/// CPU time so far, in clock ticks: this process's, the relay's (where its process is
/// known) and the whole machine's per core (`/proc/stat`), which turns the others into
/// shares of a core whatever the tick's length.
struct CpuTime {
    load: f64,
    relay: Option<f64>,
    per_core: f64,
}

impl CpuTime {
    fn now(relay: Option<&str>) -> Self {
        Self {
            load: process_ticks("self").unwrap_or(f64::NAN),
            relay: relay.and_then(process_ticks),
            per_core: machine_ticks_per_core().unwrap_or(f64::NAN),
        }
    }

    /// The load generator's share of a core between `self` and `later`, in percent, and
    /// the relay's.
    fn shares(&self, later: &Self) -> (f64, Option<f64>) {
        let core = later.per_core - self.per_core;
        let share = |before: f64, after: f64| 100.0 * (after - before) / core;
        (
            share(self.load, later.load),
            self.relay.zip(later.relay).map(|(a, b)| share(a, b)),
        )
    }
}

/// User and system time of process `pid` (or `self`), in clock ticks.
fn process_ticks(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's name, which is in parentheses and may hold spaces;
    // utime and stime are the 14th and 15th of the whole line.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |at: usize| fields.get(at)?.parse::<f64>().ok();
    Some(ticks(11)? + ticks(12)?)
}

/// The machine's CPU time so far (every state, stolen time included) over its cores,
/// in clock ticks.
fn machine_ticks_per_core() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut lines = stat.lines();
    let all: f64 = lines
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .take(8)
        .map(|ticks| ticks.parse::<f64>().ok())
        .sum::<Option<f64>>()?;
    let cores = lines
        .filter(|line| {
            line.starts_with("cpu") && line.as_bytes().get(3).is_some_and(u8::is_ascii_digit)
        })
        .count();
    (cores > 0).then(|| all / cores as f64)
}

/// One pair, logged in (and, for peercall, in a call): the caller's socket, the callee's,
/// and what each sends to reach the other.
struct Pair {
    caller: Socket,
    callee: Socket,
    to_callee: Value,
    to_caller: Value,
}

async fn connect_pair(url: &str, flavor: Flavor, pair: usize) -> Result<Pair, Error> {
    // Names of their own per run: the users of an earlier run may still be away.
    let run = std::process::id();
    let (callers, callees) = url.split_once(',').unwrap_or((url, url));
    let (mut caller, caller_id) = log_in(callers, flavor, &format!("caller-{run}-{pair}")).await?;
    let (mut callee, callee_id) = log_in(callees, flavor, &format!("callee-{run}-{pair}")).await?;
    let (to_callee, to_caller) = match flavor {
        Flavor::Seed => (json!({"to": callee_id}), json!({"to": caller_id})),
        Flavor::Peercall => {
            send(&mut caller, json!({"type": "ring", "to": callee_id})).await?;
            let ring = next_of(&mut callee, "ring").await?;
            let call = ring["call"].clone();
            send(
                &mut callee,
                json!({"type": "accept", "to": caller_id, "call": call}),
            )
            .await?;
            next_of(&mut caller, "accept").await?;
            (
                json!({"to": callee_id, "call": call}),
                json!({"to": caller_id, "call": call}),
            )
        }
    };
    Ok(Pair {
        caller,
        callee,
        to_callee,
        to_caller,
    })
}

async fn log_in(url: &str, flavor: Flavor, name: &str) -> Result<(Socket, String), Error> {
    // tungstenite zeroes the free part of its read buffer before each read: at its default
    // 128 KiB that memset was a quarter of the generator's time.
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    // Without Nagle's algorithm, as browsers open their WebSockets.
    let (mut socket, _) = connect_async_with_config(url, Some(config), true).await?;
    send(&mut socket, json!({"type": "login", "name": name})).await?;
    let welcome = next_of(&mut socket, "welcome").await?;
    let id = match flavor {
        Flavor::Peercall => welcome["id"].as_str().ok_or("no id")?.to_owned(),
        Flavor::Seed => name.to_owned(),
    };
    Ok((socket, id))
}

async fn send(socket: &mut Socket, message: Value) -> Result<(), Error> {
    socket.send(Message::text(message.to_string())).await?;
    Ok(())
}

async fn next_of(socket: &mut Socket, kind: &str) -> Result<Value, Error> {
    while let Some(frame) = socket.next().await {
        if let Message::Text(text) = frame? {
            let value: Value = serde_json::from_str(&text)?;
            if value["type"] == kind {
                return Ok(value);
            }
        }
    }
    Err(format!("closed before {kind}").into())
}

/// How a message of `kind` to `address` begins, up to its payload: written once, so that
/// the load generator spends as little as it can per message.
fn head(kind: &str, address: &Value) -> String {
    let mut message = address.clone();
    message["type"] = json!(kind);
    let text = message.to_string();
    format!(r#"{},"sdp":""#, text.trim_end_matches('}'))
}

/// The message that begins with `head`, carrying the time it was first sent, padded to
/// the payload size.
fn message(head: &str, sent_us: u128) -> String {
    const PADDING: &str = match std::str::from_utf8(&[b'x'; PAYLOAD_BYTES]) {
        Ok(padding) => padding,
        Err(_) => "",
    };
    let stamp = sent_us.to_string();
    let mut message = String::with_capacity(head.len() + PAYLOAD_BYTES + 4);
    message.push_str(head);
    message.push_str(&stamp);
    message.push(':');
    message.push_str(&PADDING[..PAYLOAD_BYTES - stamp.len() - 1]);
    message.push_str("\"}");
    message
}

/// How a frame of one type is told: its `"type":"…"` field, written once.
struct Kind(String);

impl Kind {
    fn of(kind: &str) -> Self {
        Self(format!(r#""type":"{kind}""#))
    }
}

/// The send time carried by a frame of type `kind`, read without parsing the whole frame
/// (the payload is the only `sdp`, and the generator's own).
fn stamp_of(text: &str, kind: &Kind) -> Option<u128> {
    if !text.contains(kind.0.as_str()) {
        return None;
    }
    let at = text.find(r#""sdp":""#)? + 7;
    let rest = &text[at..];
    rest[..rest.find(':')?].parse().ok()
}

/// One caller's way to send offers.
struct Offers {
    tx: SplitSink<Socket, Message>,
    /// How each offer begins.
    head: String,
}

impl Offers {
    /// Queues an offer stamped now; `flush` sends what is queued.
    async fn feed(&mut self, epoch: Instant) -> Result<(), Error> {
        self.feed_stamped(epoch.elapsed().as_micros()).await
    }

    /// Queues an offer stamped `stamp` (microseconds since the epoch).
    async fn feed_stamped(&mut self, stamp: u128) -> Result<(), Error> {
        let offer = message(&self.head, stamp);
        self.tx.feed(Message::text(offer)).await?;
        Ok(())
    }
}

/// Where a caller records the round trips of its answers.
struct Trips {
    /// The instant the stamps count from.
    epoch: Instant,
    measuring: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
}

impl Trips {
    fn record(&self, stamp: u128) {
        let round_trip_us = self.epoch.elapsed().as_micros().saturating_sub(stamp);
        if self.measuring.load(Ordering::Relaxed)
            && let Ok(mut tally) = self.tally.lock()
        {
            tally
                .round_trips_us
                .push(u32::try_from(round_trip_us).unwrap_or(u32::MAX));
        }
    }
}

/// The callee answers every offer with the same stamp: all the offers that have come in,
/// then one flush.
async fn answer(
    mut tx: SplitSink<Socket, Message>,
    mut rx: SplitStream<Socket>,
    to_caller: Value,
) -> Result<(), Error> {
    let answer_head = head("answer", &to_caller);
    let offers = Kind::of("offer");
    while let Some(stamps) = ready_stamps(&mut rx, &offers).await {
        for stamp in stamps {
            tx.feed(Message::text(message(&answer_head, stamp))).await?;
        }
        tx.flush().await?;
    }
    Ok(())
}

/// Flat out: `in_flight` offers outstanding, each answer recorded and replaced by a new
/// offer.
async fn keep_in_flight(
    mut offers: Offers,
    mut rx: SplitStream<Socket>,
    in_flight: usize,
    trips: Trips,
    stop: Arc<AtomicBool>,
) -> Result<(), Error> {
    for _ in 0..in_flight {
        offers.feed(trips.epoch).await?;
    }
    offers.tx.flush().await?;
    let answers = Kind::of("answer");
    while let Some(stamps) = ready_stamps(&mut rx, &answers).await {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        for stamp in stamps {
            trips.record(stamp);
            offers.feed(trips.epoch).await?;
        }
        offers.tx.flush().await?;
    }
    Ok(())
}

/// At a rate: the answers only recorded.
async fn record_answers(mut rx: SplitStream<Socket>, trips: Trips) -> Result<(), Error> {
    let answers = Kind::of("answer");
    while let Some(stamps) = ready_stamps(&mut rx, &answers).await {
        for stamp in stamps {
            trips.record(stamp);
        }
    }
    Ok(())
}

/// Sends `offers_per_second` offers in all, evenly, to the callers in turn: each time `due`
/// is notified, the offers due by then. Each is stamped with the time it was due, not the
/// time it went out, so that a round trip also counts any time the generator fell behind.
async fn send_paced(
    mut callers: Vec<Offers>,
    offers_per_second: f64,
    epoch: Instant,
    due: Arc<Notify>,
) -> Result<(), Error> {
    let began_us = epoch.elapsed().as_secs_f64() * 1e6;
    let count = callers.len() as u64;
    let mut sent: u64 = 0;
    loop {
        due.notified().await;
        let now_us = epoch.elapsed().as_secs_f64() * 1e6;
        let until = ((now_us - began_us) / 1e6 * offers_per_second) as u64;
        while sent < until && count > 0 {
            let due_us = began_us + sent as f64 / offers_per_second * 1e6;
            let caller = &mut callers[(sent % count) as usize];
            caller.feed_stamped(due_us as u128).await?;
            caller.tx.flush().await?;
            sent += 1;
        }
    }
}

/// The stamps of the frames of type `kind` that `rx` has ready: waits for one frame, then
/// takes every frame already read without waiting again. `None` once the socket ends.
async fn ready_stamps(rx: &mut SplitStream<Socket>, kind: &Kind) -> Option<Vec<u128>> {
    let mut stamps = Vec::new();
    let mut frame = rx.next().await;
    loop {
        match frame {
            Some(Ok(Message::Text(text))) => stamps.extend(stamp_of(&text, kind)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
        match rx.next().now_or_never() {
            Some(next) => frame = next,
            None => return Some(stamps),
        }
    }
}
