//! Connection slots: at most `max_connections` open connections (handshakes included, QUIC and
//! TCP together), at most `max_connections_per_address` of them from one address (IPv6: one
//! /64), and — once more than half the slots are taken — a QUIC Retry first, so that only peers
//! that really receive at their address can take one (spoofed half-open handshakes cannot fill
//! the relay; over TCP the three-way handshake has proved the address already).

use crate::hub::Hub;
use crate::limits::net_key;
use lotse_net::quinn::Incoming;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tracing::{debug, warn};

/// Open connections per address.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

impl Slots {
    /// Decides about `incoming`: refuse it, ask it for a Retry (`None` either way), or give it
    /// a slot, held until the returned guard is dropped.
    pub fn admit(self: &Arc<Self>, hub: &Arc<Hub>, incoming: Incoming) -> Option<(Slot, Incoming)> {
        let open = hub.counters.open.load(Ordering::SeqCst);
        let peer = incoming.remote_address();
        if open >= hub.cfg.max_connections {
            warn!("connection limit reached; refusing {peer}");
            hub.counters.refused_full.fetch_add(1, Ordering::Relaxed);
            incoming.refuse();
            return None;
        }
        if open > hub.cfg.max_connections / 2 && !incoming.remote_address_validated() {
            if incoming.may_retry() {
                debug!("under load: asking {peer} to prove its address");
                match incoming.retry() {
                    Ok(()) => {
                        hub.counters.retries.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => e.into_incoming().ignore(),
                }
            } else {
                incoming.ignore();
            }
            return None;
        }
        match self.take(hub, peer) {
            Some(slot) => Some((slot, incoming)),
            None => {
                incoming.refuse();
                None
            }
        }
    }

    /// A slot for a peer at `peer` whose address is known to be real (QUIC after the checks
    /// above; TCP after its handshake), or `None` when the relay or that address is full.
    pub fn take(self: &Arc<Self>, hub: &Arc<Hub>, peer: SocketAddr) -> Option<Slot> {
        if hub.counters.open.load(Ordering::SeqCst) >= hub.cfg.max_connections {
            warn!("connection limit reached; refusing {peer}");
            hub.counters.refused_full.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let key = net_key(peer.ip());
        {
            let mut per = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
            let n = per.entry(key).or_insert(0);
            if *n >= hub.cfg.max_connections_per_address {
                debug!("{key} holds {n} connections; refusing another");
                hub.counters
                    .refused_per_address
                    .fetch_add(1, Ordering::Relaxed);
                return None;
            }
            *n += 1;
        }
        hub.counters.open.fetch_add(1, Ordering::SeqCst);
        Some(Slot {
            slots: self.clone(),
            hub: hub.clone(),
            key,
        })
    }
}

/// A held slot; released on drop.
pub(crate) struct Slot {
    slots: Arc<Slots>,
    hub: Arc<Hub>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.hub.counters.open.fetch_sub(1, Ordering::SeqCst);
        let mut per = self
            .slots
            .per_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per.remove(&self.key);
            }
        }
    }
}
