//! Every message that crosses the network, and the framing around it: whatever bytes arrive,
//! decoding gives a message or a typed error, never a panic, and a decoded message encodes and
//! decodes back to itself (what the relay forwards is what it read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lotse_proto::frame::{FrameBuf, decode, encode, limits};
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{
    ClipContent, CustomerDown, CustomerUp, FileFrame, Hello, MonitorInfo, RepDown, RepUp,
    StreamHeader, VideoFrame,
};
use lotse_proto::sysinfo::SystemReport;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(body: &[u8], max: usize) {
    if body.len() > max {
        return;
    }
    let Ok(msg) = decode::<T>(body) else {
        return;
    };
    // A body that decoded within the limit encodes within it again (postcard's encoding is
    // never longer than what was read: varints come out in their shortest form).
    let frame = encode(&msg, max).expect("a decoded message encodes");
    let again: T = decode(&frame[4..]).expect("an encoded message decodes");
    assert_eq!(again, msg);
    // The same frame through the stream splitter, in two pieces.
    let mut fb = FrameBuf::new(max);
    let cut = 4 + (frame.len() - 4) / 2;
    fb.push(&frame[..cut]);
    match fb.pop::<T>().expect("half a frame is no error") {
        Some(whole) => assert!(cut == frame.len() && whole == msg),
        None => {
            fb.push(&frame[cut..]);
            assert_eq!(fb.pop::<T>().expect("the whole frame"), Some(msg));
        }
    }
}

/// A stream of frames cut anywhere: pops give messages, `None` or an error, never a panic; a
/// length over the limit is an error before the body arrives.
fn stream<T: DeserializeOwned + Debug>(bytes: &[u8], max: usize, pieces: u8) {
    let mut fb = FrameBuf::new(max);
    let step = (bytes.len() / (pieces as usize % 7 + 1)).max(1);
    for piece in bytes.chunks(step) {
        fb.push(piece);
        loop {
            match fb.pop::<T>() {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 13 {
        0 => round_trip::<Hello>(body, limits::CONTROL),
        1 => round_trip::<CustomerUp>(body, limits::CONTROL),
        2 => round_trip::<CustomerDown>(body, limits::CONTROL),
        3 => round_trip::<RepUp>(body, limits::CONTROL),
        4 => round_trip::<RepDown>(body, limits::CONTROL),
        5 => round_trip::<StreamHeader>(body, limits::STREAM_HEADER),
        6 => round_trip::<ClipContent>(body, limits::CLIPBOARD),
        7 => round_trip::<VideoFrame>(body, limits::VIDEO),
        8 => round_trip::<FileFrame>(body, limits::FILE_CHUNK),
        9 => round_trip::<InputEvent>(body, limits::INPUT),
        10 => round_trip::<SystemReport>(body, limits::CONTROL),
        11 => round_trip::<MonitorInfo>(body, limits::CONTROL),
        _ => {
            let Some((&pieces, rest)) = body.split_first() else {
                return;
            };
            stream::<CustomerDown>(rest, limits::CONTROL, pieces);
            stream::<RepDown>(rest, limits::CONTROL, pieces);
            stream::<InputEvent>(rest, limits::INPUT, pieces);
        }
    }
});
