//! Permission tiers and sets of them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One permission tier the customer can grant to one rep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tier {
    /// Receive the screen (video) and the cursor.
    View,
    /// Inject mouse and keyboard; needs `View`.
    Control,
    /// Clipboard sync both ways; needs `Control`.
    Clipboard,
    /// Send files to and fetch files from the customer.
    Files,
    /// Read an OS, hardware and network summary.
    Sysinfo,
}

impl Tier {
    /// All tiers, in the order they are usually requested.
    pub const ALL: [Tier; 5] = [
        Tier::View,
        Tier::Control,
        Tier::Clipboard,
        Tier::Files,
        Tier::Sysinfo,
    ];

    /// The tier that must already be granted before this one may be granted.
    pub fn requires(self) -> Option<Tier> {
        match self {
            Tier::Control => Some(Tier::View),
            Tier::Clipboard => Some(Tier::Control),
            Tier::View | Tier::Files | Tier::Sysinfo => None,
        }
    }

    /// The stable lower-case name used on command lines, in JSON and in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::View => "view",
            Tier::Control => "control",
            Tier::Clipboard => "clipboard",
            Tier::Files => "files",
            Tier::Sysinfo => "sysinfo",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tier name that is not one of `view`, `control`, `clipboard`, `files`, `sysinfo`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission tier {0:?}; known tiers: view, control, clipboard, files, sysinfo")]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| UnknownTier(s.to_owned()))
    }
}

/// A set of tiers, small and `Copy`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TierSet(u8);

impl TierSet {
    /// The empty set.
    pub const EMPTY: TierSet = TierSet(0);
    /// Every tier.
    pub const ALL: TierSet = TierSet(0b1_1111);

    /// Whether `tier` is in the set.
    pub fn contains(self, tier: Tier) -> bool {
        self.0 & tier.bit() != 0
    }

    /// Adds `tier`.
    pub fn insert(&mut self, tier: Tier) {
        self.0 |= tier.bit();
    }

    /// Removes `tier`.
    pub fn remove(&mut self, tier: Tier) {
        self.0 &= !tier.bit();
    }

    /// Whether no tier is in the set.
    pub fn is_empty(self) -> bool {
        self.0 & Self::all_bits() == 0
    }

    /// The tiers in the set, in [`Tier::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Tier> {
        Tier::ALL.into_iter().filter(move |t| self.contains(*t))
    }

    fn all_bits() -> u8 {
        Tier::ALL.iter().fold(0, |acc, t| acc | t.bit())
    }
}

impl fmt::Debug for TierSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<Tier> for TierSet {
    fn from_iter<I: IntoIterator<Item = Tier>>(iter: I) -> Self {
        let mut set = TierSet::EMPTY;
        for t in iter {
            set.insert(t);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in Tier::ALL {
            assert_eq!(t.as_str().parse::<Tier>(), Ok(t));
        }
        assert!("admin".parse::<Tier>().is_err());
    }

    #[test]
    fn prerequisites_form_a_chain() {
        assert_eq!(Tier::Control.requires(), Some(Tier::View));
        assert_eq!(Tier::Clipboard.requires(), Some(Tier::Control));
        assert_eq!(Tier::View.requires(), None);
    }

    #[test]
    fn set_operations() {
        let mut s = TierSet::EMPTY;
        assert!(s.is_empty());
        s.insert(Tier::Files);
        s.insert(Tier::View);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![Tier::View, Tier::Files]);
        s.remove(Tier::View);
        assert!(!s.contains(Tier::View));
        assert!(s.contains(Tier::Files));
    }
}
