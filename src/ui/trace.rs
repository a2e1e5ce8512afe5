//! The test seam: with `LOTSE_UI_TRACE=FILE`, one JSON line is appended to FILE whenever the
//! screen or its interactive widgets (ids, rectangles, enabled) change, after the frame that
//! shows them is on screen. It only reports; nothing in it can act on the window or the session.
//!
//! A line: `{"t_ms":12,"unix_ms":…,"screen":"terms","lang":"de","window":4194311,
//! "scale":1.0,"on_top":false,"prompt":null,"chat":{"lines":0,"last":null},
//! "widgets":[{"id":"terms.accept","rect":[x0,y0,x1,y1],"enabled":true,"focused":false},…]}` with
//! rectangles in physical window pixels; `prompt` names the tier and rep of the prompt shown
//! (and `file`: `{name, size}` for a file offer), `chat` the number of chat lines and the last
//! one; `transfers` has one entry per transfer of the session (`row`, `dir` `in`/`out`, `name`,
//! `size`, `done`, `state` `running`/`done`/`failed`, `path` where it was saved, `reason`,
//! `shown`, and `bar`, the progress bar's rectangle while it is drawn); `monitor` is the panel's
//! "Shown: NAME (screen N of M)" line while someone views and there are several monitors (else
//! null); `refused_remote` counts clicks and keys that would have acted for the person (Allow,
//! Save, a chat line, "Send file…") but came right after the rep's injected input and were
//! refused; `picking` says whether
//! the file dialog is open; `compact` whether the window is the compact bar (screen `session`
//! with `session.revoke.TIER`, `session.expand`, `session.end`; the full panel has
//! `session.compact` while someone views); `window` is the X11 window id (0 elsewhere), so that
//! `xdotool mousemove --window ID X Y click 1` reaches the widget.
//!
//! A download that does not verify shows only the refusal window (`super::refusal`); its lines
//! are `{"t_ms","unix_ms","screen":"refused","lang","window","scale","why":"changed"|
//! "unreadable","text":{"title","what","todo","nothing","details"},"widgets":[…]}` with the
//! widgets `refused.close`, `lang.de` and `lang.en`.
//!
//! Screens and widget ids: `terms` (`terms.full`, `terms.decline`, `terms.accept`), `key`
//! (`key.input`, `key.cancel`, `key.connect`), `wait` (`wait.cancel`), `prompt` (`prompt.deny`,
//! `prompt.allow` for a permission; `prompt.reject`, `prompt.save` for a file), `session`
//! (`session.revoke.TIER` for the first rep, `session.revoke.TIER.N` for the N-th,
//! `session.send_file`, `session.transfer.cancel.ROW` for each running transfer shown,
//! `session.chat.input`, `session.chat.send`, `session.end`), `ended` (`ended.close`); on every
//! screen `lang.de` and `lang.en`.

use super::refusal::{Refusal, Why};
use super::state::State;
use crate::transfer::TransferState;
use serde_json::json;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// One widget as reported: id, rectangle in physical pixels, enabled, focused.
type Drawn = (String, [i64; 4], bool, bool);

/// Writes the trace file; `None` unless the environment asks for it.
#[derive(Debug)]
pub struct Trace {
    file: File,
    started: Instant,
    last: Option<(serde_json::Value, Vec<Drawn>)>,
}

impl Trace {
    /// Opens the file named by `LOTSE_UI_TRACE` for appending, if set.
    pub fn from_env(started: Instant) -> Option<Trace> {
        let path = std::env::var_os("LOTSE_UI_TRACE")?;
        match Self::open(Path::new(&path), started) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(
                    "LOTSE_UI_TRACE: cannot open {}: {e}",
                    Path::new(&path).display()
                );
                None
            }
        }
    }

    fn open(path: &Path, started: Instant) -> std::io::Result<Trace> {
        // Chat, keys and codes go into it: private to the person (0600, no symlinks).
        let file = lotse_egui_tao::trace_file::open(path)?;
        Ok(Trace {
            file,
            started,
            last: None,
        })
    }

    /// Records the frame just shown if its screen or widgets differ from the last one.
    pub fn frame(
        &mut self,
        state: &State,
        window: u64,
        size: [u32; 2],
        on_top: bool,
        pixels_per_point: f32,
    ) {
        let px = |v: f32| (v * pixels_per_point).round() as i64;
        let now: Vec<Drawn> = state
            .widgets
            .iter()
            .map(|w| {
                let r = w.rect;
                let rect = [px(r.min.x), px(r.min.y), px(r.max.x), px(r.max.y)];
                (w.id.clone(), rect, w.enabled, w.focused)
            })
            .collect();
        let last_chat = state.chat.last().map(|c| {
            json!({"from": c.line.from, "mine": c.line.mine, "text": c.line.text, "time": c.time})
        });
        let prompt = (state.screen == "prompt")
            .then(|| state.prompt())
            .flatten()
            .map(|p| {
                let file = p
                    .file
                    .as_ref()
                    .map(|f| json!({"name": f.name, "size": f.size, "program": super::screens::is_program(&f.name)}));
                json!({"tier": p.tier.as_str(), "rep": p.rep_name, "file": file})
            });
        let px = |v: f32| (v * pixels_per_point).round() as i64;
        let transfers: Vec<serde_json::Value> = state
            .transfers
            .iter()
            .enumerate()
            .map(|(row, t)| {
                let drawn = state.transfer_rows.iter().find(|(i, _)| *i == row);
                let bar = drawn
                    .and_then(|(_, bar)| *bar)
                    .map(|r| [px(r.min.x), px(r.min.y), px(r.max.x), px(r.max.y)]);
                let (st, path, reason) = match &t.state {
                    TransferState::Running => ("running", None, None),
                    TransferState::Done(p) => {
                        ("done", p.as_ref().map(|p| p.display().to_string()), None)
                    }
                    TransferState::Failed(why) => ("failed", None, Some(why.code())),
                };
                json!({
                    "row": row,
                    "dir": if t.rep.is_some() { "in" } else { "out" },
                    "name": t.name,
                    "size": t.size,
                    "done": t.done,
                    "state": st,
                    "path": path,
                    "reason": reason,
                    "shown": drawn.is_some(),
                    "bar": bar,
                })
            })
            .collect();
        let shown = json!({
            "screen": state.screen,
            "prompt": prompt,
            "lang": state.lang.code(),
            "on_top": on_top,
            // The window's inner size (physical pixels) the frame was drawn for.
            "size": size,
            "chat": {"lines": state.chat.len(), "last": last_chat},
            "transfers": transfers,
            "picking": state.picking,
            "key_marked": state.key_marked,
            "summary": state.shown_summary,
            "monitor": state.shown_monitor,
            "banner": state
                .shown_banner
                .iter()
                .map(|(text, tier)| json!({"text": text, "tier": tier.as_str()}))
                .collect::<Vec<_>>(),
            "refused_remote": state.refused_remote,
            "clipboard": state.shown_clipboard,
            // The notice about a system prompt or an elevated window in front, as drawn.
            "obstruction": state.shown_obstruction,
            // The report sent last, as the window lays it out in the person's language, and
            // whether its notice was drawn (false: drawn, details closed).
            "sysinfo": state.shown_sysinfo.map(|open| json!({
                "open": open,
                "to": state.sysinfo.as_ref().map(|s| s.rep_name.clone()),
                "text": state.sysinfo.as_ref().map(|s| s.report.to_text(
                    lotse_proto::sysinfo::Words::of(state.lang == crate::ui::i18n::Lang::De))),
            })),
            "share_unavailable": state.show_share_unavailable,
            // The note that the session runs over TCP (UDP blocked), as drawn.
            "over_tcp": state.shown_over_tcp,
            // The window is the compact bar at the screen's top edge.
            "compact": state.compact_height.is_some(),
            // Who each rep is, as the panel shows it (several reps, or one not in charge).
            "roles": state
                .shown_roles
                .iter()
                .map(|(name, role)| json!({"name": name, "role": role}))
                .collect::<Vec<_>>(),
            // Why the person waits in a queue again, as drawn.
            "requeue": state.shown_requeue,
        });
        self.write(shown, now, window, pixels_per_point);
    }

    /// Records a frame of the refusal window (`super::refusal`) if it differs from the last.
    pub fn refusal(&mut self, r: &Refusal, window: u64, pixels_per_point: f32) {
        let px = |v: f32| (v * pixels_per_point).round() as i64;
        let widgets: Vec<Drawn> = r
            .widgets
            .iter()
            .map(|(id, rect, enabled, focused)| {
                let rect = [
                    px(rect.min.x),
                    px(rect.min.y),
                    px(rect.max.x),
                    px(rect.max.y),
                ];
                (id.clone(), rect, *enabled, *focused)
            })
            .collect();
        let x = r.texts();
        let shown = json!({
            "screen": "refused",
            "lang": r.lang.code(),
            "why": match r.why { Why::Changed => "changed", Why::Unreadable => "unreadable" },
            "text": {
                "title": x.title,
                "what": x.what,
                "todo": x.todo,
                "nothing": x.nothing,
                "details": x.details,
            },
        });
        self.write(shown, widgets, window, pixels_per_point);
    }

    /// Appends `shown` with the widgets and timings as one line, unless it repeats the last one.
    fn write(
        &mut self,
        shown: serde_json::Value,
        widgets: Vec<Drawn>,
        window: u64,
        pixels_per_point: f32,
    ) {
        let key = (shown, widgets);
        if self.last.as_ref() == Some(&key) {
            return;
        }
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let mut line = key.0.clone();
        line["t_ms"] = json!(self.started.elapsed().as_secs_f64() * 1000.0);
        line["unix_ms"] = json!(unix_ms);
        line["window"] = json!(window);
        line["scale"] = json!(pixels_per_point);
        line["widgets"] = key
            .1
            .iter()
            .map(|(id, rect, enabled, focused)| {
                json!({"id": id, "rect": rect, "enabled": enabled, "focused": focused})
            })
            .collect();
        // One write per line so that a reader never sees half a line.
        let _ = self.file.write_all(format!("{line}\n").as_bytes());
        self.last = Some(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn the_trace_file_is_private_to_the_person() {
        // Chat lines, keys and codes go into this file: nobody else may read it, whatever the
        // umask, and a file that exists already is made private too.
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.jsonl");
        Trace::open(&fresh, Instant::now()).unwrap();
        assert_eq!(mode(&fresh), 0o600, "a new trace file");
        let old = dir.path().join("old.jsonl");
        std::fs::write(&old, "{}\n").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        Trace::open(&old, Instant::now()).unwrap();
        assert_eq!(mode(&old), 0o600, "a trace file that existed");
        assert_eq!(
            std::fs::read_to_string(&old).unwrap(),
            "{}\n",
            "appended to"
        );
    }

    #[test]
    fn the_trace_is_never_written_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("trace.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(Trace::open(&link, Instant::now()).is_err());
        assert!(!target.exists(), "nothing created behind the link");
    }
}
