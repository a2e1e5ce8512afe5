//! The console's screens, each a pure function of the [`State`]: login, the queue (with the
//! session key and invitations) and the session tabs. They push [`Intent`]s; none touches the
//! network or the window.

use crate::i18n::{Lang, Texts};
use crate::keys;
use crate::net::{Command, SessionCommand};
use crate::state::{Intent, Stage, State, TierState, TransferState};
use egui::{Color32, RichText, Ui};
use lotse_proto::Tier;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::Arrival;
use lotse_proto::msg::Obstruction;
use lotse_proto::profile::ParticipantRole;

/// The picture of the open session as the shell keeps it up to date.
pub type Picture<'a> = Option<PictureRef<'a>>;

/// How the picture is painted: an egui texture (converted on the CPU), or the GPU's paint
/// callback ([`crate::gpu`]) with the picture's size in pixels.
#[derive(Clone, Copy)]
pub enum PictureRef<'a> {
    Texture(&'a egui::TextureHandle),
    Gpu {
        size: [usize; 2],
        paint: &'a std::sync::Arc<dyn std::any::Any + Send + Sync>,
    },
}

impl std::fmt::Debug for PictureRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PictureRef::Texture(t) => write!(f, "Texture({:?})", t.id()),
            PictureRef::Gpu { size, .. } => write!(f, "Gpu({size:?})"),
        }
    }
}

impl PictureRef<'_> {
    fn size_vec2(&self) -> egui::Vec2 {
        match self {
            PictureRef::Texture(t) => t.size_vec2(),
            PictureRef::Gpu { size, .. } => egui::vec2(size[0] as f32, size[1] as f32),
        }
    }

    fn paint_at(&self, ui: &Ui, rect: egui::Rect) {
        match self {
            PictureRef::Texture(t) => {
                egui::Image::new((t.id(), rect.size())).paint_at(ui, rect);
            }
            PictureRef::Gpu { paint, .. } => {
                ui.painter().add(egui::PaintCallback {
                    rect,
                    callback: (*paint).clone(),
                });
            }
        }
    }
}

/// Draws the whole window for one frame.
pub fn ui(state: &mut State, picture: Picture<'_>, ui: &mut Ui) {
    state.widgets.clear();
    egui::Panel::top("header")
        .frame(
            egui::Frame::new()
                .fill(HEADER)
                .inner_margin(egui::Margin::symmetric(14, 8)),
        )
        .show(ui, |ui| header(state, ui));
    if state.stage != Stage::Ready {
        state.screen = "login";
        egui::CentralPanel::default().show(ui, |ui| login(state, ui));
        return;
    }
    if let Some(name) = state.banner.clone() {
        egui::Panel::top("banner")
            .frame(
                egui::Frame::new()
                    .fill(NOTICE_BG)
                    .inner_margin(egui::Margin::symmetric(14, 6)),
            )
            .show(ui, |ui| banner(state, &name, ui));
    }
    if let Some(text) = state.notice.as_ref().map(|n| state.t().notice(n)) {
        egui::Panel::bottom("notice").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new(text).color(ERROR_FG));
                let r = ui.button(state.t().dismiss);
                state.track("notice.dismiss", &r);
                if r.clicked() {
                    state.notice = None;
                }
            });
        });
    }
    if state.current().is_some() {
        state.screen = "session";
        session(state, picture, ui);
    } else {
        state.tab = 0;
        state.screen = "queue";
        egui::CentralPanel::default().show(ui, |ui| queue(state, ui));
    }
}

/// Sets fonts, sizes and colours once.
pub fn style(ctx: &egui::Context) {
    ctx.set_theme(egui::ThemePreference::Light);
    ctx.all_styles_mut(|s| {
        s.visuals = egui::Visuals::light();
        s.spacing.item_spacing = egui::vec2(8.0, 8.0);
        s.spacing.button_padding = egui::vec2(10.0, 5.0);
        s.visuals.panel_fill = Color32::from_rgb(0xf7, 0xf8, 0xfa);
    });
}

const HEADER: Color32 = Color32::from_rgb(0x1f, 0x3a, 0x5f);
const ACCENT: Color32 = Color32::from_rgb(0x1f, 0x5f, 0xa8);
const NOTICE_BG: Color32 = Color32::from_rgb(0xfd, 0xf1, 0xd8);
const ERROR_FG: Color32 = Color32::from_rgb(0x9b, 0x1c, 0x1c);
const CONTROL_BG: Color32 = Color32::from_rgb(0xb0, 0x1e, 0x1e);
const GRANTED: Color32 = Color32::from_rgb(0x1d, 0x7a, 0x3a);
const BADGE: Color32 = Color32::from_rgb(0xf5, 0xb0, 0x41);

fn header(state: &mut State, ui: &mut Ui) {
    ui.horizontal(|ui| {
        ui.label(
            RichText::new("Lotse")
                .color(Color32::WHITE)
                .strong()
                .size(18.0),
        );
        if state.stage == Stage::Ready {
            // The badge: while someone new waits, the queue's tab is lit (and says `!`).
            let news = state.banner.is_some();
            let queue_text = format!(
                "{} ({}){}",
                state.t().home,
                state.queue.len(),
                if news { " !" } else { "" }
            );
            tab_button(state, ui, "tab.queue", &queue_text, 0, news);
            for i in 0..state.sessions.len() {
                let s = &state.sessions[i];
                // Ended sessions are marked with ×, connecting ones with …; the default fonts
                // have no filled circle.
                let mark = if s.live() {
                    ""
                } else if s.connecting() {
                    "… "
                } else {
                    "× "
                };
                // Badges in words: what needs the rep's eye on this tab.
                let t = state.t();
                let badges = s.badges();
                let mut text = format!("{mark}{}", s.customer.name);
                for b in &badges {
                    text.push_str(" · ");
                    text.push_str(t.badge(b));
                }
                // Lit when the customer is asked or wrote while the rep looks elsewhere.
                let lit =
                    state.tab != i + 1 && badges.iter().any(|b| *b == "waiting" || *b == "chat");
                tab_button(state, ui, &format!("tab.session.{i}"), &text, i + 1, lit);
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            for lang in [Lang::En, Lang::De] {
                let current = state.lang == lang;
                let text = RichText::new(lang.code().to_uppercase()).color(if current {
                    Color32::WHITE
                } else {
                    Color32::from_rgb(0xa8, 0xb8, 0xcc)
                });
                let r = ui.add(egui::Button::new(text).frame(false));
                state.track(format!("lang.{}", lang.code()), &r);
                if r.clicked() {
                    state.lang = lang;
                    state.intents.push(Intent::SaveConfig);
                }
            }
            if !state.me.is_empty() {
                ui.label(RichText::new(&state.me).color(Color32::from_rgb(0xc8, 0xd6, 0xe8)));
            }
        });
    });
}

fn tab_button(state: &mut State, ui: &mut Ui, id: &str, text: &str, tab: usize, lit: bool) {
    let open = state.tab == tab;
    let (fg, fill) = match (lit, open) {
        (true, _) => (Color32::BLACK, BADGE),
        (false, true) => (Color32::WHITE, ACCENT),
        (false, false) => (Color32::WHITE, HEADER),
    };
    let r = ui.add(egui::Button::new(RichText::new(text).color(fg)).fill(fill));
    state.track(id, &r);
    if r.clicked() {
        state.tab = tab;
    }
}

fn banner(state: &mut State, name: &str, ui: &mut Ui) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{} {name}", state.t().arrived)).strong());
        // Accept right here, while that customer still waits.
        let waiting = state
            .banner_entry
            .filter(|e| state.queue.iter().any(|q| q.entry == *e));
        if let Some(entry) = waiting {
            let r = ui.add(
                egui::Button::new(RichText::new(state.t().accept).color(Color32::WHITE))
                    .fill(ACCENT),
            );
            state.track("banner.accept", &r);
            if r.clicked() {
                state.banner = None;
                state.accept(entry);
            }
        }
        if state.tab != 0 {
            let r = ui.button(state.t().show_queue);
            state.track("banner.show", &r);
            if r.clicked() {
                state.tab = 0;
            }
        }
        let r = ui.button(state.t().dismiss);
        state.track("banner.dismiss", &r);
        if r.clicked() {
            state.banner = None;
        }
    });
}

fn login(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    ui.add_space(12.0);
    ui.heading(t.login_heading);
    ui.add_space(8.0);
    let busy = state.stage == Stage::LoggingIn;
    egui::Grid::new("login")
        .num_columns(2)
        .spacing([12.0, 10.0])
        .show(ui, |ui| {
            for (id, label, secret) in [
                ("login.relay", t.relay, false),
                ("login.pin", t.pin, false),
                ("login.user", t.user, false),
                ("login.password", t.password, true),
                ("login.code", t.code, false),
            ] {
                ui.label(label);
                let field = match id {
                    "login.relay" => &mut state.form.relay,
                    "login.pin" => &mut state.form.pin,
                    "login.user" => &mut state.form.user,
                    "login.code" => &mut state.form.code,
                    _ => &mut state.form.password,
                };
                let mut edit = egui::TextEdit::singleline(field)
                    .password(secret)
                    .desired_width(420.0);
                if id == "login.code" {
                    edit = edit.hint_text(t.code_hint);
                }
                let r = ui.add_enabled(!busy, edit);
                let submit = (secret || id == "login.code")
                    && r.lost_focus()
                    && ui.input(|i| i.key_pressed(egui::Key::Enter));
                state.track(id, &r);
                if submit && can_log_in(state) {
                    state.submit_login();
                }
                ui.end_row();
            }
        });
    ui.label(RichText::new(t.password_note).small().weak());
    let r = ui.add_enabled(
        !busy && can_log_in(state),
        egui::Button::new(if busy { t.logging_in } else { t.log_in }).fill(ACCENT),
    );
    state.track("login.submit", &r);
    if r.clicked() {
        state.submit_login();
    }
    if let Some(e) = &state.login_error {
        ui.label(RichText::new(e).color(ERROR_FG));
    }
    // No account: an external supporter joins the one session their key opens (the relay and
    // pin above are needed all the same).
    ui.add_space(16.0);
    ui.separator();
    ui.label(RichText::new(t.join_external_heading).strong());
    ui.horizontal(|ui| {
        ui.label(t.join_external_key);
        let r = ui.add_enabled(
            !busy,
            egui::TextEdit::singleline(&mut state.external_key).desired_width(300.0),
        );
        state.track("login.external_key", &r);
        let f = &state.form;
        let ready = !busy
            && !f.relay.trim().is_empty()
            && !f.pin.trim().is_empty()
            && !state.external_key.trim().is_empty();
        let r = ui.add_enabled(ready, egui::Button::new(t.join_external));
        state.track("login.join_external", &r);
        if r.clicked() {
            state.submit_external();
        }
    });
}

fn can_log_in(state: &State) -> bool {
    let f = &state.form;
    !f.relay.trim().is_empty()
        && !f.pin.trim().is_empty()
        && !f.user.trim().is_empty()
        && !f.password.is_empty()
}

/// `mm:ss` (or `h:mm:ss`).
pub fn duration_text(secs: u64) -> String {
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

fn queue(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    if state.as_external {
        // No keys, invitations or queue: one session only.
        let r = ui.label(RichText::new(t.external_me).strong());
        state.track("queue.external", &r);
        return;
    }
    if let Some(offer) = state.transfer_offer.clone() {
        let left = offer.expires_at.saturating_sub(state.now_unix);
        if left == 0 {
            state.transfer_offer = None;
        } else {
            egui::Frame::new()
                .fill(NOTICE_BG)
                .inner_margin(8)
                .show(ui, |ui| {
                    ui.horizontal_wrapped(|ui| {
                        let r = ui.label(
                            RichText::new(format!(
                                "{} {} {} ({})",
                                offer.from,
                                t.transfer_offer_text,
                                offer.customer,
                                duration_text(left)
                            ))
                            .strong(),
                        );
                        state.track("transfer.offer_text", &r);
                        let r = ui.add(
                            egui::Button::new(RichText::new(t.transfer_take).color(Color32::WHITE))
                                .fill(ACCENT),
                        );
                        state.track("transfer.take", &r);
                        if r.clicked() {
                            state.take_transfer();
                        }
                        let r = ui.button(t.transfer_decline);
                        state.track("transfer.decline", &r);
                        if r.clicked() {
                            state.decline_transfer();
                        }
                    });
                });
        }
    }
    ui.columns(2, |cols| {
        let ui = &mut cols[0];
        ui.heading(t.key_heading);
        let r = ui.add(
            egui::Button::new(RichText::new(t.generate_key).color(Color32::WHITE)).fill(ACCENT),
        );
        state.track("key.generate", &r);
        if r.clicked() {
            state.intents.push(Intent::Net(Command::CreateKey));
        }
        if let Some((key, expires)) = state.key.clone() {
            let r = ui.add(
                egui::Label::new(RichText::new(&key).monospace().size(40.0).strong())
                    .selectable(true),
            );
            state.track("key.value", &r);
            ui.horizontal(|ui| {
                let left = expires.saturating_sub(state.now_unix);
                ui.label(format!("{} {}", t.valid_until, duration_text(left)));
                let r = ui.button(if state.key_copied { t.copied } else { t.copy });
                state.track("key.copy", &r);
                if r.clicked() {
                    state.key_copied = true;
                    state.intents.push(Intent::Copy(key.replace(' ', "")));
                }
            });
            ui.label(RichText::new(t.key_hint).small().weak());
        }
        let ui = &mut cols[1];
        ui.heading(t.invite_heading);
        let r = ui.add(egui::TextEdit::singleline(&mut state.email).hint_text(t.email));
        state.track("invite.email", &r);
        let ok = state.email.contains('@');
        let r = ui.add_enabled(ok, egui::Button::new(t.send_invitation));
        state.track("invite.send", &r);
        if r.clicked() {
            state.intents.push(Intent::Net(Command::Invite {
                email: state.email.trim().to_owned(),
                lang: state.lang.code().to_owned(),
            }));
        }
        if let Some((url, _)) = state.invitation.clone() {
            ui.label(t.invitation_made);
            let r = ui.add(egui::Label::new(RichText::new(&url).monospace()).selectable(true));
            state.track("invite.url", &r);
            let r = ui.button(t.copy);
            state.track("invite.copy", &r);
            if r.clicked() {
                state.intents.push(Intent::Copy(url));
            }
        }
    });
    ui.separator();
    ui.heading(t.queue_heading);
    if state.queue.is_empty() {
        ui.label(RichText::new(t.queue_empty).weak());
    } else {
        queue_table(state, ui);
    }
    ui.separator();
    ui.heading(t.join_heading);
    ui.horizontal(|ui| {
        let r = ui.add(
            egui::TextEdit::singleline(&mut state.join_code)
                .hint_text(t.join_code)
                .desired_width(220.0),
        );
        let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        state.track("join.code", &r);
        let ok = state.join_code.chars().any(|c| c.is_ascii_digit());
        let r = ui.add_enabled(ok, egui::Button::new(t.join));
        state.track("join.submit", &r);
        if (r.clicked() || enter) && ok {
            state.join();
        }
    });
}

/// How a queue entry came, in the rep's language.
pub fn arrival_text(arrival: &Arrival, t: &Texts) -> String {
    match arrival {
        Arrival::Key { last_digits } => format!("{}{last_digits}", t.arrival_key),
        Arrival::RepList => t.arrival_list.to_owned(),
        Arrival::Invitation { email } => format!("{}{email}", t.arrival_invite),
        Arrival::Resumed => t.arrival_resumed.to_owned(),
    }
}

fn queue_table(state: &mut State, ui: &mut Ui) {
    let t = state.t();
    egui::Grid::new("queue")
        .num_columns(6)
        .striped(true)
        .spacing([24.0, 8.0])
        .show(ui, |ui| {
            for h in [
                t.col_name,
                t.col_arrival,
                t.col_host,
                t.col_os,
                t.col_waiting,
                "",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for (i, e) in state.queue.clone().iter().enumerate() {
                let r = ui.add(
                    egui::Label::new(&e.customer.name)
                        .selectable(false)
                        .sense(egui::Sense::click()),
                );
                state.track(format!("queue.row.{i}"), &r);
                let double = r.double_clicked();
                // How they came is the relay's word, not the customer's: in its own style, so
                // that no name a customer types can look like it.
                let mut came = arrival_text(&e.arrival, t);
                if let Some(home) = &e.home {
                    came = format!("{came}{}{home}", t.waits_at);
                }
                let r = ui.label(RichText::new(came).italics().color(ACCENT));
                state.track(format!("queue.arrival.{i}"), &r);
                ui.label(&e.customer.host);
                ui.label(&e.customer.os);
                ui.label(duration_text(state.now_unix.saturating_sub(e.since)));
                // Taken already (its tab is connecting): the button opens that tab.
                let taking = state
                    .sessions
                    .iter()
                    .any(|s| s.entry == Some(e.entry) && s.ended.is_none());
                let r = ui.button(if taking { t.open_tab } else { t.accept });
                state.track(format!("queue.accept.{i}"), &r);
                if r.clicked() || double {
                    state.accept(e.entry);
                }
                ui.end_row();
            }
        });
}

fn session(state: &mut State, picture: Picture<'_>, ui: &mut Ui) {
    let t = state.t();
    let index = state.tab - 1;
    // The tab is open: its chat is read.
    state.sessions[index].unread = 0;
    let id = state.sessions[index].id;
    egui::Panel::top("toolbar").show(ui, |ui| {
        ui.horizontal_wrapped(|ui| toolbar(state, index, ui));
    });
    if state.tab == 0 {
        return;
    }
    // The permissions in a bar of their own, so that neither bar wraps at 1200 px.
    egui::Panel::top("tiers").show(ui, |ui| {
        ui.horizontal_wrapped(|ui| tier_bar(state, index, ui));
    });
    let s = &state.sessions[index];
    if let Some(why) = &s.ended {
        let why = format!("{}: {why}", t.ended);
        egui::Panel::top("ended")
            .frame(egui::Frame::new().fill(NOTICE_BG).inner_margin(6))
            .show(ui, |ui| {
                let r = ui.label(RichText::new(why).strong());
                state.track("session.ended", &r);
            });
    } else if s.connecting() {
        egui::Panel::top("connecting")
            .frame(egui::Frame::new().fill(NOTICE_BG).inner_margin(6))
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.spinner();
                    let r = ui.label(RichText::new(t.connecting).strong());
                    state.track("session.connecting", &r);
                });
            });
    } else if s.in_control() {
        let (text, fill, wid) = if s.grab {
            (t.in_control, CONTROL_BG, "control.active")
        } else {
            (t.control_paused, ACCENT, "control.paused")
        };
        egui::Panel::top("control")
            .frame(egui::Frame::new().fill(fill).inner_margin(6))
            .show(ui, |ui| {
                let r = ui.label(RichText::new(text).color(Color32::WHITE).strong());
                state.track(wid, &r);
            });
    }
    let owner = state.sessions[index].owner;
    if state.sessions[index].sharing && owner {
        egui::Panel::top("share")
            .frame(egui::Frame::new().fill(NOTICE_BG).inner_margin(8))
            .show(ui, |ui| share(state, index, ui));
    }
    if state.sessions[index].inviting && owner {
        egui::Panel::top("invite-external")
            .frame(egui::Frame::new().fill(NOTICE_BG).inner_margin(8))
            .show(ui, |ui| invite_external(state, index, ui));
    }
    if state.sessions[index].transferring && owner {
        egui::Panel::top("transfer")
            .frame(egui::Frame::new().fill(NOTICE_BG).inner_margin(8))
            .show(ui, |ui| transfer(state, index, ui));
    }
    // The side panel: the chat's field and Send pinned to the bottom, the customer, tools,
    // files and notes at the top, and the chat's history in between, taking what is left, so
    // that nothing moves when lines or transfers come in.
    egui::Panel::right("side")
        .default_size(300.0)
        .show(ui, |ui| {
            egui::Panel::bottom("chat-footer")
                .frame(egui::Frame::new().inner_margin(egui::Margin::symmetric(0, 4)))
                .show(ui, |ui| chat_footer(state, index, ui));
            egui::Panel::top("side-top")
                .frame(egui::Frame::new())
                .show(ui, |ui| side(state, index, ui));
            egui::CentralPanel::default()
                .frame(egui::Frame::new())
                .show(ui, |ui| chat_history(state, index, ui));
        });
    let picture = picture.filter(|_| state.shown() == Some(id));
    // No fill: `view` paints the background only around the picture.
    egui::CentralPanel::default()
        .frame(egui::Frame::new())
        .show(ui, |ui| view(state, index, picture, ui));
}

/// The background behind the customer's picture.
const VIEW_BG: Color32 = Color32::from_rgb(0x20, 0x22, 0x26);

/// The view's background as rectangles that cover `area` except where the (opaque) picture lies:
/// under it a fill would be painted for nothing each frame — on software GL a whole window's
/// worth of pixels. The bands reach a point into the picture, which is painted over them, so
/// that rounding to pixels leaves no seam.
fn background_around(area: egui::Rect, picture: Option<egui::Rect>) -> Vec<egui::Shape> {
    let fill = |r: egui::Rect| egui::Shape::rect_filled(r, 0.0, VIEW_BG);
    let inner = picture
        .map(|p| p.shrink(1.0).intersect(area))
        .filter(|p| p.is_positive());
    let Some(p) = inner else {
        return vec![fill(area)];
    };
    let (a, pos) = (area, egui::pos2);
    [
        egui::Rect::from_min_max(a.min, pos(a.max.x, p.min.y)),
        egui::Rect::from_min_max(pos(a.min.x, p.max.y), a.max),
        egui::Rect::from_min_max(pos(a.min.x, p.min.y), pos(p.min.x, p.max.y)),
        egui::Rect::from_min_max(pos(p.max.x, p.min.y), pos(a.max.x, p.max.y)),
    ]
    .into_iter()
    .filter(|r| r.is_positive())
    .map(fill)
    .collect()
}

#[cfg(test)]
mod background_tests {
    use super::*;
    use egui::{Rect, Shape, pos2, vec2};

    fn rects(shapes: &[Shape]) -> Vec<Rect> {
        shapes
            .iter()
            .map(|s| match s {
                Shape::Rect(r) => {
                    assert_eq!(r.fill, VIEW_BG);
                    r.rect
                }
                other => panic!("not a rectangle: {other:?}"),
            })
            .collect()
    }

    /// Every point of the view outside the picture is painted dark; no point more than a
    /// point inside the picture is painted at all (the picture covers it).
    #[test]
    fn the_background_covers_the_view_but_not_the_picture() {
        let area = Rect::from_min_size(pos2(200.0, 40.0), vec2(1000.0, 700.0));
        let cases = [
            Rect::from_min_size(pos2(200.0, 109.0), vec2(1000.0, 562.5)), // letterboxed
            Rect::from_min_size(pos2(300.0, 40.0), vec2(800.0, 700.0)),   // pillarboxed
            Rect::from_min_size(pos2(400.0, 200.0), vec2(320.0, 200.0)),  // small, centred
            area,                                                         // 1:1, filling
            Rect::from_min_size(pos2(100.0, 0.0), vec2(3000.0, 2000.0)),  // larger, clipped
        ];
        for picture in cases {
            let bands = rects(&background_around(area, Some(picture)));
            assert!(bands.len() <= 4, "{bands:?}");
            let mut y = area.min.y + 0.25;
            while y < area.max.y {
                let mut x = area.min.x + 0.25;
                while x < area.max.x {
                    let p = pos2(x, y);
                    let painted = bands.iter().any(|b| b.contains(p));
                    if !picture.contains(p) {
                        assert!(painted, "{p:?} outside {picture:?} left bare");
                    }
                    if picture.shrink(1.01).contains(p) {
                        assert!(!painted, "{p:?} under {picture:?} painted");
                    }
                    x += 0.5;
                }
                y += 0.5;
            }
        }
    }

    /// Without a picture (none yet, or the secure desktop) the whole view is dark.
    #[test]
    fn without_a_picture_the_whole_view_is_dark() {
        let area = Rect::from_min_size(pos2(0.0, 30.0), vec2(640.0, 480.0));
        assert_eq!(rects(&background_around(area, None)), vec![area]);
        let outside = Rect::from_min_size(pos2(700.0, 0.0), vec2(10.0, 10.0));
        assert_eq!(rects(&background_around(area, Some(outside))), vec![area]);
    }
}

/// A tier chip's fill and text colour for a state (each pair ≥ 4.5:1, tested).
pub(crate) fn chip_colours(st: TierState) -> (Color32, Color32) {
    match st {
        TierState::Granted => (GRANTED, Color32::WHITE),
        TierState::Waiting => (NOTICE_BG, CHIP_WAITING_FG),
        TierState::Denied(_) => (CHIP_DENIED_BG, ERROR_FG),
        TierState::NotRequested | TierState::Revoked => (CHIP_IDLE_BG, CHIP_IDLE_FG),
    }
}

const CHIP_WAITING_FG: Color32 = Color32::from_rgb(0x5c, 0x3c, 0x00);
const CHIP_DENIED_BG: Color32 = Color32::from_rgb(0xfb, 0xe9, 0xe9);
const CHIP_IDLE_BG: Color32 = Color32::from_rgb(0xe6, 0xe9, 0xee);
const CHIP_IDLE_FG: Color32 = Color32::from_rgb(0x33, 0x3d, 0x4a);

#[cfg(test)]
mod colour_tests {
    use super::*;
    use lotse_egui_tao::contrast_ratio;
    use lotse_proto::msg::DenyReason;

    /// Every tier chip, and the console's other text on colour, reaches WCAG AA (4.5:1).
    #[test]
    fn chips_and_text_reach_wcag_aa_contrast() {
        let panel = Color32::from_rgb(0xf7, 0xf8, 0xfa);
        let mut pairs = vec![
            ("errors on the panel", ERROR_FG, panel),
            ("white on the header", Color32::WHITE, HEADER),
            ("white on End session", Color32::WHITE, CONTROL_BG),
            ("white on the accent", Color32::WHITE, ACCENT),
            ("granted text on the panel", GRANTED, panel),
        ];
        for st in [
            TierState::NotRequested,
            TierState::Waiting,
            TierState::Granted,
            TierState::Denied(DenyReason::Person),
            TierState::Revoked,
        ] {
            let (bg, fg) = chip_colours(st);
            pairs.push((st.code(), fg, bg));
        }
        for (what, fg, bg) in pairs {
            let c = contrast_ratio(fg, bg);
            assert!(c >= 4.5, "{what}: {c:.2}:1");
        }
    }
}

/// Who, then fit/1:1, monitors, share, end (the permissions have a bar of their own).
fn toolbar(state: &mut State, index: usize, ui: &mut Ui) {
    let s = &state.sessions[index];
    ui.label(
        RichText::new(format!(
            "{} · {} · {}",
            s.customer.name, s.customer.host, s.customer.os
        ))
        .strong(),
    );
    ui.separator();
    // How the connection does: round trip, pictures and data per second (greyed while no
    // picture comes). In a slot as wide as the widest such line, shown from the start, so the
    // buttons after it never move under the rep's pointer when figures come or change.
    let t = state.t();
    let widest = format!(
        "{} 9999 ms · 60 {} · 999.9 Mbit/s · TCP",
        t.quality_rtt, t.quality_fps
    );
    let font = egui::TextStyle::Small.resolve(ui.style());
    let width = ui
        .painter()
        .layout_no_wrap(widest, font, Color32::WHITE)
        .size()
        .x;
    let (line, live) = match s.quality {
        Some((rtt, fps, kbit)) => (
            format!(
                "{} {rtt} ms · {fps} {} · {:.1} Mbit/s{}",
                t.quality_rtt,
                t.quality_fps,
                f64::from(kbit) / 1000.0,
                // UDP is blocked on the rep's side: the figures are those of TCP.
                if s.over_tcp { " · TCP" } else { "" }
            ),
            fps > 0,
        ),
        None => ("–".to_owned(), false),
    };
    let height = ui.spacing().interact_size.y;
    let r = ui
        .allocate_ui_with_layout(
            egui::vec2(width, height),
            egui::Layout::left_to_right(egui::Align::Center),
            |ui| {
                ui.set_min_width(width);
                ui.label(RichText::new(line).small().color(if live {
                    Color32::from_rgb(0x33, 0x3d, 0x4a)
                } else {
                    Color32::from_rgb(0x55, 0x5f, 0x6d)
                }))
            },
        )
        .inner;
    state.track("session.quality", &r);
    ui.separator();
    toolbar_rest(state, index, ui);
}

/// Each permission as a chip, with "Request" beside it while one can be made.
fn tier_bar(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    let live = state.sessions[index].live();
    for tier in Tier::ALL {
        let st = state.sessions[index].tier(tier);
        // A chip per tier that reads at a glance (state in words and colour, the waiting time,
        // the reason of a refusal), and beside it a separate "Request" while one can be made.
        let (fill, fg) = chip_colours(st);
        // Not asked yet: the grey chip and the tier's name say it (the bar stays one line).
        let mut text = match st {
            TierState::NotRequested => t.tier(tier).to_string(),
            _ => format!("{}: {}", t.tier(tier), st.text(t)),
        };
        if st == TierState::Waiting
            && let Some(since) = state.sessions[index].waiting_since.get(&tier)
        {
            text = format!("{} {} s", text, state.now_unix.saturating_sub(*since));
        }
        let chip = egui::Frame::new()
            .fill(fill)
            .corner_radius(10)
            .inner_margin(egui::Margin::symmetric(8, 3))
            .show(ui, |ui| ui.label(RichText::new(text).color(fg).strong()))
            .response;
        state.track(format!("chip.{}", tier.as_str()), &chip);
        let can_ask = live
            && matches!(
                st,
                TierState::NotRequested | TierState::Denied(_) | TierState::Revoked
            );
        // Always there (a layout that does not jump), usable only while a request can be made.
        let r = ui.add_enabled(can_ask, egui::Button::new(t.request).small());
        state.track(format!("tier.{}", tier.as_str()), &r);
        if r.clicked() {
            state.request(tier);
        }
        ui.add_space(6.0);
        if tier == Tier::Clipboard {
            // Beside the tier: keep both clipboards in step while the customer allows it.
            let granted = state.sessions[index].tier(Tier::Clipboard) == TierState::Granted;
            let s = &mut state.sessions[index];
            let r = ui
                .add_enabled(
                    live && granted,
                    egui::Checkbox::new(&mut s.clip_sync, t.clip_sync),
                )
                .on_hover_text(t.clip_sync_hint);
            state.track("clipboard.sync", &r);
        }
    }
}

/// Fit/1:1, monitors, share, end.
fn toolbar_rest(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    let s = &state.sessions[index];
    let (id, live) = (s.id, s.live());
    let s = &mut state.sessions[index];
    let r = ui.button(if s.fit { t.one_to_one } else { t.fit });
    if r.clicked() {
        s.fit = !s.fit;
    }
    state.track("view.fit", &r);
    let monitors = state.sessions[index].monitors.clone();
    if monitors.len() > 1 {
        ui.label(t.monitor);
        for m in monitors {
            let shared = state.sessions[index].shared == m.index;
            let r = ui.add_enabled(
                live,
                egui::Button::new(format!("{} ({}×{})", m.name, m.width, m.height))
                    .selected(shared),
            );
            state.track(format!("monitor.{}", m.index), &r);
            if r.clicked() && !shared {
                state.send(id, SessionCommand::SelectMonitor(m.index));
            }
        }
    }
    // In the wrapping row (not right-aligned): a narrow window must not draw them over the
    // tier buttons.
    ui.separator();
    if state.sessions[index].ended.is_none() {
        // Only the owner may invite or hand over, each with its permission (the relay refuses
        // anyone else): the entries a rep may not use are not shown.
        let perms = state.permissions;
        if state.sessions[index].owner && perms.share {
            let s = &mut state.sessions[index];
            let r = ui.add_enabled(live, egui::Button::new(t.share).selected(s.sharing));
            if r.clicked() {
                s.sharing = !s.sharing;
            }
            state.track("session.share", &r);
        }
        if state.sessions[index].owner && perms.invite_externals {
            let s = &mut state.sessions[index];
            let r = ui.add_enabled(
                live,
                egui::Button::new(t.invite_external).selected(s.inviting),
            );
            if r.clicked() {
                s.inviting = !s.inviting;
            }
            state.track("session.invite_external", &r);
        }
        if state.sessions[index].owner && perms.transfer {
            let s = &mut state.sessions[index];
            let r = ui.add_enabled(live, egui::Button::new(t.transfer).selected(s.transferring));
            if r.clicked() {
                s.transferring = !s.transferring;
            }
            state.track("session.transfer", &r);
        }
        let r = ui.add(
            egui::Button::new(RichText::new(t.end_session).color(Color32::WHITE)).fill(CONTROL_BG),
        );
        state.track("session.end", &r);
        if r.clicked() {
            state.send(id, SessionCommand::Leave);
        }
    } else {
        let r = ui.button(t.close_tab);
        state.track("session.close", &r);
        if r.clicked() {
            state.close_tab(index);
        }
    }
}

/// The customer's system report: a button in the side panel, the report in a window of its own
/// with one section per part (the same layout the customer saw), refresh and save.
fn sysinfo(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    let s = &state.sessions[index];
    let (id, live) = (s.id, s.live());
    let granted = s.tier(Tier::Sysinfo) == TierState::Granted;
    if !granted && s.sysinfo.is_none() {
        return;
    }
    ui.separator();
    ui.heading(t.sysinfo);
    let has = s.sysinfo.is_some();
    ui.horizontal(|ui| {
        let r = ui.add_enabled(has, egui::Button::new(t.sysinfo_show));
        state.track("sysinfo.show", &r);
        if r.clicked() {
            state.sessions[index].sysinfo_open = true;
        }
        let r = ui
            .add_enabled(live && granted, egui::Button::new(t.sysinfo_refresh))
            .on_disabled_hover_text(t.sysinfo_needed);
        state.track("sysinfo.refresh", &r);
        if r.clicked() {
            state.send(id, SessionCommand::Sysinfo);
        }
    });
    let s = &state.sessions[index];
    let (Some(report), true) = (s.sysinfo.clone(), s.sysinfo_open) else {
        return;
    };
    let words = lotse_proto::sysinfo::Words::of(state.lang == crate::i18n::Lang::De);
    let mut open = true;
    let title = format!("{} · {}", t.sysinfo, report.host);
    egui::Window::new(title)
        .id(egui::Id::unique(("sysinfo", id)))
        .open(&mut open)
        .default_size([560.0, 520.0])
        .vscroll(true)
        .show(ui.ctx(), |ui| {
            ui.horizontal(|ui| {
                let r = ui.button(t.sysinfo_save);
                state.track("sysinfo.save", &r);
                if r.clicked() {
                    state.intents.push(Intent::SaveReport(index));
                }
                let r = ui.add_enabled(live && granted, egui::Button::new(t.sysinfo_refresh));
                state.track("sysinfo.window_refresh", &r);
                if r.clicked() {
                    state.send(id, SessionCommand::Sysinfo);
                }
            });
            if let Some(saved) = &state.sessions[index].sysinfo_saved {
                ui.label(RichText::new(saved).small());
            }
            ui.label(
                RichText::new(format!(
                    "{} {}",
                    t.sysinfo_gathered,
                    lotse_proto::utc_text(report.gathered_at as i64)
                ))
                .small(),
            );
            for section in report.sections(words) {
                egui::CollapsingHeader::new(RichText::new(&section.title).strong())
                    .default_open(true)
                    .show(ui, |ui| {
                        egui::Grid::new(("sysinfo-grid", id, section.title.clone()))
                            .num_columns(2)
                            .striped(true)
                            .show(ui, |ui| {
                                for (label, value) in &section.rows {
                                    ui.label(RichText::new(label).weak());
                                    ui.label(value);
                                    ui.end_row();
                                }
                            });
                    });
            }
        });
    if !open {
        state.sessions[index].sysinfo_open = false;
    }
}

/// Everyone in the session: name, role, and for the owner a Remove beside each other one.
fn participants(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    let s = &state.sessions[index];
    let (id, me, owner) = (s.id, s.me, s.owner);
    let list = s.participants.clone();
    ui.label(RichText::new(t.participants).strong());
    for p in list {
        ui.horizontal_wrapped(|ui| {
            let role = match &p.role {
                ParticipantRole::Owner => t.role_owner.to_owned(),
                ParticipantRole::Colleague => t.role_colleague.to_owned(),
                ParticipantRole::External { invited_by } => {
                    format!("{} {invited_by}", t.role_external)
                }
            };
            let mine = if Some(p.rep) == me { t.you } else { "" };
            let r = ui.label(format!("{} {mine} · {role}", p.name));
            state.track(format!("participant.{}", p.rep), &r);
            if owner && Some(p.rep) != me {
                let r = ui.small_button(t.remove);
                state.track(format!("participant.remove.{}", p.rep), &r);
                if r.clicked() {
                    state.send(id, SessionCommand::Remove(p.rep));
                }
            }
        });
    }
}

/// Inviting an external supporter: a profile for externals (its full description shown), the
/// person's name and why; then the key and the link, large, to copy.
fn invite_external(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    let de = state.lang == crate::i18n::Lang::De;
    let id = state.sessions[index].id;
    let profiles: Vec<lotse_proto::profile::Profile> = state
        .profiles
        .iter()
        .filter(|p| p.for_externals)
        .cloned()
        .collect();
    if profiles.is_empty() {
        let r = ui.label(t.external_none);
        state.track("external.none", &r);
        return;
    }
    let s = &mut state.sessions[index];
    if !profiles.iter().any(|p| p.name == s.external_profile) {
        s.external_profile = profiles[0].name.clone();
    }
    let chosen = s.external_profile.clone();
    ui.horizontal_wrapped(|ui| {
        ui.label(t.external_profile);
        for p in &profiles {
            let r = ui.selectable_label(p.name == chosen, &p.name);
            state.track(format!("external.profile.{}", p.name), &r);
            if r.clicked() {
                state.sessions[index].external_profile = p.name.clone();
            }
        }
    });
    if let Some(p) = profiles
        .iter()
        .find(|p| p.name == state.sessions[index].external_profile)
    {
        let r = ui.label(RichText::new(p.description(de)).italics());
        state.track("external.description", &r);
    }
    egui::Grid::new(("external-form", id))
        .num_columns(2)
        .show(ui, |ui| {
            ui.label(t.external_name);
            let r = ui.add(
                egui::TextEdit::singleline(&mut state.sessions[index].external_name)
                    .char_limit(lotse_proto::profile::MAX_EXTERNAL_NAME)
                    .desired_width(300.0),
            );
            state.track("external.name", &r);
            ui.end_row();
            ui.label(t.external_reason);
            let r = ui.add(
                egui::TextEdit::singleline(&mut state.sessions[index].external_reason)
                    .char_limit(lotse_proto::profile::MAX_EXTERNAL_REASON)
                    .desired_width(300.0),
            );
            state.track("external.reason", &r);
            ui.end_row();
        });
    let s = &state.sessions[index];
    let ready = !s.external_name.trim().is_empty() && !s.external_reason.trim().is_empty();
    let r = ui.add_enabled(ready, egui::Button::new(t.external_make));
    state.track("external.make", &r);
    if r.clicked() {
        let s = &state.sessions[index];
        let cmd = SessionCommand::InviteExternal {
            profile: s.external_profile.clone(),
            name: s.external_name.trim().to_owned(),
            reason: s.external_reason.trim().to_owned(),
        };
        state.send(id, cmd);
    }
    if let Some(inv) = state.sessions[index].external.clone() {
        ui.horizontal_wrapped(|ui| {
            let r = ui.add(
                egui::Label::new(RichText::new(&inv.key).monospace().size(32.0).strong())
                    .selectable(true),
            );
            state.track("external.key", &r);
            let left = inv.expires_at.saturating_sub(state.now_unix);
            ui.label(format!(
                "{} · {} {}",
                inv.name,
                t.valid_until,
                duration_text(left)
            ));
            let text = match &inv.url {
                Some(url) => format!("{url}\n{}", inv.key),
                None => inv.key.clone(),
            };
            let r = ui.button(t.external_copy);
            state.track("external.copy", &r);
            if r.clicked() {
                state.intents.push(Intent::Copy(text));
            }
        });
        if let Some(url) = &inv.url {
            let r = ui.add(egui::Label::new(RichText::new(url).monospace()).selectable(true));
            state.track("external.url", &r);
        }
        // Or the relay mails it (when it has a mail server; the rep hears either way).
        ui.horizontal_wrapped(|ui| {
            ui.label(t.mail_address);
            let r = ui.add(
                egui::TextEdit::singleline(&mut state.sessions[index].external_email)
                    .desired_width(260.0),
            );
            state.track("external.email", &r);
            let email = state.sessions[index].external_email.trim().to_owned();
            let r = ui.add_enabled(email.contains('@'), egui::Button::new(t.mail_send));
            state.track("external.mail", &r);
            if r.clicked() {
                let cmd = SessionCommand::MailExternal {
                    key: inv.key.replace(' ', ""),
                    email,
                    lang: state.lang.code().to_owned(),
                };
                state.send(id, cmd);
            }
        });
        ui.label(RichText::new(t.external_hint).small());
    }
}

/// Handing the session to a colleague's queue.
fn transfer(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    let id = state.sessions[index].id;
    ui.horizontal_wrapped(|ui| {
        ui.label(t.transfer_hint);
        let r = ui.add(
            egui::TextEdit::singleline(&mut state.sessions[index].transfer_to).desired_width(200.0),
        );
        state.track("transfer.to", &r);
        let to = state.sessions[index].transfer_to.trim().to_owned();
        let r = ui.add_enabled(!to.is_empty(), egui::Button::new(t.transfer_offer_make));
        state.track("transfer.offer", &r);
        if r.clicked() {
            state.send(id, SessionCommand::OfferTransfer(to.clone()));
        }
        let r = ui.add_enabled(!to.is_empty(), egui::Button::new(t.transfer_make));
        state.track("transfer.make", &r);
        if r.clicked() {
            state.send(id, SessionCommand::Transfer(to));
        }
    });
    ui.label(RichText::new(t.transfer_note).small());
}

/// The share panel: which tiers the colleague may ask for, and the code, large.
fn share(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    let id = state.sessions[index].id;
    ui.horizontal_wrapped(|ui| {
        ui.label(t.share_hint);
        for tier in Tier::ALL {
            let s = &mut state.sessions[index];
            let mut on = s.share_tiers.contains(tier);
            let r = ui.checkbox(&mut on, t.tier(tier));
            if r.changed() {
                if on {
                    s.share_tiers.insert(tier);
                } else {
                    s.share_tiers.remove(tier);
                }
            }
            state.track(format!("share.tier.{}", tier.as_str()), &r);
        }
        let tiers = state.sessions[index].share_tiers;
        let r = ui.add_enabled(!tiers.is_empty(), egui::Button::new(t.share_make));
        state.track("share.make", &r);
        if r.clicked() {
            state.send(id, SessionCommand::Share(tiers));
        }
    });
    if let Some((code, expires)) = state.sessions[index].share_code.clone() {
        ui.horizontal(|ui| {
            let r = ui.add(
                egui::Label::new(RichText::new(&code).monospace().size(40.0).strong())
                    .selectable(true),
            );
            state.track("share.code", &r);
            let left = expires.saturating_sub(state.now_unix);
            ui.label(format!("{} {}", t.valid_until, duration_text(left)));
            let r = ui.button(t.copy);
            state.track("share.copy", &r);
            if r.clicked() {
                state.intents.push(Intent::Copy(code.replace(' ', "")));
            }
        });
        ui.label(RichText::new(t.share_code_hint).small());
    }
}

fn view(state: &mut State, index: usize, picture: Picture<'_>, ui: &mut Ui) {
    // Painted first (under everything), once the picture's place is known.
    let (area, background) = (ui.max_rect(), ui.painter().add(egui::Shape::Noop));
    let covered = view_contents(state, index, picture, ui);
    ui.painter().set(
        background,
        egui::Shape::Vec(background_around(area, covered)),
    );
}

/// The view's contents; returns the part of the view the picture covers, if one is shown.
fn view_contents(
    state: &mut State,
    index: usize,
    picture: Picture<'_>,
    ui: &mut Ui,
) -> Option<egui::Rect> {
    let t = state.t();
    let s = &mut state.sessions[index];
    match s.obstruction {
        Some(Obstruction::SecureDesktop) => {
            // No frozen picture: the screen cannot be read until the prompt is answered.
            s.view_rect = None;
            s.view_clip = None;
            ui.centered_and_justified(|ui| {
                ui.label(RichText::new(t.obstructed_secure).color(Color32::YELLOW))
            });
            return None;
        }
        Some(Obstruction::ElevatedWindow) => {
            ui.label(RichText::new(t.obstructed_elevated).color(Color32::YELLOW));
        }
        None => {}
    }
    let Some(tex) = picture.filter(|_| s.picture.is_some()) else {
        s.view_rect = None;
        s.view_clip = None;
        ui.centered_and_justified(|ui| {
            ui.label(RichText::new(t.no_picture).color(Color32::LIGHT_GRAY))
        });
        return None;
    };
    let size = tex.size_vec2();
    let (rect, visible) = if s.fit {
        let avail = ui.available_rect_before_wrap();
        let scale = (avail.width() / size.x)
            .min(avail.height() / size.y)
            .min(1.0);
        let rect = egui::Rect::from_center_size(avail.center(), size * scale);
        tex.paint_at(ui, rect);
        (rect, rect)
    } else {
        let out = egui::ScrollArea::both().show(ui, |ui| {
            // Pixels, not points: 1:1 with the customer's screen. Dragging pans it (egui's
            // scroll areas follow drags only on touch screens); while the rep is in control
            // the pointer's buttons go to the customer instead and never reach this.
            let ppp = ui.ctx().pixels_per_point();
            let (rect, r) = ui.allocate_exact_size(size / ppp, egui::Sense::drag());
            if r.dragged() {
                pan(ui, &r);
            }
            tex.paint_at(ui, rect);
            rect
        });
        (out.inner, out.inner.intersect(out.inner_rect))
    };
    if s.grab {
        ui.painter().rect_stroke(
            visible,
            0.0,
            egui::Stroke::new(3.0, CONTROL_BG),
            egui::StrokeKind::Inside,
        );
    }
    s.view_rect = Some(rect);
    s.view_clip = Some(visible);
    // The trace reports the part on screen (where a click reaches the picture) and, for the
    // 1:1 view, the whole picture's rectangle (scrolled).
    state.widgets.push(crate::state::Widget {
        id: "view".into(),
        rect: visible,
        enabled: true,
    });
    state.widgets.push(crate::state::Widget {
        id: "view.picture".into(),
        rect,
        enabled: true,
    });
    Some(visible)
}

/// Pans the 1:1 picture by how far the pointer moved since the press (or since the last frame of
/// this drag), without animation, so the picture follows the pointer exactly. Not egui's
/// `drag_delta`: when the press and the first moves arrive within one frame, that also counts
/// the pointer's way to the press, and the picture jumped. Nor an animated scroll: that restarts
/// from where the previous one had got to, and fast drags lost distance.
fn pan(ui: &Ui, r: &egui::Response) {
    let key = r.id.with("pan_from");
    let from = if r.drag_started() {
        ui.input(|i| i.pointer.press_origin())
    } else {
        ui.data(|d| d.get_temp::<egui::Pos2>(key))
    };
    let Some(now) = r.interact_pointer_pos() else {
        return;
    };
    if let Some(from) = from {
        ui.scroll_with_delta_animation(now - from, egui::style::ScrollAnimation::none());
    }
    ui.data_mut(|d| d.insert_temp(key, now));
}

fn side(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    customer_panel(state, index, ui);
    tools(state, index, ui);
    let s = &state.sessions[index];
    let (id, live) = (s.id, s.live());
    if s.participants.len() > 1 {
        participants(state, index, ui);
    } else if !s.others.is_empty() {
        ui.label(format!("{} {}", t.also_here, s.others.join(", ")));
    }
    sysinfo(state, index, ui);
    ui.separator();
    ui.heading(t.files);
    let files = state.sessions[index].tier(Tier::Files) == TierState::Granted;
    let r = ui
        .add_enabled(live && files, egui::Button::new(t.send_file))
        .on_disabled_hover_text(t.files_needed);
    state.track("file.send", &r);
    if r.clicked() {
        state.intents.push(Intent::PickFile(id));
    }
    if live && files {
        ui.label(RichText::new(t.drop_hint).small().weak());
    }
    for tr in state.sessions[index].transfers.clone() {
        let arrow = if tr.outgoing { "→" } else { "←" };
        ui.label(format!("{arrow} {} ({} B)", tr.name, tr.size));
        let dir = if tr.outgoing { "out" } else { "in" };
        match &tr.state {
            TransferState::Running => {
                let f = if tr.size == 0 {
                    0.0
                } else {
                    tr.done as f32 / tr.size as f32
                };
                ui.horizontal(|ui| {
                    let bar = ui.add(
                        egui::ProgressBar::new(f)
                            .desired_width(180.0)
                            .show_percentage(),
                    );
                    state.track(format!("file.progress.{dir}.{}", tr.id), &bar);
                    let r = ui.button(t.cancel);
                    state.track(format!("file.cancel.{dir}.{}", tr.id), &r);
                    if r.clicked() {
                        state.send(
                            id,
                            SessionCommand::CancelFile {
                                transfer: tr.id,
                                from_customer: !tr.outgoing,
                            },
                        );
                    }
                });
            }
            TransferState::Done(Some(p)) => {
                ui.label(RichText::new(format!("✔ {} {}", t.saved_to, p.display())).small());
            }
            TransferState::Done(None) => {
                ui.label(RichText::new("✔").color(GRANTED));
            }
            TransferState::Failed(why) => {
                ui.label(
                    RichText::new(format!("{}: {}", t.failed, t.failure(why)))
                        .small()
                        .color(ERROR_FG),
                );
            }
        }
    }
    notes(state, index, ui);
    ui.separator();
    ui.heading(t.chat);
}

/// The chat's lines, in the space the side panel leaves them.
fn chat_history(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    egui::ScrollArea::vertical()
        .id_salt("chat")
        .auto_shrink([false, false])
        .stick_to_bottom(true)
        .show(ui, |ui| {
            for line in &state.sessions[index].chat {
                let who = RichText::new(format!("{}:", line.from))
                    .strong()
                    .color(if line.mine { ACCENT } else { GRANTED });
                ui.horizontal_wrapped(|ui| {
                    // Who wrote it by the relay's word, as a tag in its own colours: a
                    // customer calling themselves after a rep still shows as the customer.
                    let role = if line.customer {
                        t.role_customer
                    } else {
                        t.role_rep
                    };
                    ui.label(
                        RichText::new(role)
                            .small()
                            .color(Color32::WHITE)
                            .background_color(if line.customer { BADGE } else { HEADER }),
                    );
                    ui.label(who);
                    ui.label(&line.text);
                });
            }
        });
}

/// "Canned message…", the chat's field and Send.
fn chat_footer(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    let s = &state.sessions[index];
    let (id, live) = (s.id, s.live());
    canned(state, index, live, ui);
    let s = &mut state.sessions[index];
    let r = ui.add_enabled(
        live,
        egui::TextEdit::singleline(&mut s.chat_input).desired_width(f32::INFINITY),
    );
    let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    state.track("chat.input", &r);
    let s = &mut state.sessions[index];
    let r = ui.add_enabled(
        live && !s.chat_input.trim().is_empty(),
        egui::Button::new(t.send),
    );
    state.track("chat.send", &r);
    let s = &mut state.sessions[index];
    if (r.clicked() || enter) && live && !s.chat_input.trim().is_empty() {
        let text = std::mem::take(&mut s.chat_input).trim().to_owned();
        // The relay does not echo our own lines back.
        s.chat.push(crate::state::ChatLine {
            from: state.me.clone(),
            text: text.clone(),
            mine: true,
            customer: false,
        });
        state.send(id, SessionCommand::Chat(text));
        if enter {
            ui.ctx().memory_mut(|m| m.request_focus(egui::Id::NULL));
        }
    }
}

/// Who the customer is and how they came (by the relay's word), how long they waited and how
/// long the session runs.
fn customer_panel(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    let now = state.now_unix;
    let s = &state.sessions[index];
    let came = s
        .arrival
        .as_ref()
        .map_or_else(|| t.came_code.to_owned(), |a| arrival_text(a, t));
    let waited = s
        .queued_since
        .map(|q| duration_text(s.joined_at.unwrap_or(now).saturating_sub(q)));
    let lasted = s
        .joined_at
        .map(|j| duration_text(s.ended_at.unwrap_or(now).saturating_sub(j)));
    let customer = s.customer.clone();
    if s.live() {
        // The session time moves on.
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_secs(1));
    }
    // Two lines: how they came (the relay's word, in its own style), the computer; then the
    // waiting and session times.
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(t.came).strong());
        ui.label(RichText::new(&came).italics().color(ACCENT));
        ui.label(format!("· {} · {}", customer.host, customer.os));
    });
    let times: Vec<String> = [(t.waited, waited), (t.in_session, lasted)]
        .into_iter()
        .filter_map(|(label, v)| v.map(|v| format!("{label} {v}")))
        .collect();
    if !times.is_empty() {
        ui.label(RichText::new(times.join(" · ")).weak());
    }
}

/// A screenshot of the picture, and the keys a rep cannot type from their own keyboard
/// (Ctrl+Alt+Del, Windows/Super), sent while `control` is granted.
fn tools(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    let s = &state.sessions[index];
    let (id, live) = (s.id, s.live());
    let control = live && s.in_control();
    let windows = s.customer.os.to_ascii_lowercase().contains("windows");
    let has_picture = live && s.picture.is_some();
    ui.horizontal_wrapped(|ui| {
        let r = ui
            .add_enabled(has_picture, egui::Button::new(t.screenshot).small())
            .on_hover_text(t.screenshot_hint);
        state.track("tool.screenshot", &r);
        if r.clicked() {
            state.intents.push(Intent::Screenshot(index));
        }
        let r = ui
            .add_enabled(control && !windows, egui::Button::new(t.key_cad).small())
            .on_disabled_hover_text(if windows {
                t.key_cad_windows
            } else {
                t.keys_need_control
            });
        state.track("key.cad", &r);
        if r.clicked() {
            // Pressed in order, released in reverse: the combination as a person makes it.
            for (usage, down) in [
                (keys::LEFT_CTRL, true),
                (keys::LEFT_ALT, true),
                (keys::DELETE, true),
                (keys::DELETE, false),
                (keys::LEFT_ALT, false),
                (keys::LEFT_CTRL, false),
            ] {
                state.send(id, SessionCommand::Input(InputEvent::Key { usage, down }));
            }
        }
        let r = ui
            .add_enabled(control, egui::Button::new(t.key_super).small())
            .on_disabled_hover_text(t.keys_need_control);
        state.track("key.super", &r);
        if r.clicked() {
            for down in [true, false] {
                state.send(
                    id,
                    SessionCommand::Input(InputEvent::Key {
                        usage: keys::LEFT_GUI,
                        down,
                    }),
                );
            }
        }
    });
    if let Some(saved) = &state.sessions[index].saved {
        ui.label(RichText::new(saved).small());
    }
}

/// "Canned message…": the rep's own messages (from the config) and the built-in ones; choosing
/// one puts it into the chat field to edit or send.
fn canned(state: &mut State, index: usize, live: bool, ui: &mut Ui) {
    let t = state.t();
    let messages: Vec<String> = state
        .canned
        .iter()
        .cloned()
        .chain(t.canned_messages.iter().map(|m| (*m).to_owned()))
        .collect();
    let mut chosen = None;
    let mut items = Vec::new();
    let r = ui.add_enabled_ui(live, |ui| {
        egui::ComboBox::from_id_salt(("canned", index))
            .selected_text(t.canned)
            .width(ui.available_width() - 8.0)
            .show_ui(ui, |ui| {
                for (i, m) in messages.iter().enumerate() {
                    let r = ui.selectable_label(false, m);
                    if r.clicked() {
                        chosen = Some(m.clone());
                    }
                    items.push((format!("chat.canned.{i}"), r));
                }
            })
            .response
    });
    state.track("chat.canned", &r.inner);
    for (id, r) in items {
        state.track(id, &r);
    }
    if let Some(m) = chosen {
        state.sessions[index].chat_input = m;
    }
}

/// The rep's notes, and saving the whole session record (for the ticket).
fn notes(state: &mut State, index: usize, ui: &mut Ui) {
    let t = state.t();
    ui.separator();
    ui.heading(t.notes);
    let s = &mut state.sessions[index];
    let r = ui.add(
        egui::TextEdit::multiline(&mut s.notes)
            .desired_rows(2)
            .desired_width(f32::INFINITY),
    );
    state.track("notes.input", &r);
    let r = ui.button(t.save_record);
    state.track("notes.save", &r);
    if r.clicked() {
        state.intents.push(Intent::SaveTranscript(index));
    }
}

#[cfg(test)]
mod tests;
