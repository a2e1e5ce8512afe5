//! The clock the chat's times come from (`desktop::local_clock`), against `date` from coreutils:
//! in a zone with summer time, given as a POSIX rule so that no zone database is needed, on both
//! sides of the switches. A process of its own: it sets `TZ`, which nothing else here reads.
#![cfg(target_os = "linux")]

use lotse_platform::desktop::local_clock;
use std::process::Command;

#[test]
fn the_local_clock_agrees_with_date_in_a_zone_with_summer_time() {
    // Central European time: UTC+1, summer time UTC+2 from the last Sunday of March 01:00 UTC
    // to the last Sunday of October 01:00 UTC.
    let zone = "CET-1CEST,M3.5.0,M10.5.0/3";
    // SAFETY: the only test in this binary, and no other thread of it reads the environment.
    unsafe { std::env::set_var("TZ", zone) };
    let samples: [(i64, (u8, u8)); 6] = [
        (0, (1, 0)),              // 1970-01-01 00:00 UTC
        (1_774_745_999, (1, 59)), // 2026-03-29 00:59:59 UTC, just before summer time
        (1_774_746_000, (3, 0)),  // 01:00 UTC: the clock jumps from 02:00 to 03:00
        (1_792_889_999, (2, 59)), // 2026-10-25 00:59:59 UTC, summer time still
        (1_792_890_000, (2, 0)),  // 01:00 UTC: back from 03:00 to 02:00
        (1_795_999_500, (1, 45)), // 2026-11-30 00:45 UTC
    ];
    for (unix, expected) in samples {
        let out = Command::new("date")
            .env("TZ", zone)
            .env("LC_ALL", "C")
            .arg("-d")
            .arg(format!("@{unix}"))
            .arg("+%H:%M")
            .output()
            .expect("coreutils' date runs");
        let date = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let ours = local_clock(unix).map(|(h, m)| format!("{h:02}:{m:02}"));
        assert_eq!(ours.as_deref(), Some(date.as_str()), "at {unix}");
        assert_eq!(local_clock(unix), Some(expected), "at {unix}");
    }
    // The zone is read again on every call: UTC now.
    // SAFETY: as above.
    unsafe { std::env::set_var("TZ", "UTC0") };
    assert_eq!(local_clock(1_795_999_500), Some((0, 45)));
}
