//! Around a call on the demo page: the ringtone and the ring-back tone play while it
//! rings and stop when it is answered, the call timer runs, and the keyboard shortcuts
//! work, except while the person types.

use peercall_e2e::{Driver, Engine, Person, wait_for_js};

/// Presses `key` on the page, as the browser delivers it to `target` (a CSS selector).
async fn press(person: &Person, target: &str, key: &str) {
    person
        .browser
        .execute(
            "const [target, key] = arguments;
             document.querySelector(target).dispatchEvent(
               new KeyboardEvent('keydown', {key, bubbles: true}));",
            vec![target.into(), key.into()],
        )
        .await
        .expect("a key press");
}

/// The tone `person`'s page plays, if any.
async fn tone(person: &Person) -> Option<String> {
    let tone = person
        .browser
        .execute("return document.body.dataset.tone ?? null;", vec![])
        .await
        .expect("a script runs");
    tone.as_str().map(str::to_owned)
}

#[tokio::test]
async fn tones_follow_the_ring_the_timer_runs_and_shortcuts_wait_for_no_typing() {
    let chromium = Driver::start().await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let (alice, bob) = Person::in_chromium_and_firefox(&chromium, &firefox).await;

    alice.call(&bob.name).await;
    bob.wait_for_text("incoming-name", &alice.name).await;
    assert_eq!(tone(&alice).await.as_deref(), Some("ringback"));
    assert_eq!(tone(&bob).await.as_deref(), Some("ring"));
    bob.click("accept-button").await;
    alice
        .wait_for_text("status", &format!("in a call with {}", bob.name))
        .await;
    for person in [&alice, &bob] {
        wait_for_js(
            &person.browser,
            "return document.body.dataset.tone === undefined;",
            "the tone stops once answered",
        )
        .await;
        // The timer counts from the answer: it shows 0:01 after a second.
        person.wait_for_text("call-timer", "0:01").await;
    }

    // Typed into the chat, `m` is a letter; on the page it mutes, and says so.
    press(&alice, "#chat-input", "m").await;
    press(&alice, "#chat-input", "h").await;
    assert_eq!(alice.text("mic-button").await, "Mute");
    press(&alice, "body", "m").await;
    alice.wait_for_text("mic-button", "Unmute").await;
    alice.wait_for_text("announcer", "Microphone muted").await;
    press(&alice, "body", "?").await;
    wait_for_js(
        &alice.browser,
        "return !document.getElementById('shortcuts').hidden;",
        "the shortcuts are listed",
    )
    .await;

    // `h` asks first; the second press hangs up.
    press(&bob, "body", "h").await;
    bob.wait_for_text("notice", "Press h again to hang up.")
        .await;
    assert_eq!(
        bob.text("status").await,
        format!("in a call with {}", alice.name)
    );
    press(&bob, "body", "h").await;
    alice
        .wait_for_text("status", &format!("{} hung up", bob.name))
        .await;
    bob.wait_for_text("status", "call ended").await;
    wait_for_js(
        &alice.browser,
        "return document.getElementById('call-timer').hidden;",
        "the timer is gone",
    )
    .await;

    alice.browser.close().await.ok();
    bob.browser.close().await.ok();
}
