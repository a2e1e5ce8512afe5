//! Input events from a rep, as the customer takes them: any bytes give events or an error; the
//! bounds hold for every event that passes (wheel notches, text length, no control characters),
//! its pieces are single characters and single notches, and coalescing pointer moves keeps every
//! other event in its order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lotse_proto::input::{InputEvent, MAX_TEXT_CHARS, MAX_WHEEL_NOTCHES, coalesce_moves};

fuzz_target!(|data: &[u8]| {
    let mut events = Vec::new();
    let mut rest = data;
    while let Ok((ev, more)) = postcard::take_from_bytes::<InputEvent>(rest) {
        events.push(ev);
        rest = more;
    }
    for ev in &events {
        let Some(b) = ev.clone().bounded() else {
            assert!(
                matches!(ev, InputEvent::Text { .. }),
                "only text is refused: {ev:?}"
            );
            continue;
        };
        match &b {
            InputEvent::Wheel { dx, dy } => {
                assert!(dx.abs() <= MAX_WHEEL_NOTCHES && dy.abs() <= MAX_WHEEL_NOTCHES)
            }
            InputEvent::Text { text } => {
                assert!(!text.is_empty() && text.chars().count() <= MAX_TEXT_CHARS);
                assert!(!text.chars().any(char::is_control));
            }
            other => assert_eq!(other, ev),
        }
        let pieces = b.clone().pieces();
        match &b {
            InputEvent::Wheel { dx, dy } => {
                assert_eq!(
                    pieces.len(),
                    dx.unsigned_abs().max(dy.unsigned_abs()) as usize
                );
                let (mut sx, mut sy) = (0i16, 0i16);
                for p in &pieces {
                    let InputEvent::Wheel { dx, dy } = p else {
                        panic!("{p:?}")
                    };
                    assert!(dx.abs() <= 1 && dy.abs() <= 1);
                    sx += dx;
                    sy += dy;
                }
                assert_eq!((sx, sy), (*dx, *dy), "the notches add up");
            }
            InputEvent::Text { text } => {
                let joined: String = pieces
                    .iter()
                    .map(|p| match p {
                        InputEvent::Text { text } if text.chars().count() == 1 => text.as_str(),
                        other => panic!("{other:?}"),
                    })
                    .collect();
                assert_eq!(&joined, text);
            }
            other => assert_eq!(pieces, vec![other.clone()]),
        }
        if let Some((held, down)) = b.held_change() {
            if !down {
                assert_eq!(held.release(), b);
            }
        }
    }
    let others: Vec<&InputEvent> = events
        .iter()
        .filter(|e| !matches!(e, InputEvent::PointerMove { .. }))
        .collect();
    let coalesced = coalesce_moves(events.clone());
    assert!(
        coalesced
            .windows(2)
            .all(|w| !(matches!(w[0], InputEvent::PointerMove { .. })
                && matches!(w[1], InputEvent::PointerMove { .. }))),
        "two moves in a row"
    );
    let kept: Vec<&InputEvent> = coalesced
        .iter()
        .filter(|e| !matches!(e, InputEvent::PointerMove { .. }))
        .collect();
    assert_eq!(kept, others, "coalescing changed other events");
    // The last position is never lost.
    let last_move = |v: &[InputEvent]| {
        v.iter()
            .rev()
            .find(|e| matches!(e, InputEvent::PointerMove { .. }))
            .cloned()
    };
    assert_eq!(last_move(&coalesced), last_move(&events));
});
