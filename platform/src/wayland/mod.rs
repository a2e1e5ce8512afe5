//! Wayland: the screen and the input through the desktop's own door, the xdg-desktop-portal
//! (ScreenCast and RemoteDesktop interfaces), with the pictures on a PipeWire stream.
//!
//! One [`Portal`] per customer session is shared by [`WaylandCapturer`] and [`WaylandInjector`].
//! What it asks the desktop for follows the customer's answers in our own prompt, one
//! [`Access`] level at a time, and nothing else:
//! - `view` → a ScreenCast session. GNOME shows its dialog "Share screen": pick a screen.
//! - `control` → a RemoteDesktop session with screen sources. GNOME shows "Remote desktop": pick
//!   a screen and switch on "Allow remote interaction" (off by default). If the person leaves it
//!   off, the portal hands out no pointer or keyboard and the request counts as refused.
//!
//! A grant for `control` replaces the ScreenCast session by the RemoteDesktop one (a RemoteDesktop
//! session carries its own screen stream); asking for `control` when nothing is shared yet asks
//! once for both. The grant is never remembered (`persist_mode` "do not persist", no restore
//! token): every session shows the system's dialog again, so no later program run can see or
//! control the screen without the person's fresh click.
//!
//! Threads: the portal's steps run as tasks on one process-wide tokio runtime thread
//! (`lotse-portal`); their D-Bus calls go, in order, through one session-bus connection owned by
//! one thread (`lotse-dbus`, see `bus.rs`: a portal session belongs to the connection that made
//! it); each screen stream runs a PipeWire main loop on a thread of its own
//! (`lotse-pipewire`). Frames arrive only when the screen changes: the capturer hands out the
//! last picture again when asked for one (a keyframe for a new viewer), and says "unchanged"
//! through [`crate::capture::Capturer::maybe_changed`] otherwise.

#[cfg(not(target_os = "linux"))]
mod absent;
#[cfg(target_os = "linux")]
mod bus;
#[cfg(target_os = "linux")]
mod capture;
#[cfg(target_os = "linux")]
mod inject;
#[cfg(target_os = "linux")]
mod portal;
#[cfg(target_os = "linux")]
mod stream;

#[cfg(not(target_os = "linux"))]
pub use absent::{Portal, WaylandCapturer, WaylandInjector};
#[cfg(target_os = "linux")]
pub use capture::WaylandCapturer;
#[cfg(target_os = "linux")]
pub use inject::WaylandInjector;
#[cfg(target_os = "linux")]
pub use portal::Portal;

/// How much of the desktop the portal session gives, in the order of the consent tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// No session: nothing is shared.
    None,
    /// The screen (ScreenCast).
    View,
    /// The screen, pointer and keyboard (RemoteDesktop with screen sources).
    Control,
}

/// Which display system the person's desktop session runs.
/// Which display system the person's desktop session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Not a Linux desktop (Windows): no Wayland, no portal; the system's own module captures.
    Other,
    /// A Wayland session: capture and input go through the portal.
    Wayland,
    /// An X11 session (or one that names no type but has an X display).
    X11,
}

impl SessionKind {
    /// From the environment: `XDG_SESSION_TYPE` when it says `wayland` or `x11`; otherwise a set
    /// `WAYLAND_DISPLAY` means Wayland. On a Wayland desktop `DISPLAY` is usually set as well (for
    /// XWayland), but X11 capture there sees only the XWayland windows, so Wayland wins.
    pub fn from_env() -> SessionKind {
        if !cfg!(target_os = "linux") {
            return SessionKind::Other;
        }
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        SessionKind::decide(
            var("XDG_SESSION_TYPE").as_deref(),
            var("WAYLAND_DISPLAY").is_some(),
        )
    }

    /// The rule behind [`SessionKind::from_env`].
    pub fn decide(session_type: Option<&str>, wayland_display: bool) -> SessionKind {
        match session_type.map(str::to_ascii_lowercase).as_deref() {
            Some("wayland") => SessionKind::Wayland,
            Some("x11") => SessionKind::X11,
            _ if wayland_display => SessionKind::Wayland,
            _ => SessionKind::X11,
        }
    }
}

/// Why the portal could not share the screen or the input. The texts say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    #[error(
        "there is no D-Bus session bus ({0}); screen sharing on Wayland needs one. Log in to a \
         normal desktop session (on Debian/Ubuntu the package dbus-user-session provides it)"
    )]
    NoBus(String),
    #[error(
        "the desktop portal for {0} is missing. On Debian/Ubuntu install the packages \
         xdg-desktop-portal and xdg-desktop-portal-gnome (GNOME) or xdg-desktop-portal-kde (KDE), \
         then log out and in again"
    )]
    Missing(&'static str),
    #[error(
        "the desktop portal is too old: {interface} is version {found}, version {needed} or \
         newer is needed. Update the packages xdg-desktop-portal and xdg-desktop-portal-gnome"
    )]
    TooOld {
        interface: &'static str,
        found: u32,
        needed: u32,
    },
    #[error("the system's screen-sharing dialog was cancelled")]
    Cancelled,
    #[error("\"Allow remote interaction\" was not switched on in the system's dialog")]
    NoInteraction,
    #[error("the system's dialog offered no screen to share")]
    NoScreen,
    #[error(
        "the screen stream could not be opened through PipeWire ({0}). On Debian/Ubuntu install \
         the packages pipewire and wireplumber and log in again"
    )]
    PipeWire(String),
    #[error("the desktop portal failed: {0}")]
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_type_decides_and_wayland_display_breaks_a_tie() {
        use SessionKind::*;
        assert_eq!(SessionKind::decide(Some("wayland"), false), Wayland);
        assert_eq!(SessionKind::decide(Some("Wayland"), true), Wayland);
        assert_eq!(SessionKind::decide(Some("x11"), true), X11);
        assert_eq!(SessionKind::decide(Some("tty"), true), Wayland);
        assert_eq!(SessionKind::decide(None, true), Wayland);
        assert_eq!(SessionKind::decide(None, false), X11);
        assert_eq!(SessionKind::decide(Some(""), false), X11);
    }

    #[test]
    fn errors_name_what_to_install() {
        let e = PortalError::Missing("ScreenCast").to_string();
        assert!(e.contains("xdg-desktop-portal-gnome"), "{e}");
        let e = PortalError::PipeWire("x".into()).to_string();
        assert!(e.contains("wireplumber"), "{e}");
        let e = PortalError::TooOld {
            interface: "ScreenCast",
            found: 1,
            needed: 2,
        }
        .to_string();
        assert!(e.contains("version 2"), "{e}");
    }
}
