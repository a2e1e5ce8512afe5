//! Input latency and throughput: rep → relay → customer → XTest → an X client, on loopback.
//!
//! Run: `cargo run --release --example input_bench` (needs Xvfb; starts its own display, relay,
//! rep and customer in this process so that one clock times both ends). Prints a table.
//! The customer's permission prompts are answered by this program through the session handle,
//! as the window would on a click: a benchmark harness, not a product path.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use lotse::session::{self, Event, Frontend, Hooks, Settings};
use lotse_platform::input::X11Injector;
use lotse_proto::Tier;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{CustomerInfo, RepDown};
use lotse_rep::{RepClient, RepEvent};
use lotse_testkit::Xvfb;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::Event as XEvent;
use x11rb::protocol::xproto::{ConnectionExt, CreateWindowAux, EventMask, InputFocus, WindowClass};
use x11rb::wrapper::ConnectionExt as _;

struct Prompts(Mutex<Vec<(u32, Tier)>>);
impl Frontend for Prompts {
    fn notify(&self, e: Event) {
        if let Event::Changed(s) = e {
            let mut p = self.0.lock().unwrap();
            for pr in s.prompts {
                if !p.iter().any(|(r, _)| *r == pr.request) {
                    p.push((pr.request, pr.tier));
                }
            }
        }
    }
}

/// A full-screen window that reports motion and key presses with the time they arrived.
fn listener(display: &str) -> mpsc::Receiver<(Instant, XEvent)> {
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let s = &conn.setup().roots[screen];
    let win = conn.generate_id().unwrap();
    conn.create_window(
        0,
        win,
        s.root,
        0,
        0,
        s.width_in_pixels,
        s.height_in_pixels,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new()
            .event_mask(EventMask::POINTER_MOTION | EventMask::KEY_PRESS | EventMask::KEY_RELEASE),
    )
    .unwrap();
    conn.map_window(win).unwrap();
    conn.set_input_focus(InputFocus::POINTER_ROOT, win, 0u32)
        .unwrap();
    conn.sync().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok(ev) = conn.wait_for_event() {
            if tx.send((Instant::now(), ev)).is_err() {
                return;
            }
        }
    });
    rx
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let x = Xvfb::start(1920, 1080);
    let events = listener(&x.display);
    let dir = tempfile::tempdir().unwrap();
    let relay = lotse_relay::start(lotse_relay::Config::new(
        dir.path().into(),
        "127.0.0.1:0".parse().unwrap(),
    ))
    .await
    .unwrap();
    relay
        .store()
        .add_rep("bench", "Bench", "bench password", 0)
        .await
        .unwrap();
    let mut rep = RepClient::connect(
        relay.addr,
        relay.pin,
        "bench",
        "bench password",
        &Default::default(),
    )
    .await
    .unwrap();
    let (key, _) = rep.create_key(None).await.unwrap();
    let prompts = Arc::new(Prompts(Mutex::new(Vec::new())));
    let injector = X11Injector::new(Some(&x.display), Arc::new(Mutex::new(None))).unwrap();
    let (handle, _thread) = session::start(
        Settings {
            relay: relay.addr.to_string(),
            fallbacks: Vec::new(),
            pin: relay.pin,
            key: Some(key),
            info: CustomerInfo::default(),
            net: Default::default(),
            downloads: std::env::temp_dir(),
        },
        prompts.clone(),
        Hooks {
            clipboard: None,
            injector: Box::new(injector),
            video: None,
        },
    )
    .unwrap();
    loop {
        match rep.next_event().await.unwrap() {
            RepEvent::Control(RepDown::Queue { entries }) if !entries.is_empty() => {
                rep.accept(entries[0].entry).await.unwrap();
            }
            RepEvent::Control(RepDown::Joined { .. }) => break,
            _ => {}
        }
    }
    for tier in [Tier::View, Tier::Control] {
        rep.request(tier).await.unwrap();
        let req = loop {
            if let Some(r) = prompts.0.lock().unwrap().iter().find(|(_, t)| *t == tier) {
                break r.0;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        tokio::time::sleep(Duration::from_millis(550)).await;
        handle.answer(req, true);
        loop {
            if let RepEvent::Control(RepDown::Granted { tier: t }) = rep.next_event().await.unwrap()
                && t == tier
            {
                break;
            }
        }
    }

    // Latency: one pointer move at a time, timed until the X client sees it.
    let mut lat = Vec::new();
    for i in 0..500u32 {
        let (px, py) = (100 + (i % 1500), 100 + (i % 800));
        let t0 = Instant::now();
        rep.send_input(&InputEvent::PointerMove { x: px, y: py })
            .await
            .unwrap();
        loop {
            let (t, ev) = events
                .recv_timeout(Duration::from_secs(5))
                .expect("motion never arrived");
            if let XEvent::MotionNotify(m) = ev
                && m.root_x as u32 == px
                && m.root_y as u32 == py
            {
                lat.push((t - t0).as_secs_f64() * 1000.0);
                break;
            }
        }
    }
    lat.sort_by(f64::total_cmp);

    // Throughput: key presses paced just under the relay's flood limit (2000 events/s), for two
    // seconds; keys are never coalesced, so every one must arrive.
    while events.try_recv().is_ok() {}
    let n = 3600u32;
    let t0 = Instant::now();
    let sender = async {
        for i in 0..n / 2 {
            rep.send_input(&InputEvent::Key {
                usage: 0x04,
                down: true,
            })
            .await
            .unwrap();
            rep.send_input(&InputEvent::Key {
                usage: 0x04,
                down: false,
            })
            .await
            .unwrap();
            // 1800 events/s
            let due = t0 + Duration::from_micros(u64::from(i + 1) * 1_111);
            tokio::time::sleep_until(due.into()).await;
        }
    };
    let counter = tokio::task::spawn_blocking(move || {
        let mut got = 0u32;
        let mut last = Instant::now();
        while got < n {
            match events.recv_timeout(Duration::from_secs(5)) {
                Ok((t, XEvent::KeyPress(_) | XEvent::KeyRelease(_))) => {
                    got += 1;
                    last = t;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        (got, last)
    });
    sender.await;
    let (got, last) = counter.await.unwrap();
    let rate = f64::from(got) / (last - t0).as_secs_f64();
    println!("| metric | value |");
    println!("|---|---|");
    println!(
        "| pointer move rep→injected, p50 | {:.2} ms |",
        pct(&lat, 0.5)
    );
    println!(
        "| pointer move rep→injected, p99 | {:.2} ms |",
        pct(&lat, 0.99)
    );
    println!(
        "| pointer move rep→injected, max | {:.2} ms |",
        lat[lat.len() - 1]
    );
    println!("| key events delivered | {got} of {n} |");
    println!("| key events sustained | {rate:.0} events/s |");
    handle.end(lotse_proto::msg::HowEnded::EndButton);
    relay.shutdown().await;
}
