//! The rep's side of Lotse as a library: log in to the relay, make session keys, take customers
//! from the queue, ask for permissions, receive video, send input and chat.
//!
//! The CLI (`lotse-rep`) and the desktop console are thin layers over [`RepClient`], so they
//! cannot disagree about the protocol.

pub mod decoder_process;
pub mod video;

pub use video::{Picture, Received, ReceiverStats, VideoReceiver};

use lotse_net::{Connection, ConnectionError, RecvStream, SendStream};
use lotse_net::{NetConfig, NetError, Pin, read_msg, write_msg};
use lotse_proto::frame::limits;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{
    ClipContent, EndReason, Hello, HowEnded, LoginRejection, MailFailure, ParticipantId, Proof,
    Refusal, RepDown, RepUp, Role, StreamHeader, TransferId, VideoFrame,
};
use lotse_proto::{PROTOCOL_VERSION, Tier, TierSet};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};

pub mod files;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;

/// What happened, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepEvent {
    /// A control message from the relay.
    Control(RepDown),
    /// A video frame from the customer.
    Frame(VideoFrame),
    /// The connection to the relay is gone; the text says why.
    Disconnected(String),
    /// A file transfer moved on.
    File(files::FileEvent),
    /// What the customer copied (this rep holds `clipboard`).
    Clipboard(ClipContent),
}

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RepError {
    #[error(transparent)]
    Connect(#[from] lotse_net::Endpoints),
    #[error("the relay closed the connection: {0}")]
    Closed(String),
    #[error("login refused: {}", login_text(.0))]
    Login(LoginRejection),
    #[error("the relay speaks protocol version {0}, this program {PROTOCOL_VERSION}")]
    Version(u16),
    #[error("the relay did not answer in time")]
    Timeout,
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("the relay refused: {0}")]
    Refused(Refusal),
    #[error("the relay answered out of turn: {0}")]
    Unexpected(String),
    #[error("{0}")]
    File(String),
    /// An external's invitation is open at this other relay of the installation.
    #[error("sent on to the relay {0}")]
    Moved(String),
}

/// The first address of `relay` (`host:port`).
async fn resolve(relay: &str) -> Result<SocketAddr, RepError> {
    tokio::net::lookup_host(relay)
        .await
        .map_err(|e| RepError::Unexpected(format!("cannot resolve {relay}: {e}")))?
        .next()
        .ok_or_else(|| RepError::Unexpected(format!("cannot resolve {relay}")))
}

/// Why a login was refused, for people (English; the console has its own words).
pub fn login_text(r: &LoginRejection) -> &'static str {
    match r {
        LoginRejection::BadCredentials => "wrong name or password",
        LoginRejection::Locked => "too many failed logins; try again later",
        LoginRejection::CodeNeeded => "this account needs the code from its authenticator app",
        LoginRejection::BadCode => "the code is wrong, already used or expired",
        LoginRejection::SetUpSecondFactor => {
            "this account must set up a second factor first: sign in on the portal (/login)"
        }
        LoginRejection::Disabled => "this account is disabled",
    }
}

/// A logged-in rep connection.
#[derive(Debug)]
pub struct RepClient {
    conn: Connection,
    send: SendStream,
    events: mpsc::Receiver<RepEvent>,
    pending: VecDeque<RepEvent>,
    input: Option<SendStream>,
    files: files::Files,
    next_transfer: TransferId,
    /// This connection's participant id at the relay.
    pub id: ParticipantId,
    /// The name customers see.
    pub display_name: String,
    /// After a login with a second factor code: the ticket (and its expiry, Unix s) with which
    /// further connections of this program log in instead of a new code.
    pub ticket: Option<(String, u64)>,
    /// The relay's pin and how to connect: a redirect to another relay of the installation
    /// (which shares the pin) connects the same way.
    pin: Pin,
    net: NetConfig,
    /// The relay this connection is to.
    pub relay: SocketAddr,
    /// An external's invitation key, given again at the relay a redirect names (externals
    /// have no account, so no ticket).
    external_key: Option<String>,
    /// A redirect being followed by [`RepClient::next_event`]: the relay, the ticket and the
    /// connection to that relay, made by a task of its own. `next_event` is awaited in
    /// `select!` loops beside timers (the console's session loop); a future dropped half-way
    /// must neither lose the redirect nor the connection being made.
    following: Option<Following>,
}

type Following = (
    String,
    String,
    tokio::task::JoinHandle<Result<RepClient, RepError>>,
);

const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

impl RepClient {
    /// Connects to the relay (trusting only `pin`) and logs in.
    pub async fn connect(
        relay: SocketAddr,
        pin: Pin,
        user: &str,
        password: &str,
        net: &NetConfig,
    ) -> Result<RepClient, RepError> {
        let login = RepUp::Login {
            user: user.to_owned(),
            password: password.to_owned(),
        };
        Self::connect_with(relay, pin, login, net).await
    }

    /// Like [`RepClient::connect`], with a second factor: a TOTP or recovery code, or the
    /// ticket of an earlier connection ([`RepClient::ticket`]).
    pub async fn connect_with_proof(
        relay: SocketAddr,
        pin: Pin,
        user: &str,
        password: &str,
        proof: Proof,
        net: &NetConfig,
    ) -> Result<RepClient, RepError> {
        let login = RepUp::LoginWith {
            user: user.to_owned(),
            password: password.to_owned(),
            proof,
        };
        Self::connect_with(relay, pin, login, net).await
    }

    /// Connects as an external supporter with an invitation key (no account): the relay puts
    /// this connection straight into the session the invitation opens (a `Joined` event
    /// follows), under the invitation's profile, and logs it out when that session ends for it.
    pub async fn join_external(
        relay: SocketAddr,
        pin: Pin,
        key: &str,
        net: &NetConfig,
    ) -> Result<RepClient, RepError> {
        let first = RepUp::JoinExternal {
            key: key.to_owned(),
        };
        match Self::connect_with(relay, pin, first.clone(), net).await {
            // The invitation is open at another relay of the installation: the key again there.
            Err(RepError::Moved(to)) => {
                let addr = resolve(&to).await?;
                match Self::connect_with(addr, pin, first, net).await {
                    Err(RepError::Moved(again)) => Err(RepError::Unexpected(format!(
                        "sent on a second time (to {again})"
                    ))),
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn connect_with(
        relay: SocketAddr,
        pin: Pin,
        first: RepUp,
        net: &NetConfig,
    ) -> Result<RepClient, RepError> {
        let conn = lotse_net::connect(relay, pin, net).await?;
        let net = net.clone();
        let external_key = match &first {
            RepUp::JoinExternal { key } => Some(key.clone()),
            _ => None,
        };
        let (mut send, mut recv) = conn
            .open_bi()
            .await
            .map_err(|e| RepError::Closed(e.to_string()))?;
        let hello = Hello {
            version: PROTOCOL_VERSION,
            role: Role::Rep,
            agent: format!("lotse-rep {}", env!("CARGO_PKG_VERSION")),
        };
        write_msg(&mut send, &hello, limits::CONTROL).await?;
        let theirs = tokio::time::timeout(
            ANSWER_TIMEOUT,
            read_msg::<Hello>(&mut recv, limits::CONTROL),
        )
        .await
        .map_err(|_| RepError::Timeout)??
        .ok_or_else(|| RepError::Closed(close_text(&conn)))?;
        if theirs.version != PROTOCOL_VERSION {
            return Err(RepError::Version(theirs.version));
        }
        write_msg(&mut send, &first, limits::CONTROL).await?;
        let mut ticket = None;
        let answer = loop {
            let answer = tokio::time::timeout(
                ANSWER_TIMEOUT,
                read_msg::<RepDown>(&mut recv, limits::CONTROL),
            )
            .await
            .map_err(|_| RepError::Timeout)??;
            match answer {
                Some(RepDown::LoginTicket {
                    ticket: t,
                    expires_at,
                }) if ticket.is_none() => ticket = Some((t, expires_at)),
                answer => break answer,
            }
        };
        let (id, display_name) = match answer {
            Some(RepDown::LoginOk { rep, display_name }) => (rep, display_name),
            Some(RepDown::Redirect { relay, ticket })
                if ticket.is_empty()
                    && matches!(first, RepUp::JoinExternal { .. })
                    && relay.len() <= lotse_proto::msg::MAX_REDIRECT_BYTES =>
            {
                conn.close(0, b"sent on");
                return Err(RepError::Moved(relay));
            }
            Some(RepDown::LoginRejected { reason }) => return Err(RepError::Login(reason)),
            Some(RepDown::Refused { what }) => return Err(RepError::Refused(what)),
            Some(other) => return Err(RepError::Unexpected(format!("{other:?}"))),
            None => return Err(RepError::Closed(close_text(&conn))),
        };
        let (tx, events) = mpsc::channel(256);
        let files = files::Files::default();
        tokio::spawn(read_control(recv, conn.clone(), tx.clone(), files.clone()));
        tokio::spawn(accept_video(conn.clone(), tx.clone(), files.clone()));
        Ok(RepClient {
            conn,
            send,
            events,
            pending: VecDeque::new(),
            input: None,
            files,
            next_transfer: 0,
            id,
            display_name,
            ticket,
            pin,
            net,
            relay,
            external_key,
            following: None,
        })
    }

    /// Starts connecting to the relay a redirect names, in a task of its own.
    fn start_follow(
        &self,
        relay: &str,
        ticket: &str,
    ) -> Result<tokio::task::JoinHandle<Result<RepClient, RepError>>, RepError> {
        if relay.len() > lotse_proto::msg::MAX_REDIRECT_BYTES
            || ticket.len() > lotse_proto::msg::MAX_REDIRECT_BYTES
        {
            return Err(RepError::Unexpected("an oversized redirect".into()));
        }
        // An external gives the key again; a rep logs in with the ticket.
        let first = match (&self.external_key, ticket.is_empty()) {
            (Some(key), true) => RepUp::JoinExternal { key: key.clone() },
            _ => RepUp::LoginHandover {
                ticket: ticket.to_owned(),
            },
        };
        let (relay, pin, net) = (relay.to_owned(), self.pin, self.net.clone());
        Ok(tokio::spawn(async move {
            let addr = resolve(&relay).await?;
            Self::connect_with(addr, pin, first, &net).await
        }))
    }

    /// Goes on with the connection a redirect made (events kept for [`RepClient::next_event`]
    /// stay); the old one is closed in the background.
    fn switch_to(&mut self, mut there: RepClient) {
        there.ticket = self.ticket.take();
        there.pending = std::mem::take(&mut self.pending);
        let here = std::mem::replace(self, there);
        tokio::spawn(here.close());
    }

    /// Sends one control message, to the relay the session is at: a redirect half-followed
    /// (a `next_event` dropped before it finished) is finished first, so nothing goes to the
    /// relay this connection is leaving.
    pub async fn send(&mut self, msg: &RepUp) -> Result<(), RepError> {
        self.settle_redirect().await?;
        write_msg(&mut self.send, msg, limits::CONTROL).await?;
        Ok(())
    }

    /// Finishes a redirect being followed, if there is one; its `Redirect` (or the
    /// `Disconnected` saying why it failed) is kept for [`RepClient::next_event`].
    /// Cancel-safe like `next_event`.
    async fn settle_redirect(&mut self) -> Result<(), RepError> {
        if self.following.is_none() {
            return Ok(());
        }
        match self.finish_following().await {
            Some(RepEvent::Disconnected(why)) => {
                self.pending.push_back(RepEvent::Disconnected(why.clone()));
                Err(RepError::Closed(why))
            }
            Some(ev) => {
                self.pending.push_back(ev);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Whether a redirect is being followed (a `next_event` was dropped before it could
    /// finish one); the next `next_event`, or anything sent, finishes it.
    pub fn redirect_in_progress(&self) -> bool {
        self.following.is_some()
    }

    /// The next event; `None` once the connection is gone and everything was delivered.
    ///
    /// A redirect to another relay of the installation is followed here, then reported as
    /// the `Redirect` message (or as `Disconnected` if the other relay cannot be reached).
    ///
    /// Cancel-safe: dropped before it returns (a `select!` branch beside it won), it loses
    /// nothing; a redirect being followed goes on in its own task and the next call finishes it.
    pub async fn next_event(&mut self) -> Option<RepEvent> {
        // Kept events were handled when they arrived (a redirect among them was followed).
        if let Some(e) = self.pending.pop_front() {
            return Some(e);
        }
        self.receive().await
    }

    /// The next event from the relay, a redirect followed through the one `following` slot
    /// (cancel-safe: see [`RepClient::next_event`]).
    async fn receive(&mut self) -> Option<RepEvent> {
        if self.following.is_none() {
            let ev = self.events.recv().await;
            let Some(RepEvent::Control(RepDown::Redirect { relay, ticket })) = &ev else {
                return ev;
            };
            match self.start_follow(relay, ticket) {
                Ok(task) => self.following = Some((relay.clone(), ticket.clone(), task)),
                Err(e) => {
                    return Some(RepEvent::Disconnected(format!(
                        "sent to the relay {relay}, which did not take this login: {e}"
                    )));
                }
            }
        }
        self.finish_following().await
    }

    /// Waits for the connection a redirect is making and goes on with it: the `Redirect`
    /// once there, `Disconnected` if that relay cannot be reached, `None` without a redirect.
    async fn finish_following(&mut self) -> Option<RepEvent> {
        let (_, _, task) = self.following.as_mut()?;
        let made = task.await;
        let (relay, ticket, _) = self.following.take()?;
        let failed = match made {
            Ok(Ok(there)) => {
                self.switch_to(there);
                return Some(RepEvent::Control(RepDown::Redirect { relay, ticket }));
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => format!("the redirect's task failed: {e}"),
        };
        Some(RepEvent::Disconnected(format!(
            "sent to the relay {relay}, which did not take this login: {failed}"
        )))
    }

    /// Makes a session key; returns it formatted for reading aloud, with its expiry (Unix s).
    pub async fn create_key(
        &mut self,
        lifetime: Option<Duration>,
    ) -> Result<(String, u64), RepError> {
        let lifetime_secs = lifetime.map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        self.send(&RepUp::CreateKey { lifetime_secs }).await?;
        self.wait_for(|e| match e {
            RepEvent::Control(RepDown::Key { key, expires_at }) => {
                Some(Ok((key.clone(), *expires_at)))
            }
            RepEvent::Control(RepDown::Refused { what }) => Some(Err(RepError::Refused(*what))),
            _ => None,
        })
        .await
    }

    /// Makes a one-time invitation link to the support portal for `email`; returns the link
    /// and its expiry (Unix s). The relay refuses when it runs no portal.
    pub async fn invite(&mut self, email: &str) -> Result<(String, u64), RepError> {
        self.send(&RepUp::Invite {
            email: email.to_owned(),
        })
        .await?;
        self.wait_for(|e| match e {
            RepEvent::Control(RepDown::Invitation { url, expires_at }) => {
                Some(Ok((url.clone(), *expires_at)))
            }
            RepEvent::Control(RepDown::Refused { what }) => Some(Err(RepError::Refused(*what))),
            _ => None,
        })
        .await
    }

    /// Like [`RepClient::invite`], and the relay mails the link to `email` in `lang`; returns
    /// the link once the mail was handed to the mail server, or why it was not.
    pub async fn invite_by_mail(
        &mut self,
        email: &str,
        lang: &str,
    ) -> Result<(String, Result<(), MailFailure>), RepError> {
        self.send(&RepUp::InviteByMail {
            email: email.to_owned(),
            lang: lang.to_owned(),
        })
        .await?;
        let url = self
            .wait_for(|e| match e {
                RepEvent::Control(RepDown::Invitation { url, .. }) => Some(Ok(url.clone())),
                RepEvent::Control(RepDown::Refused { what }) => Some(Err(RepError::Refused(*what))),
                _ => None,
            })
            .await?;
        let mailed = self
            .wait_for(|e| match e {
                RepEvent::Control(RepDown::MailSent { .. }) => Some(Ok(Ok(()))),
                RepEvent::Control(RepDown::MailFailed { why, .. }) => Some(Ok(Err(*why))),
                _ => None,
            })
            .await?;
        Ok((url, mailed))
    }

    /// Invites another rep into the running session (owner only): returns a one-time code to
    /// hand over, formatted for reading aloud, and its expiry (Unix s). `tiers` is the
    /// invitation's profile: the invited rep may ask the customer for these tiers only.
    pub async fn share_session(
        &mut self,
        tiers: TierSet,
        lifetime: Option<Duration>,
    ) -> Result<(String, u64), RepError> {
        let lifetime_secs = lifetime.map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
        self.send(&RepUp::ShareSession {
            tiers,
            lifetime_secs,
        })
        .await?;
        self.wait_for(|e| match e {
            RepEvent::Control(RepDown::ShareCode {
                code, expires_at, ..
            }) => Some(Ok((code.clone(), *expires_at))),
            RepEvent::Control(RepDown::Refused { what }) => Some(Err(RepError::Refused(*what))),
            _ => None,
        })
        .await
    }

    /// Joins a running session with a code from its owner; the `Joined` event stays queued for
    /// [`RepClient::next_event`] like after [`RepClient::accept`].
    pub async fn join_session(&mut self, code: &str) -> Result<(), RepError> {
        self.send(&RepUp::JoinSession {
            code: code.to_owned(),
        })
        .await?;
        let joined = self
            .wait_for(|e| match e {
                RepEvent::Control(m @ RepDown::Joined { .. }) => Some(Ok(m.clone())),
                RepEvent::Control(RepDown::Refused { what }) => Some(Err(RepError::Refused(*what))),
                _ => None,
            })
            .await?;
        self.pending.push_back(RepEvent::Control(joined));
        Ok(())
    }

    /// Waits for an event `pick` accepts, keeping the others for [`RepClient::next_event`].
    async fn wait_for<T>(
        &mut self,
        pick: impl Fn(&RepEvent) -> Option<Result<T, RepError>>,
    ) -> Result<T, RepError> {
        let deadline = tokio::time::Instant::now() + ANSWER_TIMEOUT;
        loop {
            // A redirect (sent to another relay of the installation: the answer comes from
            // there) is followed by `receive`, through the same slot as in `next_event`.
            let ev = tokio::time::timeout_at(deadline, self.receive())
                .await
                .map_err(|_| RepError::Timeout)?
                .ok_or_else(|| RepError::Closed(close_text(&self.conn)))?;
            if let Some(r) = pick(&ev) {
                return r;
            }
            if let RepEvent::Disconnected(why) = ev {
                return Err(RepError::Closed(why));
            }
            self.pending.push_back(ev);
        }
    }

    /// Takes a waiting customer.
    pub async fn accept(&mut self, entry: u64) -> Result<(), RepError> {
        self.send(&RepUp::Accept { entry }).await
    }

    /// Asks the customer for a tier; the answer arrives as an event.
    pub async fn request(&mut self, tier: Tier) -> Result<(), RepError> {
        self.send(&RepUp::Request { tier }).await
    }

    pub async fn chat(&mut self, text: &str) -> Result<(), RepError> {
        self.send(&RepUp::Chat {
            text: text.to_owned(),
        })
        .await
    }

    pub async fn request_keyframe(&mut self) -> Result<(), RepError> {
        self.send(&RepUp::KeyframeRequest).await
    }

    /// Sends one input event (the relay and the customer drop it without `control`).
    pub async fn send_input(&mut self, ev: &InputEvent) -> Result<(), RepError> {
        self.settle_redirect().await?;
        if self.input.is_none() {
            let mut s = self
                .conn
                .open_uni()
                .await
                .map_err(|e| RepError::Closed(e.to_string()))?;
            write_msg(
                &mut s,
                &StreamHeader::Input { rep: self.id },
                limits::STREAM_HEADER,
            )
            .await?;
            self.input = Some(s);
        }
        if let Some(s) = self.input.as_mut() {
            write_msg(s, ev, limits::INPUT).await?;
        }
        Ok(())
    }

    /// Where files the customer sends are saved; without one they are refused.
    pub fn save_files_to(&self, dir: Option<std::path::PathBuf>) {
        *self
            .files
            .save_dir
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = dir;
    }

    /// Offers a file to the customer under its own name; the bytes go once the customer saves.
    pub async fn offer_file(&mut self, path: &std::path::Path) -> Result<TransferId, RepError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        self.offer_file_as(path, &name).await
    }

    /// Puts `content` on the customer's clipboard (needs `clipboard`; without it the relay
    /// drops it and nothing is said).
    pub async fn paste(&mut self, content: &ClipContent) -> Result<(), RepError> {
        self.settle_redirect().await?;
        let mut s = self
            .conn
            .open_uni()
            .await
            .map_err(|e| RepError::Closed(e.to_string()))?;
        write_msg(
            &mut s,
            &StreamHeader::Clipboard { rep: 0 },
            limits::STREAM_HEADER,
        )
        .await?;
        write_msg(&mut s, content, limits::CLIPBOARD).await?;
        let _ = s.finish();
        Ok(())
    }

    /// Offers a file under a name of our choosing (the customer's side makes any name safe).
    pub async fn offer_file_as(
        &mut self,
        path: &std::path::Path,
        name: &str,
    ) -> Result<TransferId, RepError> {
        let size = std::fs::metadata(path)
            .map_err(|e| RepError::File(format!("cannot read {}: {e}", path.display())))?
            .len();
        self.next_transfer += 1;
        let transfer = self.next_transfer;
        self.files
            .outgoing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(transfer, (path.to_path_buf(), Default::default()));
        self.send(&RepUp::OfferFile {
            transfer,
            name: name.to_owned(),
            size,
        })
        .await?;
        Ok(transfer)
    }

    /// Stops a transfer: ours, or (`from_customer`) one the customer is sending.
    pub async fn cancel_file(
        &mut self,
        transfer: TransferId,
        from_customer: bool,
    ) -> Result<(), RepError> {
        self.files.cancel(transfer, from_customer);
        self.send(&RepUp::FileCancel {
            transfer,
            from_customer,
        })
        .await
    }

    /// Asks the customer to share another monitor.
    pub async fn select_monitor(&mut self, index: u32) -> Result<(), RepError> {
        self.send(&RepUp::SelectMonitor { index }).await
    }

    /// The connection's current round-trip time to the relay, as QUIC (or TCP) measures it.
    pub fn rtt(&self) -> std::time::Duration {
        self.conn.rtt()
    }

    /// Which transport the connection to the relay runs on.
    pub fn transport(&self) -> lotse_net::Transport {
        self.conn.transport()
    }

    /// Asks for a fresh system report (needs `sysinfo`; the report arrives as
    /// [`RepDown::Sysinfo`], or `Refused` with `NotGranted`).
    pub async fn request_sysinfo(&mut self) -> Result<(), RepError> {
        self.send(&RepUp::SysinfoRequest).await
    }

    /// Leaves the session (ending it, as its owner).
    pub async fn leave(&mut self, reason: HowEnded) -> Result<(), RepError> {
        self.send(&RepUp::Leave { reason }).await
    }

    /// Closes the connection and waits briefly for the close to reach the relay.
    pub async fn close(mut self) {
        let _ = self.send.finish();
        self.conn.close(0, b"rep closed");
        let _ = tokio::time::timeout(Duration::from_secs(1), self.conn.wait_idle()).await;
    }
}

fn close_text(conn: &Connection) -> String {
    match conn.close_reason() {
        Some(ConnectionError::ApplicationClosed { reason, .. }) => {
            String::from_utf8_lossy(&reason).into_owned()
        }
        Some(other) => other.to_string(),
        None => "connection closed".into(),
    }
}

async fn read_control(
    mut recv: RecvStream,
    conn: Connection,
    tx: mpsc::Sender<RepEvent>,
    files: files::Files,
) {
    loop {
        match read_msg::<RepDown>(&mut recv, limits::CONTROL).await {
            Ok(Some(msg)) => {
                match &msg {
                    RepDown::FileIncoming {
                        transfer,
                        name,
                        size,
                    } => {
                        files.note_incoming(*transfer, name.clone(), *size);
                    }
                    RepDown::FileCancelled {
                        transfer,
                        from_customer,
                        ..
                    } => {
                        files.cancel(*transfer, *from_customer);
                    }
                    RepDown::FileRejected { transfer } => files.cancel(*transfer, false),
                    RepDown::FileAccepted { transfer } => {
                        tokio::spawn(files::send(
                            conn.clone(),
                            files.clone(),
                            *transfer,
                            tx.clone(),
                        ));
                    }
                    _ => {}
                }
                if tx.send(RepEvent::Control(msg)).await.is_err() {
                    return;
                }
            }
            Ok(None) | Err(_) => {
                let _ = tx.send(RepEvent::Disconnected(close_text(&conn))).await;
                return;
            }
        }
    }
}

async fn accept_video(conn: Connection, tx: mpsc::Sender<RepEvent>, files: files::Files) {
    let clip_busy = std::sync::Arc::new(AtomicBool::new(false));
    while let Ok(mut stream) = conn.accept_uni().await {
        let tx = tx.clone();
        let files = files.clone();
        let clip_busy = clip_busy.clone();
        tokio::spawn(async move {
            match read_msg::<StreamHeader>(&mut stream, limits::STREAM_HEADER).await {
                Ok(Some(StreamHeader::Video)) => {}
                Ok(Some(StreamHeader::File { transfer, .. })) => {
                    files::receive(files, transfer, stream, tx).await;
                    return;
                }
                Ok(Some(StreamHeader::Clipboard { .. })) => {
                    // One content at a time: its room (up to 8 MiB) is taken before the bytes
                    // arrive, so a relay must not make us hold many at once.
                    if clip_busy.swap(true, Ordering::SeqCst) {
                        let _ = stream.stop(1u32);
                        return;
                    }
                    let read = read_msg::<ClipContent>(&mut stream, limits::CLIPBOARD).await;
                    clip_busy.store(false, Ordering::SeqCst);
                    if let Ok(Some(c)) = read {
                        let _ = tx.send(RepEvent::Clipboard(c)).await;
                    }
                    return;
                }
                _ => return,
            }
            while let Ok(Some(frame)) = read_msg::<VideoFrame>(&mut stream, limits::VIDEO).await {
                // A slow application loses frames here rather than growing memory.
                if let Err(mpsc::error::TrySendError::Closed(_)) =
                    tx.try_send(RepEvent::Frame(frame))
                {
                    return;
                }
            }
        });
    }
}

/// Who ended (`customer`, `rep`, `relay`, `admin`, `peer_lost`, `relay_shutdown`, `cancelled`,
/// `protocol`), how
/// as a stable code (`window_closed`, `time_limit`, …; the same as who for the others), and an
/// English text for people reading logs.
pub fn end_kind(reason: &EndReason) -> (&'static str, &'static str, String) {
    match reason {
        EndReason::Customer(how) => ("customer", how.code(), how.to_string()),
        EndReason::Rep(how) => ("rep", how.code(), how.to_string()),
        EndReason::PeerLost => ("peer_lost", "peer_lost", "connection lost".into()),
        EndReason::RelayShutdown => (
            "relay_shutdown",
            "relay_shutdown",
            "the relay shut down".into(),
        ),
        EndReason::Cancelled => ("cancelled", "cancelled", "the customer cancelled".into()),
        EndReason::Protocol(t) => ("protocol", "protocol", t.clone()),
        EndReason::RemovedByCustomer => (
            "customer",
            "removed",
            "the customer removed you from the session".into(),
        ),
        EndReason::RemovedByOwner => (
            "rep",
            "removed",
            "the session's owner removed you from the session".into(),
        ),
        EndReason::OwnerGone => (
            "relay",
            "owner_gone",
            "the session's owner left and no colleague was left to take it over".into(),
        ),
        EndReason::Transferred { to } => (
            "rep",
            "transferred",
            format!("the customer was handed to {to}'s queue"),
        ),
        EndReason::ByAdministrator { why } => (
            "admin",
            "admin",
            format!("an administrator ended the session: {why}"),
        ),
    }
}
