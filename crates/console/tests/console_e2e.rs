//! The console end to end under Xvfb: the real `lotse-console`, `lotse-relay` and `lotse`
//! (customer) binaries, both windows driven with real X events through their trace seams
//! (`LOTSE_CONSOLE_TRACE`, `LOTSE_UI_TRACE`). The tests run one at a time (`serial`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_testkit::xdnd_drop;
use lotse_testkit::{DEADLINE, Proc, Xvfb, wait_until};
use serde_json::{Value, json};
use std::time::Instant;
use support::*;

#[test]
fn login_key_queue_accept_tiers_chat_end() {
    let _one = serial();
    let x = Xvfb::start(1600, 1000);
    let _wm = x.window_manager();
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();

    let (console, config) = start_console(&x, &relay, dir.path(), &[]);
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(!saved.contains(PASSWORD), "the password is never stored");

    console.click("key.generate");
    let key = console.wait("a key", |l| l["key"].is_string())["key"]
        .as_str()
        .unwrap()
        .replace(' ', "");

    let idle = x.run(
        "xprop",
        &["-id", &console.last()["window"].to_string(), "WM_HINTS"],
    );
    assert!(
        !idle.contains("urgency"),
        "asks for attention before anyone came: {idle}"
    );

    // The real customer client with that key.
    let customer = customer_window(&x, &relay, &key, "carla", dir.path());

    // The console sees the customer arrive: banner, title, queue.
    let arrived = console.wait("the customer in the queue", |l| {
        l["queue"].as_array().is_some_and(|q| q.len() == 1)
    });
    assert!(arrived["banner"].is_string(), "{arrived}");
    assert!(
        arrived["title"].as_str().unwrap().contains("waiting"),
        "{arrived}"
    );
    // The window asks the desktop for attention (ICCCM urgency hint: taskbars flash it).
    let window = arrived["window"].to_string();
    let mut hints = String::new();
    wait_until("the console's window to ask for attention", || {
        hints = x.run("xprop", &["-id", &window, "WM_HINTS"]);
        hints.contains("urgency hint bit is set")
    });
    eprintln!("console WM_HINTS on arrival: {}", hints.trim());
    console.screenshot("console-queue.png");
    console.click("queue.accept.0");
    console.wait("the session tab", |l| l["screen"] == "session");

    for tier in ["view", "control"] {
        console.click(&format!("tier.{tier}"));
        console.wait(&format!("{tier} waiting"), |l| {
            l["session"]["tiers"][tier] == "waiting"
        });
        customer.wait_widget("prompt.allow");
        console.screenshot(&format!("console-prompt-pending-{tier}.png"));
        allow(&console, &customer, tier);
    }
    let line = console.wait("in control", |l| l["session"]["in_control"] == true);
    assert!(
        Window::widget(&line, "control.paused").is_some()
            || Window::widget(&line, "control.active").is_some()
    );

    // Chat both ways.
    console.type_checked("chat.input", "Hello from Ann", |l| {
        l["session"]["chat_input"].clone()
    });
    console.click("chat.send");
    customer.wait("the rep's chat line", |l| {
        l["chat"]["last"]["text"] == "Hello from Ann"
    });
    console.wait("our own line", |l| {
        l["session"]["chat"]["last"]["text"] == "Hello from Ann"
    });

    // Send a file through the console's native file dialog: the customer is asked, saves it,
    // and the console's row says done.
    console.click("tier.files");
    allow(&console, &customer, "files");
    let sent = dir.path().join("fix-printer.sh");
    std::fs::write(&sent, "lpadmin -x old\n".repeat(500)).unwrap();
    console.click("file.send");
    let title = "Send a file to the customer";
    let dialog = x.run("xdotool", &["search", "--sync", "--name", title]);
    let dialog = dialog.lines().next().unwrap().to_owned();
    console.xdotool(&["windowactivate", "--sync", &dialog]);
    console.xdotool(&["windowfocus", "--sync", &dialog]);
    // Ctrl+L opens the location field; typing a path there and Return picks the file.
    console.xdotool(&["key", "ctrl+l"]);
    console.xdotool(&["type", "--delay", "15", sent.to_str().unwrap()]);
    console.xdotool(&["key", "Return"]);
    let offer = customer.wait("the file offer", |l| {
        l["prompt"]["file"]["name"] == "fix-printer.sh"
    });
    assert_eq!(offer["screen"], "prompt");
    let start = Instant::now();
    while customer.last()["screen"] == "prompt" {
        customer.click("prompt.save");
        assert!(
            start.elapsed() < DEADLINE,
            "the file prompt never took the click"
        );
    }
    console.wait("the file sent", |l| {
        l["session"]["transfers"].as_array().is_some_and(|t| {
            t.iter()
                .any(|t| t["name"] == "fix-printer.sh" && t["state"] == "done")
        })
    });
    let saved = dir.path().join("home-carla/Downloads/fix-printer.sh");
    wait_until("the file in the customer's Downloads", || {
        std::fs::read(&saved).is_ok_and(|b| b == std::fs::read(&sent).unwrap())
    });

    // Drop a file onto the console's window (XDND, as a file manager does): offered the same way.
    let dropped = dir.path().join("driver-notes.txt");
    std::fs::write(&dropped, "use the PPD from the vendor\n".repeat(300)).unwrap();
    let window = console.last()["window"].as_u64().unwrap() as u32;
    xdnd_drop(&x.display, window, &dropped);
    customer.wait("the dropped file's offer", |l| {
        l["prompt"]["file"]["name"] == "driver-notes.txt"
    });
    let start = Instant::now();
    while customer.last()["screen"] == "prompt" {
        customer.click("prompt.save");
        assert!(
            start.elapsed() < DEADLINE,
            "the file prompt never took the click"
        );
    }
    let saved = dir.path().join("home-carla/Downloads/driver-notes.txt");
    wait_until("the dropped file in the customer's Downloads", || {
        std::fs::read(&saved).is_ok_and(|b| b == std::fs::read(&dropped).unwrap())
    });

    // End: the customer's window says so, the console's tab too.
    console.click("session.end");
    console.wait("ended", |l| l["session"]["live"] == false);
    customer.wait("the customer's end screen", |l| l["screen"] == "ended");
    drop(customer);
    let _ = console.proc;
}

/// The screen and control end to end with the real customer client: a known picture (an orange
/// desktop) on the customer's own Xvfb (1920×1080), the real `lotse` window there (X11 capture,
/// OpenH264, XTest), granted by clicking Allow in it; the console on a second display: the
/// picture appears in the console's window, typing in it reaches an xterm on the customer's
/// display, and the console's decode/upload times are written to `LOTSE_CONSOLE_PERF`.
#[test]
fn video_and_control_reach_the_customer() {
    let _one = serial();
    let customer_x = Xvfb::start(1920, 1080);
    // A window manager on the customer's display too: it gives the keyboard to the window the
    // rep clicks (the customer's own window has had it since the person clicked Allow).
    let _customer_wm = customer_x.window_manager();
    let console_x = Xvfb::start(1600, 1000);
    let _wm = console_x.window_manager();
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    // The customer's desktop: an orange background and an xterm (bottom left) recording input.
    customer_x.run("xsetroot", &["-solid", "#ff8000"]);
    let typed = dir.path().join("typed.txt");
    let _xterm = Proc::spawn(
        customer_x
            .command("xterm")
            .args(["-geometry", "60x10+80+820", "-e", "sh", "-c"])
            .arg(format!("stty -echo; cat > {}", typed.display())),
    );
    wait_until("the xterm", || {
        customer_x
            .command("xdotool")
            .args(["search", "--class", "xterm"])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    });

    let perf = dir.path().join("perf.jsonl");
    let (console, _) = start_console(
        &console_x,
        &relay,
        dir.path(),
        &[("LOTSE_CONSOLE_PERF", &perf)],
    );
    console.click("key.generate");
    let key = console.wait("a key", |l| l["key"].is_string())["key"]
        .as_str()
        .unwrap()
        .replace(' ', "");

    let customer = customer_window(&customer_x, &relay, &key, "carla", dir.path());

    let line = accept_and_view(&console, &customer, [1920, 1080]);
    // The toolbar says how the connection does: pictures arrive, a loopback round trip is short.
    let q = console.wait("the quality line with pictures", |l| {
        l["session"]["quality"]["fps"]
            .as_u64()
            .is_some_and(|f| f > 0)
    })["session"]["quality"]
        .clone();
    assert!(q["rtt_ms"].as_u64().unwrap() < 1000, "{q}");
    assert!(q["kbit_s"].as_u64().unwrap() > 0, "{q}");
    assert!(Window::widget(&console.last(), "session.quality").is_some());
    // The console's own window shows the customer's orange desktop where the picture is.
    let view = Window::widget(&line, "view").expect("the view")["rect"].clone();
    let r: Vec<i64> = view
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let shot = dir.path().join("console.png");
    wait_until("orange in the console's window", || {
        console_x.run(
            "import",
            &[
                "-window",
                &line["window"].to_string(),
                shot.to_str().unwrap(),
            ],
        );
        // A patch near the picture's top right: the customer's background, not the xterm (bottom
        // left) nor the customer's window (placed top left by openbox).
        let crop = format!(
            "{}x{}+{}+{}",
            (r[2] - r[0]) / 10,
            (r[3] - r[1]) / 10,
            r[2] - (r[2] - r[0]) * 3 / 20,
            r[1] + (r[3] - r[1]) / 20
        );
        let mean = console_x.run(
            "convert",
            &[
                shot.to_str().unwrap(),
                "-crop",
                &crop,
                "-resize",
                "1x1!",
                "-format",
                "%[fx:int(255*r)],%[fx:int(255*g)],%[fx:int(255*b)]",
                "info:",
            ],
        );
        let c: Vec<i64> = mean
            .trim()
            .split(',')
            .filter_map(|v| v.parse().ok())
            .collect();
        c.len() == 3 && (c[0] - 255).abs() < 20 && (c[1] - 128).abs() < 20 && c[2] < 25
    });

    console.screenshot("console-session.png");
    console.click("tier.control");
    allow(&console, &customer, "control");
    console.wait("control", |l| l["session"]["in_control"] == true);
    // A click on the xterm in the picture lands in the customer's xterm and takes the keyboard.
    let line = console.last();
    let v = Window::rect(&line, "view").expect("the view");
    let (sx, sy) = ((v[2] - v[0]) as f64 / 1920.0, (v[3] - v[1]) as f64 / 1080.0);
    let (cx, cy) = (v[0] + (260.0 * sx) as i64, v[1] + (880.0 * sy) as i64);
    console.point_at(cx, cy);
    console.xdotool(&["click", "1"]);
    console.wait("the keyboard grab", |l| l["session"]["grab"] == true);
    console.xdotool(&["type", "--delay", "30", "hello lotse"]);
    console.xdotool(&["key", "Return"]);
    console.screenshot("console-control.png");
    wait_until("the typing in the customer's xterm", || {
        std::fs::read_to_string(&typed).is_ok_and(|t| t.contains("hello lotse"))
    });
    // Ctrl+Alt+Escape gives the keyboard back.
    console.xdotool(&["key", "ctrl+alt+Escape"]);
    console.wait("no grab", |l| l["session"]["grab"] == false);

    console.click("session.end");
    console.wait("ended", |l| l["session"]["live"] == false);
    customer.wait("the customer's end screen", |l| l["screen"] == "ended");

    // The console's own frame timing (printed, not asserted: a benchmark measures).
    let rows: Vec<Value> = std::fs::read_to_string(&perf)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!rows.is_empty(), "pictures were shown");
    for key in ["decode_ms", "convert_ms", "upload_paint_ms"] {
        let mut v: Vec<f64> = rows.iter().filter_map(|r| r[key].as_f64()).collect();
        v.sort_by(f64::total_cmp);
        eprintln!(
            "console 1920x1080 {key}: n={} median={:.2} p90={:.2} max={:.2}",
            v.len(),
            v[v.len() / 2],
            v[v.len() * 9 / 10],
            v[v.len() - 1]
        );
    }
}

/// Issue 18, a fault with the real binaries: the rep's console is killed (SIGKILL, no goodbye)
/// while the rep holds Ctrl down on the customer's machine. The relay notices the lost console
/// after its idle timeout (5 s here; 20 s by default) and ends the session: the key is let go on
/// the customer's machine, the person's window says the session ended, and the audit chain is
/// sound.
#[test]
fn a_console_killed_mid_session_leaves_no_key_held() {
    let _one = serial();
    let customer_x = Xvfb::start(1280, 800);
    let _customer_wm = customer_x.window_manager();
    let console_x = Xvfb::start(1600, 1000);
    let _wm = console_x.window_manager();
    let relay = relay_with(&["--idle-timeout", "5"]);
    let dir = tempfile::tempdir().unwrap();
    let (mut console, _) = start_console(&console_x, &relay, dir.path(), &[]);
    let key = new_key(&console);
    let customer = customer_window(&customer_x, &relay, &key, "carla", dir.path());
    accept_and_view(&console, &customer, [1280, 800]);
    console.click("tier.control");
    allow(&console, &customer, "control");
    console.wait("control", |l| l["session"]["in_control"] == true);
    // A click into the picture gives the keyboard to the customer's machine; Ctrl goes down there.
    let v = Window::rect(&console.last(), "view").expect("the view");
    console.point_at((v[0] + v[2]) / 2, (v[1] + v[3]) / 2);
    console.xdotool(&["click", "1"]);
    console.wait("the keyboard grab", |l| l["session"]["grab"] == true);
    console.xdotool(&["keydown", "ctrl"]);
    wait_until("Ctrl held on the customer's machine", || {
        !customer_x.pressed_keys().is_empty()
    });

    let killed = Instant::now();
    let _ = console.proc.0.kill();
    wait_until("Ctrl let go after the console died", || {
        customer_x.pressed_keys().is_empty()
    });
    eprintln!(
        "the key was let go {} ms after the console was killed",
        killed.elapsed().as_millis()
    );
    // Nobody else was in the session: the person waits for the supporter to come back (the
    // grace period), and is told why.
    customer.wait("the person told", |l| {
        l["screen"] == "wait"
            && l["requeue"]
                .as_str()
                .is_some_and(|t| t.contains("connection to your supporter was lost"))
    });
    relay.assert_audit_verifies();
}

/// Issue 8: several sessions at once. Two real customer windows (each on a display of its own),
/// one console: the first customer is accepted; the second arrives while that session runs
/// (banner, title, lit queue tab) and is accepted from the queue into a second tab over a second
/// connection; each tab's requests and chat reach its own customer only; ending one leaves the
/// other running.
#[test]
fn two_customers_in_two_tabs() {
    let _one = serial();
    let x = Xvfb::start(1600, 1000);
    let _wm = x.window_manager();
    let carla_x = Xvfb::start(1024, 768);
    let dirk_x = Xvfb::start(1024, 768);
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    let (console, _) = start_console(&x, &relay, dir.path(), &[]);

    let key = new_key(&console);
    let carla = customer_window(&carla_x, &relay, &key, "carla", dir.path());
    console.wait("carla waiting", |l| l["queue"][0]["name"] == "carla");
    console.click("queue.accept.0");
    let line = console.wait("carla's tab", |l| {
        l["session"]["customer"] == "carla" && l["session"]["live"] == true
    });
    assert_eq!(line["tab"], 1);
    console.wait("the queue empty", |l| l["queue"] == json!([]));

    // Dirk arrives while Carla's session runs: the console says so without leaving her tab.
    console.click("tab.queue");
    console.wait("the queue tab", |l| l["screen"] == "queue");
    let key = new_key(&console);
    console.click("tab.session.0");
    console.wait("carla's tab again", |l| l["tab"] == 1);
    let dirk = customer_window(&dirk_x, &relay, &key, "dirk", dir.path());
    let line = console.wait("dirk announced", |l| l["banner"] == "dirk");
    assert_eq!(line["screen"], "session", "the open tab stays open");
    assert_eq!(line["badge"], true, "{line}");
    assert!(
        line["title"].as_str().unwrap().contains("waiting: dirk"),
        "{line}"
    );
    console.screenshot("console-tabs-arrival.png");
    console.click("banner.show");
    console.wait("the queue with dirk", |l| {
        l["screen"] == "queue" && l["queue"][0]["name"] == "dirk"
    });
    console.click("queue.accept.0");
    let line = console.wait("dirk's tab", |l| {
        l["session"]["customer"] == "dirk" && l["session"]["live"] == true
    });
    assert_eq!(line["tab"], 2);
    let sessions = line["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s["live"] == true), "{line}");

    // A request in Dirk's tab reaches Dirk, not Carla.
    console.click("tier.view");
    dirk.wait_widget("prompt.allow");
    assert_ne!(carla.last()["screen"], "prompt", "carla was not asked");
    allow(&console, &dirk, "view");
    console.screenshot("console-tabs.png");

    // Chat in Carla's tab reaches Carla only.
    console.click("tab.session.0");
    console.wait("carla's tab", |l| l["session"]["customer"] == "carla");
    console.type_checked("chat.input", "Hallo Carla", |l| {
        l["session"]["chat_input"].clone()
    });
    console.click("chat.send");
    carla.wait("carla's chat", |l| {
        l["chat"]["last"]["text"] == "Hallo Carla"
    });
    assert_ne!(dirk.last()["chat"]["last"]["text"], "Hallo Carla");
    assert_eq!(
        console.last()["session"]["tiers"]["view"],
        "not_requested",
        "dirk's grant is dirk's tab's"
    );

    // Ending Carla's session leaves Dirk's running.
    console.click("session.end");
    console.wait("carla's session over", |l| l["session"]["live"] == false);
    carla.wait("carla's end screen", |l| l["screen"] == "ended");
    console.click("tab.session.1");
    console.wait("dirk's tab, still live", |l| {
        l["session"]["customer"] == "dirk" && l["session"]["live"] == true
    });
    assert_ne!(dirk.last()["screen"], "ended");
    console.click("session.end");
    dirk.wait("dirk's end screen", |l| l["screen"] == "ended");
    let _ = console.proc;
}

/// Monitor switch and the 1:1 view: the customer's display has two monitors of different
/// sizes (xrandr, as in tests/control_e2e.rs); the console switches between them and the
/// picture follows; in 1:1 the picture is drawn pixel for pixel (bigger than the view, so it
/// scrolls) and scrolling moves it.
#[test]
fn monitor_switch_and_one_to_one_view() {
    let _one = serial();
    let customer_x = Xvfb::start(2880, 1000);
    customer_x.run(
        "xrandr",
        &["--setmonitor", "big", "1920/508x1000/265+0+0", "none"],
    );
    customer_x.run(
        "xrandr",
        &["--setmonitor", "small", "960/254x1000/265+1920+0", "none"],
    );
    customer_x.run("xsetroot", &["-solid", "#0060c0"]);
    let console_x = Xvfb::start(1600, 1000);
    let _wm = console_x.window_manager();
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    let (console, _) = start_console(&console_x, &relay, dir.path(), &[]);
    let key = new_key(&console);
    let customer = Customer::start(&customer_x, &relay, key, "Carla Customer", dir.path());
    console.click("queue.accept.0");
    console.wait("the session tab", |l| l["session"]["live"] == true);
    console.click("tier.view");
    let line = console.wait("a picture and the monitors", |l| {
        l["session"]["picture"].is_array()
            && l["session"]["monitors"]
                .as_array()
                .is_some_and(|m| m.len() >= 2)
    });
    let monitors = line["session"]["monitors"].as_array().unwrap().clone();
    let index = |name: &str| {
        monitors
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no monitor {name} in {monitors:?}"))["index"]
            .as_u64()
            .unwrap()
    };
    for (name, size) in [("small", json!([960, 1000])), ("big", json!([1920, 1000]))] {
        let i = index(name);
        let now = console.last();
        if now["session"]["shared"] != i || now["session"]["picture"] != size {
            console.click(&format!("monitor.{i}"));
        }
        console.wait(&format!("the {name} monitor's picture"), |l| {
            l["session"]["shared"] == i && l["session"]["picture"] == size
        });
    }

    // Fit: the whole 1920×1000 picture inside the view, scaled down.
    let fit = console.last();
    let v = Window::rect(&fit, "view").unwrap();
    assert!(v[2] - v[0] < 1920, "scaled to fit: {v:?}");
    assert_eq!(fit["session"]["fit"], true);
    assert_eq!(fit["video"]["nearest"], false, "scaled: bilinear");
    // 1:1: the picture is 1920×1000 window pixels, more than is on screen, each the nearest
    // texel's.
    console.click("view.fit");
    let one = console.wait("1:1", |l| {
        l["session"]["fit"] == false
            && Window::rect(l, "view.picture").is_some()
            && l["video"]["nearest"] == true
    });
    let p = Window::rect(&one, "view.picture").unwrap();
    let v = Window::rect(&one, "view").unwrap();
    assert_eq!([p[2] - p[0], p[3] - p[1]], [1920, 1000], "pixel for pixel");
    assert!(v[2] - v[0] < 1920, "only part on screen: {v:?}");
    console.screenshot("console-one-to-one.png");
    // What the console paints is the customer's screen: the GPU's shader converts the planes
    // (the trace says which path painted), and only the strips that changed are uploaded, so a
    // small window opened on the customer's screen must appear and everything else stay right.
    assert_eq!(one["video"]["gpu"], true, "the GPU converts the picture");
    let window = one["window"].to_string();
    let matches = |want_red: bool| {
        let shown = console_x.grab(&window);
        let truth = customer_x.grab("root");
        let (mut sum, mut bad, mut n) = (0u64, 0u64, 0u64);
        // Not the last 24 pixels right and below: the scroll bars.
        for y in (v[1]..v[3] - 24).step_by(2) {
            for x in (v[0]..v[2] - 24).step_by(2) {
                let a = shown.pixel(x as usize, y as usize);
                let b = truth.pixel((x - p[0]) as usize, (y - p[1]) as usize);
                let d = (0..3).map(|c| a[c].abs_diff(b[c]) as u64).max().unwrap();
                sum += d;
                bad += u64::from(d > 40);
                n += 1;
            }
        }
        let red = shown.pixel((p[0] + 260) as usize, (p[1] + 430) as usize);
        let is_red = red[0] > 150 && red[1] < 90 && red[2] < 60;
        (
            sum as f64 / n as f64,
            bad as f64 / n as f64,
            is_red == want_red,
        )
    };
    let (mean, bad, _) = matches(false);
    assert!(
        mean < 4.0 && bad < 0.01,
        "console picture vs customer screen: mean difference {mean:.2}, {:.2} % of pixels off",
        bad * 100.0
    );
    let _xterm = Proc::spawn(customer_x.command("xterm").args([
        "-geometry",
        "30x6+200+400",
        "-bg",
        "#c03000",
    ]));
    wait_until("the xterm in the picture, the rest unchanged", || {
        let (mean, bad, red) = matches(true);
        red && mean < 4.0 && bad < 0.01
    });
    // Dragging the picture up and to the left pans it. (The wheel scrolls it too — see the unit
    // test `fit_scales_down_and_one_to_one_scrolls` — but tao 0.37 reports the discrete wheel
    // clicks xdotool makes with a zero delta, so the wheel cannot be driven from here.)
    let (cx, cy) = ((v[0] + v[2]) / 2, (v[1] + v[3]) / 2);
    console.point_at(cx, cy);
    console.xdotool(&["mousedown", "1"]);
    for step in 1..=10 {
        console.point_at(cx - step * 30, cy - step * 20);
    }
    // Released only once the picture has moved: on a busy machine the console may otherwise
    // take the press, the moves and the release in one frame, which is a click, not a drag.
    let (x0, y0) = (p[0], p[1]);
    let scrolled = console.wait("scrolled", |l| {
        Window::rect(l, "view.picture").is_some_and(|q| q[0] < x0 && q[1] < y0)
    });
    console.xdotool(&["mouseup", "1"]);
    let q = Window::rect(&scrolled, "view.picture").unwrap();
    assert_eq!([q[2] - q[0], q[3] - q[1]], [1920, 1000], "still 1:1");
    // And back to fit.
    console.click("view.fit");
    console.wait("fit again", |l| l["session"]["fit"] == true);
    console.click("session.end");
    console.wait("ended", |l| l["session"]["live"] == false);
    customer.wait_end();
}

/// The CPU conversion — the fallback where the GL context cannot run the picture's shader, and
/// what `LOTSE_CONSOLE_GPU=0` chooses — paints the right picture. (Mesa's version overrides cannot
/// stand in for an old driver here: its EGL then makes no context at all.)
#[test]
fn the_cpu_conversion_paints_the_picture() {
    let _one = serial();
    let customer_x = Xvfb::start(1280, 800);
    customer_x.run("xsetroot", &["-solid", "#c06020"]);
    let console_x = Xvfb::start(1280, 900);
    let _wm = console_x.window_manager();
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    let cpu = [("LOTSE_CONSOLE_GPU", std::path::Path::new("0"))];
    let (console, _) = start_console(&console_x, &relay, dir.path(), &cpu);
    let key = new_key(&console);
    let customer = Customer::start(&customer_x, &relay, key, "Carla Customer", dir.path());
    console.click("queue.accept.0");
    console.wait("the session tab", |l| l["session"]["live"] == true);
    console.click("tier.view");
    let line = console.wait("a picture, painted by the CPU path", |l| {
        l["session"]["picture"].is_array() && l["video"]["gpu"] == false
    });
    let window = line["window"].to_string();
    // Somewhere in the picture away from the customer's own window: the desktop's colour.
    let p = Window::rect(&line, "view.picture").unwrap();
    wait_until("the customer's desktop in the picture", || {
        let shown = console_x.grab(&window);
        let c = shown.pixel((p[2] - 8) as usize, (p[3] - 8) as usize);
        c[0].abs_diff(0xc0) < 8 && c[1].abs_diff(0x60) < 8 && c[2].abs_diff(0x20) < 8
    });
    console.click("session.end");
    console.wait("ended", |l| l["session"]["live"] == false);
    customer.wait_end();
}

/// "Email invitation": the console asks the relay (which runs a portal) for a link and shows it.
#[test]
fn email_invitation_shows_the_link() {
    let _one = serial();
    let x = Xvfb::start(1600, 1000);
    let _wm = x.window_manager();
    let relay = relay(true);
    let dir = tempfile::tempdir().unwrap();
    let (console, _) = start_console(&x, &relay, dir.path(), &[]);
    assert_eq!(
        Window::widget(&console.last(), "invite.send").unwrap()["enabled"],
        false,
        "no address yet"
    );
    console.type_checked("invite.email", "carla@example.org", |l| l["email"].clone());
    console.click("invite.send");
    let line = console.wait("the link", |l| l["invitation"].is_string());
    let url = line["invitation"].as_str().unwrap();
    assert!(url.starts_with("https://support.example.org/"), "{url}");
    assert!(Window::widget(&line, "invite.url").is_some(), "shown");
    // This relay has no mail server: the console says the link was not mailed (copy it).
    console.wait("the mail not sent, and why", |l| {
        l["notice"]
            .as_str()
            .is_some_and(|n| n.contains("carla@example.org") && n.contains("no mail server"))
    });
}

/// Session sharing from the console: the owner opens "Share session", ticks the tiers, makes a
/// code (shown large); a colleague (the lotse-rep CLI as `bob`) joins with it and the console
/// lists them; when the owner ends their part the colleague owns the session.
#[test]
fn share_session_with_a_colleague() {
    let _one = serial();
    let x = Xvfb::start(1600, 1000);
    let _wm = x.window_manager();
    let customer_x = Xvfb::start(1024, 768);
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    let (console, _) = start_console(&x, &relay, dir.path(), &[]);
    let key = new_key(&console);
    let _customer = customer_window(&customer_x, &relay, &key, "carla", dir.path());
    console.click("queue.accept.0");
    console.wait("the session", |l| l["session"]["live"] == true);
    console.click("session.share");
    console.click("share.tier.files");
    console.click("share.make");
    // Shown large (the first frame with the code may still be egui's layout pass, where the
    // new text is not sized yet: CI once saw it 1 px high there).
    let line = console.wait("a share code shown large", |l| {
        l["session"]["share_code"].is_string()
            && Window::rect(l, "share.code").is_some_and(|r| r[3] - r[1] > 30)
    });
    let code = line["session"]["share_code"]
        .as_str()
        .unwrap()
        .replace(' ', "");
    console.screenshot("console-share.png");

    let events = dir.path().join("bob.jsonl");
    let bob = Proc::spawn(
        std::process::Command::new(workspace_bin("lotse-rep"))
            .args([
                "--relay",
                &relay.addr,
                "--pin",
                &relay.pin,
                "--user",
                "bob",
                "session",
                "--join",
                &code,
            ])
            .env("LOTSE_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(std::fs::File::create(&events).unwrap()),
    );
    console.wait("bob in the session", |l| {
        l["session"]["others"] == json!(["Bob Berg"])
    });
    wait_until("bob joined", || {
        std::fs::read_to_string(&events).is_ok_and(|t| t.contains("\"joined\""))
    });
    // Ann ends her part: Bob, the colleague in the session, owns it now (the session goes on).
    console.click("session.end");
    console.wait("ended", |l| l["session"]["live"] == false);
    wait_until("bob owns the session", || {
        std::fs::read_to_string(&events).is_ok_and(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .any(|v| {
                    v["event"] == "participants"
                        && v["list"].as_array().is_some_and(|l| {
                            l.len() == 1 && l[0]["name"] == "Bob Berg" && l[0]["role"] == "owner"
                        })
                })
        })
    });
    drop(bob);
}

/// Joining a colleague's session from the console: `bob` (the lotse-rep CLI) owns a session
/// with a real customer and shares it for `view`; the code typed into "Join session" opens a
/// tab on a connection of its own, and the console's View request reaches the customer, who
/// allows it for Ann.
#[test]
fn join_a_colleagues_session_with_a_code() {
    let _one = serial();
    let x = Xvfb::start(1600, 1000);
    let _wm = x.window_manager();
    let customer_x = Xvfb::start(1024, 768);
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    let (console, _) = start_console(&x, &relay, dir.path(), &[]);

    let rep = |args: &[&str]| {
        let mut c = std::process::Command::new(workspace_bin("lotse-rep"));
        c.args(["--relay", &relay.addr, "--pin", &relay.pin, "--user", "bob"])
            .args(args)
            .env("LOTSE_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn");
        c
    };
    let out = rep(&["key"]).output().unwrap();
    assert!(out.status.success());
    let key = String::from_utf8_lossy(&out.stdout).trim().replace(' ', "");
    let events = dir.path().join("bob.jsonl");
    let mut bob = Proc::spawn(
        rep(&["session", "--commands"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::fs::File::create(&events).unwrap()),
    );
    let mut bob_in = bob.0.stdin.take().unwrap();
    let customer = customer_window(&customer_x, &relay, &key, "carla", dir.path());
    let bob_said = |what: &str| {
        std::fs::read_to_string(&events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["event"] == what)
    };
    wait_until("bob's session", || bob_said("joined").is_some());
    use std::io::Write as _;
    writeln!(bob_in, "share view").unwrap();
    let mut code = String::new();
    wait_until("bob's share code", || {
        if let Some(v) = bob_said("share_code") {
            code = v["code"].as_str().unwrap().to_owned();
        }
        !code.is_empty()
    });

    console.type_checked("join.code", &code, |l| l["join_code"].clone());
    console.click("join.submit");
    let line = console.wait("the joined tab", |l| {
        l["session"]["customer"] == "carla" && l["session"]["live"] == true
    });
    assert!(
        Window::widget(&line, "session.share").is_none(),
        "only the owner shares"
    );
    console.click("tier.view");
    allow(&console, &customer, "view");
    // Ann leaves; Bob's session goes on.
    console.click("session.end");
    console.wait("ann's tab over", |l| l["session"]["live"] == false);
    wait_until("bob told that ann left", || bob_said("rep_left").is_some());
    assert!(bob_said("ended").is_none(), "the owner's session runs on");
    writeln!(bob_in, "leave").unwrap();
    customer.wait("the customer's end screen", |l| l["screen"] == "ended");
    drop(bob_in);
    let _ = bob.wait_exit();
}

/// System information from the console: the tier button asks, the real customer window's Allow
/// grants, the report opens in its own window, "Refresh" brings a newer one, "Save" writes the
/// report as text into the rep's Downloads without overwriting anything.
#[test]
fn system_information_page_refresh_and_save() {
    let _one = serial();
    let x = Xvfb::start(1600, 1000);
    let _wm = x.window_manager();
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    let (console, _) = start_console(&x, &relay, dir.path(), &[]);
    let key = new_key(&console);
    let customer = customer_window(&x, &relay, &key, "carla", dir.path());
    accept_the_waiting_customer(&console);
    console.click("tier.sysinfo");
    allow(&console, &customer, "sysinfo");
    let first = console.wait("the report", |l| l["session"]["sysinfo"]["open"] == true);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(first["session"]["sysinfo"]["host"], host.trim());
    console.screenshot("console-sysinfo.png");

    // Refresh: a report gathered later (the customer waits two seconds between reports).
    let at = first["session"]["sysinfo"]["gathered_at"].as_u64().unwrap();
    console.click("sysinfo.window_refresh");
    console.wait("a newer report", |l| {
        l["session"]["sysinfo"]["gathered_at"]
            .as_u64()
            .is_some_and(|g| g > at)
    });

    // Save twice: two files, the second numbered, both the report's text.
    for n in 1..=2 {
        console.click("sysinfo.save");
        console.wait("saved", |l| {
            l["session"]["sysinfo"]["saved"]
                .as_str()
                .is_some_and(|s| s.starts_with("Saved:"))
                && std::fs::read_dir(dir.path().join("Downloads"))
                    .map(|d| d.count())
                    .unwrap_or(0)
                    >= n
        });
    }
    let files: Vec<_> = std::fs::read_dir(dir.path().join("Downloads"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(text.contains("== System\n"), "{text}");
        assert!(
            text.contains(&format!("Computer name: {}", host.trim())),
            "{text}"
        );
    }
    drop(customer);
}

/// The console's clipboard toggle, with the customer on a display of its own: once the
/// customer allows `clipboard` and the rep ticks "Sync", what the customer copies is on the
/// rep's clipboard and what the rep copies (text, a picture) is on the customer's; after
/// unticking nothing crosses.
#[test]
fn clipboard_sync_both_ways_while_ticked() {
    let _one = serial();
    let customer_x = Xvfb::start(1280, 900);
    let _customer_wm = customer_x.window_manager();
    let console_x = Xvfb::start(1600, 1000);
    let _wm = console_x.window_manager();
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    let (console, _) = start_console(&console_x, &relay, dir.path(), &[]);
    let key = new_key(&console);
    let customer = customer_window(&customer_x, &relay, &key, "carla", dir.path());
    accept_the_waiting_customer(&console);
    for tier in ["view", "control", "clipboard"] {
        console.click(&format!("tier.{tier}"));
        allow(&console, &customer, tier);
    }
    console.click("clipboard.sync");
    console.wait("sync ticked", |l| l["session"]["clipboard"]["sync"] == true);

    // The customer copies: it lands on the rep's clipboard.
    let text = "Grüße vom Kunden: Fehler 0x80070005";
    customer_x.copy("UTF8_STRING", text.as_bytes());
    wait_until("the customer's copy on the rep's clipboard", || {
        console_x.paste("UTF8_STRING").as_deref() == Some(text.as_bytes())
    });
    // The rep copies text and a picture: both land on the customer's clipboard.
    let answer = "Antwort vom Techniker: ÄÖÜ äöü ß";
    console_x.copy("UTF8_STRING", answer.as_bytes());
    wait_until("the rep's copy on the customer's clipboard", || {
        customer_x.paste("UTF8_STRING").as_deref() == Some(answer.as_bytes())
    });
    let png = dir.path().join("shot.png");
    let made = std::process::Command::new("convert")
        .args(["-size", "64x48", "gradient:red-blue"])
        .arg(&png)
        .status()
        .unwrap();
    assert!(made.success());
    console_x.copy("image/png", &std::fs::read(&png).unwrap());
    let mut got = None;
    wait_until("the rep's picture on the customer's clipboard", || {
        got = customer_x
            .paste("image/png")
            .filter(|b| b.starts_with(b"\x89PNG"));
        got.is_some()
    });
    // GTK hands pictures on re-encoded (8 bits a channel): the same picture, pixel for pixel
    // within rounding.
    let back = dir.path().join("back.png");
    std::fs::write(&back, got.unwrap()).unwrap();
    let out = std::process::Command::new("compare")
        .args(["-metric", "AE", "-fuzz", "1%"])
        .arg(&png)
        .arg(&back)
        .arg("null:")
        .output()
        .unwrap();
    let differing = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(
        differing, "0",
        "pixels that differ between sent and received picture"
    );
    let line = console.last();
    assert!(
        line["session"]["clipboard"]["received"].as_u64().unwrap() >= 1,
        "{line}"
    );
    assert!(
        line["session"]["clipboard"]["sent"].as_u64().unwrap() >= 2,
        "{line}"
    );

    // Unticked: the customer's next copy stays there.
    console.click("clipboard.sync");
    console.wait("sync off", |l| l["session"]["clipboard"]["sync"] == false);
    customer_x.copy("UTF8_STRING", "nicht mehr".as_bytes());
    let until = Instant::now() + std::time::Duration::from_secs(2);
    while Instant::now() < until {
        assert_ne!(
            console_x.paste("UTF8_STRING").as_deref(),
            Some("nicht mehr".as_bytes()),
            "copied across with sync off"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(customer);
}

/// What supporters rely on beside the picture (issue 21): the customer panel (how they came by
/// the relay's word, host, OS, waiting and session time), a canned chat message, a screenshot
/// of the picture as PNG, the special keys (Windows/Super, Ctrl+Alt+Del) reaching the customer's
/// focused window only once `control` is granted, and the session record with the rep's notes.
#[test]
fn customer_panel_canned_chat_screenshot_special_keys_and_record() {
    let _one = serial();
    let customer_x = Xvfb::start(1280, 800);
    customer_x.run("xsetroot", &["-solid", "#3060a0"]);
    let console_x = Xvfb::start(1600, 1000);
    let _wm = console_x.window_manager();
    let relay = relay(false);
    let dir = tempfile::tempdir().unwrap();
    // xev on the customer's display, with the keyboard focus: it writes down every key it gets.
    let keys_seen = dir.path().join("xev.txt");
    let _xev = Proc::spawn(customer_x.command("sh").args([
        "-c",
        &format!(
            "exec xev -event keyboard -geometry 300x200+900+500 > {}",
            keys_seen.display()
        ),
    ]));
    let mut xev_window = String::new();
    wait_until("xev's window", || {
        xev_window = customer_x
            .command("xdotool")
            .args(["search", "--name", "Event Tester"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        !xev_window.is_empty()
    });
    customer_x.run("xdotool", &["windowfocus", "--sync", &xev_window]);
    let seen = || std::fs::read_to_string(&keys_seen).unwrap_or_default();

    let (console, _) = start_console(&console_x, &relay, dir.path(), &[]);
    let key = new_key(&console);
    let customer_downloads = dir.path().join("customer-downloads");
    let customer = Customer::start(
        &customer_x,
        &relay,
        key.clone(),
        "Carla Customer",
        &customer_downloads,
    );
    accept_the_waiting_customer(&console);

    // The customer panel, with the session time running.
    let line = console.wait("the session time running", |l| {
        l["session"]["customer_panel"]["in_session_s"].as_u64() >= Some(1)
    });
    let panel = &line["session"]["customer_panel"];
    let came = panel["came"].as_str().unwrap();
    assert!(
        came.starts_with("your key …") && key.ends_with(came.trim_start_matches("your key …")),
        "{came} for {key}"
    );
    // (The in-process customer says it is desk-17, on linux.)
    assert_eq!(panel["host"], "desk-17");
    assert_eq!(panel["os"], "linux");
    assert!(panel["waited_s"].as_u64().is_some(), "{panel}");
    // The keys cannot be used without `control`.
    for id in ["key.cad", "key.super"] {
        let w = Window::widget(&line, id).unwrap_or_else(|| panic!("no {id}"));
        assert_eq!(w["enabled"], false, "{id}");
    }

    // A canned message into the chat field, sent as it is.
    console.click("chat.canned");
    console.click("chat.canned.1");
    let canned = "Please close any confidential windows before I look at your screen.";
    console.wait("the canned message in the field", |l| {
        l["session"]["chat_input"] == canned
    });
    console.click("chat.send");
    console.wait("the canned message sent", |l| {
        l["session"]["chat"]["last"]["text"] == canned
            && l["session"]["chat"]["last"]["mine"] == true
    });

    // A screenshot of the picture: a PNG of the customer's screen in the downloads folder.
    console.click("tier.view");
    console.wait("the picture", |l| {
        l["session"]["picture"] == json!([1280, 800])
    });
    console.click("tool.screenshot");
    let downloads = dir.path().join("Downloads");
    let file_ending = |ext: &str| {
        std::fs::read_dir(&downloads).ok().and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|e| e == ext))
        })
    };
    console.wait("the screenshot saved", |l| {
        l["session"]["saved"]
            .as_str()
            .is_some_and(|s| s.starts_with("Saved:"))
            && file_ending("png").is_some()
    });
    let shot = std::fs::File::open(file_ending("png").unwrap()).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(shot))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 800));
    let at = |x: usize, y: usize| {
        let i = (y * info.width as usize + x) * 3;
        [buf[i], buf[i + 1], buf[i + 2]]
    };
    let near = |p: [u8; 3], q: [u8; 3]| p.iter().zip(q).all(|(a, b)| a.abs_diff(b) <= 16);
    assert!(near(at(100, 100), [0x30, 0x60, 0xa0]), "{:?}", at(100, 100));

    // The special keys, once `control` is granted: they reach the focused window.
    console.click("tier.control");
    console.wait("control granted", |l| {
        l["session"]["tiers"]["control"] == "granted"
    });
    assert!(
        !seen().contains("Super_L"),
        "a key arrived before: {}",
        seen()
    );
    console.click("key.super");
    wait_until("Super at the customer's window", || {
        seen().contains("Super_L")
    });
    console.click("key.cad");
    wait_until("Ctrl+Alt+Del at the customer's window", || {
        let s = seen();
        s.contains("Control_L") && s.contains("Alt_L") && s.contains("Delete")
    });

    // Notes and the session record.
    console.type_checked("notes.input", "Drucker neu installiert", |l| {
        l["session"]["notes"].clone()
    });
    console.click("notes.save");
    console.wait("the record saved", |l| {
        file_ending("txt").is_some() && l["session"]["saved"] != Value::Null
    });
    let record = std::fs::read_to_string(file_ending("txt").unwrap()).unwrap();
    for part in [
        "Customer: Carla Customer",
        "Computer: desk-17",
        "View: granted",
        "Control: granted",
        canned,
        "Drucker neu installiert",
    ] {
        assert!(record.contains(part), "{part:?} not in:\n{record}");
    }
    console.screenshot("console-customer-panel.png");
    drop(customer);
}

/// Issue 15 in the consoles: Ann (may invite externals) opens "Invite external…", sees the
/// profile's full description, types the person's name and why, makes a key (shown large, with
/// the link); an external starts a console of their own and joins with the key from the login
/// screen, without an account; both consoles list who is in the session; Ann removes the
/// external with one click and the external's console shows the session as over.
#[test]
fn invite_an_external_who_joins_with_a_console_and_remove_them() {
    let _one = serial();
    let x = Xvfb::start(1600, 1000);
    let _wm = x.window_manager();
    let customer_x = Xvfb::start(1024, 768);
    let external_x = Xvfb::start(1600, 1000);
    let _wm2 = external_x.window_manager();
    let relay = relay(true);
    relay.admin(&[
        "profile",
        "add",
        "view only",
        "--allows",
        "view",
        "--description-de",
        "Darf nur zusehen.",
        "--description-en",
        "May only watch the screen.",
        "--for",
        "externals",
    ]);
    relay.admin(&["rep", "set", "ann", "--may-invite-externals"]);
    let dir = tempfile::tempdir().unwrap();
    let (console, _) = start_console(&x, &relay, dir.path(), &[]);
    let key = new_key(&console);
    let _customer = customer_window(&customer_x, &relay, &key, "carla", dir.path());
    console.click("queue.accept.0");
    console.wait("the session", |l| l["session"]["live"] == true);

    console.click("session.invite_external");
    let line = console.wait("the profile's description", |l| {
        Window::widget(l, "external.description").is_some()
    });
    assert_eq!(
        Window::widget(&line, "external.make").unwrap()["enabled"],
        false
    );
    console.type_checked("external.name", "Eve Extern", |l| {
        l["session"]["external_form"]["name"].clone()
    });
    console.type_checked("external.reason", "Druckerhersteller", |l| {
        l["session"]["external_form"]["reason"].clone()
    });
    console.click("external.make");
    let line = console.wait("the key shown large", |l| {
        l["session"]["external_key"].is_string()
            && Window::rect(l, "external.key").is_some_and(|r| r[3] - r[1] > 25)
    });
    let ext_key = line["session"]["external_key"].as_str().unwrap().to_owned();
    let url = line["session"]["external_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("https://support.example.org/x/"), "{url}");
    console.screenshot("console-invite-external.png");

    // The external: a console of their own, no account; the link pasted on the login screen.
    let ext_dir = tempfile::tempdir().unwrap();
    let config = ext_dir.path().join("console.toml");
    std::fs::write(
        &config,
        format!("relay = \"{}\"\npin = \"{}\"\n", relay.addr, relay.pin),
    )
    .unwrap();
    let trace = ext_dir.path().join("console.jsonl");
    let mut cmd = external_x.command(console_bin().to_str().unwrap());
    cmd.args(["--lang", "en", "--config"])
        .arg(&config)
        .env("LOTSE_CONSOLE_TRACE", &trace)
        .env("HOME", ext_dir.path())
        .env("RUST_LOG", "warn");
    let external = Window {
        trace,
        display: external_x.display.clone(),
        proc: Proc::spawn(&mut cmd),
    };
    external.type_checked("login.external_key", &url, |l| l["external_key"].clone());
    external.click("login.join_external");
    let line = external.wait("the external's session", |l| {
        l["session"]["live"] == true && l["session"]["customer"] == "carla"
    });
    assert_eq!(line["as_external"], true);
    assert_eq!(line["me"], "", "no account");
    let _ = ext_key;

    // Both consoles list everyone; only the owner can remove.
    let line = console.wait("the external listed", |l| {
        l["session"]["participants"].as_array().is_some_and(|p| {
            p.iter()
                .any(|x| x["name"] == "Eve Extern" && x["role"] == "external")
        })
    });
    let eve = line["session"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "Eve Extern")
        .unwrap()["rep"]
        .as_u64()
        .unwrap();
    let line = external.wait("the external sees the owner", |l| {
        l["session"]["participants"].as_array().is_some_and(|p| {
            p.iter()
                .any(|x| x["name"] == "Ann Weber" && x["role"] == "owner")
        })
    });
    assert!(
        line["widgets"].as_array().unwrap().iter().all(|w| !w["id"]
            .as_str()
            .unwrap()
            .starts_with("participant.remove")
            && w["id"] != "session.share"
            && w["id"] != "session.invite_external"),
        "an external has no owner's entries"
    );
    console.click(&format!("participant.remove.{eve}"));
    external.wait("the external's session over", |l| {
        l["session"]["live"] == false
            && l["session"]["ended"]
                .as_str()
                .is_some_and(|e| e.contains("removed you"))
    });
    console.wait("the external gone", |l| {
        l["session"]["participants"]
            .as_array()
            .is_some_and(|p| p.len() == 1)
    });
    relay.assert_audit_verifies();
}

/// Two relays on one PostgreSQL database (issue 19): the console, logged in at relay A, shows a
/// customer who landed at relay B as waiting there; "Accept" opens a session tab whose
/// connection follows the relay's redirect to B (the customer is connected to B only), where
/// the customer is asked, allows, and the picture reaches the console.
#[test]
fn a_customer_waiting_at_another_relay_is_taken_in_the_console() {
    let _one = serial();
    let pg = lotse_testkit::postgres::Postgres::start();
    let (a, b) = relay_pair(&pg.new_database());
    let customer_x = Xvfb::start(1280, 800);
    let _customer_wm = customer_x.window_manager();
    let console_x = Xvfb::start(1600, 1000);
    let _wm = console_x.window_manager();
    let dir = tempfile::tempdir().unwrap();
    let (console, _) = start_console(&console_x, &a, dir.path(), &[]);
    // The key is made at A and redeemed at B: one database.
    let key = new_key(&console);
    let customer = customer_window(&customer_x, &b, &key, "carla", dir.path());
    let waiting = console.wait("the customer waiting at B", |l| {
        l["queue"].as_array().is_some_and(|q| q.len() == 1)
    });
    assert_eq!(waiting["queue"][0]["home"], json!(b.addr), "{waiting}");
    assert_eq!(waiting["queue"][0]["name"], json!("carla"));
    accept_and_view(&console, &customer, [1280, 800]);
    console.click("session.end");
    console.wait("ended", |l| l["session"]["live"] == false);
    customer.wait("the customer's end screen", |l| l["screen"] == "ended");
    a.assert_audit_verifies();
}
