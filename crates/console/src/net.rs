//! The console's one network thread: it owns the [`RepClient`], carries out the window's
//! [`Command`]s and reports everything that happens as [`Update`]s. The window never waits for
//! it; video frames go straight on to the [`video`](crate::video) thread.

use crate::video::Decoding;
use lotse_net::{NetConfig, Pin};
use lotse_proto::Tier;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{RepDown, RepUp};
use lotse_rep::files::FileEvent;
use lotse_rep::{RepClient, RepError, RepEvent};
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use tokio::sync::mpsc;

/// What the window asks of the connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Login {
        relay: String,
        pin: String,
        user: String,
        password: String,
        /// Where the customers' files are saved.
        downloads: PathBuf,
    },
    CreateKey,
    Invite {
        email: String,
    },
    Accept {
        entry: u64,
    },
    Request(Tier),
    Chat(String),
    Input(InputEvent),
    OfferFile(PathBuf),
    CancelFile {
        transfer: u32,
        from_customer: bool,
    },
    SelectMonitor(u32),
    /// Ask the customer for a keyframe (the decoder lost its place).
    Keyframe,
    /// End the current session.
    Leave,
    /// Close the connection and stop the thread.
    Quit,
}

/// What the connection tells the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    LoggedIn {
        display_name: String,
    },
    /// Login failed; the text says why and what to do.
    LoginFailed(String),
    /// A message from the relay (queue, key, grants, chat, end, …).
    Control(RepDown),
    File(FileEvent),
    /// Our own transfer was offered under this id.
    Offered {
        transfer: u32,
        name: String,
        size: u64,
    },
    /// A command could not be carried out.
    Failed(String),
    /// The connection is gone.
    Disconnected(String),
}

/// The handle the window keeps: sends commands, never blocks.
#[derive(Debug, Clone)]
pub struct Net {
    tx: mpsc::UnboundedSender<Command>,
}

impl Net {
    /// Starts the network thread; `notify` is called from it for every update.
    pub fn start(
        notify: impl Fn(Update) + Send + 'static,
        video: Decoding,
    ) -> std::io::Result<Net> {
        let (tx, rx) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
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

async fn worker(
    mut rx: mpsc::UnboundedReceiver<Command>,
    notify: impl Fn(Update),
    video: Decoding,
) {
    let mut client: Option<RepClient> = None;
    loop {
        let Some(c) = client.as_mut() else {
            match rx.recv().await {
                Some(Command::Login {
                    relay,
                    pin,
                    user,
                    password,
                    downloads,
                }) => match login(&relay, &pin, &user, &password).await {
                    Ok(c) => {
                        c.save_files_to(Some(downloads));
                        notify(Update::LoggedIn {
                            display_name: c.display_name.clone(),
                        });
                        client = Some(c);
                    }
                    Err(e) => notify(Update::LoginFailed(e)),
                },
                Some(Command::Quit) | None => return,
                Some(other) => tracing::debug!(?other, "not logged in: ignored"),
            }
            continue;
        };
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                if cmd == Command::Quit {
                    break;
                }
                if let Err(e) = carry_out(c, cmd, &notify).await {
                    notify(Update::Failed(e.to_string()));
                }
            }
            ev = c.next_event() => match ev {
                Some(RepEvent::Frame(f)) => video.push(f),
                Some(RepEvent::Control(msg)) => {
                    if matches!(
                        msg,
                        RepDown::Revoked { tier: Tier::View } | RepDown::Joined { .. } | RepDown::Ended { .. }
                    ) {
                        video.reset();
                    }
                    notify(Update::Control(msg));
                }
                Some(RepEvent::File(f)) => notify(Update::File(f)),
                Some(RepEvent::Disconnected(why)) => {
                    notify(Update::Disconnected(why));
                    client = None;
                }
                None => {
                    notify(Update::Disconnected("connection closed".into()));
                    client = None;
                }
            },
        }
    }
    if let Some(c) = client {
        c.close().await;
    }
}

async fn login(relay: &str, pin: &str, user: &str, password: &str) -> Result<RepClient, String> {
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
    RepClient::connect(addr, pin, user.trim(), password, &NetConfig::default())
        .await
        .map_err(|e| e.to_string())
}

async fn carry_out(
    c: &mut RepClient,
    cmd: Command,
    notify: &impl Fn(Update),
) -> Result<(), RepError> {
    match cmd {
        // Answered by events (Key, Invitation, Refused): the loop stays free for video.
        Command::CreateKey => {
            c.send(&RepUp::CreateKey {
                lifetime_secs: None,
            })
            .await
        }
        Command::Invite { email } => c.send(&RepUp::Invite { email }).await,
        Command::Accept { entry } => c.accept(entry).await,
        Command::Request(tier) => c.request(tier).await,
        Command::Chat(text) => c.chat(&text).await,
        Command::Input(ev) => c.send_input(&ev).await,
        Command::OfferFile(path) => {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let transfer = c.offer_file(&path).await?;
            notify(Update::Offered {
                transfer,
                name,
                size,
            });
            Ok(())
        }
        Command::CancelFile {
            transfer,
            from_customer,
        } => c.cancel_file(transfer, from_customer).await,
        Command::SelectMonitor(i) => c.select_monitor(i).await,
        Command::Keyframe => c.request_keyframe().await,
        Command::Leave => c.leave("the supporter ended the session").await,
        Command::Login { .. } | Command::Quit => Ok(()),
    }
}
