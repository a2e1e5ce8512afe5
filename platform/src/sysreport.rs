//! The system report (tier `sysinfo`): gathered from the `sysinfo` crate on every system, plus
//! what the system itself records about installed updates (Debian/Ubuntu: apt's history log;
//! Windows: the hotfixes WMI lists).
//!
//! Gathering takes about a quarter of a second (processor load is the difference of two
//! samples); call it off any loop that must stay responsive.

use lotse_proto::msg::MonitorInfo;
use lotse_proto::sysinfo::{self as report, SystemReport};
use std::time::{SystemTime, UNIX_EPOCH};

/// Gathers the report now. `displays` are the monitors the screen capture knows (empty when it
/// cannot tell). Parts the system does not give stay empty; nothing here fails.
pub fn gather(displays: &[MonitorInfo]) -> SystemReport {
    use ::sysinfo::{
        CpuRefreshKind, Disks, MINIMUM_CPU_UPDATE_INTERVAL, Networks, ProcessRefreshKind,
        ProcessesToUpdate, System, UpdateKind, Users,
    };
    let text = |r: Result<String, ::sysinfo::Error>| r.unwrap_or_default();

    // The processor's load: sysinfo's own sampling everywhere but on Windows (see `cpu_times`).
    let load = if cfg!(windows) {
        CpuRefreshKind::nothing()
    } else {
        CpuRefreshKind::nothing().with_usage()
    };
    let mut sys = System::new().ok();
    let first = cpu_times();
    if let Some(s) = sys.as_mut() {
        let kind = ProcessRefreshKind::nothing()
            .with_memory()
            .with_cpu()
            .with_user(UpdateKind::OnlyIfNotSet);
        s.refresh_cpu_specifics(load);
        s.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        std::thread::sleep(MINIMUM_CPU_UPDATE_INTERVAL.max(std::time::Duration::from_millis(200)));
        s.refresh_cpu_specifics(load);
        s.refresh_memory();
        s.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    }
    let sampled = first
        .zip(cpu_times())
        .map(|((idle0, all0), (idle1, all1))| {
            let all = all1.saturating_sub(all0).max(1);
            100.0 * (1.0 - idle1.saturating_sub(idle0) as f32 / all as f32)
        });

    // Windows: the account from GetUserNameW, not sysinfo's user list, which walks the logon
    // sessions and, where there are none to list (Wine), builds a slice from a null pointer.
    let user = match account_name() {
        Some(name) => name,
        None => current_user(sys.as_ref(), Users::new_with_refreshed_list().ok()),
    };

    let mut processes: Vec<report::Process> = sys
        .as_ref()
        .map(|s| {
            s.processes()
                .values()
                // Threads are listed as processes on Linux; the report names programs.
                .filter(|p| p.thread_kind().is_none())
                .map(|p| report::Process {
                    name: p.name().to_string_lossy().into_owned(),
                    pid: p.pid().as_u32(),
                    cpu_percent: p.cpu_usage().clamp(0.0, f32::from(u16::MAX)).round() as u16,
                    memory: p.memory(),
                })
                .collect()
        })
        .unwrap_or_default();
    processes.sort_by(|a, b| b.memory.cmp(&a.memory).then(a.pid.cmp(&b.pid)));
    processes.truncate(report::MAX_PROCESSES);

    let mut disks: Vec<report::Disk> = Disks::new_with_refreshed_list()
        .map(|d| {
            d.iter()
                .map(|d| report::Disk {
                    mount: d.mount_point().to_string_lossy().into_owned(),
                    file_system: d.file_system().to_string_lossy().into_owned(),
                    total: d.total_space(),
                    available: d.available_space(),
                })
                .collect()
        })
        .unwrap_or_default();
    disks.sort_by(|a, b| a.mount.cmp(&b.mount));

    let mut interfaces: Vec<report::Interface> = Networks::new_with_refreshed_list()
        .map(|n| {
            n.iter()
                .map(|(name, data)| {
                    let mut addresses: Vec<_> = data.ip_networks().to_vec();
                    addresses.sort();
                    let mac = data.mac_address();
                    report::Interface {
                        name: name.to_string_lossy().into_owned(),
                        mac: if mac.is_unspecified() {
                            String::new()
                        } else {
                            mac.to_string()
                        },
                        addresses: addresses.iter().map(|a| a.to_string()).collect(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    interfaces.sort_by(|a, b| a.name.cmp(&b.name));

    let (cpu_model, cpu_cores, cpu_usage) = sys.as_ref().map_or((String::new(), 0, 0.0), |s| {
        (
            s.cpus()
                .first()
                .map(|c| c.brand().trim().to_owned())
                .unwrap_or_default(),
            s.cpus().len() as u32,
            sampled.unwrap_or_else(|| s.global_cpu_usage()),
        )
    });

    SystemReport {
        gathered_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        os_name: pretty_name().unwrap_or_else(|| text(System::long_os_version())),
        os_version: text(System::os_version()),
        kernel: text(System::kernel_version()),
        host: text(System::host_name()),
        user,
        uptime_secs: System::uptime().unwrap_or(0),
        cpu_model,
        cpu_cores,
        cpu_usage_percent: cpu_usage.clamp(0.0, 100.0).round() as u16,
        memory_total: sys.as_ref().map_or(0, |s| s.total_memory()),
        memory_available: sys.as_ref().map_or(0, |s| s.available_memory()),
        swap_total: sys.as_ref().map_or(0, |s| s.total_swap()),
        swap_free: sys.as_ref().map_or(0, |s| s.free_swap()),
        disks,
        interfaces,
        displays: displays
            .iter()
            .map(|m| report::Display {
                name: m.name.clone(),
                width: m.width,
                height: m.height,
                primary: m.primary,
            })
            .collect(),
        processes,
        updates: updates(),
    }
    .bounded()
}

/// Windows: (idle, kernel + user) processor time so far, from GetSystemTimes. sysinfo reads the
/// load through PDH counters there and, when a counter is missing, asks PDH to reload its
/// registry with `PdhEnumObjectsW` — which Wine does not implement, so calling it ends the
/// program. Two samples of GetSystemTimes give the same figure on Windows and under Wine.
#[cfg(windows)]
fn cpu_times() -> Option<(u64, u64)> {
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::System::Threading::GetSystemTimes;
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut idle, mut kernel, mut user) = (zero, zero, zero);
    // SAFETY: three valid out-pointers to FILETIME.
    let ok = unsafe { GetSystemTimes(&mut idle, &mut kernel, &mut user) };
    let n = |t: FILETIME| u64::from(t.dwHighDateTime) << 32 | u64::from(t.dwLowDateTime);
    // Kernel time includes idle time.
    (ok != 0).then(|| (n(idle), n(kernel).saturating_add(n(user))))
}

#[cfg(not(windows))]
fn cpu_times() -> Option<(u64, u64)> {
    None
}

/// Windows: the account this program runs as (GetUserNameW).
#[cfg(windows)]
fn account_name() -> Option<String> {
    use windows_sys::Win32::System::WindowsProgramming::GetUserNameW;
    let mut buf = [0u16; 257];
    let mut len = buf.len() as u32;
    // SAFETY: `buf` holds `len` UTF-16 units; on success `len` counts the copied ones with the NUL.
    let ok = unsafe { GetUserNameW(buf.as_mut_ptr(), &mut len) };
    let len = (len as usize).saturating_sub(1).min(buf.len());
    (ok != 0)
        .then(|| String::from_utf16_lossy(&buf[..len]))
        .filter(|n| !n.is_empty())
}

#[cfg(not(windows))]
fn account_name() -> Option<String> {
    None
}

/// The account this program runs as: its process's owner by the system's user list, else the
/// login name the environment gives.
fn current_user(sys: Option<&::sysinfo::System>, users: Option<::sysinfo::Users>) -> String {
    let by_uid = (|| {
        let pid = ::sysinfo::get_current_pid().ok()?;
        let uid = sys?.process(pid)?.user_id()?.clone();
        users?.get_user_by_id(&uid).map(|u| u.name().to_owned())
    })();
    by_uid
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("USERNAME").ok())
        .unwrap_or_default()
}

/// The system's own name for itself as people know it: `PRETTY_NAME` from os-release on Linux
/// ("Debian GNU/Linux 12 (bookworm)").
#[cfg(target_os = "linux")]
fn pretty_name() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .ok()?;
    os_release_pretty_name(&text)
}

#[cfg(not(target_os = "linux"))]
fn pretty_name() -> Option<String> {
    None
}

/// `PRETTY_NAME="…"` of an os-release file, unquoted.
pub fn os_release_pretty_name(text: &str) -> Option<String> {
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))?
        .trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    Some(value.to_owned()).filter(|v| !v.is_empty())
}

/// The most recent installed updates, newest first, as the system records them.
#[cfg(target_os = "linux")]
fn updates() -> Vec<String> {
    // Debian and Ubuntu: every apt run that installed or upgraded packages. Other distributions
    // keep other logs; the report then says there is no readable record.
    std::fs::read_to_string("/var/log/apt/history.log")
        .map(|log| apt_history(&log))
        .unwrap_or_default()
}

/// Windows: the installed hotfixes as Windows lists them under "Installed updates"
/// (WMI's `Win32_QuickFixEngineering`, read through the `wmi` crate).
#[cfg(windows)]
fn updates() -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Row {
        #[serde(rename = "HotFixID")]
        id: Option<String>,
        #[serde(rename = "Description")]
        description: Option<String>,
        #[serde(rename = "InstalledOn")]
        installed_on: Option<String>,
    }
    let rows = wmi::WMIConnection::new().and_then(|c| {
        c.raw_query::<Row>(
            "SELECT HotFixID, Description, InstalledOn FROM Win32_QuickFixEngineering",
        )
    });
    match rows {
        Ok(rows) => hotfixes(rows.into_iter().map(|r| {
            (
                r.id.unwrap_or_default(),
                r.description.unwrap_or_default(),
                r.installed_on.unwrap_or_default(),
            )
        })),
        Err(e) => {
            tracing::debug!("installed updates not readable: {e}");
            Vec::new()
        }
    }
}

/// Other systems: no record read.
#[cfg(not(any(target_os = "linux", windows)))]
fn updates() -> Vec<String> {
    Vec::new()
}

/// One line per hotfix, newest first, undated ones last: `2024-05-14 Security Update KB5037771`.
/// `rows` are (HotFixID, Description, InstalledOn) as WMI gives them; InstalledOn is a date
/// written the way Windows writes it (`5/14/2024`, month first; a first number over 12 is a day)
/// or a FILETIME in hexadecimal on some old systems.
pub fn hotfixes(rows: impl IntoIterator<Item = (String, String, String)>) -> Vec<String> {
    let mut out: Vec<(Option<Ymd>, String)> = rows
        .into_iter()
        .filter(|(id, _, _)| !id.trim().is_empty())
        .map(|(id, description, installed_on)| {
            let date = windows_date(installed_on.trim());
            let what = [description.trim(), id.trim()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let line = match date {
                Some((y, m, d)) => format!("{y:04}-{m:02}-{d:02} {what}"),
                None => what,
            };
            (date, line)
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    out.dedup_by(|a, b| a.1 == b.1);
    out.truncate(report::MAX_UPDATES);
    out.into_iter().map(|(_, line)| line).collect()
}

/// Year, month, day.
type Ymd = (u32, u32, u32);

/// The date of a WMI `InstalledOn`.
fn windows_date(text: &str) -> Option<Ymd> {
    if !text.contains('/') {
        // A FILETIME: 100 ns steps since 1601-01-01.
        let ticks = u64::from_str_radix(text, 16).ok()?;
        let days = i64::try_from(ticks / 10_000_000 / 86_400).ok()? - 134_774;
        return civil_from_days(days);
    }
    let parts: Vec<u32> = text
        .split('/')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    let &[a, b, year] = parts.as_slice() else {
        return None;
    };
    let (month, day) = if a > 12 { (b, a) } else { (a, b) };
    ((1..=12).contains(&month) && (1..=31).contains(&day) && (1980..=9999).contains(&year))
        .then_some((year, month, day))
}

/// The calendar date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> Option<Ymd> {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let year = u32::try_from(year)
        .ok()
        .filter(|y| (1980..=9999).contains(y))?;
    Some((year, u32::try_from(month).ok()?, u32::try_from(day).ok()?))
}

/// One line per apt run that installed, upgraded or removed something, newest first:
/// `2026-11-30 12:01 Upgrade: openssl 3.0.15-1, libssl3 3.0.15-1`.
pub fn apt_history(log: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in log.split("\n\n") {
        let mut when = None;
        let mut what = Vec::new();
        for line in entry.lines() {
            if let Some(date) = line.strip_prefix("Start-Date: ") {
                let mut parts = date.split_whitespace();
                let (day, time) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                when = Some(format!("{day} {}", time.get(..5).unwrap_or(time)));
            }
            for verb in ["Upgrade", "Install", "Remove", "Purge"] {
                if let Some(list) = line.strip_prefix(verb).and_then(|l| l.strip_prefix(": ")) {
                    what.push(format!("{verb}: {}", packages(list)));
                }
            }
        }
        if let Some(when) = when
            && !what.is_empty()
        {
            out.push(format!("{when} {}", what.join("; ")));
        }
    }
    out.reverse();
    out.truncate(report::MAX_UPDATES);
    out
}

/// `a:amd64 (1.0, 1.1), b (2.0, automatic)` → `a 1.1, b 2.0`: each package with the version it
/// has now.
fn packages(list: &str) -> String {
    let mut out = Vec::new();
    let mut rest = list;
    while let Some(open) = rest.find(" (") {
        let name = rest[..open].trim_start_matches([',', ' ']);
        let name = name.split(':').next().unwrap_or(name);
        let Some(close) = rest[open..].find(')') else {
            break;
        };
        let versions: Vec<&str> = rest[open + 2..open + close]
            .split(", ")
            .filter(|v| *v != "automatic")
            .collect();
        out.push(match versions.last() {
            Some(v) => format!("{name} {v}"),
            None => name.to_owned(),
        });
        rest = &rest[open + close + 1..];
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_history_lists_runs_newest_first_with_current_versions() {
        let log = "\nStart-Date: 2026-11-01  09:00:01\nCommandline: apt-get install xdotool\nInstall: xdotool:amd64 (1:3.20211022.1-1), libxdo3:amd64 (1:3.20211022.1-1, automatic)\nEnd-Date: 2026-11-01  09:00:03\n\nStart-Date: 2026-11-30  12:01:44\nCommandline: apt-get upgrade\nUpgrade: openssl:amd64 (3.0.14-1~deb12u2, 3.0.15-1~deb12u1), libssl3:amd64 (3.0.14-1~deb12u2, 3.0.15-1~deb12u1)\nEnd-Date: 2026-11-30  12:01:50\n\nStart-Date: 2026-12-01  08:00:00\nCommandline: apt-get update\nEnd-Date: 2026-12-01  08:00:01\n";
        assert_eq!(
            apt_history(log),
            vec![
                "2026-11-30 12:01 Upgrade: openssl 3.0.15-1~deb12u1, libssl3 3.0.15-1~deb12u1"
                    .to_string(),
                "2026-11-01 09:00 Install: xdotool 1:3.20211022.1-1, libxdo3 1:3.20211022.1-1"
                    .to_string(),
            ]
        );
        assert!(apt_history("garbage\n\n(\n)Start-Date:").is_empty());
    }

    #[test]
    fn hotfixes_are_listed_newest_first_with_their_dates() {
        let row = |id: &str, d: &str, on: &str| (id.to_owned(), d.to_owned(), on.to_owned());
        let list = hotfixes([
            row("KB5034441", "Security Update", "1/9/2024"),
            row("KB5037771", "Security Update", "5/14/2024"),
            // Wine writes the day first; a first number over 12 can only be a day.
            row("KB1234567", "Update", "22/2/2022"),
            row("KB0000001", "", ""),
            row("", "Update", "1/1/2020"),
            // An old system's FILETIME: 2017-06-30.
            row("KB4022719", "Update", "1d2f133d10bc000"),
            row("KB5037771", "Security Update", "5/14/2024"),
        ]);
        assert_eq!(
            list,
            [
                "2024-05-14 Security Update KB5037771",
                "2024-01-09 Security Update KB5034441",
                "2022-02-22 Update KB1234567",
                "2017-06-30 Update KB4022719",
                "KB0000001",
            ]
        );
        assert_eq!(windows_date("13/13/2024"), None);
        assert_eq!(windows_date("not a date"), None);
        assert_eq!(windows_date("ffffffffffffffff"), None);
        assert_eq!(civil_from_days(0), None, "1970 is before any hotfix");
        assert_eq!(civil_from_days(19_737), Some((2024, 1, 15)));
    }

    #[test]
    fn os_release_names_the_system_as_people_know_it() {
        let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
        assert_eq!(
            os_release_pretty_name(text).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(
            os_release_pretty_name("PRETTY_NAME=Arch\n").as_deref(),
            Some("Arch")
        );
        assert_eq!(os_release_pretty_name("NAME=x\n"), None);
    }

    /// On the machine running the tests: the fields `/proc` states exactly match.
    #[cfg(target_os = "linux")]
    #[test]
    fn gathers_what_proc_says() {
        let r = gather(&[]);
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib = |key: &str| -> u64 {
            meminfo
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
                * 1024
        };
        assert_eq!(r.memory_total, kib("MemTotal:"));
        assert_eq!(r.swap_total, kib("SwapTotal:"));
        let cpus = std::fs::read_to_string("/proc/cpuinfo")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        assert_eq!(r.cpu_cores as usize, cpus);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        assert_eq!(r.kernel, kernel.trim());
        let me = std::process::id();
        assert!(
            r.processes.iter().any(|p| p.pid == me) || r.processes.len() == report::MAX_PROCESSES,
            "{:?}",
            r.processes
        );
        assert!(
            r.interfaces.iter().any(|i| i.name == "lo"),
            "{:?}",
            r.interfaces
        );
        assert!(r.disks.iter().any(|d| d.mount == "/") || r.disks.is_empty());
    }
}
