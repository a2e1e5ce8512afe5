//! Settings that belong at run time: changed by an administrator on the portal or with
//! `lotse-relay setting set` while the relay serves, kept in the database (table
//! `runtime_settings`, every change audited as `setting.change`), and taking effect within
//! seconds — the relay reads them at start and with its account check every two seconds, so a
//! change from the command line in another process reaches it too. A value set here overrides
//! the settings file's until it is reset (`setting reset`, or "Use the file's value").

use std::time::Duration;

/// The values in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    /// Lifetime of a new session key (and the longest a rep may ask for).
    pub key_lifetime: Duration,
    /// External supporters that may be invited at once.
    pub external_licences: u32,
    /// Reps too must log in with a second factor.
    pub second_factor_for_reps: bool,
}

/// One setting's name, for the command line, the form and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    KeyLifetime,
    ExternalLicences,
    SecondFactorForReps,
}

impl Key {
    pub const ALL: [Key; 3] = [
        Key::KeyLifetime,
        Key::ExternalLicences,
        Key::SecondFactorForReps,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Key::KeyLifetime => "key_lifetime",
            Key::ExternalLicences => "external_licences",
            Key::SecondFactorForReps => "second_factor_for_reps",
        }
    }

    pub fn parse(s: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Why a value is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadValue {
    #[error("key_lifetime is seconds from 60 to 86400")]
    KeyLifetime,
    #[error("external_licences is a number from 0 to 1000")]
    ExternalLicences,
    #[error("second_factor_for_reps is true or false")]
    SecondFactorForReps,
}

impl Runtime {
    /// The file's values (the defaults for every key not set at run time).
    pub fn from_config(cfg: &crate::Config) -> Runtime {
        Runtime {
            key_lifetime: cfg.key_lifetime,
            external_licences: cfg.external_licences,
            second_factor_for_reps: cfg.second_factor_for_reps,
        }
    }

    /// `self` with `key` set to `value` (as stored: seconds, a number, `true`/`false`).
    pub fn with(mut self, key: Key, value: &str) -> Result<Runtime, BadValue> {
        let value = value.trim();
        match key {
            Key::KeyLifetime => {
                let secs: u64 = value
                    .parse()
                    .ok()
                    .filter(|s| (60..=86_400).contains(s))
                    .ok_or(BadValue::KeyLifetime)?;
                self.key_lifetime = Duration::from_secs(secs);
            }
            Key::ExternalLicences => {
                self.external_licences = value
                    .parse()
                    .ok()
                    .filter(|n| *n <= 1000)
                    .ok_or(BadValue::ExternalLicences)?;
            }
            Key::SecondFactorForReps => {
                self.second_factor_for_reps = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(BadValue::SecondFactorForReps),
                };
            }
        }
        Ok(self)
    }

    /// The file's values with the stored ones over them (a stored value that is not valid any
    /// more is skipped, with a warning).
    pub fn over(base: Runtime, stored: &[(String, String)]) -> Runtime {
        stored.iter().fold(base, |r, (k, v)| {
            match Key::parse(k).map(|key| r.with(key, v)) {
                Some(Ok(next)) => next,
                _ => {
                    tracing::warn!(key = %k, value = %v, "ignoring a stored setting");
                    r
                }
            }
        })
    }

    /// `key`'s value as stored and shown.
    pub fn value(&self, key: Key) -> String {
        match key {
            Key::KeyLifetime => self.key_lifetime.as_secs().to_string(),
            Key::ExternalLicences => self.external_licences.to_string(),
            Key::SecondFactorForReps => self.second_factor_for_reps.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_stored_ones_override() {
        let base = Runtime {
            key_lifetime: Duration::from_secs(1200),
            external_licences: 5,
            second_factor_for_reps: false,
        };
        let r = base.with(Key::KeyLifetime, "600").unwrap();
        assert_eq!(r.key_lifetime, Duration::from_secs(600));
        assert_eq!(base.with(Key::KeyLifetime, "5"), Err(BadValue::KeyLifetime));
        assert_eq!(
            base.with(Key::ExternalLicences, "-1"),
            Err(BadValue::ExternalLicences)
        );
        assert_eq!(
            base.with(Key::SecondFactorForReps, "yes"),
            Err(BadValue::SecondFactorForReps)
        );
        let stored = vec![
            ("external_licences".to_owned(), "0".to_owned()),
            ("second_factor_for_reps".to_owned(), "true".to_owned()),
            ("unknown".to_owned(), "1".to_owned()),
            ("key_lifetime".to_owned(), "not a number".to_owned()),
        ];
        let r = Runtime::over(base, &stored);
        assert_eq!(r.external_licences, 0);
        assert!(r.second_factor_for_reps);
        assert_eq!(
            r.key_lifetime, base.key_lifetime,
            "a bad stored value is skipped"
        );
        for k in Key::ALL {
            assert_eq!(Key::parse(k.as_str()), Some(k));
            assert_eq!(r.with(k, &r.value(k)), Ok(r));
        }
    }
}
