//! Streams a hostile customer could send, kept from fuzzing, through the rep's real video
//! receiver (OpenH264). Each input has the `h264` fuzz target's layout: repeated, one flag byte
//! (bit 0 keyframe, bit 7 a gap in `seq`), two bytes of length (little-endian), then that many
//! bytes of the frame.

mod support;

use lotse_rep::{Received, VideoReceiver};

/// Feeds `data` frame by frame; returns what the receiver made of each frame.
fn feed(data: &[u8]) -> Vec<Received> {
    let mut rx = VideoReceiver::new().expect("a decoder");
    support::fuzz_frames(data)
        .iter()
        .map(|f| rx.receive(f))
        .collect()
}

/// OpenH264 2.7.0 (as `openh264-sys2` 0.9.9 vendors it) finished a 16×16 picture left
/// unfinished after a new parameter set of 176×144 with the same id arrived: error concealment
/// read and wrote 99 macroblocks' worth in buffers of one, corrupting the rep's heap (the `h264`
/// fuzz target, after 3.4 million runs). Patched in `patches/openh264-sys2` (the picture is
/// dropped as damaged, and the decoder reports it). Unpatched this test dies in glibc's `free()`
/// ("invalid next size"), three runs out of three here.
#[test]
fn a_parameter_set_growing_under_an_unfinished_picture_is_survived() {
    let data = include_bytes!("data/openh264-2.7.0-ec-overrun.h264frames");
    let got = feed(data);
    describe(&got);
    // No picture other than the 16×16 one the stream's first parameter set describes.
    for r in &got {
        if let Some(p) = &r.picture {
            assert_eq!((p.image.width(), p.image.height()), (16, 16));
        }
    }
    assert!(
        got.iter().any(|r| r.error.is_some()),
        "the damaged picture was not reported"
    );
}

fn describe(got: &[Received]) {
    for (i, r) in got.iter().enumerate() {
        eprintln!(
            "frame {i}: picture {:?} error {:?} skipped {}",
            r.picture
                .as_ref()
                .map(|p| (p.image.width(), p.image.height())),
            r.error,
            r.skipped
        );
    }
}

/// OpenH264 2.7.0 handed out a finished 16×16 picture and then, within the same decode call, a
/// new sequence in the same data freed and re-made the picture buffers, so the rep copied the
/// picture from freed memory (a use after free found by the `h264` target under
/// AddressSanitizer). Patched (`uiPicBuffGeneration`): the picture is withdrawn. Unpatched this
/// stream gives a 16×16 picture read from freed memory (all zeros here, three runs of three).
#[test]
fn a_picture_whose_buffers_a_new_sequence_freed_is_not_handed_out() {
    let got = feed(include_bytes!(
        "data/openh264-2.7.0-uaf-output-picture.h264frames"
    ));
    describe(&got);
    assert_eq!(got.len(), 2);
    assert!(
        got.iter().all(|r| r.picture.is_none()),
        "a picture from freed buffers was handed out"
    );
}

/// OpenH264 2.7.0 grows an access unit's NAL unit list by copying it and freeing the old one,
/// while the context still points into the old one (the last slice header): the next slice
/// header with `memory_management_control_operation` 5 was written into freed memory (found by
/// the `h264` target under AddressSanitizer). Patched (`NalUnitRefs` in au_parser.cpp): those
/// pointers move with the units. The second stream has the units of the list out of their order
/// in memory (as `ResetCurrentAccessUnit` leaves them when a unit is carried over to the next
/// access unit). Unpatched this test dies with SIGSEGV, three runs of three.
#[test]
fn an_access_unit_of_many_nal_units_is_survived() {
    for data in [
        &include_bytes!("data/openh264-2.7.0-uaf-nal-list.h264frames")[..],
        &include_bytes!("data/openh264-2.7.0-uaf-nal-list-reordered.h264frames")[..],
    ] {
        let got = feed(data);
        describe(&got);
        assert!(!got.is_empty());
        // The streams' parameter sets describe 64×48; nothing else may come out.
        for r in &got {
            if let Some(p) = &r.picture {
                assert_eq!((p.image.width(), p.image.height()), (64, 48));
            }
        }
    }
}

/// OpenH264 2.7.0 decoded an access unit under an SPS of another size than its buffers were
/// made for: a memset of the macroblock flags for 300 macroblocks into an array of 28, then
/// decoding past the layer's arrays (a heap overflow found by the `h264` target after 331 295
/// runs, located with AddressSanitizer). Patched (`SpsFitsLayers` in decoder_core.cpp): such
/// an access unit is refused as damaged.
#[test]
fn an_access_unit_under_an_sps_of_another_size_is_refused() {
    let got = feed(include_bytes!(
        "data/openh264-2.7.0-sps-size-overrun.h264frames"
    ));
    describe(&got);
    assert!(!got.is_empty());
    assert!(
        got.iter().any(|r| r.error.is_some()),
        "the damaged access unit was not reported"
    );
}
