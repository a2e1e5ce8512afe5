use super::*;
use crate::frame::{encode, limits};

fn huge(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

#[test]
fn customer_info_is_cut_to_its_bound() {
    let info = CustomerInfo {
        name: huge('ü', 40_000),
        host: format!("pc\n{}", huge('x', 100)),
        os: "Linux\u{202E}txt.exe".into(),
    }
    .bounded();
    assert_eq!(info.name.chars().count(), MAX_INFO_CHARS);
    assert_eq!(info.host, format!("pc{}", huge('x', MAX_INFO_CHARS - 2)));
    assert_eq!(info.os, "Linuxtxt.exe");
    let short = CustomerInfo {
        name: "Carla".into(),
        host: "carla-pc".into(),
        os: "Ubuntu 24.04".into(),
    };
    assert_eq!(
        short.clone().bounded(),
        short,
        "ordinary info is kept as it is"
    );
}

#[test]
fn a_full_queue_of_the_largest_entries_fits_one_control_frame() {
    // The widest characters UTF-8 has (4 bytes) in every field, and the largest numbers.
    let entry = QueueEntry {
        entry: u64::MAX,
        customer: CustomerInfo {
            name: huge('𝄞', 100_000),
            host: huge('𝄞', 100_000),
            os: huge('𝄞', 100_000),
        }
        .bounded(),
        since: u64::MAX,
        arrival: Arrival::invitation(&huge('𝄞', 100_000)),
        home: Some(bound_text(&huge('𝄞', 100_000), MAX_HOME_CHARS)),
    };
    let full = RepDown::Queue {
        entries: vec![entry.clone(); MAX_QUEUE_ENTRIES],
    };
    let frame = encode(&full, limits::CONTROL).expect("a full queue fits a control frame");
    assert!(frame.len() <= limits::CONTROL);
    // The session's first message to the rep carries one entry's info too.
    encode(
        &RepDown::Joined {
            customer: entry.customer,
        },
        limits::CONTROL,
    )
    .unwrap();
}

#[test]
fn unbounded_info_would_not_fit() {
    // What the bound protects against: two customers' raw 40 KB self-descriptions.
    let entry = QueueEntry {
        entry: 1,
        customer: CustomerInfo {
            name: huge('x', 40_000),
            host: String::new(),
            os: String::new(),
        },
        since: 0,
        arrival: Arrival::RepList,
        home: None,
    };
    let two = RepDown::Queue {
        entries: vec![entry.clone(), entry],
    };
    assert!(encode(&two, limits::CONTROL).is_err());
}
