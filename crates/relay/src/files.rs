//! File transfers through the relay: the relay passes bytes through without storing them, checks
//! the `files` tier and the size limit, and audits name, size, hash, who and when.
//!
//! Customer → reps: the customer's own action is the consent; only the reps that held `files`
//! when it was offered receive it, each only while it still holds `files`.
//! Rep → customer: needs `files`, an offer the customer accepted, and `files` still granted for
//! every chunk; revoking `files` cancels what is running.

use crate::hub::{Audit, CustomerId, Hub, Transfer, TransferKey};
use lotse_net::{Connection, RecvStream, SendStream};
use lotse_net::{read_msg, write_msg};
use lotse_proto::Tier;
use lotse_proto::frame::limits;
use lotse_proto::msg::{
    CustomerDown, FileFrame, ParticipantId, RepDown, StreamHeader, TransferId, TransferStop,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::{debug, info};

/// How long a file stream may wait for its announcement on the control stream.
const REGISTRATION_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Stream error code for a cancelled transfer.
const CANCELLED: u32 = 7;

fn hex(bytes: &[u8]) -> String {
    crate::store::hex(bytes)
}

/// The customer announces a file for the reps.
pub(crate) fn customer_sends(
    hub: &Hub,
    customer: CustomerId,
    transfer: TransferId,
    name: String,
    size: u64,
) -> Vec<Audit> {
    let mut st = hub.state();
    let Some(sid) = st.customers.get(&customer).and_then(|c| c.session) else {
        return Vec::new();
    };
    if size > hub.cfg.max_file_size {
        st.send_customer(
            customer,
            CustomerDown::FileCancelled {
                rep: None,
                transfer,
                reason: TransferStop::TooLarge {
                    size,
                    max: hub.cfg.max_file_size,
                },
            },
        );
        return vec![refused_audit(st.customer_label(customer), sid, &name, size)];
    }
    let Some(s) = st.sessions.get(&sid) else {
        return Vec::new();
    };
    // Only reps holding `files` may receive the customer's files.
    let recipients: Vec<ParticipantId> = s
        .reps
        .iter()
        .copied()
        .filter(|r| s.grants.get(r).is_some_and(|g| g.contains(Tier::Files)))
        // … and whose profile lets them receive files.
        .filter(|r| s.limits(*r).files_download)
        .collect();
    let name = limit_name(name);
    if recipients.is_empty() {
        st.send_customer(
            customer,
            CustomerDown::FileCancelled {
                rep: None,
                transfer,
                reason: TransferStop::NotAllowed,
            },
        );
        return vec![Audit {
            actor: st.customer_label(customer),
            action: "file.refused",
            detail: format!("session={sid} name={name:?} size={size} reason=no rep holds files"),
        }];
    }
    let to = st.logins(&recipients);
    if let Some(s) = st.sessions.get_mut(&sid) {
        s.transfers.insert(
            (None, transfer),
            Transfer {
                name: name.clone(),
                size,
                accepted: true,
                streaming: false,
                recipients: recipients.clone(),
                cancelled: Arc::new(AtomicBool::new(false)),
            },
        );
    }
    for rep in recipients {
        st.send_rep(
            rep,
            RepDown::FileIncoming {
                transfer,
                name: name.clone(),
                size,
            },
        );
    }
    vec![Audit {
        actor: st.customer_label(customer),
        action: "file.offer",
        detail: format!("session={sid} direction=to_rep name={name:?} size={size} to={to:?}"),
    }]
}

/// Most characters of a file name the relay passes on and audits; longer names are cut (the
/// receiving side makes its own safe name anyway).
pub(crate) const MAX_FILE_NAME: usize = 255;

fn limit_name(name: String) -> String {
    if name.chars().count() <= MAX_FILE_NAME {
        return name;
    }
    // Keep a short extension: the receiver sees what kind of file it is either way.
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.chars().count() <= 16)
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    let keep = MAX_FILE_NAME - ext.chars().count();
    let mut cut: String = name.chars().take(keep).collect();
    cut.push_str(&ext);
    cut
}

/// A rep offers a file to the customer.
pub(crate) fn rep_offers(
    hub: &Hub,
    rep: ParticipantId,
    transfer: TransferId,
    name: String,
    size: u64,
) -> Vec<Audit> {
    let name = limit_name(name);
    let mut st = hub.state();
    let refuse = |st: &crate::hub::State, reason: TransferStop| {
        st.send_rep(
            rep,
            RepDown::FileCancelled {
                transfer,
                from_customer: false,
                reason,
            },
        );
    };
    let Some(sid) = st.reps.get(&rep).and_then(|r| r.session) else {
        refuse(&st, TransferStop::NotInSession);
        return Vec::new();
    };
    if !st.granted(rep, Tier::Files) {
        refuse(&st, TransferStop::NotAllowed);
        return vec![Audit {
            actor: st.rep_label(rep),
            action: "file.refused",
            detail: format!("session={sid} name={name:?} size={size} reason=no files tier"),
        }];
    }
    if !st
        .sessions
        .get(&sid)
        .is_some_and(|s| s.limits(rep).files_upload)
    {
        refuse(&st, TransferStop::NotAllowed);
        return vec![Audit {
            actor: st.rep_label(rep),
            action: "file.refused",
            detail: format!("session={sid} name={name:?} size={size} reason=profile"),
        }];
    }
    if size > hub.cfg.max_file_size {
        refuse(
            &st,
            TransferStop::TooLarge {
                size,
                max: hub.cfg.max_file_size,
            },
        );
        return vec![Audit {
            actor: st.rep_label(rep),
            action: "file.refused",
            detail: format!("session={sid} name={name:?} size={size} reason=too large"),
        }];
    }
    let Some(s) = st.sessions.get_mut(&sid) else {
        return Vec::new();
    };
    s.transfers.insert(
        (Some(rep), transfer),
        Transfer {
            name: name.clone(),
            size,
            accepted: false,
            streaming: false,
            recipients: Vec::new(),
            cancelled: Arc::new(AtomicBool::new(false)),
        },
    );
    let customer = s.customer;
    st.send_customer(
        customer,
        CustomerDown::FileOffer {
            rep,
            transfer,
            name: name.clone(),
            size,
        },
    );
    vec![Audit {
        actor: st.rep_label(rep),
        action: "file.offer",
        detail: format!("session={sid} direction=to_customer name={name:?} size={size}"),
    }]
}

/// The customer chose Save or Reject.
pub(crate) fn customer_answers(
    hub: &Hub,
    customer: CustomerId,
    rep: ParticipantId,
    transfer: TransferId,
    accept: bool,
) -> Vec<Audit> {
    let mut st = hub.state();
    let Some(sid) = st.customers.get(&customer).and_then(|c| c.session) else {
        return Vec::new();
    };
    let Some(s) = st.sessions.get_mut(&sid) else {
        return Vec::new();
    };
    let key = (Some(rep), transfer);
    let Some(t) = s.transfers.get_mut(&key) else {
        return Vec::new();
    };
    let name = t.name.clone();
    if accept {
        t.accepted = true;
        st.send_rep(rep, RepDown::FileAccepted { transfer });
    } else {
        s.transfers.remove(&key);
        st.send_rep(rep, RepDown::FileRejected { transfer });
    }
    vec![Audit {
        actor: st.customer_label(customer),
        action: if accept { "file.accept" } else { "file.reject" },
        detail: format!("session={sid} rep={} name={name:?}", st.rep_label(rep)),
    }]
}

/// Someone cancels a transfer. `key.0` is the sending rep, `None` for the customer's.
pub(crate) fn cancel(hub: &Hub, sid: u64, key: TransferKey, reason: TransferStop) -> Vec<Audit> {
    let mut st = hub.state();
    let Some(s) = st.sessions.get_mut(&sid) else {
        return Vec::new();
    };
    let Some(t) = s.transfers.remove(&key) else {
        return Vec::new();
    };
    t.cancelled.store(true, Ordering::SeqCst);
    let customer = s.customer;
    let reps = s.reps.clone();
    st.send_customer(
        customer,
        CustomerDown::FileCancelled {
            rep: key.0,
            transfer: key.1,
            reason,
        },
    );
    for rep in reps {
        let concerned = match key.0 {
            None => t.recipients.contains(&rep),
            Some(sender) => sender == rep,
        };
        if concerned {
            st.send_rep(
                rep,
                RepDown::FileCancelled {
                    transfer: key.1,
                    from_customer: key.0.is_none(),
                    reason,
                },
            );
        }
    }
    vec![Audit {
        actor: "relay".into(),
        action: "file.cancel",
        detail: format!("session={sid} name={:?} reason={}", t.name, reason.code()),
    }]
}

/// Cancels every transfer `rep` sends (after `files` was revoked or the rep left).
pub(crate) fn cancel_from_rep(
    hub: &Hub,
    sid: u64,
    rep: ParticipantId,
    reason: TransferStop,
) -> Vec<Audit> {
    let keys: Vec<TransferKey> = hub
        .state()
        .sessions
        .get(&sid)
        .map(|s| {
            s.transfers
                .keys()
                .filter(|k| k.0 == Some(rep))
                .copied()
                .collect()
        })
        .unwrap_or_default();
    keys.into_iter()
        .flat_map(|k| cancel(hub, sid, k, reason))
        .collect()
}

fn refused_audit(who: String, sid: u64, name: &str, size: u64) -> Audit {
    Audit {
        actor: who,
        action: "file.refused",
        detail: format!("session={sid} name={name:?} size={size} reason=too large"),
    }
}

/// Pipes a file stream opened by the customer (`from_rep: None`) or a rep to its receivers.
pub(crate) async fn pipe(
    hub: Arc<Hub>,
    sid_of_sender: Option<u64>,
    from_rep: Option<ParticipantId>,
    transfer: TransferId,
    mut incoming: RecvStream,
) {
    let Some(sid) = sid_of_sender else {
        let _ = incoming.stop(CANCELLED);
        return;
    };
    let key = (from_rep, transfer);
    // The announcement travels on the control stream and may arrive after the data stream
    // opens: wait for it a little.
    let deadline = std::time::Instant::now() + REGISTRATION_WAIT;
    loop {
        let known = hub
            .state()
            .sessions
            .get(&sid)
            .is_some_and(|s| s.transfers.get(&key).is_some_and(|t| t.accepted));
        if known || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // One stream per transfer: a second would pass the same file again beside the first.
    let first = hub
        .state()
        .sessions
        .get_mut(&sid)
        .and_then(|s| s.transfers.get_mut(&key))
        .is_some_and(|t| t.accepted && !std::mem::replace(&mut t.streaming, true));
    if !first {
        debug!(
            ?key,
            "file stream for a transfer not accepted or already streaming"
        );
        let _ = incoming.stop(CANCELLED);
        return;
    }
    // Where the bytes go, and the transfer's facts.
    let (targets, name, size, cancelled, who) = {
        let st = hub.state();
        let Some(s) = st.sessions.get(&sid) else {
            let _ = incoming.stop(CANCELLED);
            return;
        };
        let Some(t) = s.transfers.get(&key).filter(|t| t.accepted) else {
            debug!(?key, "file stream for a transfer that is not accepted");
            let _ = incoming.stop(CANCELLED);
            return;
        };
        // Each target: the receiving rep (`None`: the customer), its connection, its header.
        let targets: Vec<(Option<ParticipantId>, Connection, StreamHeader)> = match from_rep {
            None => t
                .recipients
                .iter()
                .filter(|r| s.grants.get(r).is_some_and(|g| g.contains(Tier::Files)))
                .filter(|r| s.limits(**r).files_download)
                .filter_map(|r| st.reps.get(r).map(|slot| (*r, slot)))
                .map(|(r, slot)| {
                    (
                        Some(r),
                        slot.conn.clone(),
                        StreamHeader::File { rep: 0, transfer },
                    )
                })
                .collect(),
            Some(rep) => st
                .customers
                .get(&s.customer)
                .map(|c| vec![(None, c.conn.clone(), StreamHeader::File { rep, transfer })])
                .unwrap_or_default(),
        };
        let who = match from_rep {
            None => st.customer_label(s.customer),
            Some(rep) => st.rep_label(rep),
        };
        (targets, t.name.clone(), t.size, t.cancelled.clone(), who)
    };
    let mut outs: Vec<(Option<ParticipantId>, SendStream)> = Vec::new();
    for (to, conn, header) in targets {
        if let Ok(mut s) = conn.open_uni().await
            && write_msg(&mut s, &header, limits::STREAM_HEADER)
                .await
                .is_ok()
        {
            outs.push((to, s));
        }
    }
    let mut passed: u64 = 0;
    // The relay's own hash of the bytes it passed on: the audit records this, not the sender's
    // claim, and a claim that differs fails the transfer.
    let mut hasher = Sha256::new();
    let mut mismatch: Option<([u8; 32], [u8; 32])> = None;
    let outcome: Result<[u8; 32], TransferStop> = loop {
        let frame = match read_msg::<FileFrame>(&mut incoming, limits::FILE_CHUNK + 64).await {
            Ok(Some(f)) => f,
            Ok(None) => break Err(TransferStop::SenderStopped),
            Err(e) => {
                tracing::debug!(session = sid, "a file's stream failed: {e}");
                break Err(TransferStop::SenderStopped);
            }
        };
        if cancelled.load(Ordering::SeqCst) {
            // Whoever cancelled has been told with their reason; the `cancel` below finds the
            // transfer gone and says nothing more.
            break Err(TransferStop::CancelledByRep);
        }
        // Rep → customer needs `files` for every chunk: a revoke stops the file mid-way.
        if let Some(rep) = from_rep
            && !hub.state().granted(rep, Tier::Files)
        {
            break Err(TransferStop::FilesRevoked);
        }
        // Customer → reps: a rep that lost `files` gets nothing more of it.
        if from_rep.is_none() {
            let st = hub.state();
            outs.retain_mut(|(to, out)| {
                let keep = to.is_none_or(|r| st.granted(r, Tier::Files));
                if !keep {
                    let _ = out.reset(CANCELLED);
                }
                keep
            });
        }
        if let FileFrame::Chunk(bytes) = &frame {
            passed += bytes.len() as u64;
            if passed > size {
                break Err(TransferStop::TooManyBytes);
            }
            hasher.update(bytes);
        }
        if let FileFrame::End { sha256: claimed } = &frame {
            let own: [u8; 32] = hasher.clone().finalize().into();
            if own != *claimed {
                // The receivers never see an end: their streams are reset below.
                mismatch = Some((*claimed, own));
                break Err(TransferStop::SenderStopped);
            }
        }
        let mut delivered = false;
        for (_, out) in outs.iter_mut() {
            let sent = write_msg(out, &frame, limits::FILE_CHUNK + 64)
                .await
                .is_ok();
            if sent && let FileFrame::Chunk(bytes) = &frame {
                hub.counters
                    .file_bytes
                    .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            delivered |= sent;
        }
        if !delivered {
            break Err(TransferStop::NoReceiver);
        }
        if let FileFrame::End { sha256 } = frame {
            // Take the sender's end-of-stream too, so that it sees a clean finish.
            let _ = incoming.read_to_end(64).await;
            break Ok(sha256);
        }
    };
    match outcome {
        Ok(sha256) => {
            let receivers: Vec<ParticipantId> = outs.iter().filter_map(|(to, _)| *to).collect();
            for (_, mut out) in outs {
                let _ = out.finish();
            }
            let to = match from_rep {
                None => hub.state().logins(&receivers),
                Some(_) => vec!["customer".to_owned()],
            };
            hub.state()
                .sessions
                .get_mut(&sid)
                .map(|s| s.transfers.remove(&key));
            info!(%name, size, "file passed through");
            let _ = hub
                .audit(
                    &who,
                    "file.done",
                    &format!(
                        "session={sid} name={name:?} size={passed} sha256={} to={to:?}",
                        hex(&sha256)
                    ),
                )
                .await;
        }
        Err(reason) => {
            for (_, mut out) in outs {
                let _ = out.reset(CANCELLED);
            }
            let _ = incoming.stop(CANCELLED);
            if let Some((claimed, own)) = mismatch {
                tracing::warn!(session = sid, %name, "a file's bytes do not match the sender's hash");
                let _ = hub
                    .audit(
                        &who,
                        "file.failed",
                        &format!(
                            "session={sid} name={name:?} size={passed} reason=hash_mismatch \
                             claimed_sha256={} relay_sha256={}",
                            hex(&claimed),
                            hex(&own)
                        ),
                    )
                    .await;
            }
            let audits = cancel(&hub, sid, key, reason);
            let _ = hub.write_audits(audits).await;
        }
    }
}
