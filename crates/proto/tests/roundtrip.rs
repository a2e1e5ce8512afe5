//! Property tests: every message survives encode → frame → decode unchanged, also when the
//! frame arrives in arbitrary pieces.

#![allow(clippy::unwrap_used)]

use lotse_proto::frame::{FrameBuf, limits};
use lotse_proto::input::{InputEvent, MouseButton};
use lotse_proto::msg::*;
use lotse_proto::profile::{Limits, Participant, ParticipantRole, Permissions, Profile};
use lotse_proto::{Tier, TierSet, decode, encode};
use proptest::prelude::*;

fn tier() -> impl Strategy<Value = Tier> {
    prop::sample::select(Tier::ALL.to_vec())
}

fn text() -> impl Strategy<Value = String> {
    ".{0,40}"
}

fn info() -> impl Strategy<Value = CustomerInfo> {
    (text(), text(), text()).prop_map(|(name, host, os)| CustomerInfo { name, host, os })
}

fn how_ended() -> impl Strategy<Value = HowEnded> {
    prop::sample::select(HowEnded::every())
}

fn transfer_stop() -> impl Strategy<Value = TransferStop> {
    prop_oneof![
        prop::sample::select(TransferStop::every()),
        (any::<u64>(), any::<u64>()).prop_map(|(size, max)| TransferStop::TooLarge { size, max }),
    ]
}

fn end_reason() -> impl Strategy<Value = EndReason> {
    prop_oneof![
        how_ended().prop_map(EndReason::Customer),
        how_ended().prop_map(EndReason::Rep),
        Just(EndReason::PeerLost),
        Just(EndReason::RelayShutdown),
        Just(EndReason::Cancelled),
        text().prop_map(EndReason::Protocol),
        Just(EndReason::RemovedByCustomer),
        Just(EndReason::RemovedByOwner),
        Just(EndReason::OwnerGone),
        text().prop_map(|to| EndReason::Transferred { to }),
        text().prop_map(|why| EndReason::ByAdministrator { why }),
    ]
}

fn limits() -> impl Strategy<Value = Limits> {
    (tier_set(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(tiers, files_upload, files_download, chat)| Limits {
            tiers,
            files_upload,
            files_download,
            chat,
        },
    )
}

fn participants() -> impl Strategy<Value = Vec<Participant>> {
    prop::collection::vec((any::<u64>(), text(), 0u8..3, text(), limits()), 0..4).prop_map(|v| {
        v.into_iter()
            .map(|(rep, name, role, by, limits)| Participant {
                rep,
                name,
                role: match role {
                    0 => ParticipantRole::Owner,
                    1 => ParticipantRole::Colleague,
                    _ => ParticipantRole::External { invited_by: by },
                },
                limits,
            })
            .collect()
    })
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        text(),
        text(),
        text(),
        limits(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(name, description_de, description_en, limits, for_colleagues, for_externals)| {
                Profile {
                    name,
                    description_de,
                    description_en,
                    limits,
                    for_colleagues,
                    for_externals,
                }
            },
        )
}

fn deny_reason() -> impl Strategy<Value = DenyReason> {
    prop::sample::select(vec![
        DenyReason::Person,
        DenyReason::SystemDialogCancelled,
        DenyReason::NoRemoteInteraction,
        DenyReason::SystemUnavailable,
        DenyReason::Prerequisite,
        DenyReason::TooSoon,
    ])
}

fn customer_up() -> impl Strategy<Value = CustomerUp> {
    prop_oneof![
        (text(), info()).prop_map(|(key, info)| CustomerUp::Redeem { key, info }),
        Just(CustomerUp::Cancel),
        (any::<u32>(), prop::option::of(deny_reason())).prop_map(|(request, deny)| {
            CustomerUp::Answer {
                request,
                reply: deny.map_or(Reply::Allow, Reply::Deny),
            }
        }),
        (any::<u64>(), tier()).prop_map(|(rep, tier)| CustomerUp::Revoke { rep, tier }),
        text().prop_map(|text| CustomerUp::Chat { text }),
        how_ended().prop_map(|reason| CustomerUp::End { reason }),
        (text(), info()).prop_map(|(token, info)| CustomerUp::JoinQueue { token, info }),
        any::<u64>().prop_map(|rep| CustomerUp::RemoveRep { rep }),
    ]
}

fn customer_down() -> impl Strategy<Value = CustomerDown> {
    prop_oneof![
        prop::sample::select(vec![
            KeyRejection::Unknown,
            KeyRejection::Used,
            KeyRejection::Expired,
            KeyRejection::RateLimited,
            KeyRejection::RepOffline
        ])
        .prop_map(|reason| CustomerDown::KeyRejected { reason }),
        (text(), any::<Option<u32>>())
            .prop_map(|(rep_name, position)| CustomerDown::Queued { rep_name, position }),
        (any::<u64>(), text()).prop_map(|(rep, name)| CustomerDown::RepJoined { rep, name }),
        (any::<u64>(), end_reason())
            .prop_map(|(rep, reason)| CustomerDown::RepLeft { rep, reason }),
        (any::<u32>(), any::<u64>(), tier()).prop_map(|(request, rep, tier)| {
            CustomerDown::PermissionRequest { request, rep, tier }
        }),
        (any::<u64>(), text(), any::<u64>()).prop_map(|(rep, text, at)| CustomerDown::Chat {
            rep,
            text,
            at
        }),
        Just(CustomerDown::KeyframeRequest),
        end_reason().prop_map(|reason| CustomerDown::Ended { reason }),
        (any::<Option<u64>>(), any::<u32>(), transfer_stop()).prop_map(
            |(rep, transfer, reason)| CustomerDown::FileCancelled {
                rep,
                transfer,
                reason
            }
        ),
        participants().prop_map(|list| CustomerDown::Participants { list }),
        (text(), any::<Option<u32>>()).prop_map(|(rep_name, grace)| CustomerDown::Requeued {
            rep_name,
            why: match grace {
                Some(grace_secs) => Requeue::SupporterLost { grace_secs },
                None => Requeue::Transferred,
            }
        }),
    ]
}

fn tier_set() -> impl Strategy<Value = TierSet> {
    prop::collection::vec(tier(), 0..5).prop_map(|v| v.into_iter().collect())
}

fn rep_up() -> impl Strategy<Value = RepUp> {
    prop_oneof![
        (text(), text()).prop_map(|(user, password)| RepUp::Login { user, password }),
        any::<Option<u32>>().prop_map(|lifetime_secs| RepUp::CreateKey { lifetime_secs }),
        any::<u64>().prop_map(|entry| RepUp::Accept { entry }),
        tier().prop_map(|tier| RepUp::Request { tier }),
        text().prop_map(|text| RepUp::Chat { text }),
        Just(RepUp::KeyframeRequest),
        how_ended().prop_map(|reason| RepUp::Leave { reason }),
        text().prop_map(|email| RepUp::Invite { email }),
        (tier_set(), any::<Option<u32>>()).prop_map(|(tiers, lifetime_secs)| {
            RepUp::ShareSession {
                tiers,
                lifetime_secs,
            }
        }),
        text().prop_map(|code| RepUp::JoinSession { code }),
        (text(), text(), text()).prop_map(|(profile, name, reason)| RepUp::InviteExternal {
            profile,
            name,
            reason
        }),
        text().prop_map(|key| RepUp::JoinExternal { key }),
        (text(), any::<Option<u32>>()).prop_map(|(profile, lifetime_secs)| {
            RepUp::ShareWithProfile {
                profile,
                lifetime_secs,
            }
        }),
        text().prop_map(|rep| RepUp::TransferToQueue { rep }),
        any::<u64>().prop_map(|rep| RepUp::RemoveParticipant { rep }),
        text().prop_map(|rep| RepUp::OfferTransfer { rep }),
        text().prop_map(|code| RepUp::DeclineTransfer { code }),
        (text(), text()).prop_map(|(email, lang)| RepUp::InviteByMail { email, lang }),
        (text(), text(), text()).prop_map(|(key, email, lang)| RepUp::MailExternal {
            key,
            email,
            lang
        }),
        (text(), text(), text(), any::<bool>()).prop_map(|(user, password, p, ticket)| {
            RepUp::LoginWith {
                user,
                password,
                proof: if ticket {
                    Proof::Ticket(p)
                } else {
                    Proof::Code(p)
                },
            }
        }),
    ]
}

fn rep_down() -> impl Strategy<Value = RepDown> {
    prop_oneof![
        (any::<u64>(), text())
            .prop_map(|(rep, display_name)| RepDown::LoginOk { rep, display_name }),
        (text(), any::<u64>()).prop_map(|(key, expires_at)| RepDown::Key { key, expires_at }),
        prop::collection::vec((any::<u64>(), info(), any::<u64>()), 0..4).prop_map(|v| {
            RepDown::Queue {
                entries: v
                    .into_iter()
                    .map(|(entry, customer, since)| QueueEntry {
                        entry,
                        customer,
                        since,
                        arrival: match since % 3 {
                            0 => Arrival::RepList,
                            1 => Arrival::Key {
                                last_digits: format!("{:03}", since % 1000),
                            },
                            _ => Arrival::invitation("carla@example.org"),
                        },
                        home: None,
                    })
                    .collect(),
            }
        }),
        info().prop_map(|customer| RepDown::Joined { customer }),
        (any::<u32>(), tier()).prop_map(|(request, tier)| RepDown::Requested { request, tier }),
        tier().prop_map(|tier| RepDown::Granted { tier }),
        (tier(), deny_reason()).prop_map(|(tier, reason)| RepDown::Denied { tier, reason }),
        tier().prop_map(|tier| RepDown::Revoked { tier }),
        (text(), text(), any::<u64>(), any::<bool>()).prop_map(
            |(from, text, at, from_customer)| {
                RepDown::Chat {
                    from,
                    text,
                    at,
                    from_customer,
                }
            }
        ),
        end_reason().prop_map(|reason| RepDown::Ended { reason }),
        (text(), any::<u64>())
            .prop_map(|(url, expires_at)| RepDown::Invitation { url, expires_at }),
        (text(), any::<u64>(), tier_set()).prop_map(|(code, expires_at, tiers)| {
            RepDown::ShareCode {
                code,
                expires_at,
                tiers,
            }
        }),
        (text(), any::<bool>()).prop_map(|(name, owner)| RepDown::RepJoined { name, owner }),
        text().prop_map(|name| RepDown::RepLeft { name }),
        prop::sample::select(Refusal::every()).prop_map(|what| RepDown::Refused { what }),
        (any::<u32>(), any::<bool>(), transfer_stop()).prop_map(
            |(transfer, from_customer, reason)| RepDown::FileCancelled {
                transfer,
                from_customer,
                reason
            }
        ),
        (any::<[bool; 3]>(), prop::collection::vec(profile(), 0..3)).prop_map(|(p, profiles)| {
            RepDown::Account {
                permissions: Permissions {
                    share: p[0],
                    transfer: p[1],
                    invite_externals: p[2],
                },
                profiles,
            }
        }),
        (
            text(),
            prop::option::of(text()),
            any::<u64>(),
            text(),
            profile()
        )
            .prop_map(|(key, url, expires_at, name, profile)| {
                RepDown::ExternalInvitation {
                    key,
                    url,
                    expires_at,
                    name,
                    profile,
                }
            }),
        participants().prop_map(|list| RepDown::Participants { list }),
        (text(), text(), info(), any::<u64>()).prop_map(|(code, from, customer, expires_at)| {
            RepDown::TransferOffer {
                code,
                from,
                customer,
                expires_at,
            }
        }),
        text().prop_map(|to| RepDown::TransferOffered { to }),
        text().prop_map(|by| RepDown::TransferDeclined { by }),
        text().prop_map(|to| RepDown::MailSent { to }),
        (text(), prop::sample::select(MailFailure::every()))
            .prop_map(|(to, why)| RepDown::MailFailed { to, why }),
        (text(), any::<u64>())
            .prop_map(|(ticket, expires_at)| RepDown::LoginTicket { ticket, expires_at }),
        prop::sample::select(vec![
            LoginRejection::BadCredentials,
            LoginRejection::Locked,
            LoginRejection::CodeNeeded,
            LoginRejection::BadCode,
            LoginRejection::SetUpSecondFactor,
            LoginRejection::Disabled,
        ])
        .prop_map(|reason| RepDown::LoginRejected { reason }),
    ]
}

fn input() -> impl Strategy<Value = InputEvent> {
    prop_oneof![
        (any::<u32>(), any::<u32>()).prop_map(|(x, y)| InputEvent::PointerMove { x, y }),
        (
            prop::sample::select(vec![
                MouseButton::Left,
                MouseButton::Middle,
                MouseButton::Right,
                MouseButton::Back,
                MouseButton::Forward
            ]),
            any::<bool>()
        )
            .prop_map(|(button, down)| InputEvent::Button { button, down }),
        (any::<i16>(), any::<i16>()).prop_map(|(dx, dy)| InputEvent::Wheel { dx, dy }),
        (any::<u16>(), any::<bool>()).prop_map(|(usage, down)| InputEvent::Key { usage, down }),
        text().prop_map(|text| InputEvent::Text { text }),
    ]
}

fn video() -> impl Strategy<Value = VideoFrame> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..2048),
    )
        .prop_map(
            |(seq, captured_us, width, height, keyframe, data)| VideoFrame {
                seq,
                captured_us,
                width,
                height,
                keyframe,
                data,
            },
        )
}

fn round_trip<T>(msg: &T, max: usize, cuts: &[usize])
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let frame = encode(msg, max).unwrap();
    assert_eq!(&decode::<T>(&frame[4..]).unwrap(), msg);
    // Fed in pieces, the frame decodes exactly once, to the same message.
    let mut buf = FrameBuf::new(max);
    let mut got = Vec::new();
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (frame.len() + 1)).collect();
    points.sort_unstable();
    points.push(frame.len());
    for p in points {
        buf.push(&frame[start..p.max(start)]);
        start = p.max(start);
        while let Some(m) = buf.pop::<T>().unwrap() {
            got.push(m);
        }
    }
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0], msg);
}

proptest! {
    #[test]
    fn customer_up_round_trips(m in customer_up(), cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        round_trip(&m, limits::CONTROL, &cuts);
    }

    #[test]
    fn customer_down_round_trips(m in customer_down(), cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        round_trip(&m, limits::CONTROL, &cuts);
    }

    #[test]
    fn rep_up_round_trips(m in rep_up(), cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        round_trip(&m, limits::CONTROL, &cuts);
    }

    #[test]
    fn rep_down_round_trips(m in rep_down(), cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        round_trip(&m, limits::CONTROL, &cuts);
    }

    #[test]
    fn input_round_trips(m in input(), cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        round_trip(&m, limits::INPUT, &cuts);
    }

    #[test]
    fn video_round_trips(m in video(), cuts in prop::collection::vec(any::<usize>(), 0..4)) {
        round_trip(&m, limits::VIDEO, &cuts);
    }

    #[test]
    fn headers_and_hello_round_trip(rep in any::<u64>(), version in any::<u16>(), agent in text()) {
        round_trip(&StreamHeader::Input { rep }, limits::STREAM_HEADER, &[]);
        round_trip(&StreamHeader::Video, limits::STREAM_HEADER, &[]);
        round_trip(&Hello { version, role: Role::Rep, agent }, limits::CONTROL, &[]);
    }
}
