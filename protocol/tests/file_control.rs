//! The file channel's control messages: every message reads back as itself from what its
//! writer lists, and bad input is told apart from news of a newer version.

mod json;

use json::{Json, written};
use protocol::{ControlError, FileControl, Party};
use serde_json::{Value, json};

fn read(value: Value) -> Result<FileControl, ControlError> {
    let Value::Object(map) = value else {
        panic!("an object");
    };
    FileControl::read(&mut Json(map))
}

fn every_message() -> Vec<FileControl> {
    vec![
        FileControl::Offer {
            id: 1,
            name: "holiday photos.zip".to_owned(),
            size: 3_145_745.0,
            kind: "application/zip".to_owned(),
        },
        FileControl::Offer {
            id: u32::MAX,
            name: "empty".to_owned(),
            size: 0.0,
            kind: String::new(),
        },
        FileControl::Accept { id: 2 },
        FileControl::Decline { id: 3 },
        FileControl::Cancel { id: 4, by: None },
        FileControl::Cancel {
            id: 4,
            by: Some(Party::Sender),
        },
        FileControl::Cancel {
            id: 4,
            by: Some(Party::Receiver),
        },
        FileControl::End {
            id: 5,
            digest: Some("ab".repeat(32)),
        },
        FileControl::End {
            id: 6,
            digest: None,
        },
        FileControl::Received { id: 7, ok: true },
        FileControl::Received { id: 8, ok: false },
    ]
}

#[test]
fn every_message_reads_back_as_itself() {
    for message in every_message() {
        assert_eq!(read(written(&message)), Ok(message.clone()), "{message:?}");
    }
}

#[test]
fn the_wire_spells_each_kind_once() {
    let written: Vec<Value> = every_message().iter().map(written).collect();
    assert_eq!(written[0]["t"], "offer");
    assert_eq!(
        written[0],
        json!({"t": "offer", "id": 1.0, "name": "holiday photos.zip", "size": 3_145_745.0,
               "type": "application/zip"})
    );
    assert_eq!(written[4], json!({"t": "cancel", "id": 4.0}));
    assert_eq!(
        written[5],
        json!({"t": "cancel", "id": 4.0, "by": "sender"})
    );
    assert_eq!(
        written[6],
        json!({"t": "cancel", "id": 4.0, "by": "receiver"})
    );
    assert_eq!(written[9], json!({"t": "received", "id": 7.0, "ok": true}));
}

#[test]
fn a_cancel_by_a_side_this_version_does_not_know_does_not_say() {
    assert_eq!(
        read(json!({"t": "cancel", "id": 4, "by": "someone"})),
        Ok(FileControl::Cancel { id: 4, by: None })
    );
}

#[test]
fn an_offered_name_keeps_no_folder_and_no_control_characters() {
    let offer = |name: &str| {
        read(json!({"t": "offer", "id": 1, "name": name, "size": 10})).map(|m| match m {
            FileControl::Offer { name, .. } => name,
            other => panic!("{other:?}"),
        })
    };
    assert_eq!(offer("../../etc/passwd"), Ok("passwd".to_owned()));
    assert_eq!(offer("C:\\Users\\me\\cv.pdf"), Ok("cv.pdf".to_owned()));
    assert_eq!(
        offer("bad\u{0}\u{7}name\n.txt"),
        Ok("badname.txt".to_owned())
    );
    // Nothing that turns the name around on screen: "invoice<RLO>fdp.exe" would show
    // as "invoiceexe.pdf".
    assert_eq!(
        offer("invoice\u{202E}fdp.exe"),
        Ok("invoicefdp.exe".to_owned())
    );
    assert_eq!(
        offer("\u{2067}a\u{2069}\u{200F}b\u{61C}c\u{202A}.txt"),
        Ok("abc.txt".to_owned())
    );
    assert_eq!(offer("folder/"), Ok("file".to_owned()));
    assert_eq!(offer(&"x".repeat(1000)).map(|n| n.chars().count()), Ok(255));
}

#[test]
fn a_bad_offer_is_declined_by_its_id() {
    for bad in [
        json!({"t": "offer", "id": 9, "name": "a", "size": -1}),
        json!({"t": "offer", "id": 9, "name": "a", "size": 1.5}),
        json!({"t": "offer", "id": 9, "name": "a", "size": 1e16}),
        json!({"t": "offer", "id": 9, "name": "a", "size": "10"}),
        json!({"t": "offer", "id": 9, "name": "a"}),
        json!({"t": "offer", "id": 9, "size": 10}),
        json!({"t": "offer", "id": 9, "name": 7, "size": 10}),
    ] {
        assert!(
            matches!(read(bad.clone()), Err(ControlError::BadOffer(9, _))),
            "{bad}"
        );
    }
}

#[test]
fn what_is_no_control_message_is_unreadable_and_a_newer_kind_is_unknown() {
    for bad in [
        json!({}),
        json!({"id": 1}),
        json!({"t": 5, "id": 1}),
        json!({"t": "accept"}),
        json!({"t": "accept", "id": -1}),
        json!({"t": "accept", "id": 1.5}),
        json!({"t": "accept", "id": 5e9}),
        json!({"t": "accept", "id": "1"}),
    ] {
        assert!(
            matches!(read(bad.clone()), Err(ControlError::Unreadable(_))),
            "{bad}"
        );
    }
    assert_eq!(
        read(json!({"t": "pause", "id": 1})),
        Err(ControlError::Unknown("pause".to_owned()))
    );
}

#[test]
fn any_object_of_these_fields_is_read_or_refused_without_panicking() {
    // Every combination of a few values for each field the reader looks at.
    let kinds = [
        json!("offer"),
        json!("end"),
        json!("received"),
        json!(null),
        json!(1),
    ];
    let ids = [
        json!(0),
        json!(4_294_967_295_u64),
        json!(-0.5),
        json!("x"),
        json!(null),
    ];
    let values = [
        json!(""),
        json!(0),
        json!(true),
        json!(null),
        json!("a/b\u{1}"),
    ];
    for t in &kinds {
        for id in &ids {
            for v in &values {
                let message = json!({"t": t, "id": id, "name": v, "size": v, "type": v,
                                     "digest": v, "ok": v});
                if let Ok(understood) = read(message.clone()) {
                    assert_eq!(read(written(&understood)), Ok(understood), "{message}");
                }
            }
        }
    }
}
