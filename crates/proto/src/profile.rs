//! Security profiles, rep permissions and who is in a session.
//!
//! A profile *limits* what its holder may ask the customer for; it never grants anything. Every
//! tier still needs the customer's own Allow ([`crate::customer::Consent`]).

use crate::msg::{ParticipantId, bound_text};
use crate::tier::{Tier, TierSet};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest profile name, in characters.
pub const MAX_PROFILE_NAME: usize = 64;
/// Longest profile description (each language), in characters.
pub const MAX_PROFILE_DESCRIPTION: usize = 500;
/// Longest name of an invited external supporter, and of the reason they are invited.
pub const MAX_EXTERNAL_NAME: usize = 64;
pub const MAX_EXTERNAL_REASON: usize = 200;
/// Most reps and externals in one session (owner included); more are refused at joining.
pub const MAX_PARTICIPANTS: usize = 16;

/// Most profiles a relay holds (more are refused when added): with every text at its longest
/// in four-byte characters, all of them still fit one control frame to the console (tested).
pub const MAX_PROFILES: usize = 12;

/// One thing a profile may allow: a tier, one direction of files, or chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Allowance {
    View,
    Control,
    Clipboard,
    /// Offer files to the customer (tier `files`).
    FilesUpload,
    /// Receive the files the customer sends (tier `files`).
    FilesDownload,
    Sysinfo,
    /// Write in the session's chat.
    Chat,
}

impl Allowance {
    pub const ALL: [Allowance; 7] = [
        Allowance::View,
        Allowance::Control,
        Allowance::Clipboard,
        Allowance::FilesUpload,
        Allowance::FilesDownload,
        Allowance::Sysinfo,
        Allowance::Chat,
    ];

    /// The stable name used on command lines, in the config file and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Allowance::View => "view",
            Allowance::Control => "control",
            Allowance::Clipboard => "clipboard",
            Allowance::FilesUpload => "files-upload",
            Allowance::FilesDownload => "files-download",
            Allowance::Sysinfo => "sysinfo",
            Allowance::Chat => "chat",
        }
    }
}

impl fmt::Display for Allowance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of the names [`Allowance::as_str`] gives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown allowance {0:?}; known: view, control, clipboard, files-upload, files-download, \
     files (both directions), sysinfo, chat"
)]
pub struct UnknownAllowance(pub String);

/// Parses a comma-separated list (`files` stands for both directions; `none` for nothing).
pub fn parse_allowances(text: &str) -> Result<Vec<Allowance>, UnknownAllowance> {
    let mut out = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match word {
            "none" => {}
            "files" => out.extend([Allowance::FilesUpload, Allowance::FilesDownload]),
            w => out.push(
                Allowance::ALL
                    .into_iter()
                    .find(|a| a.as_str() == w)
                    .ok_or_else(|| UnknownAllowance(w.to_owned()))?,
            ),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

impl FromStr for Allowance {
    type Err = UnknownAllowance;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_allowances(s)?.as_slice() {
            [one] => Ok(*one),
            _ => Err(UnknownAllowance(s.to_owned())),
        }
    }
}

/// What a holder may do in a session: the tiers it may ask for, the directions of files, chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limits {
    pub tiers: TierSet,
    pub files_upload: bool,
    pub files_download: bool,
    pub chat: bool,
}

impl Limits {
    /// Everything (the session's owner).
    pub const ALL: Limits = Limits {
        tiers: TierSet::ALL,
        files_upload: true,
        files_download: true,
        chat: true,
    };

    /// Nothing at all (someone not in the session).
    pub const NONE: Limits = Limits {
        tiers: TierSet::EMPTY,
        files_upload: false,
        files_download: false,
        chat: false,
    };

    /// The limits a list of allowances describes (`files` is askable with either direction).
    pub fn from_allowances(list: &[Allowance]) -> Limits {
        let has = |a| list.contains(&a);
        let mut tiers = TierSet::EMPTY;
        for (a, t) in [
            (Allowance::View, Tier::View),
            (Allowance::Control, Tier::Control),
            (Allowance::Clipboard, Tier::Clipboard),
            (Allowance::Sysinfo, Tier::Sysinfo),
        ] {
            if has(a) {
                tiers.insert(t);
            }
        }
        let (up, down) = (has(Allowance::FilesUpload), has(Allowance::FilesDownload));
        if up || down {
            tiers.insert(Tier::Files);
        }
        Limits {
            tiers,
            files_upload: up,
            files_download: down,
            chat: has(Allowance::Chat),
        }
    }

    /// A colleague invited with a plain set of tiers (files both ways, chat allowed).
    pub fn from_tiers(tiers: TierSet) -> Limits {
        Limits {
            tiers,
            files_upload: tiers.contains(Tier::Files),
            files_download: tiers.contains(Tier::Files),
            chat: true,
        }
    }

    /// The allowances, in [`Allowance::ALL`] order.
    pub fn allowances(self) -> Vec<Allowance> {
        Allowance::ALL
            .into_iter()
            .filter(|a| match a {
                Allowance::View => self.tiers.contains(Tier::View),
                Allowance::Control => self.tiers.contains(Tier::Control),
                Allowance::Clipboard => self.tiers.contains(Tier::Clipboard),
                Allowance::FilesUpload => self.files_upload,
                Allowance::FilesDownload => self.files_download,
                Allowance::Sysinfo => self.tiers.contains(Tier::Sysinfo),
                Allowance::Chat => self.chat,
            })
            .collect()
    }

    /// `view,control,…` (or `none`), for the audit log and the CLI.
    pub fn summary(self) -> String {
        let list: Vec<&str> = self.allowances().iter().map(|a| a.as_str()).collect();
        if list.is_empty() {
            "none".into()
        } else {
            list.join(",")
        }
    }
}

/// A security profile, defined by the relay's administrator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub description_de: String,
    pub description_en: String,
    pub limits: Limits,
    /// Offered when sharing with a colleague.
    pub for_colleagues: bool,
    /// Offered when inviting an external supporter.
    pub for_externals: bool,
}

/// Why a profile an administrator defines is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProfileProblem {
    #[error("a profile name must be 1 to {MAX_PROFILE_NAME} printable characters")]
    Name,
    /// The description in this language (`de`, `en`) is empty.
    #[error("description_{0} is empty: reps choose by the full description")]
    NoDescription(&'static str),
    #[error("description_{0} is longer than {MAX_PROFILE_DESCRIPTION} characters")]
    LongDescription(&'static str),
    #[error("a profile must be usable for colleagues, externals or both")]
    UsableForNobody,
}

impl Profile {
    /// A profile from what an administrator typed (command line, settings file, admin page),
    /// each field checked the same way: the name trimmed, 1 to [`MAX_PROFILE_NAME`] printable
    /// characters; both descriptions given and at most [`MAX_PROFILE_DESCRIPTION`]; usable by
    /// someone.
    pub fn checked(
        name: &str,
        description_de: String,
        description_en: String,
        allows: &[Allowance],
        for_colleagues: bool,
        for_externals: bool,
    ) -> Result<Profile, ProfileProblem> {
        let name = name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_PROFILE_NAME
            || name.chars().any(char::is_control)
        {
            return Err(ProfileProblem::Name);
        }
        for (lang, d) in [("de", &description_de), ("en", &description_en)] {
            if d.trim().is_empty() {
                return Err(ProfileProblem::NoDescription(lang));
            }
            if d.chars().count() > MAX_PROFILE_DESCRIPTION {
                return Err(ProfileProblem::LongDescription(lang));
            }
        }
        if !for_colleagues && !for_externals {
            return Err(ProfileProblem::UsableForNobody);
        }
        Ok(Profile {
            name: name.to_owned(),
            description_de,
            description_en,
            limits: Limits::from_allowances(allows),
            for_colleagues,
            for_externals,
        })
    }

    /// The profile as the relay keeps and passes it on: names and descriptions without control
    /// characters (descriptions keep their line breaks), cut to their maximum length.
    pub fn bounded(self) -> Profile {
        let describe = |t: &str| -> String {
            t.chars()
                .filter(|c| *c == '\n' || !(c.is_control() || crate::msg::is_bidi_control(*c)))
                .take(MAX_PROFILE_DESCRIPTION)
                .collect::<String>()
        };
        Profile {
            name: bound_text(&self.name, MAX_PROFILE_NAME),
            description_de: describe(&self.description_de),
            description_en: describe(&self.description_en),
            ..self
        }
    }

    /// The description in `de`utsch or English (the other language when one is empty).
    pub fn description(&self, de: bool) -> &str {
        match (
            de,
            self.description_de.is_empty(),
            self.description_en.is_empty(),
        ) {
            (true, false, _) | (false, _, true) => &self.description_de,
            _ => &self.description_en,
        }
    }
}

/// What a rep account may do besides helping its own customers; the relay checks each, the
/// console shows only what the rep may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// Invite colleagues into a session it owns.
    pub share: bool,
    /// Hand a session it owns to a colleague's queue.
    pub transfer: bool,
    /// Invite external supporters (who have no account).
    pub invite_externals: bool,
}

impl Default for Permissions {
    /// What a new account may do: share and transfer, but not invite externals.
    fn default() -> Self {
        Permissions {
            share: true,
            transfer: true,
            invite_externals: false,
        }
    }
}

/// Who someone is in a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParticipantRole {
    /// Owns the session: an internal rep, exactly one.
    Owner,
    /// An internal rep the owner shared the session with.
    Colleague,
    /// An invited external supporter without an account, and who invited them.
    External { invited_by: String },
}

impl ParticipantRole {
    /// A stable name for logs and the rep CLI's JSON.
    pub fn code(&self) -> &'static str {
        match self {
            ParticipantRole::Owner => "owner",
            ParticipantRole::Colleague => "colleague",
            ParticipantRole::External { .. } => "external",
        }
    }
}

/// One rep in a session, as the others and the customer are told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub rep: ParticipantId,
    pub name: String,
    pub role: ParticipantRole,
    /// What the rep may ask for (the owner: everything).
    pub limits: Limits,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowances_parse_and_round_trip() {
        let list = parse_allowances("view, chat,files-download").unwrap();
        let l = Limits::from_allowances(&list);
        assert!(l.tiers.contains(Tier::View) && l.tiers.contains(Tier::Files));
        assert!(!l.tiers.contains(Tier::Control));
        assert!(l.files_download && !l.files_upload && l.chat);
        assert_eq!(l.summary(), "view,files-download,chat");
        assert_eq!(Limits::from_allowances(&l.allowances()), l);
        let both = Limits::from_allowances(&parse_allowances("files").unwrap());
        assert!(both.files_upload && both.files_download);
        assert_eq!(Limits::from_allowances(&[]).summary(), "none");
        assert_eq!(
            parse_allowances("view,root").unwrap_err(),
            UnknownAllowance("root".into())
        );
        assert_eq!(
            Limits::ALL.summary(),
            Limits::from_tiers(TierSet::ALL).summary()
        );
    }

    #[test]
    fn every_profile_at_its_longest_fits_one_control_frame() {
        let long = |n| "𝄞".repeat(n);
        let profile = Profile {
            name: long(MAX_PROFILE_NAME),
            description_de: long(MAX_PROFILE_DESCRIPTION),
            description_en: long(MAX_PROFILE_DESCRIPTION),
            limits: Limits::ALL,
            for_colleagues: true,
            for_externals: true,
        };
        let msg = crate::msg::RepDown::Account {
            permissions: Permissions::default(),
            profiles: vec![profile.clone(); MAX_PROFILES],
        };
        crate::encode(&msg, crate::frame::limits::CONTROL).expect("fits one frame");
        let invitation = crate::msg::RepDown::ExternalInvitation {
            key: "123 456 789 012".into(),
            url: Some(format!("https://{}/x/123456789012", "h".repeat(200))),
            expires_at: 0,
            name: long(MAX_EXTERNAL_NAME),
            profile,
        };
        crate::encode(&invitation, crate::frame::limits::CONTROL).expect("fits");
        let everyone = crate::msg::CustomerDown::Participants {
            list: vec![
                Participant {
                    rep: u64::MAX,
                    name: long(crate::msg::MAX_INFO_CHARS),
                    role: ParticipantRole::External {
                        invited_by: long(crate::msg::MAX_INFO_CHARS),
                    },
                    limits: Limits::ALL,
                };
                MAX_PARTICIPANTS
            ],
        };
        crate::encode(&everyone, crate::frame::limits::CONTROL).expect("fits");
        assert_eq!(TierSet::ALL, Tier::ALL.into_iter().collect());
    }

    #[test]
    fn bounded_profiles_lose_control_characters_and_length() {
        let p = Profile {
            name: "a\u{202E}b\n".repeat(100),
            description_de: "Zeile\nzwei\u{7}".into(),
            description_en: "x".repeat(5000),
            limits: Limits::ALL,
            for_colleagues: true,
            for_externals: false,
        }
        .bounded();
        assert_eq!(p.name.chars().count(), MAX_PROFILE_NAME);
        assert!(!p.name.contains('\u{202E}') && !p.name.contains('\n'));
        assert_eq!(p.description_de, "Zeile\nzwei");
        assert_eq!(p.description_en.len(), MAX_PROFILE_DESCRIPTION);
        assert_eq!(p.description(true), "Zeile\nzwei");
        let only_en = Profile {
            description_de: String::new(),
            ..p.clone()
        };
        assert_eq!(only_en.description(true), only_en.description_en);
    }
}
