//! The test seam: with `LOTSE_CONSOLE_TRACE=FILE`, one JSON line is appended to FILE whenever
//! what the window shows changes (screen, widgets, tiers, queue, chat, …), after the frame that
//! shows it is on screen. It only reports; nothing in it can act on the window or the session.
//!
//! A line: `{"t_ms":…,"screen":"login"|"queue"|"session","lang":"en","window":XID,"title":…,
//! "tab":0,"key":"123 456 789"|null,"queue":[{"name","host","os","came","home"}],"banner":NAME|null,
//! "notice":…,"badge":bool,"join_code","email","login_relay","login_pin","login_user",
//! "password_chars":N,"code_chars":N,
//! "sessions":[{"id","customer","live","connecting"}],"session":{"id","customer","live",
//! "connecting","chat_input","others","share_code","tiers":{"view":"granted",…},
//! "in_control","grab","picture":[w,h]|null,"fit","shared","monitors",
//! "chat":{"lines":N,"last":{"from","text"}},"transfers":[…],
//! "obstruction":"secure_desktop"|"elevated_window"|null,
//! "sysinfo":{"open","host","gathered_at","saved"}|null, "customer_panel":{"came","host","os",
//! "waited_s","in_session_s"},"notes","saved"}|null (`session` is the open tab),
//! "video":{"gpu","nearest","decoded","dropped"},"widgets":[{"id","rect":[x0,y0,x1,y1],
//! "enabled"}]}` with rectangles in physical window pixels, so `xdotool mousemove --window XID X
//! Y` reaches them. `video.gpu`: the GPU converts the picture; `video.nearest`: it drew the last
//! one pixel for pixel (nearest texels). The counters `decoded` and `dropped` change with every
//! picture and do not by themselves cause a line.
//!
//! Widget ids: `lang.de`, `lang.en`; login: `login.relay`, `login.pin`, `login.user`,
//! `login.password`, `login.code`, `login.submit`; header: `tab.queue`, `tab.session.N`; `banner.dismiss`,
//! `banner.show`, `notice.dismiss`; queue: `key.generate`, `key.value`, `key.copy`,
//! `invite.email`, `invite.send`, `invite.url`, `invite.copy`, `queue.row.N`, `queue.accept.N`,
//! `join.code`, `join.submit`; session: `tier.TIER`, `view.fit`, `monitor.N`, `session.share`,
//! `share.tier.TIER`, `share.make`, `share.code`, `share.copy`, `session.end` /
//! `session.close`, `session.connecting`, `session.ended`, `control.active` /
//! `control.paused`, `view` (the part of the picture on screen), `view.picture` (the whole
//! picture, scrolled in the 1:1 view), `tool.screenshot`, `key.cad`, `key.super`,
//! `chat.canned` (its list: `chat.canned.N`), `chat.input`, `chat.send`, `notes.input`,
//! `notes.save`, `file.send`,
//! `file.progress.DIR.ID`, `file.cancel.DIR.ID`.

use crate::state::{State, TransferState};
use crate::video::Counters;
use serde_json::{Value, json};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Writes the trace file; `None` unless the environment asks for it.
#[derive(Debug)]
pub struct Trace {
    file: File,
    started: Instant,
    last: Option<Value>,
}

impl Trace {
    pub fn from_env(started: Instant) -> Option<Trace> {
        let path = std::env::var_os("LOTSE_CONSOLE_TRACE")?;
        let path = Path::new(&path);
        // Keys, join codes and chat go into it: private to the rep (0600, no symlinks).
        match lotse_egui_tao::trace_file::open(path) {
            Ok(file) => Some(Trace {
                file,
                started,
                last: None,
            }),
            Err(e) => {
                tracing::warn!("LOTSE_CONSOLE_TRACE: cannot open {}: {e}", path.display());
                None
            }
        }
    }

    /// Records the frame just shown if anything but the video counters changed. `gpu`: the GPU
    /// converts the picture; `nearest`: it drew the last one pixel for pixel.
    pub fn frame(
        &mut self,
        state: &State,
        window: u64,
        ppp: f32,
        video: &Counters,
        (gpu, nearest): (bool, bool),
    ) {
        let mut line = describe(state, window, ppp);
        line["video"] = json!({"gpu": gpu, "nearest": nearest});
        if self.last.as_ref() == Some(&line) {
            return;
        }
        self.last = Some(line.clone());
        line["t_ms"] = json!(self.started.elapsed().as_millis() as u64);
        line["video"]["decoded"] = json!(video.decoded);
        line["video"]["dropped"] = json!(video.dropped);
        if let Err(e) = writeln!(self.file, "{line}") {
            tracing::warn!("LOTSE_CONSOLE_TRACE: {e}");
        }
    }
}

fn describe(state: &State, window: u64, ppp: f32) -> Value {
    let px = |v: f32| (v * ppp).round() as i64;
    let widgets: Vec<Value> = state
        .widgets
        .iter()
        .map(|w| {
            let r = w.rect;
            json!({"id": w.id, "rect": [px(r.min.x), px(r.min.y), px(r.max.x), px(r.max.y)], "enabled": w.enabled})
        })
        .collect();
    let queue: Vec<Value> = state
        .queue
        .iter()
        .map(|e| json!({"name": e.customer.name, "host": e.customer.host, "os": e.customer.os, "came": e.arrival.code(), "home": e.home}))
        .collect();
    let session = state.current().map(|s| {
        let tiers: serde_json::Map<String, Value> = s
            .tiers
            .iter()
            .map(|(t, st)| (t.as_str().to_owned(), json!(st.code())))
            .collect();
        let transfers: Vec<Value> = s
            .transfers
            .iter()
            .map(|t| {
                let st = match &t.state {
                    TransferState::Running => "running",
                    TransferState::Done(_) => "done",
                    TransferState::Failed(_) => "failed",
                };
                let why = match &t.state {
                    TransferState::Failed(why) => Some(state.t().failure(why)),
                    _ => None,
                };
                json!({"id": t.id, "dir": if t.outgoing {"out"} else {"in"}, "name": t.name, "size": t.size, "done": t.done, "state": st, "why": why})
            })
            .collect();
        json!({
            "id": s.id,
            "customer": s.customer.name,
            "live": s.live(),
            "connecting": s.connecting(),
            "chat_input": s.chat_input,
            "others": s.others,
            "owner": s.owner,
            // Everyone in the session as the relay last said: name and role code.
            "participants": s
                .participants
                .iter()
                .map(|p| json!({"rep": p.rep, "name": p.name, "role": p.role.code()}))
                .collect::<Vec<_>>(),
            "external_key": s.external.as_ref().map(|e| &e.key),
            "external_url": s.external.as_ref().and_then(|e| e.url.as_ref()),
            "external_form": {"name": s.external_name, "reason": s.external_reason},
            "share_code": s.share_code.as_ref().map(|c| &c.0),
            "ended": s.ended,
            "tiers": tiers,
            "in_control": s.in_control(),
            "grab": s.grab,
            "picture": s.picture,
            "fit": s.fit,
            "shared": s.shared,
            "monitors": s
                .monitors
                .iter()
                .map(|m| json!({"index": m.index, "name": m.name, "width": m.width, "height": m.height}))
                .collect::<Vec<_>>(),
            "chat": {
                "lines": s.chat.len(),
                "last": s.chat.last().map(|c| json!({"from": c.from, "text": c.text, "mine": c.mine, "customer": c.customer})),
            },
            "transfers": transfers,
            "quality": s.quality.map(|(rtt, fps, kbit)| json!({"rtt_ms": rtt, "fps": fps, "kbit_s": kbit, "tcp": s.over_tcp})),
            "clipboard": {
                "sync": s.clip_sync,
                "received": s.clip_received,
                "sent": s.clip_sent,
            },
            // The customer panel's figures (Unix s differences, as the panel shows them).
            "customer_panel": {
                "came": s.arrival.as_ref().map(|a| crate::screens::arrival_text(a, state.t())),
                "host": s.customer.host,
                "os": s.customer.os,
                "waited_s": s.queued_since.map(|q| s.joined_at.unwrap_or(state.now_unix).saturating_sub(q)),
                "in_session_s": s.joined_at.map(|j| s.ended_at.unwrap_or(state.now_unix).saturating_sub(j)),
            },
            "notes": s.notes,
            "saved": s.saved,
            "obstruction": s.obstruction.map(|o| o.code()),
            "sysinfo": s.sysinfo.as_ref().map(|r| json!({
                "open": s.sysinfo_open,
                "host": r.host,
                "gathered_at": r.gathered_at,
                "saved": s.sysinfo_saved,
            })),
        })
    });
    let sessions: Vec<Value> = state
        .sessions
        .iter()
        .map(|s| json!({"id": s.id, "customer": s.customer.name, "live": s.live(), "connecting": s.connecting(), "badges": s.badges()}))
        .collect();
    json!({
        "screen": state.screen,
        "sessions": sessions,
        "badge": state.banner.is_some(),
        // What the text fields hold, so that a test types, then waits for the window to have
        // taken every key before it clicks on (the password only as a count).
        "join_code": state.join_code,
        "external_key": state.external_key,
        "as_external": state.as_external,
        "email": state.email,
        "login_relay": state.form.relay,
        "login_pin": state.form.pin,
        "login_user": state.form.user,
        "password_chars": state.form.password.chars().count(),
        // The second factor's code counts once and is gone after the login: its length only.
        "code_chars": state.form.code.chars().count(),
        "lang": state.lang.code(),
        "window": window,
        "scale": ppp,
        "title": state.title(),
        "tab": state.tab,
        "me": state.me,
        "key": state.key.as_ref().map(|k| &k.0),
        "invitation": state.invitation.as_ref().map(|i| &i.0),
        "queue": queue,
        "banner": state.banner,
        "notice": state.notice.as_ref().map(|n| state.t().notice(n)),
        "login_error": state.login_error,
        "session": session,
        "widgets": widgets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Runs [`open_from_env`] in a child process with `LOTSE_CONSOLE_TRACE=path` (the environment
    /// of this process is left alone); returns whether the trace opened.
    fn opens(path: &Path) -> bool {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "trace::tests::open_from_env",
                "--nocapture",
                "--ignored",
            ])
            .env("LOTSE_CONSOLE_TRACE", path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("OPENED="), "{text}");
        text.contains("OPENED=true")
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn the_trace_file_is_private_to_the_rep() {
        // Session keys, join codes and chat go into this file: nobody else may read it.
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.jsonl");
        assert!(opens(&fresh));
        assert_eq!(mode(&fresh), 0o600, "a new trace file");
        let old = dir.path().join("old.jsonl");
        std::fs::write(&old, "").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(opens(&old));
        assert_eq!(mode(&old), 0o600, "a trace file that existed");
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(!opens(&link), "a symlink is refused");
        assert!(!target.exists(), "nothing created behind the link");
    }

    #[test]
    #[ignore = "helper for the_trace_file_is_private_to_the_rep (runs in a child process)"]
    fn open_from_env() {
        println!("OPENED={}", Trace::from_env(Instant::now()).is_some());
    }
}
