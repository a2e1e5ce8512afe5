//! The customer window's part of Wayland screen sharing: on a Wayland desktop the system shows
//! its own dialog after our prompt (see `lotse_platform::wayland`), and our answer to the rep
//! waits for it.
//!
//! - The person clicks Allow for `view` or `control` in our prompt (the prompt said beforehand
//!   what the system's dialog will ask).
//! - The portal session is brought to that level: the system's dialog appears.
//! - Only when the person shares there is Allow sent; if they cancel (or leave "Allow remote
//!   interaction" off for `control`), Deny is sent instead, so the rep sees `denied`.
//! - When nobody may see the screen any more, the portal session is closed, so the desktop's
//!   own "screen is being shared" indicator goes away with our grant.

use crate::session::VideoSource;
use lotse_platform::Injector;
use lotse_platform::wayland::{
    Access, Portal, PortalError, SessionKind, WaylandCapturer, WaylandInjector,
};
use lotse_proto::Tier;
use lotse_proto::msg::{DenyReason, Reply};

/// The shared portal session of one customer session.
#[derive(Debug)]
pub struct WaylandShare {
    portal: Portal,
    /// Someone held `view` at the last look.
    viewed: bool,
}

/// What a Wayland desktop gives the session: the share, the injector and the video source.
pub type Opened = (WaylandShare, Box<dyn Injector>, Box<dyn VideoSource>);

/// `None` on an X11 session (X11 capture and XTest are used there); otherwise the portal, or why
/// the screen cannot be shared (missing or old portal, no session bus: the text names what to
/// install). `xid`: our window, so the system's dialog opens in front of it (through XWayland).
pub fn open(xid: u64) -> Option<Result<Opened, PortalError>> {
    if SessionKind::from_env() != SessionKind::Wayland {
        return None;
    }
    let portal = match Portal::connect((xid != 0).then_some(xid)) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let video = crate::video::ScreenSource::new(
        Box::new(WaylandCapturer::new(portal.clone())),
        Default::default(),
    );
    let injector = WaylandInjector::new(portal.clone());
    Some(Ok((
        WaylandShare {
            portal,
            viewed: false,
        },
        Box::new(injector),
        Box::new(video),
    )))
}

/// The portal level a tier needs, if it needs the system's dialog at all.
pub fn access_for(tier: Tier) -> Option<Access> {
    match tier {
        Tier::View => Some(Access::View),
        Tier::Control => Some(Access::Control),
        _ => None,
    }
}

/// What the rep is told after the system's dialog: Allow only when the person shared there;
/// otherwise why not (cancelled, remote interaction left off, or the system cannot share).
pub fn reply_for(result: &Result<(), PortalError>) -> Reply {
    match result {
        Ok(()) => Reply::Allow,
        Err(PortalError::Cancelled) => Reply::Deny(DenyReason::SystemDialogCancelled),
        Err(PortalError::NoInteraction) => Reply::Deny(DenyReason::NoRemoteInteraction),
        Err(_) => Reply::Deny(DenyReason::SystemUnavailable),
    }
}

impl WaylandShare {
    /// Shows the system's dialog for `access` (if the session gives less); `done` gets the
    /// outcome on the portal thread.
    pub fn ask(&self, access: Access, done: impl FnOnce(Result<(), PortalError>) + Send + 'static) {
        self.portal.request(access, done);
    }

    /// Follows the grants: when nobody may see the screen any more, the share ends.
    pub fn follow(&mut self, someone_views: bool) {
        if self.viewed && !someone_views {
            self.portal.request(Access::None, |r| {
                if let Err(e) = r {
                    tracing::warn!("cannot end the screen share: {e}");
                }
            });
        }
        self.viewed = someone_views;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_view_and_control_need_the_system_dialog() {
        assert_eq!(access_for(Tier::View), Some(Access::View));
        assert_eq!(access_for(Tier::Control), Some(Access::Control));
        assert_eq!(access_for(Tier::Files), None);
        assert_eq!(access_for(Tier::Clipboard), None);
        assert_eq!(access_for(Tier::Sysinfo), None);
    }

    #[test]
    fn the_rep_learns_why_the_system_dialog_said_no() {
        assert_eq!(reply_for(&Ok(())), Reply::Allow);
        assert_eq!(
            reply_for(&Err(PortalError::Cancelled)),
            Reply::Deny(DenyReason::SystemDialogCancelled)
        );
        assert_eq!(
            reply_for(&Err(PortalError::NoInteraction)),
            Reply::Deny(DenyReason::NoRemoteInteraction)
        );
        assert_eq!(
            reply_for(&Err(PortalError::Missing("ScreenCast"))),
            Reply::Deny(DenyReason::SystemUnavailable)
        );
    }
}
