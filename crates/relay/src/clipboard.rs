//! Clipboard content (tier `clipboard`) through the relay: one content per stream, one stream
//! per peer at a time, bounded by the configured size, passed only where the customer's grants
//! (as mirrored here) allow at the moment it is passed on, audited by kind and size — never by
//! content — before it goes (fail closed).

use crate::hub::{Audit, CustomerId, Hub};
use lotse_net::{Connection, RecvStream};
use lotse_net::{read_msg, write_msg};
use lotse_proto::Tier;
use lotse_proto::frame::limits;
use lotse_proto::msg::{ClipContent, ParticipantId, StreamHeader};
use std::sync::Arc;
use std::time::Duration;
use tracing::debug;

/// How long one content may take to arrive or to be delivered.
const TRANSFER_TIME: Duration = Duration::from_secs(60);

/// The PNG signature: picture content must start with it.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The customer copied something: to every rep of the session holding `clipboard`.
pub(crate) async fn from_customer(hub: &Arc<Hub>, customer: CustomerId, mut stream: RecvStream) {
    let admitted = {
        let mut st = hub.state();
        let sid = st.customers.get(&customer).and_then(|c| c.session);
        let anyone = sid
            .and_then(|sid| st.sessions.get(&sid))
            .is_some_and(|s| s.reps.iter().any(|r| st.granted(*r, Tier::Clipboard)));
        anyone
            && st
                .customers
                .get_mut(&customer)
                .is_some_and(|c| !std::mem::replace(&mut c.clip_open, true))
    };
    if !admitted {
        debug!("customer clipboard without a rep holding clipboard, or a second one; refused");
        let _ = stream.stop(crate::conn::code::PROTOCOL);
        return;
    }
    let content = read_content(hub, &mut stream).await;
    if let Some(c) = hub.state().customers.get_mut(&customer) {
        c.clip_open = false;
    }
    let Some(content) = content else { return };
    // Receivers as of now: a revoke during the read counts.
    let (actor, sid, to) = {
        let st = hub.state();
        let Some(c) = st.customers.get(&customer) else {
            return;
        };
        let Some(sid) = c.session else { return };
        let to: Vec<(ParticipantId, Connection)> = st
            .sessions
            .get(&sid)
            .map(|s| {
                s.reps
                    .iter()
                    .filter(|r| st.granted(**r, Tier::Clipboard))
                    .filter_map(|r| st.reps.get(r).map(|slot| (*r, slot.conn.clone())))
                    .collect()
            })
            .unwrap_or_default();
        (c.label.clone(), sid, to)
    };
    if to.is_empty() {
        return;
    }
    let names = hub
        .state()
        .logins(&to.iter().map(|(r, _)| *r).collect::<Vec<_>>());
    let audit = Audit {
        actor,
        action: "clipboard.to_reps",
        detail: format!(
            "session={sid} kind={} bytes={} to={names:?}",
            content.kind(),
            content.len()
        ),
    };
    if hub.write_audits(vec![audit]).await.is_err() {
        return;
    }
    let content = Arc::new(content);
    hub.counters.clipboard_bytes.fetch_add(
        (content.len() * to.len()) as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    for (_, conn) in to {
        tokio::spawn(deliver(conn, 0, content.clone()));
    }
}

/// A rep pasted something: to the customer, if the rep holds `clipboard`.
pub(crate) async fn from_rep(hub: &Arc<Hub>, rep: ParticipantId, mut stream: RecvStream) {
    let admitted = {
        let mut st = hub.state();
        st.granted(rep, Tier::Clipboard)
            && st
                .reps
                .get_mut(&rep)
                .is_some_and(|r| !std::mem::replace(&mut r.clip_open, true))
    };
    if !admitted {
        debug!("clipboard from a rep without clipboard, or a second one; refused");
        let _ = stream.stop(crate::conn::code::PROTOCOL);
        return;
    }
    let content = read_content(hub, &mut stream).await;
    if let Some(r) = hub.state().reps.get_mut(&rep) {
        r.clip_open = false;
    }
    let Some(content) = content else { return };
    let (actor, conn) = {
        let st = hub.state();
        if !st.granted(rep, Tier::Clipboard) {
            return;
        }
        let Some(conn) = st
            .customer_of(rep)
            .and_then(|c| st.customers.get(&c))
            .map(|c| c.conn.clone())
        else {
            return;
        };
        (st.rep_label(rep), conn)
    };
    let audit = Audit {
        actor,
        action: "clipboard.to_customer",
        detail: format!("kind={} bytes={}", content.kind(), content.len()),
    };
    if hub.write_audits(vec![audit]).await.is_err() {
        return;
    }
    hub.counters
        .clipboard_bytes
        .fetch_add(content.len() as u64, std::sync::atomic::Ordering::Relaxed);
    tokio::spawn(deliver(conn, rep, Arc::new(content)));
}

/// Reads one content within the configured size; a picture must be a PNG. Anything else stops
/// the stream and is dropped.
async fn read_content(hub: &Hub, stream: &mut RecvStream) -> Option<ClipContent> {
    let max = hub.cfg.max_clipboard.min(limits::CLIPBOARD - 64);
    let read = tokio::time::timeout(
        TRANSFER_TIME,
        read_msg::<ClipContent>(stream, (max + 64).min(limits::CLIPBOARD)),
    )
    .await;
    match read {
        Ok(Ok(Some(c))) if c.len() <= max => match &c {
            ClipContent::Png(bytes) if !bytes.starts_with(PNG) => {
                debug!("clipboard picture is not a PNG; dropped");
                None
            }
            _ => Some(c),
        },
        other => {
            debug!(ok = other.is_ok(), "clipboard content refused");
            let _ = stream.stop(crate::conn::code::PROTOCOL);
            None
        }
    }
}

async fn deliver(conn: Connection, rep: ParticipantId, content: Arc<ClipContent>) {
    let send = async {
        let mut s = conn.open_uni().await.ok()?;
        write_msg(
            &mut s,
            &StreamHeader::Clipboard { rep },
            limits::STREAM_HEADER,
        )
        .await
        .ok()?;
        write_msg(&mut s, content.as_ref(), limits::CLIPBOARD)
            .await
            .ok()?;
        s.finish().ok()
    };
    if tokio::time::timeout(TRANSFER_TIME, send).await.is_err() {
        debug!("clipboard delivery timed out");
    }
}
