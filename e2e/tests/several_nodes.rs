//! Two nodes with one Redis behind haproxy, Chromium on one node and Firefox on the
//! other: they call, chat and send a file through the room that spans both nodes. Then
//! the node holding the room is killed mid-call (no goodbye): the media keeps flowing,
//! both pages come back through the balancer on the other node with the same ids, the
//! call never ends, and chat and files still go both ways.

use peercall_e2e::{
    Driver, Engine,
    api_page::ApiUser,
    cluster::{Balancer, Redis, node},
    services::workdir,
};
use serde_json::{Value, json};

/// Everything the page reports beyond what [`ApiUser`] keeps: presence, chat and files.
const WATCH: &str = "
    for (const event of ['peers', 'text', 'file-offer', 'file-done'])
      pc.on(event, (payload) => window.seen.push([event, payload]));";

/// `from` says `text`; `to` hears it from `from`'s id.
async fn chat(from: &ApiUser, to: &ApiUser, text: &str) {
    from.run("pc.sendText(arguments[0]);", vec![json!(text)])
        .await;
    to.until(
        &format!(
            "return window.seen.some(([e, p]) => e === 'text' && p.text === {text:?}
                && p.from === {:?});",
            from.id
        ),
        "hears the chat",
    )
    .await;
}

/// `from` sends a file named `name`; `to` accepts it and gets its bytes.
async fn file(from: &ApiUser, to: &ApiUser, name: &str) {
    from.run(
        "pc.sendFile(new File([`contents of ${arguments[0]}`], arguments[0]));",
        vec![json!(name)],
    )
    .await;
    to.until(
        &format!(
            "const offer = window.seen.find(([e, p]) => e === 'file-offer' && p.name === {name:?});
             if (offer) pc.acceptFile(offer[1].id);
             return !!offer;"
        ),
        "is offered the file",
    )
    .await;
    to.until(
        &format!(
            "const done = window.seen.find(([e, p]) => e === 'file-done' && p.name === {name:?}
                && p.direction === 'receive');
             if (done && !window.read) done[1].blob.text().then((t) => window.read = t);
             return window.read === `contents of ${{{name:?}}}`;"
        ),
        "receives the file whole",
    )
    .await;
    to.run("window.read = undefined;", vec![]).await;
}

/// Whether the call ended or the page was told of an error it could not recover from.
async fn ended(user: &ApiUser) -> Value {
    user.run(
        "return window.seen.filter(([e]) => e === 'ended').map(([, p]) => p.reason);",
        vec![],
    )
    .await
}

#[tokio::test]
async fn a_call_across_two_nodes_survives_the_node_that_holds_its_room() {
    let redis = Redis::start().await;
    let home = node(&redis).await;
    let other = node(&redis).await;
    let dir = workdir("several-nodes");
    let balancer = Balancer::start(&dir, &[&home, &other]).await;
    let (first_door, second_door) = (&balancer.doors[0], &balancer.doors[1]);
    let chromium = Driver::start_for(Engine::Chromium).await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let suffix = std::process::id();
    let room = json!({"room": format!("nodes-{suffix}")});

    // alice comes in first, through the door to the first node, which becomes the
    // room's home; bob reaches it through the other node.
    let alice = ApiUser::join_at(
        chromium.browser().await,
        &format!("http://{first_door}/"),
        &format!("alice-{suffix}"),
        room.clone(),
    )
    .await;
    let bob = ApiUser::join_at(
        firefox.browser().await,
        &format!("http://{second_door}/"),
        &format!("bob-{suffix}"),
        room,
    )
    .await;
    for user in [&alice, &bob] {
        user.run(WATCH, vec![]).await;
    }
    alice.calls(&bob).await;
    let (alice_saw, bob_saw) = (alice.decodes(1, &[]).await, bob.decodes(1, &[]).await);
    chat(&alice, &bob, "hello across nodes").await;
    chat(&bob, &alice, "hello back").await;
    file(&alice, &bob, "before.txt").await;
    let sent = other
        .get("/metrics")
        .await
        .lines()
        .find_map(|line| {
            line.strip_prefix("peercall_cross_node_messages_total{direction=\"sent\"} ")
        })
        .and_then(|count| count.trim().parse::<f64>().ok());
    assert!(sent.is_some_and(|count| count > 0.0), "crossed: {sent:?}");

    // The room's home dies without a word.
    home.stop().await;
    let (alice_id, bob_id) = (alice.id.clone(), bob.id.clone());
    for user in [&alice, &bob] {
        user.until(
            "return window.seen.some(([e, p]) => e === 'error'
                && p.code === 'signaling-closed');",
            "notices its node's socket closed",
        )
        .await;
    }
    // Media flows peer to peer all along.
    alice.decodes(1, &alice_saw).await;
    bob.decodes(1, &bob_saw).await;
    // Both come back on the other node, with the ids they had, and see each other.
    for (user, id, other) in [(&alice, &alice_id, &bob_id), (&bob, &bob_id, &alice_id)] {
        user.until(
            &format!(
                "return pc.id === {id:?} && window.seen.findLast(([e]) => e === 'peers')?.[1]
                    .some((p) => p.id === {other:?});"
            ),
            "is back with its id and sees the other",
        )
        .await;
    }
    chat(&bob, &alice, "still here").await;
    file(&bob, &alice, "after.txt").await;
    assert_eq!(ended(&alice).await, json!([]), "alice's call never ended");
    assert_eq!(ended(&bob).await, json!([]), "bob's call never ended");
    let (alice_now, bob_now) = (alice.decodes(1, &[]).await, bob.decodes(1, &[]).await);
    alice.decodes(1, &alice_now).await;
    bob.decodes(1, &bob_now).await;
    drop(balancer);
    redis.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
