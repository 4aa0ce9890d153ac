//! Three people, Chromium and Firefox mixed, in one room's call through the demo page:
//! each checks their camera before joining (one joins with the microphone off), sees the
//! two others in the grid with their marks and in the quality panel (the graphs of the
//! one picked), and someone leaving takes their tile and their figures away.

use peercall_e2e::{Driver, Engine, Person, base_url, wait_for_js};

/// A script function: the marks shown on the camera tile of the person named `name`
/// (`""` when none), or `null` without such a tile.
const MARKS_OF: &str = "const marksOf = name => {
    const tile = [...document.querySelectorAll('#grid .tile[data-kind=video]')]
      .find(t => t.querySelector('.tile-name').firstChild.textContent === name);
    if (!tile) return null;
    const marks = tile.querySelector('.tile-muted');
    return marks.hidden ? '' : marks.textContent;
  };";

/// A script function: what the quality panel shows, `{lines, menu, offered, graphed}`:
/// the names its lines begin with, the names in the menu of whose graphs to show,
/// whether that menu is offered, and the label of the rate graph.
const PANEL: &str = "const panel = () => {
    const menu = document.getElementById('quality-graph');
    return {
      lines: document.getElementById('quality-figures').textContent.split('\\n')
        .filter(line => line.includes(': sent')).map(line => line.split(':')[0]).sort(),
      menu: [...menu.options].map(o => o.textContent).sort(),
      offered: !document.getElementById('quality-graph-label').hidden,
      graphed: document.getElementById('quality-rate').getAttribute('aria-label'),
    };
  };";

/// Waits until `person`'s grid has a tile for each of `names`, each playing video.
async fn sees_tiles_of(person: &Person, names: &[&str]) {
    let script = format!(
        "const tiles = [...document.querySelectorAll('#grid .tile[data-kind=video]')];
         const names = tiles.map(t => t.querySelector('.tile-name').firstChild.textContent).sort();
         const playing = tiles.every(t => {{
           const v = t.querySelector('video');
           return v.videoWidth > 0 && v.currentTime > 0.2;
         }});
         return !document.getElementById('grid').hidden && playing
           && JSON.stringify(names) === {:?};",
        {
            let mut sorted = names.to_vec();
            sorted.sort_unstable();
            serde_json::to_string(&sorted).expect("names as JSON")
        }
    );
    wait_for_js(
        &person.browser,
        &script,
        &format!("{}: tiles of {names:?} playing", person.name),
    )
    .await;
}

#[tokio::test]
async fn three_people_in_a_room_call_see_each_other_in_the_grid() {
    let chromium = Driver::start().await;
    let firefox = Driver::start_for(Engine::Firefox).await;
    let suffix = std::process::id();
    let url = format!("{}r/grid-{suffix}", base_url());
    let (ann, ben, cat) = (
        format!("ann-{suffix}"),
        format!("ben-{suffix}"),
        format!("cat-{suffix}"),
    );
    let ann = Person::log_in_at(chromium.browser().await, &url, &ann).await;
    let ben = Person::log_in_at(firefox.browser().await, &url, &ben).await;
    let cat = Person::log_in_at(chromium.browser().await, &url, &cat).await;

    for person in [&ann, &ben, &cat] {
        person.click("join-call-button").await;
        // The pre-join check shows the camera before anyone sees it.
        wait_for_js(
            &person.browser,
            "const v = document.getElementById('prejoin-video');
             return !document.getElementById('prejoin').hidden && v.videoWidth > 0
               && document.querySelectorAll('#prejoin-camera option').length > 0;",
            &format!("{}: the pre-join self view", person.name),
        )
        .await;
        // Keyboard and screen-reader users land in the check.
        wait_for_js(
            &person.browser,
            "return document.activeElement && document.activeElement.id === 'prejoin-join';",
            &format!("{}: Join now has the focus", person.name),
        )
        .await;
        if person.name == cat.name {
            person.click("prejoin-mic-off").await;
        }
        person.click("prejoin-join").await;
        person.wait_for_text("status", "in the room call").await;
    }
    cat.wait_for_text("mic-button", "Unmute").await;
    sees_tiles_of(&ann, &[&ben.name, &cat.name]).await;
    sees_tiles_of(&ben, &[&ann.name, &cat.name]).await;
    sees_tiles_of(&cat, &[&ann.name, &ben.name]).await;
    // The fake microphones make sound: someone is marked as the one speaking. Cat joined
    // with her microphone off, and her tile says so; ben's does not; every tile has a
    // quality mark.
    wait_for_js(
        &ann.browser,
        &format!(
            "{MARKS_OF} return !!document.querySelector('#grid .tile.speaking')
               && marksOf({:?}) === 'muted' && marksOf({:?}) === ''
               && [...document.querySelectorAll('#grid .tile-quality')]
                    .every(q => /^[0-5]\\/5$/.test(q.textContent));",
            cat.name, ben.name
        ),
        "a speaker highlighted, cat muted, ben not, quality marks",
    )
    .await;
    ann.keep_screenshot("room-call-grid").await;
    // A file ann drops on the room call is offered to each of the two others, and she
    // sees whom each copy waits for.
    ann.browser
        .execute(
            "const files = new DataTransfer();
             files.items.add(new File(['for all'], 'notes.txt', {type: 'text/plain'}));
             const call = document.getElementById('call');
             call.dispatchEvent(new DragEvent('drop', {dataTransfer: files, bubbles: true, cancelable: true}));",
            vec![],
        )
        .await
        .expect("a file dropped");
    for other in [&ben, &cat] {
        wait_for_js(
            &other.browser,
            &format!(
                "return [...document.querySelectorAll('#transfers li.offered')]
                   .some(li => li.querySelector('.name').textContent === 'notes.txt'
                     && li.querySelector('.detail').textContent === {:?});",
                format!("{} sends you this", ann.name)
            ),
            &format!("{} is offered ann's file", other.name),
        )
        .await;
    }
    let mut waiting = [
        format!("waiting for {}", ben.name),
        format!("waiting for {}", cat.name),
    ];
    waiting.sort_unstable();
    wait_for_js(
        &ann.browser,
        &format!(
            "const details = [...document.querySelectorAll('#transfers li.sending .detail')]
               .map(d => d.textContent).sort();
             return JSON.stringify(details) === {:?};",
            serde_json::to_string(&waiting).expect("as JSON")
        ),
        "ann's file waits for ben and for cat",
    )
    .await;
    // Ben mutes: Ann's grid marks him muted.
    ben.click("mic-button").await;
    wait_for_js(
        &ann.browser,
        &format!("{MARKS_OF} return marksOf({:?}) === 'muted';", ben.name),
        "ben marked muted",
    )
    .await;

    // The quality panel: a line for each of the two others, and the graphs of the one
    // picked from its menu.
    ann.click("quality-button").await;
    let both = serde_json::to_string(&{
        let mut names = [ben.name.as_str(), cat.name.as_str()];
        names.sort_unstable();
        names
    })
    .expect("names as JSON");
    wait_for_js(
        &ann.browser,
        &format!(
            "{PANEL} const p = panel();
             return JSON.stringify(p.lines) === {both:?} && JSON.stringify(p.menu) === {both:?}
               && p.offered;"
        ),
        "ann's quality panel: lines and a menu of ben and cat",
    )
    .await;
    ann.browser
        .execute(
            "const menu = document.getElementById('quality-graph');
             menu.value = [...menu.options].find(o => o.textContent === arguments[0]).value;
             menu.dispatchEvent(new Event('change'));",
            vec![serde_json::json!(cat.name)],
        )
        .await
        .expect("cat picked in the menu");
    wait_for_js(
        &ann.browser,
        &format!(
            "{PANEL} return panel().graphed === 'Sent to and received from {}, kbps, last minute';",
            cat.name
        ),
        "the graphs are cat's",
    )
    .await;

    // Cat leaves: the two others lose her tile, and the call goes on between them.
    cat.click("hangup-button").await;
    cat.wait_for_text("status", "you left the room call").await;
    sees_tiles_of(&ann, &[&ben.name]).await;
    sees_tiles_of(&ben, &[&ann.name]).await;
    ann.wait_for_text("notice", &format!("{} left the call", cat.name))
        .await;
    wait_for_js(
        &ann.browser,
        "return document.getElementById('grid').dataset.count === '1';",
        "one tile left",
    )
    .await;
    // Ann's panel forgets cat: ben's line and graphs only, and no menu for one.
    wait_for_js(
        &ann.browser,
        &format!(
            "{PANEL} const p = panel();
             return JSON.stringify(p.lines) === JSON.stringify([{ben:?}])
               && JSON.stringify(p.menu) === JSON.stringify([{ben:?}]) && !p.offered
               && p.graphed === 'Sent to and received from {ben}, kbps, last minute';",
            ben = ben.name
        ),
        "ann's quality panel without cat",
    )
    .await;

    for person in [ann, ben, cat] {
        person.browser.close().await.ok();
    }
}
