//! The system-information report (tier `sysinfo`): what the customer's program tells a rep about
//! the machine once the person allowed it, and how both windows lay it out for people.
//!
//! The report is read-only data, gathered on the customer's machine (`lotse-platform`), shown to
//! the person exactly as it is sent, forwarded by the relay only to reps holding `sysinfo`, and
//! shown by the rep's console. Every list and text in it is chosen by a peer, so the relay keeps
//! only [`SystemReport::bounded`], which always fits one control frame (tested).

use crate::msg::bound_text;
use serde::{Deserialize, Serialize};

/// Most characters of any text field.
pub const MAX_TEXT: usize = 128;
/// Most running programs listed (the ones using the most memory).
pub const MAX_PROCESSES: usize = 150;
/// Most disks, network interfaces, addresses per interface, displays and update lines.
pub const MAX_DISKS: usize = 32;
pub const MAX_INTERFACES: usize = 24;
pub const MAX_ADDRESSES: usize = 8;
pub const MAX_DISPLAYS: usize = 16;
pub const MAX_UPDATES: usize = 30;

/// Most bytes of an encoded report: with the message around it, it fits one control frame
/// ([`crate::frame::limits::CONTROL`]).
pub const MAX_REPORT_BYTES: usize = 60 * 1024;

/// The encoded size of `v` in bytes (`usize::MAX` if it cannot be encoded).
fn encoded_len<T: Serialize>(v: &T) -> usize {
    postcard::to_allocvec(v).map_or(usize::MAX, |v| v.len())
}

/// What the customer's machine says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemReport {
    /// Unix seconds when it was gathered.
    pub gathered_at: u64,
    /// e.g. "Debian GNU/Linux 12 (bookworm)", "Windows 11 Pro".
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    pub host: String,
    /// The account the customer's program runs as.
    pub user: String,
    pub uptime_secs: u64,
    pub cpu_model: String,
    pub cpu_cores: u32,
    /// Average load of all cores over the moment of gathering, whole percent.
    pub cpu_usage_percent: u16,
    pub memory_total: u64,
    pub memory_available: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    pub disks: Vec<Disk>,
    pub interfaces: Vec<Interface>,
    pub displays: Vec<Display>,
    pub processes: Vec<Process>,
    /// The most recent installed updates as the system records them (newest first); empty when
    /// the system keeps no such record the program can read.
    pub updates: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    pub mount: String,
    pub file_system: String,
    pub total: u64,
    pub available: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    pub mac: String,
    /// Addresses with prefix length, e.g. "192.168.1.20/24", "fe80::1/64".
    pub addresses: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Display {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub primary: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub name: String,
    pub pid: u32,
    /// Percent of one core (above 100 on several cores).
    pub cpu_percent: u16,
    pub memory: u64,
}

impl SystemReport {
    /// The report as the relay keeps and passes it on, and as the windows show it: control and
    /// bidirectional-formatting characters dropped, every text cut to [`MAX_TEXT`] characters,
    /// every list cut to its maximum.
    pub fn bounded(self) -> SystemReport {
        let t = |s: String| bound_text(&s, MAX_TEXT);
        SystemReport {
            gathered_at: self.gathered_at,
            os_name: t(self.os_name),
            os_version: t(self.os_version),
            kernel: t(self.kernel),
            host: t(self.host),
            user: t(self.user),
            uptime_secs: self.uptime_secs,
            cpu_model: t(self.cpu_model),
            cpu_cores: self.cpu_cores,
            cpu_usage_percent: self.cpu_usage_percent,
            memory_total: self.memory_total,
            memory_available: self.memory_available,
            swap_total: self.swap_total,
            swap_free: self.swap_free,
            disks: self
                .disks
                .into_iter()
                .take(MAX_DISKS)
                .map(|d| Disk {
                    mount: t(d.mount),
                    file_system: t(d.file_system),
                    ..d
                })
                .collect(),
            interfaces: self
                .interfaces
                .into_iter()
                .take(MAX_INTERFACES)
                .map(|i| Interface {
                    name: t(i.name),
                    mac: t(i.mac),
                    addresses: i.addresses.into_iter().take(MAX_ADDRESSES).map(t).collect(),
                })
                .collect(),
            displays: self
                .displays
                .into_iter()
                .take(MAX_DISPLAYS)
                .map(|d| Display {
                    name: t(d.name),
                    ..d
                })
                .collect(),
            processes: self
                .processes
                .into_iter()
                .take(MAX_PROCESSES)
                .map(|p| Process {
                    name: t(p.name),
                    ..p
                })
                .collect(),
            updates: self.updates.into_iter().take(MAX_UPDATES).map(t).collect(),
        }
        .within(MAX_REPORT_BYTES)
    }

    /// Drops entries from the end of the longest-growing lists (running programs first, then
    /// updates, interfaces, disks, displays) until the encoded report is at most `max` bytes.
    fn within(mut self, max: usize) -> SystemReport {
        let mut total = encoded_len(&self);
        let lists: [fn(&mut SystemReport) -> Option<usize>; 5] = [
            |r| r.processes.pop().map(|p| encoded_len(&p)),
            |r| r.updates.pop().map(|u| encoded_len(&u)),
            |r| r.interfaces.pop().map(|i| encoded_len(&i)),
            |r| r.disks.pop().map(|d| encoded_len(&d)),
            |r| r.displays.pop().map(|d| encoded_len(&d)),
        ];
        for drop_one in lists {
            while total > max {
                match drop_one(&mut self) {
                    Some(n) => total = total.saturating_sub(n),
                    None => break,
                }
            }
        }
        self
    }

    /// The report laid out for people: titled sections of label/value rows, worded by `words`.
    /// The customer's window and the rep's console show exactly this, so the person reads what
    /// the rep gets.
    pub fn sections(&self, words: &Words) -> Vec<Section> {
        let mut out = Vec::new();
        out.push(Section {
            title: words.system.into(),
            rows: vec![
                (words.os.into(), join2(&self.os_name, &self.os_version)),
                (words.kernel.into(), self.kernel.clone()),
                (words.host.into(), self.host.clone()),
                (words.user.into(), self.user.clone()),
                (words.uptime.into(), duration(self.uptime_secs, words)),
            ],
        });
        out.push(Section {
            title: words.hardware.into(),
            rows: vec![
                (words.cpu.into(), self.cpu_model.clone()),
                (words.cores.into(), self.cpu_cores.to_string()),
                (
                    words.cpu_usage.into(),
                    format!("{} %", self.cpu_usage_percent),
                ),
                (
                    words.memory.into(),
                    free_of(self.memory_available, self.memory_total, words),
                ),
                (
                    words.swap.into(),
                    free_of(self.swap_free, self.swap_total, words),
                ),
            ],
        });
        out.push(Section {
            title: words.disks.into(),
            rows: self
                .disks
                .iter()
                .map(|d| {
                    (
                        d.mount.clone(),
                        format!(
                            "{} ({})",
                            free_of(d.available, d.total, words),
                            d.file_system
                        ),
                    )
                })
                .collect(),
        });
        out.push(Section {
            title: words.network.into(),
            rows: self
                .interfaces
                .iter()
                .map(|i| {
                    let mut v = i.addresses.join(", ");
                    if !i.mac.is_empty() {
                        if !v.is_empty() {
                            v.push_str("; ");
                        }
                        v.push_str(&i.mac);
                    }
                    (i.name.clone(), v)
                })
                .collect(),
        });
        out.push(Section {
            title: words.displays.into(),
            rows: self
                .displays
                .iter()
                .map(|d| {
                    let mut v = format!("{} × {}", d.width, d.height);
                    if d.primary {
                        v.push_str(&format!(" ({})", words.primary));
                    }
                    (d.name.clone(), v)
                })
                .collect(),
        });
        out.push(Section {
            title: words.processes.into(),
            rows: self
                .processes
                .iter()
                .map(|p| {
                    (
                        format!("{} ({})", p.name, p.pid),
                        format!("{} % CPU, {}", p.cpu_percent, bytes(p.memory)),
                    )
                })
                .collect(),
        });
        out.push(Section {
            title: words.updates.into(),
            rows: if self.updates.is_empty() {
                vec![(String::new(), words.no_updates.into())]
            } else {
                self.updates
                    .iter()
                    .map(|u| (String::new(), u.clone()))
                    .collect()
            },
        });
        out
    }

    /// The whole report as plain text (for saving and for the CLI), worded by `words`.
    pub fn to_text(&self, words: &Words) -> String {
        let mut s = String::new();
        for sec in self.sections(words) {
            s.push_str(&format!("== {}\n", sec.title));
            for (k, v) in sec.rows {
                if k.is_empty() {
                    s.push_str(&format!("  {v}\n"));
                } else {
                    s.push_str(&format!("  {k}: {v}\n"));
                }
            }
            s.push('\n');
        }
        s
    }
}

/// A titled part of the report: label/value rows (an empty label: the value stands alone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub rows: Vec<(String, String)>,
}

/// The words the report is laid out with, in one language.
#[derive(Clone, Copy, Debug)]
pub struct Words {
    pub system: &'static str,
    pub os: &'static str,
    pub kernel: &'static str,
    pub host: &'static str,
    pub user: &'static str,
    pub uptime: &'static str,
    pub hardware: &'static str,
    pub cpu: &'static str,
    pub cores: &'static str,
    pub cpu_usage: &'static str,
    pub memory: &'static str,
    pub swap: &'static str,
    pub disks: &'static str,
    pub network: &'static str,
    pub displays: &'static str,
    pub primary: &'static str,
    pub processes: &'static str,
    pub updates: &'static str,
    pub no_updates: &'static str,
    /// "{free} free of {total}"
    pub free_of: &'static str,
    pub days: &'static str,
    pub hours: &'static str,
    pub minutes: &'static str,
}

impl Words {
    pub const ENGLISH: Words = Words {
        system: "System",
        os: "Operating system",
        kernel: "Kernel",
        host: "Computer name",
        user: "Signed-in user",
        uptime: "Running for",
        hardware: "Processor and memory",
        cpu: "Processor",
        cores: "Cores",
        cpu_usage: "Processor load",
        memory: "Memory",
        swap: "Swap",
        disks: "Disks",
        network: "Network",
        displays: "Displays",
        primary: "main display",
        processes: "Running programs (most memory first)",
        updates: "Installed updates (newest first)",
        no_updates: "The system keeps no record of updates that could be read.",
        free_of: "{free} free of {total}",
        days: "d",
        hours: "h",
        minutes: "min",
    };

    pub const GERMAN: Words = Words {
        system: "System",
        os: "Betriebssystem",
        kernel: "Kernel",
        host: "Computername",
        user: "Angemeldeter Benutzer",
        uptime: "Läuft seit",
        hardware: "Prozessor und Speicher",
        cpu: "Prozessor",
        cores: "Kerne",
        cpu_usage: "Prozessorlast",
        memory: "Arbeitsspeicher",
        swap: "Auslagerungsspeicher",
        disks: "Laufwerke",
        network: "Netzwerk",
        displays: "Bildschirme",
        primary: "Hauptbildschirm",
        processes: "Laufende Programme (größter Speicherbedarf zuerst)",
        updates: "Installierte Aktualisierungen (neueste zuerst)",
        no_updates: "Das System führt keine lesbare Liste der Aktualisierungen.",
        free_of: "{free} frei von {total}",
        days: "T",
        hours: "Std.",
        minutes: "Min.",
    };

    /// German for `german`, else English.
    pub fn of(german: bool) -> &'static Words {
        if german {
            &Words::GERMAN
        } else {
            &Words::ENGLISH
        }
    }
}

fn join2(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (_, true) => a.to_string(),
        (true, false) => b.to_string(),
        (false, false) if a.contains(b) => a.to_string(),
        (false, false) => format!("{a} {b}"),
    }
}

fn free_of(free: u64, total: u64, w: &Words) -> String {
    w.free_of
        .replace("{free}", &bytes(free))
        .replace("{total}", &bytes(total))
}

/// `n` bytes for people: binary units with one decimal (GiB, MiB, KiB).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn duration(secs: u64, w: &Words) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d} {} {h} {}", w.days, w.hours)
    } else if h > 0 {
        format!("{h} {} {m} {}", w.hours, w.minutes)
    } else {
        format!("{m} {}", w.minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::limits;
    use crate::msg::{CustomerUp, RepDown};

    fn long(c: char) -> String {
        std::iter::repeat_n(c, 2 * MAX_TEXT).collect()
    }

    /// The largest report a peer can make the relay pass on still fits one control frame, both
    /// on the customer's way up and on the rep's way down.
    #[test]
    fn a_bounded_worst_case_fits_a_control_frame() {
        let s = long('\u{1F600}');
        // Every list longer than its maximum (the relay cuts them); the strings too.
        let n = MAX_PROCESSES + 10;
        let r = SystemReport {
            gathered_at: u64::MAX,
            os_name: s.clone(),
            os_version: s.clone(),
            kernel: s.clone(),
            host: s.clone(),
            user: s.clone(),
            uptime_secs: u64::MAX,
            cpu_model: s.clone(),
            cpu_cores: u32::MAX,
            cpu_usage_percent: u16::MAX,
            memory_total: u64::MAX,
            memory_available: u64::MAX,
            swap_total: u64::MAX,
            swap_free: u64::MAX,
            disks: vec![
                Disk {
                    mount: s.clone(),
                    file_system: s.clone(),
                    total: u64::MAX,
                    available: u64::MAX
                };
                n
            ],
            interfaces: vec![
                Interface {
                    name: s.clone(),
                    mac: s.clone(),
                    addresses: vec![s.clone(); MAX_ADDRESSES + 10]
                };
                n
            ],
            displays: vec![
                Display {
                    name: s.clone(),
                    width: u32::MAX,
                    height: u32::MAX,
                    primary: true
                };
                n
            ],
            processes: vec![
                Process {
                    name: s.clone(),
                    pid: u32::MAX,
                    cpu_percent: u16::MAX,
                    memory: u64::MAX
                };
                n
            ],
            updates: vec![s.clone(); n],
        }
        .bounded();
        assert_eq!(r.host.chars().count(), MAX_TEXT);
        assert!(encoded_len(&r) <= MAX_REPORT_BYTES);
        // Programs went first to make room; what the machine says about itself stays.
        assert!(r.processes.is_empty() && !r.interfaces.is_empty());
        let up = crate::encode(
            &CustomerUp::Sysinfo {
                rep: u64::MAX,
                report: Box::new(r.clone()),
            },
            limits::CONTROL,
        );
        assert!(up.is_ok(), "{up:?}");
        let down = crate::encode(
            &RepDown::Sysinfo {
                report: Box::new(r),
            },
            limits::CONTROL,
        );
        assert!(down.is_ok(), "{down:?}");
    }

    /// A real machine's report is not cut: 150 programs with ordinary names fit easily.
    #[test]
    fn an_ordinary_report_keeps_every_program() {
        let r = SystemReport {
            processes: (0..400)
                .map(|i| Process {
                    name: format!("program-with-a-name-{i}"),
                    pid: 100_000 + i,
                    cpu_percent: 12,
                    memory: 123_456_789,
                })
                .collect(),
            ..Default::default()
        }
        .bounded();
        assert_eq!(r.processes.len(), MAX_PROCESSES);
    }

    #[test]
    fn bounded_drops_control_and_bidi_characters() {
        let r = SystemReport {
            host: "pc\u{202E}txt.exe\nx".into(),
            ..Default::default()
        }
        .bounded();
        assert_eq!(r.host, "pctxt.exex");
    }

    #[test]
    fn sections_read_in_both_languages() {
        let r = SystemReport {
            os_name: "Debian GNU/Linux 12 (bookworm)".into(),
            os_version: "12".into(),
            uptime_secs: 2 * 86_400 + 3 * 3600 + 60,
            memory_total: 8 << 30,
            memory_available: 3 << 30,
            disks: vec![Disk {
                mount: "/".into(),
                file_system: "ext4".into(),
                total: 100 << 30,
                available: 40 << 30,
            }],
            ..Default::default()
        };
        let de = r.to_text(&Words::GERMAN);
        assert!(
            de.contains("Betriebssystem: Debian GNU/Linux 12 (bookworm)\n"),
            "{de}"
        );
        assert!(de.contains("Läuft seit: 2 T 3 Std."), "{de}");
        assert!(
            de.contains("Arbeitsspeicher: 3.0 GiB frei von 8.0 GiB"),
            "{de}"
        );
        assert!(de.contains("/: 40.0 GiB frei von 100.0 GiB (ext4)"), "{de}");
        let en = r.to_text(&Words::ENGLISH);
        assert!(en.contains("Memory: 3.0 GiB free of 8.0 GiB"), "{en}");
        assert!(en.contains("no record of updates"), "{en}");
        assert_eq!(
            r.sections(&Words::GERMAN).len(),
            r.sections(&Words::ENGLISH).len()
        );
    }
}
