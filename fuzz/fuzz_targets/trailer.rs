//! The configuration trailer of a personalised download, as the client reads its own file.
//! Any file: a configuration or an error, never a panic, nothing read beyond the bounds. And a
//! file the relay signed verifies, while any single changed byte of it is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lotse_bundle::anchor::{ANCHOR_LEN, MARKER};
use lotse_bundle::sign::{Signer, body_hash, trailer};
use lotse_bundle::verify::read_embedded;
use lotse_bundle::{Access, Config};
use std::io::Cursor;
use std::sync::OnceLock;

/// One relay key for the whole run, and the anchor stamped with its pin.
fn relay() -> &'static (Signer, [u8; ANCHOR_LEN]) {
    static RELAY: OnceLock<(Signer, [u8; ANCHOR_LEN])> = OnceLock::new();
    RELAY.get_or_init(|| {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .expect("a key");
        let signer = Signer::from_pkcs8(pkcs8.as_ref()).expect("the key loads");
        let mut anchor = [0u8; ANCHOR_LEN];
        anchor[..MARKER.len()].copy_from_slice(&MARKER);
        anchor[MARKER.len()..].copy_from_slice(&signer.pin());
        (signer, anchor)
    })
}

fuzz_target!(|data: &[u8]| {
    let (signer, anchor) = relay();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // Any file, with the stamped anchor and with an unstamped one.
    let _ = read_embedded(&mut Cursor::new(rest), anchor);
    let _ = read_embedded(
        &mut Cursor::new(rest),
        &lotse_bundle::anchor::UNSTAMPED_ANCHOR,
    );
    if mode % 64 != 0 || rest.len() < 5 {
        return;
    }
    // A file the relay signed (signing costs time: one input in 64). The body is no Windows
    // program, so the signature covers every byte of it.
    let (knobs, rest) = rest.split_at(5);
    let at = u32::from_le_bytes([knobs[0], knobs[1], knobs[2], knobs[3]]) as usize;
    let opts = knobs[4];
    let cut = rest.len() / 2;
    let mut file = b"\x7fELF".to_vec();
    file.extend_from_slice(&rest[..cut]);
    let text = String::from_utf8_lossy(&rest[cut..]).into_owned();
    let config = Config {
        relay: "relay.example.org:443".into(),
        pin: signer.pin_string(),
        access: if opts & 1 == 0 {
            Access::Key(text.chars().filter(char::is_ascii_digit).collect())
        } else {
            Access::Queue(text.clone())
        },
        rep_name: Some(text.clone()),
        terms: (opts & 2 != 0).then(|| text.clone()),
        lang: Some("de".into()),
        issued_at: u64::from(opts),
        relays: if opts & 4 != 0 {
            vec![text.clone(), "relay-b.example.org:443".into()]
        } else {
            Vec::new()
        },
    };
    let Ok(t) = trailer(&body_hash(&file), &config, signer) else {
        return;
    };
    file.extend_from_slice(&t);
    let got = read_embedded(&mut Cursor::new(&file), anchor).expect("the signed file verifies");
    assert_eq!(got, Some(config));
    let at = at % file.len();
    file[at] ^= 1 << (opts >> 5);
    assert!(
        read_embedded(&mut Cursor::new(&file), anchor).is_err(),
        "a change at byte {at} of {} was accepted",
        file.len()
    );
});
