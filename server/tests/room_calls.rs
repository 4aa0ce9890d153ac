//! A named room's call: who is in it, who is told when someone joins or leaves, its
//! capacity, invitations, and a two-person call growing into it.

mod common;

use common::{Client, TestServer};
use serde_json::{Value, json};

/// `names` in room `room`, each having read the others' arrival.
async fn people(server: &TestServer, room: &str, names: &[&str]) -> Vec<(Client, String)> {
    let mut people: Vec<(Client, String)> = Vec::new();
    for name in names {
        let (client, id, _) = server.join(name, room).await;
        for (earlier, _) in &mut people {
            earlier.expect("peer-joined").await;
        }
        people.push((client, id));
    }
    people
}

/// `names` in room `room`; the first two in a call, which the first invites the third
/// into: the people, their ids, the call's id and the ring the third heard.
async fn an_invitation(
    server: &TestServer,
    room: &str,
    names: &[&str],
) -> (Vec<(Client, String)>, Vec<String>, String, Value) {
    let mut room = people(server, room, names).await;
    let all: Vec<String> = room.iter().map(|(_, id)| id.clone()).collect();
    let call = {
        let (first, rest) = room.split_at_mut(1);
        first[0].0.call(&all[0], &mut rest[0].0, &all[1]).await
    };
    room[0]
        .0
        .send(json!({"type": "ring", "to": all[2], "call": call}))
        .await;
    let ring = room[2].0.expect("ring").await;
    (room, all, call, ring)
}

fn ids(peers: &Value) -> Vec<String> {
    peers
        .as_array()
        .expect("a list")
        .iter()
        .map(|peer| peer["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn members_are_told_who_joins_and_leaves_and_the_fifth_finds_the_call_full() {
    let server = TestServer::start().await;
    let mut room = people(&server, "standup", &["ann", "ben", "cat", "dan", "eve"]).await;
    let all: Vec<String> = room.iter().map(|(_, id)| id.clone()).collect();

    // The first starts the call; each later one is told who is in it already, earliest
    // first, and those are told who came.
    let mut call = Value::Null;
    for joiner in 0..4 {
        room[joiner].0.send(json!({"type": "join-call"})).await;
        let joined = room[joiner].0.expect("call-joined").await;
        assert_eq!(ids(&joined["peers"]), all[..joiner].to_vec());
        assert!(joined["seq"].as_u64().is_some(), "numbered: {joined}");
        if joiner == 0 {
            call = joined["call"].clone();
        }
        assert_eq!(joined["call"], call);
        for (member, _) in &mut room[..joiner] {
            let news = member.expect("participant-joined").await;
            assert_eq!(news["id"], all[joiner].as_str());
            assert_eq!(news["name"], ["ann", "ben", "cat", "dan"][joiner]);
            assert_eq!(news["call"], call);
        }
    }

    // The default capacity is 4.
    room[4].0.send(json!({"type": "join-call"})).await;
    room[4].0.expect_error("call-full").await;
    // Not in it: nothing of it passes.
    room[4]
        .0
        .send(json!({"type": "offer", "to": all[0], "call": call, "sdp": "v=0\r\n"}))
        .await;
    room[4].0.expect_error("not-in-call").await;
    // Members negotiate with each other, any pair.
    room[3]
        .0
        .send(json!({"type": "offer", "to": all[1], "call": call, "sdp": "v=0\r\n"}))
        .await;
    let offer = room[1].0.expect("offer").await;
    assert_eq!((&offer["from"], &offer["call"]), (&json!(all[3]), &call));

    // Dan leaves: the others hear it, and there is room for Eve.
    room[3].0.send(json!({"type": "leave-call"})).await;
    for (member, _) in &mut room[..3] {
        let left = member.expect("participant-left").await;
        assert_eq!(
            (&left["id"], &left["reason"]),
            (&json!(all[3]), &json!("left"))
        );
    }
    room[4].0.send(json!({"type": "join-call"})).await;
    let joined = room[4].0.expect("call-joined").await;
    assert_eq!(ids(&joined["peers"]), all[..3].to_vec());
    for (member, _) in &mut room[..3] {
        assert_eq!(
            member.expect("participant-joined").await["id"],
            all[4].as_str()
        );
    }
    // Dan, out of the call, can no longer reach its members with negotiation.
    room[3]
        .0
        .send(json!({"type": "candidate", "to": all[0], "call": call, "candidate": null}))
        .await;
    room[3].0.expect_error("not-in-call").await;

    // Cat closes her page: the call hears she is gone, then the room does.
    let (cat, _) = room.remove(2);
    cat.close().await;
    for (at, (member, _)) in room.iter_mut().enumerate() {
        if at == 2 {
            // Dan is not in the call: only the room tells him.
            assert_eq!(member.expect("peer-left").await["id"], all[2].as_str());
            continue;
        }
        let left = member.expect("participant-left").await;
        assert_eq!(
            (&left["id"], &left["reason"]),
            (&json!(all[2]), &json!("gone"))
        );
        member.expect("peer-left").await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_two_person_call_grows_by_invitation() {
    let server = TestServer::start().await;
    // Ann invites Cat with the call's id: Cat hears a ring of that call.
    let (mut room, all, call, ring) =
        an_invitation(&server, "team", &["ann", "ben", "cat", "mal"]).await;
    assert_eq!(
        (&ring["from"], &ring["call"]),
        (&json!(all[0]), &json!(call))
    );
    // Someone outside the call cannot invite to it.
    room[3]
        .0
        .send(json!({"type": "ring", "to": all[2], "call": call}))
        .await;
    room[3].0.expect_error("bad-request").await;

    // Cat accepts: she is in the call with both, who are told, and Ann gets no accept.
    room[2]
        .0
        .send(json!({"type": "accept", "to": all[0], "call": call}))
        .await;
    let joined = room[2].0.expect("call-joined").await;
    assert_eq!(joined["call"], call.as_str());
    assert_eq!(ids(&joined["peers"]), all[..2].to_vec());
    for (member, _) in &mut room[..2] {
        let news = member.expect("participant-joined").await;
        assert_eq!((&news["id"], &news["call"]), (&json!(all[2]), &json!(call)));
    }
    // Ben, who never rang Cat, offers to her within the call.
    room[1]
        .0
        .send(json!({"type": "offer", "to": all[2], "call": call, "sdp": "v=0\r\n"}))
        .await;
    assert_eq!(room[2].0.expect("offer").await["from"], all[1].as_str());

    // An invitation declined reaches the one who invited, and the call goes on.
    room[1]
        .0
        .send(json!({"type": "ring", "to": all[3], "call": call}))
        .await;
    room[3].0.expect("ring").await;
    room[3]
        .0
        .send(json!({"type": "decline", "to": all[1], "call": call, "reason": "declined"}))
        .await;
    assert_eq!(room[1].0.expect("decline").await["call"], call.as_str());
    // Declined means no longer invited.
    room[3]
        .0
        .send(json!({"type": "accept", "to": all[1], "call": call}))
        .await;
    room[3].0.expect_error("not-in-call").await;
    // The room call is the room's only one: nobody starts another by joining.
    room[3].0.send(json!({"type": "join-call"})).await;
    let joined = room[3].0.expect("call-joined").await;
    assert_eq!(joined["call"], call.as_str());
    assert_eq!(ids(&joined["peers"]), all[..3].to_vec());
    server.stop().await;
}

#[tokio::test]
async fn the_call_capacity_is_a_flag_and_the_default_room_has_no_room_call() {
    let server = TestServer::start_with(|config| config.call_capacity = 2).await;
    let mut room = people(&server, "pair", &["ann", "ben", "cat"]).await;
    let all: Vec<String> = room.iter().map(|(_, id)| id.clone()).collect();
    for (member, _) in &mut room[..2] {
        member.send(json!({"type": "join-call"})).await;
        member.expect("call-joined").await;
    }
    room[0].0.expect("participant-joined").await;
    room[2].0.send(json!({"type": "join-call"})).await;
    room[2].0.expect_error("call-full").await;
    // An invitation into a full call is refused to the one who invites.
    let call = {
        room[1].0.send(json!({"type": "join-call"})).await;
        room[1].0.expect("call-joined").await["call"].clone()
    };
    room[0]
        .0
        .send(json!({"type": "ring", "to": all[2], "call": call}))
        .await;
    room[0].0.expect_error("call-full").await;

    let (mut lone, _, _) = server.login("lone").await;
    lone.send(json!({"type": "join-call"})).await;
    let refusal = lone.expect_error("bad-request").await;
    assert!(refusal["message"].as_str().unwrap().contains("named room"));
    server.stop().await;
}

#[tokio::test]
async fn a_join_sent_again_after_a_resume_is_taken_once() {
    let server = TestServer::start().await;
    let mut room = people(&server, "again", &["ann", "ben"]).await;
    room[0].0.send(json!({"type": "join-call", "seq": 1})).await;
    room[0].0.expect("call-joined").await;
    room[1].0.send(json!({"type": "join-call", "seq": 1})).await;
    room[1].0.expect("call-joined").await;
    assert_eq!(room[0].0.expect("participant-joined").await["name"], "ben");
    // The same number again: nothing happens, so Ann hears nothing of it. Her next frame
    // is the leave that follows.
    room[1].0.send(json!({"type": "join-call", "seq": 1})).await;
    room[1]
        .0
        .send(json!({"type": "leave-call", "seq": 2}))
        .await;
    assert_eq!(room[0].0.expect("participant-left").await["reason"], "left");
    server.stop().await;
}

#[tokio::test]
async fn a_declined_invitation_leaves_the_two_person_call_as_it_was() {
    let server = TestServer::start().await;
    let (mut room, all, call, _) = an_invitation(&server, "pair", &["ann", "ben", "cat"]).await;
    room[2]
        .0
        .send(json!({"type": "decline", "to": all[0], "call": call, "reason": "busy"}))
        .await;
    assert_eq!(room[0].0.expect("decline").await["reason"], "busy");
    // Still the two of them: Ben's hang-up ends it, as any two-person call's.
    room[1]
        .0
        .send(json!({"type": "hangup", "to": all[0], "call": call}))
        .await;
    room[0].0.expect("hangup").await;
    // Nobody was left behind in a room call.
    room[0].0.send(json!({"type": "join-call"})).await;
    let joined = room[0].0.expect("call-joined").await;
    assert_eq!(ids(&joined["peers"]), Vec::<String>::new());
    assert_ne!(joined["call"], call.as_str());
    server.stop().await;
}

#[tokio::test]
async fn an_invitation_ends_with_a_call_that_a_new_call_between_the_two_replaced() {
    let server = TestServer::start().await;
    let (mut room, all, call, _) = an_invitation(&server, "again", &["ann", "ben", "cat"]).await;
    // Ann and Ben start over with a new call: the one Cat was invited into is over.
    let again = {
        let (first, rest) = room.split_at_mut(1);
        rest[0].0.call(&all[1], &mut first[0].0, &all[0]).await
    };
    assert_ne!(again, call);
    // So is the invitation: Cat's answer to it goes nowhere, and she is told.
    room[2]
        .0
        .send(json!({"type": "decline", "to": all[0], "call": call, "reason": "declined"}))
        .await;
    room[2].0.expect_error("not-in-call").await;
    room[2]
        .0
        .send(json!({"type": "accept", "to": all[0], "call": call}))
        .await;
    room[2].0.expect_error("not-in-call").await;
    server.stop().await;
}

#[tokio::test]
async fn an_invitation_past_the_four_a_member_may_have_open_ends_the_oldest_at_its_invitee() {
    let server = TestServer::start().await;
    let names = ["ann", "ben", "cat", "dan", "eve", "fay", "gus"];
    let (mut room, all, call, _) = an_invitation(&server, "standup", &names).await;
    for invitee in &all[3..] {
        room[0]
            .0
            .send(json!({"type": "ring", "to": invitee, "call": call}))
            .await;
    }
    for (invitee, _) in &mut room[3..] {
        assert_eq!(invitee.expect("ring").await["call"], call);
    }
    // Cat's invitation, the oldest of five, ended: cat hears it end as if ann had
    // cancelled it, and can no longer take it.
    let cat = &mut room[2].0;
    let hangup = cat.expect("hangup").await;
    assert_eq!(
        (&hangup["from"], &hangup["call"]),
        (&json!(all[0]), &json!(call))
    );
    cat.send(json!({"type": "accept", "to": all[0], "call": call}))
        .await;
    cat.expect_error("not-in-call").await;
    // The other four are still invited, told nothing: dan takes his.
    for (invitee, _) in &mut room[3..] {
        invitee.send(json!({"type": "ping"})).await;
        invitee.expect("pong").await;
    }
    let dan = &mut room[3].0;
    dan.send(json!({"type": "accept", "to": all[0], "call": call}))
        .await;
    assert_eq!(dan.expect("call-joined").await["call"], call);
    server.stop().await;
}
