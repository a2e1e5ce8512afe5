//! The console's one network thread. The relay carries one session per rep *connection* and
//! gives the queue to every connection of the account that is not in a session, so the console
//! keeps one "home" connection (login, keys, invitations, the queue) and opens one more
//! connection per session tab, logged in with the same credentials, which takes the customer
//! from the queue (or joins with a code) and carries that session only. Each session connection
//! is a task of its own; the window never waits for any of them, and video frames of the tab
//! on screen go straight on to the [`video`](crate::video) thread.
//!
//! The password stays in this thread's memory for the program's lifetime (a new tab needs it);
//! it is never written anywhere and never shown by `Debug`.

use crate::video::Decoding;
use lotse_net::{NetConfig, Pin};
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{
    ClipContent, HowEnded, LoginRejection, Proof, Refusal, RepDown, RepUp, TransferStop,
};
use lotse_proto::{Tier, TierSet};
use lotse_rep::files::FileEvent;
use lotse_rep::{RepClient, RepError, RepEvent};
use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use crate::video::SessionId;

/// Why a transfer did not finish; the words in the rep's language come from `i18n::Texts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The customer chose Reject.
    Rejected,
    /// The customer or the relay stopped it.
    Stopped(TransferStop),
    /// Something here failed (the file, the connection); the system's words.
    Local(String),
}

/// What the bar at the bottom tells the rep until dismissed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The relay did not carry out a request.
    Refused(Refusal),
    /// Files were offered without `files` granted.
    FilesNeeded,
    /// A network or system error, in the system's words.
    Failed(String),
    /// A mail the relay was asked to send went out (`failed: None`) or not.
    Mail {
        to: String,
        failed: Option<lotse_proto::msg::MailFailure>,
    },
}

/// A password that `Debug` does not print.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// What the window asks of the network thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Login {
        relay: String,
        pin: String,
        user: String,
        password: Password,
        /// The second factor's code, if the account has one (empty otherwise).
        code: String,
        /// Where the customers' files are saved.
        downloads: PathBuf,
    },
    CreateKey,
    /// A one-time invitation link, mailed to `email` in `lang` by the relay.
    Invite {
        email: String,
        lang: String,
    },
    /// Decline a colleague's transfer offer.
    DeclineTransfer {
        code: String,
    },
    /// Open the connection of session `id` and take the customer `entry` from the queue.
    Accept {
        id: SessionId,
        entry: u64,
    },
    /// Open the connection of session `id` and join another rep's session with a code.
    Join {
        id: SessionId,
        code: String,
    },
    /// Without an account: open the connection of session `id` as an external supporter with
    /// an invitation key (or its link).
    JoinExternal {
        id: SessionId,
        relay: String,
        pin: String,
        key: String,
        /// Where the customers' files are saved.
        downloads: PathBuf,
    },
    /// The session whose picture is on screen (the open tab), if any: only its frames are
    /// decoded; a change asks that session for a keyframe.
    Show(Option<SessionId>),
    /// Something for one session's connection.
    To(SessionId, SessionCommand),
    /// Ask the session on screen for a keyframe (the decoder lost its place).
    Keyframe,
    /// End every session, close every connection and stop the thread.
    Quit,
}

/// What one session's connection is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionCommand {
    Request(Tier),
    Chat(String),
    Input(InputEvent),
    OfferFile(PathBuf),
    CancelFile {
        transfer: u32,
        from_customer: bool,
    },
    SelectMonitor(u32),
    /// Invite another rep (a code for them, whose profile is these tiers).
    Share(TierSet),
    /// Invite an external supporter with a profile for externals.
    InviteExternal {
        profile: String,
        name: String,
        reason: String,
    },
    /// Mail the open external invitation `key` to `email` in `lang`.
    MailExternal {
        key: String,
        email: String,
        lang: String,
    },
    /// Hand the session to the queue of the colleague with this login.
    Transfer(String),
    /// Offer the session to the colleague with this login, who is online (they accept).
    OfferTransfer(String),
    /// Remove a participant (owner only).
    Remove(lotse_proto::msg::ParticipantId),
    /// End the session (leave it, when it is another rep's).
    Leave,
    /// Ask the customer for a keyframe (the network thread sends this itself when the tab on
    /// screen changes or the decoder lost its place).
    Keyframe,
    /// Ask for a fresh system report (needs `sysinfo`).
    Sysinfo,
    /// Put this on the customer's clipboard (needs `clipboard`).
    Paste(ClipContent),
}

/// What the network thread tells the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    LoggedIn {
        display_name: String,
    },
    /// Login failed; the text says why and what to do.
    LoginFailed(String),
    /// The relay refused the login (shown in the window's language).
    LoginRefused(LoginRejection),
    /// A message from the relay on the home connection (queue, key, invitation, refusals).
    Control(RepDown),
    /// A home command could not be carried out.
    Failed(String),
    /// The home connection is gone (the sessions are ended with it).
    Disconnected(String),
    /// Something about one session.
    Session(SessionId, SessionUpdate),
}

/// What one session's connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionUpdate {
    /// A message from the relay (joined, grants, chat, monitors, end, share code, …).
    Control(RepDown),
    File(FileEvent),
    /// Our own transfer was offered under this id.
    Offered {
        transfer: u32,
        name: String,
        size: u64,
    },
    /// What the customer copied (this rep holds `clipboard`).
    Clipboard(ClipContent),
    /// The connection's quality over the last second: round trip to the relay, pictures and
    /// bits per second received.
    Quality {
        rtt_ms: u32,
        fps: u32,
        kbit_s: u32,
        /// The rep's connection runs over the TCP fallback (UDP blocked on the rep's side).
        tcp: bool,
    },
    /// This session's connection has this participant id at the relay.
    Me(lotse_proto::msg::ParticipantId),
    /// A command could not be carried out.
    Failed(String),
    /// The connection is closed; why, when the session did not end normally.
    Closed(Option<Notice>),
}

/// Called from the network thread for every update.
pub type Notify = Arc<dyn Fn(Update) + Send + Sync>;

/// The handle the window keeps: sends commands, never blocks.
#[derive(Debug, Clone)]
pub struct Net {
    tx: mpsc::UnboundedSender<Command>,
}

impl Net {
    /// Starts the network thread; `notify` is called from it for every update.
    pub fn start(
        notify: impl Fn(Update) + Send + Sync + 'static,
        video: Decoding,
    ) -> std::io::Result<Net> {
        let (tx, rx) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let notify: Notify = Arc::new(notify);
        std::thread::Builder::new()
            .name("lotse-console-net".into())
            .spawn(move || runtime.block_on(worker(rx, notify, video)))?;
        Ok(Net { tx })
    }

    /// Queues `cmd`; after the thread stopped this does nothing.
    pub fn send(&self, cmd: Command) {
        let _ = self.tx.send(cmd);
    }

    /// A sender for other threads (the decoder asks for keyframes with it).
    pub fn sender(&self) -> mpsc::UnboundedSender<Command> {
        self.tx.clone()
    }
}

/// How long quitting waits for the sessions to say goodbye.
const GOODBYE: Duration = Duration::from_millis(500);

/// What a new session connection logs in with.
#[derive(Clone)]
struct Credentials {
    relay: SocketAddr,
    pin: Pin,
    user: String,
    password: Password,
    /// After a login with a second factor: the ticket each session tab logs in with (a code
    /// counts once).
    ticket: Option<String>,
    downloads: PathBuf,
}

/// What the session tasks share with the home loop.
#[derive(Clone)]
struct Shared {
    notify: Notify,
    video: Decoding,
    /// The session on screen, 0 for none.
    shown: Arc<AtomicU64>,
}

async fn worker(mut rx: mpsc::UnboundedReceiver<Command>, notify: Notify, video: Decoding) {
    let shared = Shared {
        notify: notify.clone(),
        video,
        shown: Arc::new(AtomicU64::new(0)),
    };
    let mut home: Option<RepClient> = None;
    let mut creds: Option<Credentials> = None;
    let mut sessions: HashMap<SessionId, mpsc::UnboundedSender<SessionCommand>> = HashMap::new();
    let mut tasks = JoinSet::new();
    loop {
        let cmd = match home.as_mut() {
            None => rx.recv().await,
            Some(c) => tokio::select! {
                cmd = rx.recv() => cmd,
                ev = c.next_event() => {
                    match ev {
                        Some(RepEvent::Control(msg)) => notify(Update::Control(msg)),
                        // The home connection is never in a session: no frames, no files.
                        Some(RepEvent::Frame(_) | RepEvent::File(_) | RepEvent::Clipboard(_)) => {}
                        Some(RepEvent::Disconnected(why)) => {
                            home = None;
                            end_all(&mut sessions, &mut tasks).await;
                            notify(Update::Disconnected(why));
                        }
                        None => {
                            home = None;
                            end_all(&mut sessions, &mut tasks).await;
                            notify(Update::Disconnected("connection closed".into()));
                        }
                    }
                    continue;
                }
            },
        };
        let Some(cmd) = cmd else { break };
        sessions.retain(|_, tx| !tx.is_closed());
        while tasks.try_join_next().is_some() {}
        match cmd {
            Command::Quit => break,
            Command::Login {
                relay,
                pin,
                user,
                password,
                code,
                downloads,
            } => {
                if home.is_some() {
                    continue;
                }
                match login(&relay, &pin, &user, &password, code.trim()).await {
                    Ok((c, relay, pin)) => {
                        notify(Update::LoggedIn {
                            display_name: c.display_name.clone(),
                        });
                        creds = Some(Credentials {
                            relay,
                            pin,
                            user: user.trim().to_owned(),
                            password,
                            ticket: c.ticket.as_ref().map(|(t, _)| t.clone()),
                            downloads,
                        });
                        home = Some(c);
                    }
                    Err(Err(reason)) => notify(Update::LoginRefused(reason)),
                    Err(Ok(e)) => notify(Update::LoginFailed(e)),
                }
            }
            Command::Accept { id, entry } => open_session(
                &creds,
                &shared,
                &mut sessions,
                &mut tasks,
                id,
                Open::Accept(entry),
            ),
            Command::Join { id, code } => open_session(
                &creds,
                &shared,
                &mut sessions,
                &mut tasks,
                id,
                Open::Join(code),
            ),
            Command::JoinExternal {
                id,
                relay,
                pin,
                key,
                downloads,
            } => match resolve(&relay, &pin).await {
                Ok((relay, pin)) => {
                    let creds = Some(Credentials {
                        relay,
                        pin,
                        user: String::new(),
                        password: Password(String::new()),
                        ticket: None,
                        downloads,
                    });
                    open_session(
                        &creds,
                        &shared,
                        &mut sessions,
                        &mut tasks,
                        id,
                        Open::External(invitation_key(&key)),
                    )
                }
                Err(e) => notify(Update::Session(
                    id,
                    SessionUpdate::Closed(Some(Notice::Failed(e))),
                )),
            },
            Command::Show(id) => {
                let id = id.unwrap_or(0);
                if shared.shown.swap(id, Ordering::SeqCst) != id {
                    // Frames of the tab left behind are of no use to the decoder any more.
                    shared.video.reset();
                    if let Some(tx) = sessions.get(&id) {
                        let _ = tx.send(SessionCommand::Keyframe);
                    }
                }
            }
            Command::Keyframe => {
                let id = shared.shown.load(Ordering::SeqCst);
                if let Some(tx) = sessions.get(&id) {
                    let _ = tx.send(SessionCommand::Keyframe);
                }
            }
            Command::To(id, cmd) => match sessions.get(&id) {
                Some(tx) => {
                    let _ = tx.send(cmd);
                }
                None => tracing::debug!(id, ?cmd, "no such session: ignored"),
            },
            Command::CreateKey | Command::Invite { .. } | Command::DeclineTransfer { .. } => {
                let Some(c) = home.as_mut() else {
                    tracing::debug!(?cmd, "not logged in: ignored");
                    continue;
                };
                // Answered by events (Key, Invitation, Refused): the loop stays free.
                let sent = match cmd {
                    Command::Invite { email, lang } => {
                        c.send(&RepUp::InviteByMail { email, lang }).await
                    }
                    Command::DeclineTransfer { code } => {
                        c.send(&RepUp::DeclineTransfer { code }).await
                    }
                    _ => {
                        c.send(&RepUp::CreateKey {
                            lifetime_secs: None,
                        })
                        .await
                    }
                };
                if let Err(e) = sent {
                    notify(Update::Failed(e.to_string()));
                }
            }
        }
    }
    end_all(&mut sessions, &mut tasks).await;
    if let Some(c) = home {
        c.close().await;
    }
}

/// Asks every session to end and waits briefly for their goodbyes.
async fn end_all(
    sessions: &mut HashMap<SessionId, mpsc::UnboundedSender<SessionCommand>>,
    tasks: &mut JoinSet<()>,
) {
    // Dropping a session's sender makes its task leave the session and close.
    sessions.clear();
    let _ = tokio::time::timeout(GOODBYE * 2, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
}

enum Open {
    Accept(u64),
    Join(String),
    /// As an external supporter, with this invitation key.
    External(String),
}

/// The key of an invitation given as the key itself or as its link (`https://…/x/KEY`).
pub fn invitation_key(text: &str) -> String {
    let text = text.trim();
    match text.rfind("/x/") {
        Some(i) => text[i + 3..]
            .split(['?', '#', '/'])
            .next()
            .unwrap_or_default()
            .to_owned(),
        None => text.to_owned(),
    }
}

fn open_session(
    creds: &Option<Credentials>,
    shared: &Shared,
    sessions: &mut HashMap<SessionId, mpsc::UnboundedSender<SessionCommand>>,
    tasks: &mut JoinSet<()>,
    id: SessionId,
    how: Open,
) {
    let Some(creds) = creds.clone() else {
        (shared.notify)(Update::Session(
            id,
            SessionUpdate::Closed(Some(Notice::Failed("not logged in".into()))),
        ));
        return;
    };
    let (tx, rx) = mpsc::unbounded_channel();
    sessions.insert(id, tx);
    let shared = shared.clone();
    tasks.spawn(async move {
        let why = session(id, creds, how, rx, &shared).await.err();
        (shared.notify)(Update::Session(id, SessionUpdate::Closed(why)));
    });
}

/// One session's connection: log in, take the customer (or join), then carry the session until
/// it ends; returns why it ended abnormally.
async fn session(
    id: SessionId,
    creds: Credentials,
    how: Open,
    mut rx: mpsc::UnboundedReceiver<SessionCommand>,
    shared: &Shared,
) -> Result<(), Notice> {
    let notify = |u: SessionUpdate| (shared.notify)(Update::Session(id, u));
    let mut c = match &how {
        Open::External(key) => {
            RepClient::join_external(creds.relay, creds.pin, key, &NetConfig::default()).await
        }
        _ => match &creds.ticket {
            Some(ticket) => {
                RepClient::connect_with_proof(
                    creds.relay,
                    creds.pin,
                    &creds.user,
                    &creds.password.0,
                    Proof::Ticket(ticket.clone()),
                    &NetConfig::default(),
                )
                .await
            }
            None => {
                RepClient::connect(
                    creds.relay,
                    creds.pin,
                    &creds.user,
                    &creds.password.0,
                    &NetConfig::default(),
                )
                .await
            }
        },
    }
    .map_err(notice)?;
    c.save_files_to(Some(creds.downloads.clone()));
    notify(SessionUpdate::Me(c.id));
    let started = match how {
        Open::Accept(entry) => c.accept(entry).await,
        // Joined stays queued for the loop below.
        Open::Join(code) => c.join_session(code.trim()).await,
        // The relay puts an external straight into the session; Joined follows.
        Open::External(_) => Ok(()),
    };
    if let Err(e) = started {
        c.close().await;
        return Err(notice(e));
    }
    let mut joined = false;
    // Counted per second for the toolbar's quality line.
    let (mut frames, mut bytes) = (0u32, 0u64);
    let mut second = tokio::time::interval(std::time::Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            _ = second.tick() => {
                if joined {
                    notify(SessionUpdate::Quality {
                        rtt_ms: c.rtt().as_millis().min(u128::from(u32::MAX)) as u32,
                        fps: frames,
                        kbit_s: (bytes * 8 / 1000).min(u64::from(u32::MAX)) as u32,
                        tcp: c.transport() == lotse_net::Transport::Tcp,
                    });
                }
                (frames, bytes) = (0, 0);
            }
            cmd = rx.recv() => {
                let Some(cmd) = cmd else {
                    // The window quits or the home connection is gone: leave, then close.
                    if joined {
                        let _ = c.leave(HowEnded::WindowClosed).await;
                        let _ = tokio::time::timeout(GOODBYE, async {
                            while let Some(ev) = c.next_event().await {
                                if matches!(ev, RepEvent::Control(RepDown::Ended { .. }) | RepEvent::Disconnected(_)) {
                                    break;
                                }
                            }
                        }).await;
                    }
                    break Ok(());
                };
                if let Err(e) = carry_out(&mut c, cmd, &notify).await {
                    notify(SessionUpdate::Failed(e.to_string()));
                }
            }
            ev = c.next_event() => match ev {
                Some(RepEvent::Frame(f)) => {
                    if !f.data.is_empty() {
                        frames += 1;
                        bytes += f.data.len() as u64;
                    }
                    if shared.shown.load(Ordering::SeqCst) == id {
                        shared.video.push(id, f);
                    }
                }
                Some(RepEvent::Control(msg)) => match msg {
                    // A session connection is not the queue's: the home connection shows it.
                    RepDown::Queue { .. } | RepDown::Key { .. } | RepDown::Invitation { .. } => {}
                    RepDown::Refused { what } if !joined => break Err(Notice::Refused(what)),
                    RepDown::Ended { .. } => {
                        if shared.shown.load(Ordering::SeqCst) == id {
                            shared.video.reset();
                        }
                        notify(SessionUpdate::Control(msg));
                        break Ok(());
                    }
                    msg => {
                        if matches!(msg, RepDown::Joined { .. }) {
                            joined = true;
                        }
                        if matches!(msg, RepDown::Revoked { tier: Tier::View })
                            && shared.shown.load(Ordering::SeqCst) == id
                        {
                            shared.video.reset();
                        }
                        notify(SessionUpdate::Control(msg));
                    }
                },
                Some(RepEvent::File(f)) => notify(SessionUpdate::File(f)),
                Some(RepEvent::Clipboard(c)) => notify(SessionUpdate::Clipboard(c)),
                Some(RepEvent::Disconnected(why)) => break Err(Notice::Failed(why)),
                None => break Err(Notice::Failed("connection closed".into())),
            },
        }
    };
    c.close().await;
    result
}

/// A refusal in words the rep's language has; anything else in the system's words.
fn notice(e: RepError) -> Notice {
    match e {
        RepError::Refused(r) => Notice::Refused(r),
        e => Notice::Failed(e.to_string()),
    }
}

/// Logs in (with the second factor's `code` where one is typed). `Err(Err(_))`: the relay
/// refused the login; `Err(Ok(_))`: anything else, in the system's words.
async fn login(
    relay: &str,
    pin: &str,
    user: &str,
    password: &Password,
    code: &str,
) -> Result<(RepClient, SocketAddr, Pin), Result<String, LoginRejection>> {
    let (addr, pin) = resolve(relay, pin).await.map_err(Ok)?;
    let net = NetConfig::default();
    let c = if code.is_empty() {
        RepClient::connect(addr, pin, user.trim(), &password.0, &net).await
    } else {
        let proof = Proof::Code(code.to_owned());
        RepClient::connect_with_proof(addr, pin, user.trim(), &password.0, proof, &net).await
    };
    let c = c.map_err(|e| match e {
        RepError::Login(reason) => Err(reason),
        e => Ok(e.to_string()),
    })?;
    Ok((c, addr, pin))
}

/// The relay's address and pin as typed, checked and looked up.
async fn resolve(relay: &str, pin: &str) -> Result<(SocketAddr, Pin), String> {
    let pin: Pin = pin
        .trim()
        .parse()
        .map_err(|e| format!("the pin is not valid ({e}); it looks like sha256//…"))?;
    let relay = relay.trim().to_owned();
    let lookup = relay.clone();
    let addr = tokio::task::spawn_blocking(move || lookup.to_socket_addrs())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot find the relay {relay}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot find the relay {relay}"))?;
    Ok((addr, pin))
}

async fn carry_out(
    c: &mut RepClient,
    cmd: SessionCommand,
    notify: &impl Fn(SessionUpdate),
) -> Result<(), RepError> {
    match cmd {
        SessionCommand::Request(tier) => c.request(tier).await,
        SessionCommand::Chat(text) => c.chat(&text).await,
        SessionCommand::Input(ev) => c.send_input(&ev).await,
        SessionCommand::OfferFile(path) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let transfer = c.offer_file(&path).await?;
            notify(SessionUpdate::Offered {
                transfer,
                name,
                size,
            });
            Ok(())
        }
        SessionCommand::CancelFile {
            transfer,
            from_customer,
        } => c.cancel_file(transfer, from_customer).await,
        SessionCommand::SelectMonitor(i) => c.select_monitor(i).await,
        // Answered by an event (ShareCode or Refused): the loop stays free for video.
        SessionCommand::Share(tiers) => {
            c.send(&RepUp::ShareSession {
                tiers,
                lifetime_secs: None,
            })
            .await
        }
        SessionCommand::InviteExternal {
            profile,
            name,
            reason,
        } => {
            c.send(&RepUp::InviteExternal {
                profile,
                name,
                reason,
            })
            .await
        }
        SessionCommand::MailExternal { key, email, lang } => {
            c.send(&RepUp::MailExternal { key, email, lang }).await
        }
        SessionCommand::Transfer(to) => c.send(&RepUp::TransferToQueue { rep: to }).await,
        SessionCommand::OfferTransfer(to) => c.send(&RepUp::OfferTransfer { rep: to }).await,
        SessionCommand::Remove(rep) => c.send(&RepUp::RemoveParticipant { rep }).await,
        SessionCommand::Leave => c.leave(HowEnded::EndButton).await,
        SessionCommand::Keyframe => c.request_keyframe().await,
        SessionCommand::Sysinfo => c.request_sysinfo().await,
        SessionCommand::Paste(content) => c.paste(&content).await,
    }
}
