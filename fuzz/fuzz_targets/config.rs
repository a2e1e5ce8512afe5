//! The relay's settings file (`/etc/lotse/relay.toml`): any text gives settings or an error
//! naming the line, never a panic; settings that parse are checked into a configuration or a
//! clear error. Files the settings name are only read when they are regular files of a bounded
//! size (a path such as `/dev/zero` is refused, not read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lotse_relay::settings::Settings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Settings::parse(text) {
        Ok(settings) => {
            // Flags over the file, as `serve` does, then every check.
            let merged = Settings::default().over(settings.clone());
            assert_eq!(merged, settings);
            let _ = settings.config();
        }
        Err(message) => assert!(!message.is_empty()),
    }
});
