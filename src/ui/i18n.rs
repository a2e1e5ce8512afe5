//! The window's two languages: which one to start with, and every text it shows.
//!
//! The texts live in `assets/i18n/{de,en}.txt` (`key = text` lines) and `assets/terms/{de,en}.txt`
//! (summary, a line `---`, the full terms), compiled into the program. [`Strings`] has one field
//! per key, so a screen cannot ask for a text that does not exist, and the unit tests check that
//! both files define exactly those keys.

use lotse_proto::Tier;
use std::sync::OnceLock;

/// A language of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    De,
    En,
}

impl Lang {
    /// The language of the person's desktop (`lotse_platform::desktop::ui_language`: the
    /// Windows UI language, or `LC_ALL`, `LC_MESSAGES`, `LANG`); German if that says German,
    /// English otherwise.
    pub fn from_env() -> Lang {
        let locale = lotse_platform::desktop::ui_language();
        Lang::from_locale(locale.as_deref().unwrap_or(""))
    }

    /// `de_DE.UTF-8`, `de_AT`, `de` → German; anything else → English.
    pub fn from_locale(locale: &str) -> Lang {
        let lang = locale.split(['_', '.', '@', '-']).next().unwrap_or("");
        if lang.eq_ignore_ascii_case("de") {
            Lang::De
        } else {
            Lang::En
        }
    }

    /// The code used on the command line and in the trace: `de` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::De => "Deutsch",
            Lang::En => "English",
        }
    }

    /// All texts of this language.
    pub fn strings(self) -> &'static Strings {
        static DE: OnceLock<Strings> = OnceLock::new();
        static EN: OnceLock<Strings> = OnceLock::new();
        let (cell, text, name) = match self {
            Lang::De => (&DE, include_str!("../../assets/i18n/de.txt"), "de.txt"),
            Lang::En => (&EN, include_str!("../../assets/i18n/en.txt"), "en.txt"),
        };
        cell.get_or_init(|| {
            // The files are compiled in and `tests::both_languages_are_complete` parses them.
            #[allow(clippy::expect_used)]
            Strings::parse(text).expect(name)
        })
    }

    /// The default terms of use: (summary, full text).
    pub fn terms(self) -> Terms {
        let text = match self {
            Lang::De => include_str!("../../assets/terms/de.txt"),
            Lang::En => include_str!("../../assets/terms/en.txt"),
        };
        Terms::parse(text)
    }
}

/// Terms of use: a short summary shown at once, and the whole text behind "Full terms".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub summary: String,
    pub full: String,
}

impl Terms {
    /// The summary comes before a line `---`, the full text after it. Without that line the
    /// whole text is both.
    pub fn parse(text: &str) -> Terms {
        let mut summary = Vec::new();
        let mut lines = text.lines();
        for line in lines.by_ref() {
            if line.trim() == "---" {
                let full = lines.collect::<Vec<_>>().join("\n").trim().to_owned();
                return Terms {
                    summary: summary.join("\n").trim().to_owned(),
                    full,
                };
            }
            summary.push(line);
        }
        let all = text.trim().to_owned();
        Terms {
            summary: all.clone(),
            full: all,
        }
    }
}

/// Fills `{name}` placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

impl Strings {
    /// "see your screen" — the infinitive phrase a prompt asks for.
    pub fn tier_phrase(&self, tier: Tier) -> &str {
        match tier {
            Tier::View => &self.tier_view,
            Tier::Control => &self.tier_control,
            Tier::Clipboard => &self.tier_clipboard,
            Tier::Files => &self.tier_files,
            Tier::Sysinfo => &self.tier_sysinfo,
        }
    }

    /// What the tier lets `{rep}` do, in a sentence or two.
    pub fn tier_explained(&self, tier: Tier) -> &str {
        match tier {
            Tier::View => &self.prompt_view,
            Tier::Control => &self.prompt_control,
            Tier::Clipboard => &self.prompt_clipboard,
            Tier::Files => &self.prompt_files,
            Tier::Sysinfo => &self.prompt_sysinfo,
        }
    }

    /// The tier's name in the list of granted permissions.
    pub fn grant_name(&self, tier: Tier) -> &str {
        match tier {
            Tier::View => &self.grant_view,
            Tier::Control => &self.grant_control,
            Tier::Clipboard => &self.grant_clipboard,
            Tier::Files => &self.grant_files,
            Tier::Sysinfo => &self.grant_sysinfo,
        }
    }
}

/// Declares [`Strings`] with one `String` field per key and a parser that insists on all of them.
macro_rules! strings {
    ($($key:ident),* $(,)?) => {
        /// Every text of one language; see `assets/i18n/`.
        #[derive(Debug, Clone, Default)]
        pub struct Strings {
            $(pub $key: String,)*
        }

        impl Strings {
            /// Parses `key = text` lines; `#` starts a comment line. Every key must be given
            /// exactly once and no other key may appear.
            pub fn parse(text: &str) -> Result<Strings, String> {
                let mut s = Strings::default();
                let mut seen = std::collections::BTreeSet::new();
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let Some((key, value)) = line.split_once('=') else {
                        return Err(format!("line {}: expected `key = text`", n + 1));
                    };
                    let (key, value) = (key.trim(), value.trim().to_owned());
                    if !seen.insert(key.to_owned()) {
                        return Err(format!("line {}: {key} given twice", n + 1));
                    }
                    match key {
                        $(stringify!($key) => s.$key = value,)*
                        other => return Err(format!("line {}: unknown key {other}", n + 1)),
                    }
                }
                $(
                    if !seen.contains(stringify!($key)) {
                        return Err(format!("missing key {}", stringify!($key)));
                    }
                )*
                Ok(s)
            }
        }
    };
}

strings! {
    window_title, header,
    terms_title, terms_intro, terms_full_show, terms_full_hide, terms_accept, terms_decline,
    terms_nothing_sent,
    key_title, key_intro, key_label, key_connect, key_cancel, key_checking,
    key_unknown, key_used, key_expired, key_rate_limited, key_rep_offline,
    wait_connecting, wait_title, wait_queued, wait_queued_anon, wait_position, wait_hint, wait_cancel,
    wait_requeued_lost, wait_requeued_transferred, wait_requeued_relay_lost,
    prompt_title, prompt_asks, prompt_view, prompt_control, prompt_clipboard, prompt_files,
    prompt_sysinfo, prompt_system_view, prompt_system_control, prompt_revocable, prompt_allow,
    prompt_deny,
    tier_view, tier_control, tier_clipboard, tier_files, tier_sysinfo,
    grant_view, grant_control, grant_clipboard, grant_files, grant_sysinfo,
    session_title, session_connected, session_may, session_nothing, session_revoke,
    session_role_owner, session_role_colleague, session_role_external, session_remove,
    session_role_may, session_role_may_nothing,
    session_viewing, session_controlling, session_monitor, remote_refused, share_unavailable, over_tcp, obstructed_secure, obstructed_elevated, session_chat, session_chat_empty, session_chat_hint, session_chat_send,
    session_me, session_end, compact_shrink, compact_expand, compact_chat_unread, compact_stop_view,
    compact_stop_control, sysinfo_sent, sysinfo_show, clip_in, clip_out, clip_text, clip_png,
    file_prompt_title, file_prompt_asks, file_prompt_size, file_prompt_where, file_prompt_safe,
    file_prompt_save, file_prompt_reject, file_prompt_program, transfer_in_folder, transfer_open_folder,
    files_title, files_send, files_hint, files_nobody, files_not_a_file, files_dialog_title, files_dialog_send,
    files_dialog_cancel,
    transfer_from, transfer_to, transfer_starting, transfer_progress, transfer_rate,
    transfer_left_seconds, transfer_left_minutes, transfer_left_hours, transfer_saved,
    transfer_sent, transfer_failed, transfer_cancelled, transfer_cancel,
    stop_cancelled_by_rep, stop_files_revoked, stop_too_large, stop_sender_stopped,
    stop_too_many_bytes, stop_no_receiver, stop_interrupted,
    size_bytes, decimal_point,
    ended_title, ended_customer, ended_rep, ended_time_limit, ended_peer_lost, ended_relay_shutdown, ended_admin,
    ended_cancelled, ended_protocol, failed_title, failed_text, ended_closing, ended_close,
    ended_summary_title, ended_summary_rep, ended_summary_nothing, ended_summary_saved,
    ended_summary_sent, ended_summary_sysinfo,
    refused_title, refused_changed, refused_unreadable, refused_where, refused_nothing,
    refused_details, refused_close,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_are_complete() {
        for lang in [Lang::De, Lang::En] {
            let s = lang.strings();
            assert!(!s.terms_accept.is_empty());
            let terms = lang.terms();
            assert!(terms.summary.len() > 100, "{lang:?} summary too short");
            assert!(
                terms.full.len() > terms.summary.len(),
                "{lang:?} full terms"
            );
        }
    }

    #[test]
    fn placeholders_match_between_languages() {
        fn holes(s: &str) -> Vec<String> {
            let mut v: Vec<String> = s
                .split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(h, _)| h.to_owned()))
                .collect();
            v.sort();
            v.dedup();
            v
        }
        let de = include_str!("../../assets/i18n/de.txt");
        let en = include_str!("../../assets/i18n/en.txt");
        let pairs = |t: &'static str| {
            t.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim().to_owned(), holes(v)))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        assert_eq!(pairs(de), pairs(en));
    }

    /// One vocabulary (issue 21): in German one product name ("Fernsupport"), "Erlaubnis" for a
    /// permission and "Ihr IT-Support" (or the person's name) for the other side, never
    /// "Supporter"; in English one word, Decline, for every refusal button.
    #[test]
    fn one_vocabulary_in_each_language() {
        let de = [
            include_str!("../../assets/i18n/de.txt"),
            include_str!("../../assets/terms/de.txt"),
        ]
        .concat();
        for word in [
            "Supporter",
            "Fernwartung",
            "Fernhilfe",
            "Berechtigung",
            "Techniker",
        ] {
            let lines: Vec<&str> = de.lines().filter(|l| l.contains(word)).collect();
            assert!(lines.is_empty(), "German text says {word}: {lines:?}");
        }
        let g = Lang::De.strings();
        assert!(g.header.contains("Fernsupport"));
        for refusal in [&g.terms_decline, &g.prompt_deny, &g.file_prompt_reject] {
            assert_eq!(refusal, "Ablehnen");
        }
        let en = Lang::En.strings();
        for refusal in [&en.terms_decline, &en.prompt_deny, &en.file_prompt_reject] {
            assert_eq!(refusal, "Decline");
        }
    }

    /// The consent words say what each permission means (issue 21): the terms' summary names
    /// every tier by the words the session window uses for it, and the control prompt names the
    /// two buttons that stop it at once by their labels.
    #[test]
    fn consent_words_name_every_tier_and_the_way_to_stop() {
        for lang in [Lang::De, Lang::En] {
            let s = lang.strings();
            let summary = lang.terms().summary.to_lowercase();
            for tier in Tier::ALL {
                let words = s.grant_name(tier).to_lowercase();
                assert!(
                    summary.contains(&words),
                    "{lang:?} terms summary does not name {tier}: {summary}"
                );
            }
            for button in [&s.session_revoke, &s.session_end] {
                assert!(
                    s.prompt_control.contains(button.as_str()),
                    "{lang:?} control prompt does not name {button}"
                );
            }
        }
    }

    #[test]
    fn parser_rejects_missing_unknown_and_twice() {
        assert!(
            Strings::parse("header = x")
                .unwrap_err()
                .contains("missing key")
        );
        assert!(
            Strings::parse("nope = x")
                .unwrap_err()
                .contains("unknown key")
        );
        assert!(
            Strings::parse("header = x\nheader = y")
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn locale_picks_german_only_for_german() {
        assert_eq!(Lang::from_locale("de_DE.UTF-8"), Lang::De);
        assert_eq!(Lang::from_locale("de_AT"), Lang::De);
        assert_eq!(Lang::from_locale("de"), Lang::De);
        assert_eq!(Lang::from_locale("en_GB.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale("C"), Lang::En);
        assert_eq!(Lang::from_locale(""), Lang::En);
        assert_eq!(Lang::from_locale("dexx_YY"), Lang::En);
    }

    #[test]
    fn terms_split_at_the_rule() {
        let t = Terms::parse("short\n---\nlong\ntext\n");
        assert_eq!(t.summary, "short");
        assert_eq!(t.full, "long\ntext");
        let t = Terms::parse("only this");
        assert_eq!(t.summary, "only this");
        assert_eq!(t.full, "only this");
    }

    #[test]
    fn fill_replaces_every_hole() {
        assert_eq!(
            fill("{rep} and {rep} at {n}", &[("rep", "Ada"), ("n", "2")]),
            "Ada and Ada at 2"
        );
    }
}
