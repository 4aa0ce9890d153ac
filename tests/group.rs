//! Room calls through the real client and server: a full mesh of real peer connections
//! in one page, at a small resolution and frame rate.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{
    Side, decodes_from_all, decodes_past, field, join, random_file, small_media, stand_in, unique,
};
use std::{cell::Cell, rc::Rc};

use futures::future::join_all;
use js_sys::{Array, Function, Reflect};
use peercall::live_callbacks;
use wasm_bindgen::{JsCast, JsValue, prelude::Closure};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::MediaStream;

wasm_bindgen_test_configure!(run_in_browser);

/// Someone named after `prefix` online in `room`.
async fn member(prefix: &str, room: &str) -> Side {
    Side::online_with(prefix, &[("room", room.into()), ("media", small_media())]).await
}

/// Waits until each of `people` decodes each of the others.
async fn everyone_decodes_everyone(people: &[Side]) {
    for (at, side) in people.iter().enumerate() {
        let others: Vec<&Side> = (0..people.len())
            .filter(|o| *o != at)
            .map(|o| &people[o])
            .collect();
        decodes_from_all(side, &others).await;
    }
}

/// The `participants` list `side` was told last, as ids and states.
fn participants(side: &Side) -> Vec<(String, String)> {
    let seen = side.seen.borrow();
    let Some((_, list)) = seen.iter().rev().find(|(kind, _)| kind == "participants") else {
        return Vec::new();
    };
    Array::from(list)
        .iter()
        .map(|p| (field(&p, "id"), field(&p, "state")))
        .collect()
}

/// Waits until `side` hears of `from`'s stream `stream` (its `participant-stream`), and
/// its video decodes there, frames rising.
async fn decodes_stream(side: &mut Side, from: &Side, stream: &MediaStream) {
    loop {
        let arrived = side.next("participant-stream").await;
        let arrived: MediaStream = Reflect::get(&arrived, &"stream".into())
            .unwrap()
            .unchecked_into();
        if arrived.id() == stream.id() {
            let video: web_sys::MediaStreamTrack =
                arrived.get_video_tracks().get(0).unchecked_into();
            let frames = decodes_past(side, Some(&from.id), &video.id(), 0.0).await;
            decodes_past(side, Some(&from.id), &video.id(), frames).await;
            return;
        }
    }
}

#[wasm_bindgen_test]
async fn four_see_each_other_one_leaves_a_fifth_is_turned_away_then_comes_in() {
    let room = unique("mesh");
    let mut people = Vec::new();
    for name in ["ann", "ben", "cat", "dan", "eve"] {
        people.push(member(name, &room).await);
    }
    // One after another: each finds those before it.
    for at in 0..4 {
        let before = join(&people[at]).await;
        let expected: Vec<String> = people[..at].iter().map(|p| p.id.clone()).collect();
        assert_eq!(before, expected);
    }
    // Every one decodes the three others.
    everyone_decodes_everyone(&people[..4]).await;
    for side in people.iter_mut().take(4) {
        side.reach("connected").await;
        // Media flows, so the page was told each connection is up.
        let listed = participants(side);
        assert_eq!(listed.len(), 3, "{}: {listed:?}", side.name);
        assert!(
            listed.iter().all(|(_, state)| state == "connected"),
            "{listed:?}"
        );
    }
    // The default capacity is 4: a fifth hears the call is full, and is in no call.
    let refusal = JsFuture::from(people[4].call.join_call())
        .await
        .expect_err("the call is full");
    assert_eq!(field(&refusal, "code"), "call-full");
    people[4].reach("idle").await;

    // Dan leaves: the three others see him go within 3 s.
    let dan = people[3].id.clone();
    people[3].call.leave_call();
    for side in people.iter_mut().take(3) {
        let left = side.next_within("participant-left", 3_000).await;
        assert_eq!(
            (field(&left, "id"), field(&left, "reason")),
            (dan.clone(), "left".into())
        );
    }
    assert_eq!(people[3].ended().await, "hangup");
    // Now Eve fits, and everyone decodes her.
    let before = join(&people[4]).await;
    assert_eq!(before.len(), 3);
    assert!(!before.contains(&dan));
    let others: Vec<&Side> = people[..3].iter().collect();
    decodes_from_all(&people[4], &others).await;
    for at in 0..3 {
        decodes_from_all(&people[at], &[&people[4]]).await;
    }
    for side in &people {
        side.call.leave_call();
    }
}

#[wasm_bindgen_test]
async fn three_joining_at_once_all_connect() {
    let room = unique("rush");
    let people = join_all(["fay", "gus", "hal"].map(|name| member(name, &room))).await;
    // All three ask at the same moment; the server orders them.
    let joined = join_all(people.iter().map(join)).await;
    let mut counts: Vec<usize> = joined.iter().map(Vec::len).collect();
    counts.sort_unstable();
    assert_eq!(counts, [0, 1, 2]);
    everyone_decodes_everyone(&people).await;
    for side in &people {
        side.call.leave_call();
    }
}

#[wasm_bindgen_test]
async fn a_two_person_call_grows_by_invitation_and_chat_reaches_everyone() {
    let room = unique("grow");
    let mut ivy = member("ivy", &room).await;
    let mut jon = member("jon", &room).await;
    let mut kim = member("kim", &room).await;
    ivy.ring(&mut jon).await;
    jon.call.accept();
    ivy.reach("connected").await;
    jon.reach("connected").await;
    // A second video of Ivy's, drawn on a canvas by the page, added to the two-person
    // call: Kim, who comes when it grows, gets it too.
    let track = stand_in("video");
    let stream = MediaStream::new().unwrap();
    stream.add_track(&track);
    ivy.call
        .add_track(Clone::clone(&track), Clone::clone(&stream));

    // Ivy invites Kim: a ring, as any call's.
    ivy.call.invite(kim.id.clone());
    let incoming = kim.next("incoming").await;
    assert_eq!(field(&incoming, "from"), ivy.id);
    kim.call.accept();
    // The call grew: each of the three has the two others as participants, the one they
    // were already talking to first.
    let (i, j, k) = (ivy.id.clone(), jon.id.clone(), kim.id.clone());
    for (side, expected) in [
        (&mut ivy, [&j, &k]),
        (&mut jon, [&i, &k]),
        (&mut kim, [&i, &j]),
    ] {
        let joined = [
            field(&side.next("participant-joined").await, "id"),
            field(&side.next("participant-joined").await, "id"),
        ];
        assert_eq!(joined, expected.map(String::clone), "{}", side.name);
    }
    decodes_from_all(&kim, &[&ivy, &jon]).await;
    decodes_from_all(&jon, &[&kim, &ivy]).await;
    decodes_from_all(&ivy, &[&kim, &jon]).await;
    decodes_stream(&mut kim, &ivy, &stream).await;
    track.stop();

    // A chat message goes to everyone in the call.
    JsFuture::from(jon.call.send_text("hello all".into()))
        .await
        .expect("sent");
    for side in [&mut ivy, &mut kim] {
        let text = side.next("text").await;
        assert_eq!(
            (field(&text, "from"), field(&text, "text")),
            (jon.id.clone(), "hello all".into())
        );
    }
    for side in [&ivy, &jon, &kim] {
        side.call.leave_call();
    }
}

/// Files to and from several participants at once: each has an id of its own, so that
/// the page answers or cancels one without touching the other.
#[wasm_bindgen_test]
async fn files_to_and_from_several_participants_have_ids_of_their_own() {
    let room = unique("files");
    let mut people = join_all(["lea", "max", "ned"].map(|name| member(name, &room)))
        .await
        .into_iter();
    let (Some(mut lea), Some(mut max), Some(mut ned)) =
        (people.next(), people.next(), people.next())
    else {
        panic!("three members");
    };
    for side in [&lea, &max, &ned] {
        join(side).await;
    }

    // Max and Ned each offer Lea a file, at once: each sender's first.
    for (from, name) in [(&max, "from-max.bin"), (&ned, "from-ned.bin")] {
        JsFuture::from(
            from.call
                .send_file(random_file(name, 3000), Some(lea.id.clone())),
        )
        .await
        .expect("offered");
    }
    let offers = [lea.next("file-offer").await, lea.next("file-offer").await];
    let (from_max, from_ned) = match offers {
        [first, second] if field(&first, "name") == "from-max.bin" => (first, second),
        [first, second] => (second, first),
    };
    assert_eq!(field(&from_ned, "name"), "from-ned.bin");
    assert_ne!(field(&from_max, "id"), field(&from_ned, "id"));
    // Each says who offers it.
    assert_eq!(
        (field(&from_max, "from"), field(&from_ned, "from")),
        (max.id.clone(), ned.id.clone())
    );
    // Lea declines Ned's and takes Max's: each answer reaches its own sender.
    lea.call.decline_file(field(&from_ned, "id"));
    lea.call.accept_file(field(&from_max, "id"));
    assert_eq!(field(&ned.next("file-cancelled").await, "by"), "declined");
    let done = lea.next("file-done").await;
    assert_eq!(
        (field(&done, "id"), field(&done, "name")),
        (field(&from_max, "id"), "from-max.bin".to_owned())
    );
    assert_eq!(field(&max.next("file-done").await, "name"), "from-max.bin");

    // Lea sends a file to each of them: two ids; cancelling Max's leaves Ned's going.
    let mut ids = Vec::new();
    for (to, name) in [(&max, "to-max.bin"), (&ned, "to-ned.bin")] {
        let id = JsFuture::from(
            lea.call
                .send_file(random_file(name, 3000), Some(to.id.clone())),
        )
        .await
        .expect("offered");
        ids.push(id.as_string().unwrap_or_default());
    }
    assert_ne!(ids[0], ids[1]);
    assert_eq!(field(&max.next("file-offer").await, "name"), "to-max.bin");
    lea.call.cancel_file(ids[0].clone());
    assert_eq!(field(&max.next("file-cancelled").await, "by"), "peer");
    let offer = ned.next("file-offer").await;
    ned.call.accept_file(field(&offer, "id"));
    assert_eq!(field(&ned.next("file-done").await, "name"), "to-ned.bin");
    let sent = lea.next("file-done").await;
    assert_eq!(
        (field(&sent, "id"), field(&sent, "name")),
        (ids[1].clone(), "to-ned.bin".to_owned())
    );
    for side in [&lea, &max, &ned] {
        side.call.leave_call();
    }
}

#[wasm_bindgen_test]
async fn each_sender_keeps_to_its_share_of_the_video_budget() {
    let room = unique("budget");
    let mut people = Vec::new();
    for name in ["lea", "max", "ned", "ola"] {
        people.push(
            Side::online_with(
                name,
                &[
                    ("room", room.as_str().into()),
                    ("media", small_media()),
                    ("videoBudgetKbps", 150.into()),
                ],
            )
            .await,
        );
    }
    for side in &people {
        join(side).await;
    }
    everyone_decodes_everyone(&people).await;
    // Each of Lea's three video senders: a third of the budget, at half resolution (four
    // people). The stats say what each encoder sends and aims for.
    let lea = &people[0];
    for other in &people[1..] {
        let report = JsFuture::from(lea.call.get_stats(Some(other.id.clone())))
            .await
            .expect("stats");
        let report: js_sys::Map = report.into();
        let mut widths = Vec::new();
        report.for_each(&mut |stat, _| {
            if field(&stat, "type") != "outbound-rtp" || field(&stat, "kind") != "video" {
                return;
            }
            let number = |key: &str| {
                Reflect::get(&stat, &key.into())
                    .ok()
                    .and_then(|v| v.as_f64())
            };
            widths.extend(number("frameWidth"));
            // Chromium reports the encoder's target; Firefox does not.
            if let Some(target) = number("targetBitrate") {
                assert!(
                    target <= 50_000.0,
                    "{} aims at {target} bit/s to {}",
                    lea.name,
                    other.name
                );
            }
        });
        // The camera gives 160 wide; scaled down by 2 it is sent 80 wide.
        assert_eq!(widths, [80.0], "{} to {}", lea.name, other.name);
    }
    for side in &people {
        side.call.leave_call();
    }
}

#[wasm_bindgen_test]
async fn twenty_joins_and_leaves_leave_no_listener_behind() {
    let room = unique("churn");
    let mut stay = member("pat", &room).await;
    let mut come_and_go = member("quin", &room).await;
    join(&stay).await;
    let before = live_callbacks();
    for _ in 0..20 {
        join(&come_and_go).await;
        stay.next("participant-joined").await;
        come_and_go.call.leave_call();
        come_and_go.ended().await;
        stay.next("participant-left").await;
    }
    assert_eq!(live_callbacks(), before);
    stay.call.leave_call();
    stay.ended().await;
}

#[wasm_bindgen_test]
async fn a_connection_that_never_connects_is_made_again_three_times_then_its_participant_leaves() {
    // Relayed candidates only, through a relay nobody runs (nothing listens on port 4 of
    // the loopback; Firefox refuses the discard port, 9): the two can negotiate but never
    // connect.
    let room = unique("never");
    let nowhere = r#"[{"urls":"turn:127.0.0.1:4?transport=udp","username":"u","credential":"c"}]"#;
    let unreachable = [
        ("room", wasm_bindgen::JsValue::from(room.as_str())),
        ("media", small_media()),
        ("iceServers", js_sys::JSON::parse(nowhere).unwrap()),
        ("iceTransportPolicy", "relay".into()),
        ("connectTimeoutMs", 3_000.into()),
    ];
    let mut ann = Side::online_with("ann", &unreachable).await;
    let mut ben = Side::online_with("ben", &unreachable).await;
    join(&ann).await;
    join(&ben).await;
    let (ann_id, ben_id) = (ann.id.clone(), ben.id.clone());
    for (side, other) in [(&mut ann, &ben_id), (&mut ben, &ann_id)] {
        let left = side.next_within("participant-left", 20_000).await;
        assert_eq!(field(&left, "id"), *other);
        assert_eq!(field(&left, "reason"), "failed", "{}", side.name);
        let seen = side.seen.borrow();
        // Made again in between: the participant was `reconnecting`, and their media was
        // announced by each connection (the first and three more), each negotiated.
        let reconnecting = seen.iter().any(|(event, list)| {
            event == "participants"
                && Array::from(list)
                    .iter()
                    .any(|p| field(&p, "id") == *other && field(&p, "state") == "reconnecting")
        });
        assert!(reconnecting, "{}: never reconnecting", side.name);
        let announced = seen
            .iter()
            .filter(|(event, stream)| {
                event == "participant-stream" && field(stream, "id") == *other
            })
            .count();
        assert_eq!(
            announced, 4,
            "{}: one connection and three made again",
            side.name
        );
        // Once, and in words.
        let errors: Vec<String> = seen
            .iter()
            .filter(|(event, _)| event == "error")
            .map(|(_, error)| format!("{}: {}", field(error, "code"), field(error, "message")))
            .collect();
        assert_eq!(errors.len(), 1, "{}: {errors:?}", side.name);
        assert!(
            errors[0].starts_with("negotiation-failed: could not connect to"),
            "{errors:?}"
        );
        let lefts = seen
            .iter()
            .filter(|(event, _)| event == "participant-left")
            .count();
        assert_eq!(lefts, 1, "{}", side.name);
        assert!(
            !seen.iter().any(|(event, _)| event == "ended"),
            "{}: the call goes on",
            side.name
        );
    }
    for side in [&mut ann, &mut ben] {
        side.call.leave_call();
        side.ended().await;
    }
}

#[wasm_bindgen_test]
async fn a_participant_whose_browser_refuses_the_connection_is_let_go_at_once_on_both_sides() {
    // A TURN server without a username and credential: both engines refuse such a
    // configuration when the connection is made (InvalidAccessError), not before.
    let room = unique("refused");
    let refused = r#"[{"urls":"turn:127.0.0.1:3478?transport=udp"}]"#;
    let ann_options = [("room", room.as_str().into()), ("media", small_media())];
    let ben_options = [
        ("room", room.as_str().into()),
        ("media", small_media()),
        ("iceServers", js_sys::JSON::parse(refused).unwrap()),
    ];
    let mut ann = Side::online_with("ann", &ann_options).await;
    let mut ben = Side::online_with("ben", &ben_options).await;
    join(&ann).await;
    join(&ben).await;
    // Ben's browser says why; Ann hears at once that the connection failed, long before
    // it could have timed out (30 s by default), and says so too.
    let error = ben.next_within("error", 10_000).await;
    assert_eq!(field(&error, "code"), "negotiation-failed");
    assert!(
        field(&error, "message").starts_with("cannot create the connection"),
        "{}",
        field(&error, "message")
    );
    let left = ann.next_within("participant-left", 10_000).await;
    assert_eq!(field(&left, "id"), ben.id);
    assert_eq!(field(&left, "reason"), "failed");
    let errors: Vec<String> = (ann.seen.borrow().iter())
        .filter(|(event, _)| event == "error")
        .map(|(_, error)| format!("{}: {}", field(error, "code"), field(error, "message")))
        .collect();
    let expected = format!("negotiation-failed: could not connect to {}", ben.name);
    assert_eq!(errors, [expected]);
    // Neither call ends; Ben never saw Ann as a participant.
    for side in [&ann, &ben] {
        let seen = side.seen.borrow();
        assert!(
            !seen.iter().any(|(event, _)| event == "ended"),
            "{}",
            side.name
        );
    }
    let announced_ann = ben
        .seen
        .borrow()
        .iter()
        .any(|(event, peer)| event == "participant-joined" && field(peer, "id") == ann.id);
    assert!(
        !announced_ann,
        "ben announced a participant without a connection"
    );
    for side in [&mut ann, &mut ben] {
        side.call.leave_call();
        side.ended().await;
    }
}

#[wasm_bindgen_test]
async fn a_track_added_in_a_room_call_reaches_those_who_join_later() {
    let room = unique("added");
    let options = [("room", room.as_str().into()), ("media", small_media())];
    let alice = Side::online_with("alice", &options).await;
    let errors = Rc::new(Cell::new(0));
    let count_errors = Closure::<dyn FnMut(JsValue)>::new({
        let errors = Rc::clone(&errors);
        move |_| errors.set(errors.get() + 1)
    });
    alice.call.on(
        "error".to_owned(),
        count_errors.as_ref().unchecked_ref::<Function>().clone(),
    );
    join(&alice).await;
    // Drawn on a canvas by the page: one video added while Alice is alone in the call,
    // which is no mistake (it is kept for whoever joins), another once Bob is in it.
    let (alone, alone_stream) = (stand_in("video"), MediaStream::new().unwrap());
    alone_stream.add_track(&alone);
    alice
        .call
        .add_track(Clone::clone(&alone), Clone::clone(&alone_stream));
    let mut bob = Side::online_with("bob", &options).await;
    join(&bob).await;
    decodes_stream(&mut bob, &alice, &alone_stream).await;
    let track = stand_in("video");
    let stream = MediaStream::new().unwrap();
    stream.add_track(&track);
    alice
        .call
        .add_track(Clone::clone(&track), Clone::clone(&stream));
    // Bob, in the call already, and Carol, who joins after it was added, both get it
    // (Carol's connection is made after the track was added), and it decodes.
    let mut carol = Side::online_with("carol", &options).await;
    join(&carol).await;
    for side in [&mut bob, &mut carol] {
        decodes_stream(side, &alice, &stream).await;
    }
    assert_eq!(errors.get(), 0, "no error for either track");
    alone.stop();
    track.stop();
    for side in [&alice, &bob, &carol] {
        side.call.leave_call();
    }
}

#[wasm_bindgen_test]
async fn a_join_refused_for_going_too_fast_settles_and_leaves_no_call_behind() {
    let room = unique("hasty");
    let ann = member("ann", &room).await;
    // Locking the room and joining its call share one rate, 100 at once (docs/PROTOCOL.md,
    // "How peercall-server applies it"): 96 locks leave a few for joining and leaving, then a join is refused.
    for _ in 0..96 {
        ann.call.lock_room();
    }
    let mut joins = 0;
    let refusal = loop {
        match JsFuture::from(ann.call.join_call()).await {
            Ok(_) => ann.call.leave_call(),
            Err(refusal) => break refusal,
        }
        joins += 1;
        assert!(joins < 40, "never refused");
    };
    assert_eq!(field(&refusal, "code"), "refused");
    assert!(
        field(&refusal, "message").contains("too many"),
        "{refusal:?}"
    );
    // Not left half-joined: the page may ask again, and is not told it is in a call.
    assert_eq!(ann.call.state(), "idle");
    if let Err(again) = JsFuture::from(ann.call.join_call()).await {
        assert_eq!(field(&again, "code"), "refused", "{again:?}");
    }
}

#[wasm_bindgen_test]
async fn an_invitee_whom_two_members_invite_still_gets_in() {
    let room = unique("twice");
    let (ann, ben) = (member("ann", &room).await, member("ben", &room).await);
    let mut cat = member("cat", &room).await;
    join(&ann).await;
    join(&ben).await;
    decodes_from_all(&ann, &[&ben]).await;
    // Both invite cat: the server keeps the later invitation only, and cat's answer
    // goes to it.
    ben.call.invite(cat.id.clone());
    let incoming = cat.next("incoming").await;
    assert_eq!(field(&incoming, "from"), ben.id);
    ann.call.invite(cat.id.clone());
    // Ann's ring reaches cat before the news of what ann does next: she locks the room.
    ann.call.lock_room();
    while !js_sys::Reflect::get(&cat.next("room").await, &"locked".into())
        .unwrap()
        .is_truthy()
    {}
    cat.call.accept();
    decodes_from_all(&cat, &[&ann, &ben]).await;
    decodes_from_all(&ann, &[&cat]).await;
    decodes_from_all(&ben, &[&cat]).await;
    for side in [&ann, &ben, &cat] {
        side.call.leave_call();
    }
}
