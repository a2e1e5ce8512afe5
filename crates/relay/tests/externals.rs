//! External supporters, security profiles, licences and session ownership (issue 15), attacked
//! over real QUIC on loopback with hand-made peers: an external asking beyond its profile or for
//! what only owners may do, guessed and reused invitation keys, a rep without the permission
//! calling the API directly, a licence race, and owners leaving at awkward moments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_proto::Tier;
use lotse_proto::msg::{
    CustomerDown, CustomerUp, EndReason, HowEnded, Refusal, RepDown, RepUp, Requeue, Role,
};
use lotse_proto::profile::{Limits, ParticipantRole, Permissions, Profile, parse_allowances};
use support::*;

/// Waits for the relay's refusal `what`.
async fn refused(rep: &mut Rep, what: Refusal) {
    rep.until(&format!("refusal {what:?}"), |m| match m {
        RepDown::Refused { what: w } if *w == what => Some(()),
        _ => None,
    })
    .await;
}

/// An external connecting with `key`: logged in and joined, or refused (then closed).
async fn join_external(relay: &TestRelay, key: &str) -> Result<Rep, Refusal> {
    let mut peer = Peer::hello(relay, Role::Rep, How::default()).await;
    peer.say(&RepUp::JoinExternal { key: key.into() }).await;
    let answer = peer
        .hear_until("login or refusal", |m: &RepDown| match m {
            RepDown::LoginOk { rep, .. } => Some(Ok(*rep)),
            RepDown::Refused { what } => Some(Err(*what)),
            _ => None,
        })
        .await
        .0;
    match answer {
        Ok(id) => {
            let mut rep = Rep { peer, id };
            rep.until("joined", |m| {
                matches!(m, RepDown::Joined { .. }).then_some(())
            })
            .await;
            Ok(rep)
        }
        Err(what) => {
            peer.closed().await;
            Err(what)
        }
    }
}

/// The participant list the customer hears next that satisfies `pick`.
async fn customer_sees(
    customer: &mut Peer,
    pick: impl Fn(&[lotse_proto::profile::Participant]) -> bool,
) -> Vec<lotse_proto::profile::Participant> {
    customer
        .hear_until("participants", |m: &CustomerDown| match m {
            CustomerDown::Participants { list } if pick(list) => Some(list.clone()),
            _ => None,
        })
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_joins_by_key_sees_only_this_session_and_stays_within_the_profile() {
    let relay = TestRelay::start().await;
    profile(&relay, "view only", "view", false, true).await;
    profile(&relay, "colleagues", "view,control,chat", true, false).await;
    may_invite(&relay, "ada").await;
    let mut s = Session::start(&relay).await;

    // A profile for colleagues only cannot be used for externals.
    assert_eq!(
        invite(&mut s.rep, "colleagues", "Eve Extern").await,
        Err(Refusal::NoSuchProfile)
    );
    assert_eq!(
        invite(&mut s.rep, "nonexistent", "Eve Extern").await,
        Err(Refusal::NoSuchProfile)
    );
    // Name and reason are required and bounded.
    assert_eq!(
        invite(&mut s.rep, "view only", "  ").await,
        Err(Refusal::BadInvitation)
    );
    assert_eq!(
        invite(&mut s.rep, "view only", &"x".repeat(65)).await,
        Err(Refusal::BadInvitation)
    );
    let key = invite(&mut s.rep, "view only", "Eve Extern").await.unwrap();
    let mut eve = join_external(&relay, &key).await.unwrap();

    // The customer sees her by the invited name, marked as external, with who invited her.
    let list = customer_sees(&mut s.customer, |l| l.len() == 2).await;
    let e = list.iter().find(|p| p.rep == eve.id).unwrap();
    assert_eq!(e.name, "Eve Extern");
    assert_eq!(
        e.role,
        ParticipantRole::External {
            invited_by: "Ada Lovelace".into()
        }
    );
    assert_eq!(e.limits.summary(), "view");
    let a = list.iter().find(|p| p.rep == s.rep.id).unwrap();
    assert_eq!(a.role, ParticipantRole::Owner);

    // Outside the profile: refused by the relay, no prompt for the customer.
    eve.say(&RepUp::Request {
        tier: Tier::Control,
    })
    .await;
    refused(&mut eve, Refusal::NotInvited(Tier::Control)).await;
    // The profile allows no chat either.
    eve.say(&RepUp::Chat { text: "hi".into() }).await;
    refused(&mut eve, Refusal::ChatNotAllowed).await;
    // Everything only owners or accounts do is refused.
    for msg in [
        RepUp::CreateKey {
            lifetime_secs: None,
        },
        RepUp::ShareSession {
            tiers: lotse_proto::TierSet::ALL,
            lifetime_secs: None,
        },
        RepUp::InviteExternal {
            profile: "view only".into(),
            name: "Mallory".into(),
            reason: "more".into(),
        },
        RepUp::TransferToQueue { rep: "bob".into() },
        RepUp::RemoveParticipant { rep: s.rep.id },
        RepUp::Accept { entry: 1 },
        RepUp::Invite {
            email: "a@example.org".into(),
        },
    ] {
        eve.say(&msg).await;
        refused(&mut eve, Refusal::NotForExternals).await;
    }
    // Within the profile: the customer is asked (and the first prompt is this one: the
    // control request above never reached the customer).
    eve.say(&RepUp::Request { tier: Tier::View }).await;
    let (tier, before) = s
        .customer
        .hear_until("prompt", |m: &CustomerDown| match m {
            CustomerDown::PermissionRequest { tier, rep, .. } if *rep == eve.id => Some(*tier),
            _ => None,
        })
        .await;
    assert_eq!(tier, Tier::View);
    assert!(
        !before
            .iter()
            .any(|m| matches!(m, CustomerDown::PermissionRequest { .. })),
        "{before:?}"
    );

    // The key was used: a second use is refused.
    assert_eq!(
        join_external(&relay, &key).await.err(),
        Some(Refusal::UnknownCode)
    );

    // The owner leaves; nobody internal is left: the external is logged out at once.
    s.rep
        .say(&RepUp::Leave {
            reason: HowEnded::EndButton,
        })
        .await;
    let started = std::time::Instant::now();
    eve.until("ended", |m| match m {
        RepDown::Ended {
            reason: EndReason::OwnerGone,
        } => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(eve.peer.closed().await, "logged out");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    s.customer
        .hear_until("ended", |m: &CustomerDown| {
            matches!(m, CustomerDown::Ended { .. }).then_some(())
        })
        .await;

    // The audit log tells the story.
    for (what, pick) in [
        ("invite", "external.invite session="),
        ("reason", "reason=\"Printer vendor's engineer\""),
        ("join", "external.join session="),
        ("refused", "external.refused asked=create_key"),
        ("owner gone", "session.leave session=") as (&str, &str),
        ("logout", "external.logout"),
    ] {
        relay.wait_audit(what, |a| a.contains(pick)).await;
    }
    relay
        .wait_audit("owner gone", |a| a.contains("reason=owner_gone"))
        .await;
    assert!(relay.relay().store().verify_audit().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_permission_the_invitation_api_is_refused_and_audited() {
    let relay = TestRelay::start().await;
    profile(&relay, "view only", "view", false, true).await;
    let mut s = Session::start(&relay).await;
    // The console learns what the account may do (and so shows no entry for it).
    assert_eq!(
        invite(&mut s.rep, "view only", "Eve").await,
        Err(Refusal::NoPermission)
    );
    relay
        .wait_audit("refusal", |a| {
            a.contains("external.invite_refused reason=no_permission")
        })
        .await;
    // The account's permissions and profiles arrive right after login.
    may_invite(&relay, "bob").await;
    let mut bob = Rep::login(&relay, "bob").await;
    let (account, _) = bob
        .until("account", |m| match m {
            RepDown::Account {
                permissions,
                profiles,
            } => Some((*permissions, profiles.clone())),
            _ => None,
        })
        .await;
    assert!(account.0.invite_externals && account.0.share);
    assert_eq!(account.1.len(), 1);
    assert_eq!(account.1[0].name, "view only");
    // Not in a session: not the owner of anything.
    assert_eq!(
        invite(&mut bob, "view only", "Eve").await,
        Err(Refusal::NotInSession)
    );
    // A rep who may not share cannot share either.
    let no_share = Permissions {
        share: false,
        ..Permissions::default()
    };
    relay
        .relay()
        .store()
        .set_permissions("cy", no_share, "test", 0)
        .await
        .unwrap();
    let mut s2 = Session::start_for(&relay, "cy", Peer::customer(&relay).await).await;
    s2.rep
        .say(&RepUp::ShareSession {
            tiers: lotse_proto::TierSet::ALL,
            lifetime_secs: None,
        })
        .await;
    refused(&mut s2.rep, Refusal::NoPermission).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licences_cap_invitations_and_come_back_when_the_external_leaves() {
    let relay = TestRelay::start_with(|c| c.external_licences = 1).await;
    profile(&relay, "view only", "view", false, true).await;
    may_invite(&relay, "ada").await;
    let mut s = Session::start(&relay).await;
    let key = invite(&mut s.rep, "view only", "Eve").await.unwrap();
    // The open invitation holds the only licence.
    assert_eq!(
        invite(&mut s.rep, "view only", "Fred").await,
        Err(Refusal::NoLicence)
    );
    let mut eve = join_external(&relay, &key).await.unwrap();
    // Now the external holds it.
    assert_eq!(
        invite(&mut s.rep, "view only", "Fred").await,
        Err(Refusal::NoLicence)
    );
    relay
        .wait_audit("no licence", |a| a.contains("reason=no_licence licences=1"))
        .await;
    eve.say(&RepUp::Leave {
        reason: HowEnded::EndButton,
    })
    .await;
    eve.peer.closed().await;
    // Freed when she left (her connection closes with her part in the session).
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        match invite(&mut s.rep, "view only", "Fred").await {
            Ok(_) => break,
            Err(Refusal::NoLicence) if tokio::time::Instant::now() < end => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            other => panic!("{other:?}"),
        }
    }
}

/// An invitation not used within its lifetime (two hours; a second here) is refused like an
/// unknown key, and its licence is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_invitation_is_refused_and_frees_its_licence() {
    let relay = TestRelay::start_with(|c| {
        c.external_licences = 1;
        c.external_invite_lifetime = std::time::Duration::from_secs(1);
    })
    .await;
    profile(&relay, "view only", "view", false, true).await;
    may_invite(&relay, "ada").await;
    let mut s = Session::start(&relay).await;
    let key = invite(&mut s.rep, "view only", "Eve").await.unwrap();
    assert_eq!(
        invite(&mut s.rep, "view only", "Fred").await,
        Err(Refusal::NoLicence)
    );
    // Wait for the clock, not for a fixed time: until the invitation's lifetime is over.
    let made = std::time::Instant::now();
    while made.elapsed() <= std::time::Duration::from_millis(1100) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        join_external(&relay, &key).await.err(),
        Some(Refusal::UnknownCode),
        "an expired invitation"
    );
    invite(&mut s.rep, "view only", "Fred").await.unwrap();
    relay
        .wait_audit("the refused join", |a| a.contains("external.join_refused"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_invitations_racing_for_the_last_licence_one_wins() {
    let relay = TestRelay::start_with(|c| c.external_licences = 1).await;
    profile(&relay, "view only", "view", false, true).await;
    may_invite(&relay, "ada").await;
    may_invite(&relay, "bob").await;
    for _ in 0..5 {
        let mut a = Session::start_for(&relay, "ada", Peer::customer(&relay).await).await;
        let mut b = Session::start_for(&relay, "bob", Peer::customer(&relay).await).await;
        let (ra, rb) = tokio::join!(
            invite(&mut a.rep, "view only", "Eve"),
            invite(&mut b.rep, "view only", "Eve")
        );
        assert!(
            ra.is_ok() != rb.is_ok(),
            "exactly one wins the licence: {ra:?} {rb:?}"
        );
        assert!(matches!(
            (ra, rb),
            (Err(Refusal::NoLicence), _) | (_, Err(Refusal::NoLicence))
        ));
        // Ending the sessions frees the open invitation's licence.
        for s in [&mut a, &mut b] {
            s.rep
                .say(&RepUp::Leave {
                    reason: HowEnded::EndButton,
                })
                .await;
            s.rep
                .until("ended", |m| {
                    matches!(m, RepDown::Ended { .. }).then_some(())
                })
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessed_invitation_keys_are_rate_limited_like_session_keys() {
    let relay = TestRelay::start_with(|c| c.key_attempts = 3).await;
    profile(&relay, "view only", "view", false, true).await;
    may_invite(&relay, "ada").await;
    let mut s = Session::start(&relay).await;
    let key = invite(&mut s.rep, "view only", "Eve").await.unwrap();
    for guess in ["000 000 000 000", "123", "999-999-999-999"] {
        assert_eq!(
            join_external(&relay, guess).await.err(),
            Some(Refusal::UnknownCode)
        );
    }
    // Now even the right key is refused from this address, and the key is not used up.
    assert_eq!(
        join_external(&relay, &key).await.err(),
        Some(Refusal::TooManyWrongCodes)
    );
    let from_elsewhere = How {
        from: "127.0.0.9".parse().unwrap(),
        ..How::default()
    };
    let mut peer = Peer::hello(&relay, Role::Rep, from_elsewhere).await;
    peer.say(&RepUp::JoinExternal { key }).await;
    peer.hear_until("joined", |m: &RepDown| {
        matches!(m, RepDown::Joined { .. }).then_some(())
    })
    .await;
    relay
        .wait_audit("refused", |a| a.contains("external.join_refused"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_owner_leaves_the_longest_sharer_owns_the_session_and_asks_again() {
    let relay = TestRelay::start().await;
    profile(&relay, "view only", "view", false, true).await;
    may_invite(&relay, "ada").await;
    let mut s = Session::start(&relay).await;
    grant(&mut s.rep, &mut s.customer, Tier::View).await;
    let mut bob = share_with(&relay, &mut s, "bob", &[Tier::View]).await;
    let key = invite(&mut s.rep, "view only", "Eve").await.unwrap();
    let mut eve = join_external(&relay, &key).await.unwrap();

    s.rep
        .say(&RepUp::Leave {
            reason: HowEnded::EndButton,
        })
        .await;
    // Bob (the internal rep who shared longest) owns it now; the external stays.
    let list = customer_sees(&mut s.customer, |l| {
        l.iter()
            .any(|p| p.role == ParticipantRole::Owner && p.name == "Bob")
    })
    .await;
    assert_eq!(list.len(), 2);
    let bob_id = bob.id;
    bob.until("owner", |m| match m {
        RepDown::Participants { list }
            if list
                .iter()
                .any(|p| p.rep == bob_id && p.role == ParticipantRole::Owner) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    // Ada's grant went with her; Bob, now owner, may ask for anything — and must ask.
    bob.say(&RepUp::Request {
        tier: Tier::Control,
    })
    .await;
    let (tier, _) = s
        .customer
        .hear_until("prompt", |m: &CustomerDown| match m {
            CustomerDown::PermissionRequest { tier, rep, .. } if *rep == bob.id => Some(*tier),
            _ => None,
        })
        .await;
    assert_eq!(
        tier,
        Tier::Control,
        "outside bob's old profile: he owns it now"
    );
    // Only the owner may remove: the external may not, bob may.
    bob.say(&RepUp::RemoveParticipant { rep: eve.id }).await;
    eve.until("removed", |m| match m {
        RepDown::Ended {
            reason: EndReason::RemovedByOwner,
        } => Some(()),
        _ => None,
    })
    .await;
    relay
        .wait_audit("owner", |a| {
            a.contains("session.owner") && a.contains("rep:bob")
        })
        .await;
    relay
        .wait_audit("removal", |a| {
            a.contains("session.remove") && a.contains("external:Eve")
        })
        .await;
    assert!(relay.relay().store().verify_audit().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_who_drops_with_nobody_internal_left_gets_the_customer_back_within_the_grace() {
    let relay = TestRelay::start_with(|c| c.owner_grace = std::time::Duration::from_secs(30)).await;
    profile(&relay, "view only", "view", false, true).await;
    may_invite(&relay, "ada").await;
    let mut s = Session::start(&relay).await;
    grant(&mut s.rep, &mut s.customer, Tier::View).await;
    let key = invite(&mut s.rep, "view only", "Eve").await.unwrap();
    let mut eve = join_external(&relay, &key).await.unwrap();
    // Ada's connection is lost (not a Leave).
    s.rep.peer.conn.close(0u32, b"");
    eve.until("ended", |m| match m {
        RepDown::Ended {
            reason: EndReason::OwnerGone,
        } => Some(()),
        _ => None,
    })
    .await;
    eve.peer.closed().await;
    let ((why, rep_name), _) = s
        .customer
        .hear_until("requeued", |m: &CustomerDown| match m {
            CustomerDown::Requeued { why, rep_name } => Some((*why, rep_name.clone())),
            _ => None,
        })
        .await;
    assert_eq!(why, Requeue::SupporterLost { grace_secs: 30 });
    assert_eq!(rep_name, "Ada Lovelace");
    // Ada comes back and takes the customer again: a fresh session, nothing granted.
    let mut ada = Rep::login(&relay, "ada").await;
    ada.accept_waiting().await;
    s.customer
        .hear_until("rep joined", |m: &CustomerDown| {
            matches!(m, CustomerDown::RepJoined { .. }).then_some(())
        })
        .await;
    ada.say(&RepUp::KeyframeRequest).await;
    ada.say(&RepUp::SysinfoRequest).await;
    refused(&mut ada, Refusal::NotGranted(Tier::Sysinfo)).await;
    relay
        .wait_audit("requeue", |a| {
            a.contains("session.requeue") && a.contains("why=supporter_lost")
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_back_within_the_grace_ends_the_session() {
    let relay =
        TestRelay::start_with(|c| c.owner_grace = std::time::Duration::from_millis(500)).await;
    let mut s = Session::start(&relay).await;
    s.rep.peer.conn.close(0u32, b"");
    s.customer
        .hear_until("requeued", |m: &CustomerDown| {
            matches!(m, CustomerDown::Requeued { .. }).then_some(())
        })
        .await;
    let (reason, _) = s
        .customer
        .hear_until("ended", |m: &CustomerDown| match m {
            CustomerDown::Ended { reason } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reason, EndReason::PeerLost);
    relay
        .wait_audit("grace over", |a| a.contains("session.grace_over"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_transfers_to_a_colleagues_queue_and_only_with_the_permission() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    grant(&mut s.rep, &mut s.customer, Tier::View).await;
    let mut bob = Rep::login(&relay, "bob").await;
    // Nobody of that name online.
    s.rep
        .say(&RepUp::TransferToQueue { rep: "zed".into() })
        .await;
    refused(&mut s.rep, Refusal::NoSuchRep).await;
    s.rep
        .say(&RepUp::TransferToQueue { rep: "bob".into() })
        .await;
    s.rep
        .until("ended", |m| match m {
            RepDown::Ended {
                reason: EndReason::Transferred { to },
            } if to == "Bob" => Some(()),
            _ => None,
        })
        .await;
    s.customer
        .hear_until("requeued", |m: &CustomerDown| match m {
            CustomerDown::Requeued {
                why: Requeue::Transferred,
                rep_name,
            } if rep_name == "Bob" => Some(()),
            _ => None,
        })
        .await;
    bob.accept_waiting().await;
    // A fresh start: bob holds nothing the customer gave ada.
    bob.say(&RepUp::SysinfoRequest).await;
    refused(&mut bob, Refusal::NotGranted(Tier::Sysinfo)).await;
    relay
        .wait_audit("transfer", |a| {
            a.contains("session.transfer") && a.contains("to=\"bob\"")
        })
        .await;

    // Without the permission: refused.
    let no_transfer = Permissions {
        transfer: false,
        ..Permissions::default()
    };
    relay
        .relay()
        .store()
        .set_permissions("cy", no_transfer, "test", 0)
        .await
        .unwrap();
    let mut s2 = Session::start_for(&relay, "cy", Peer::customer(&relay).await).await;
    s2.rep
        .say(&RepUp::TransferToQueue { rep: "bob".into() })
        .await;
    refused(&mut s2.rep, Refusal::NoPermission).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_removes_one_rep_and_the_others_stay() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    let mut bob = share_with(&relay, &mut s, "bob", &[Tier::View]).await;
    grant(&mut bob, &mut s.customer, Tier::View).await;
    // A colleague may not remove anyone.
    bob.say(&RepUp::RemoveParticipant { rep: s.rep.id }).await;
    refused(&mut bob, Refusal::NotOwner).await;
    s.customer.say(&CustomerUp::RemoveRep { rep: bob.id }).await;
    bob.until("removed", |m| match m {
        RepDown::Ended {
            reason: EndReason::RemovedByCustomer,
        } => Some(()),
        _ => None,
    })
    .await;
    s.customer
        .hear_until("bob left", |m: &CustomerDown| match m {
            CustomerDown::RepLeft { rep, .. } if *rep == bob.id => Some(()),
            _ => None,
        })
        .await;
    // Ada goes on.
    s.rep
        .say(&RepUp::Chat {
            text: "still here".into(),
        })
        .await;
    s.customer
        .hear_until("chat", |m: &CustomerDown| match m {
            CustomerDown::Chat { text, .. } if text == "still here" => Some(()),
            _ => None,
        })
        .await;
    relay
        .wait_audit("removal", |a| {
            a.contains("session.removed") && a.contains("removed_by_customer")
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_and_the_longest_sharer_leaving_at_once_leave_exactly_one_internal_owner() {
    let relay = TestRelay::start().await;
    for _ in 0..3 {
        let mut s = Session::start(&relay).await;
        let mut bob = share_with(&relay, &mut s, "bob", &[Tier::View]).await;
        // Cy joins last.
        let mut cy = share_with(&relay, &mut s, "cy", &[Tier::View]).await;
        let leave = RepUp::Leave {
            reason: HowEnded::EndButton,
        };
        tokio::join!(s.rep.say(&leave), bob.say(&leave));
        let cy_id = cy.id;
        cy.until("owner", |m| match m {
            RepDown::Participants { list }
                if list.len() == 1
                    && list[0].rep == cy_id
                    && list[0].role == ParticipantRole::Owner =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
        customer_sees(&mut s.customer, |l| {
            l.len() == 1 && l[0].role == ParticipantRole::Owner && l[0].name == "Cy"
        })
        .await;
        cy.say(&leave).await;
        s.customer
            .hear_until("ended", |m: &CustomerDown| {
                matches!(m, CustomerDown::Ended { .. }).then_some(())
            })
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_for_colleagues_limit_files_by_direction_and_chat() {
    let relay = TestRelay::start().await;
    profile(&relay, "fetch only", "files-download", true, false).await;
    profile(&relay, "externals", "view", false, true).await;
    let mut s = Session::start(&relay).await;
    // A profile for externals is not offered for colleagues.
    s.rep
        .say(&RepUp::ShareWithProfile {
            profile: "externals".into(),
            lifetime_secs: None,
        })
        .await;
    refused(&mut s.rep, Refusal::NoSuchProfile).await;
    let share = RepUp::ShareWithProfile {
        profile: "fetch only".into(),
        lifetime_secs: None,
    };
    let mut bob = join_with_share(&relay, &mut s, "bob", &share).await;
    // `files` may be asked for (one direction is allowed) and granted by the customer …
    grant(&mut bob, &mut s.customer, Tier::Files).await;
    // … but offering a file to the customer is the other direction: refused.
    bob.say(&RepUp::OfferFile {
        transfer: 1,
        name: "tool.exe".into(),
        size: 10,
    })
    .await;
    bob.until("refused offer", |m| match m {
        RepDown::FileCancelled { transfer: 1, .. } => Some(()),
        _ => None,
    })
    .await;
    // The customer's own file reaches him.
    s.customer
        .say(&CustomerUp::SendFile {
            transfer: 5,
            name: "log.txt".into(),
            size: 3,
        })
        .await;
    bob.until("incoming", |m| match m {
        RepDown::FileIncoming { transfer: 5, .. } => Some(()),
        _ => None,
    })
    .await;
    // No chat in this profile.
    bob.say(&RepUp::Chat { text: "x".into() }).await;
    refused(&mut bob, Refusal::ChatNotAllowed).await;
    relay
        .wait_audit("profile refusal", |a| {
            a.contains("file.refused") && a.contains("reason=profile")
        })
        .await;
    relay
        .wait_audit("join with profile", |a| {
            a.contains("session.join") && a.contains("profile=\"fetch only\"")
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_link_shows_who_invites_what_may_be_done_and_how_to_join() {
    let clients = tempfile::tempdir().unwrap();
    std::fs::write(
        clients.path().join("lotse-console_0.1.0_amd64.deb"),
        b"!<arch>\nconsole",
    )
    .unwrap();
    std::fs::write(clients.path().join("lotse-0.1.0_amd64.deb"), b"other").unwrap();
    let dir = clients.path().to_owned();
    let relay = TestRelay::with_portal(move |c| {
        c.key_attempts = 8;
        if let Some(p) = c.portal.as_mut() {
            p.clients = Some(dir);
        }
    })
    .await;
    profile(&relay, "view only", "view", false, true).await;
    may_invite(&relay, "ada").await;
    let mut s = Session::start(&relay).await;
    s.rep
        .say(&RepUp::InviteExternal {
            profile: "view only".into(),
            name: "Eve <Extern>".into(),
            reason: "Printer vendor".into(),
        })
        .await;
    let ((key, url), _) = s
        .rep
        .until("invitation", |m| match m {
            RepDown::ExternalInvitation { key, url, .. } => Some((key.clone(), url.clone())),
            _ => None,
        })
        .await;
    let url = url.expect("a link when the portal runs");
    let path = &url[url.find("/x/").unwrap()..];
    assert_eq!(path, format!("/x/{}", key.replace(' ', "")));
    let (addr, pin) = relay.portal();
    let local = "127.0.0.1".parse().unwrap();
    let page = https::request(addr, &pin, local, "GET", path, "").await;
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(
        text.contains(
            "<strong>Ada Lovelace</strong> invites you, as <strong>Eve &lt;Extern&gt;</strong>"
        ),
        "{text}"
    );
    assert!(text.contains(&key), "the key, formatted");
    assert!(
        text.contains("view only: may view"),
        "the profile's English description"
    );
    assert!(text.contains("join-external"));
    let page = https::request(addr, &pin, local, "GET", &format!("{path}?lang=de"), "").await;
    assert!(page.text().contains("view only: darf view"));
    // The console from the clients directory, for this invitation only.
    assert!(
        text.contains(&format!("href=\"{path}/lotse-console_0.1.0_amd64.deb\"")),
        "{text}"
    );
    let deb = https::request(
        addr,
        &pin,
        local,
        "GET",
        &format!("{path}/lotse-console_0.1.0_amd64.deb"),
        "",
    )
    .await;
    assert_eq!(deb.status, 200);
    assert_eq!(deb.body, b"!<arch>\nconsole".to_vec());
    for bad in [
        format!("{path}/lotse-0.1.0_amd64.deb"),
        format!("{path}/..%2Flotse.db"),
        "/x/000000000000/lotse-console_0.1.0_amd64.deb".to_owned(),
    ] {
        let r = https::request(addr, &pin, local, "GET", &bad, "").await;
        assert_eq!(r.status, 404, "{bad}");
    }
    // Seeing the page does not use the key up.
    let eve = join_external(&relay, &key).await.unwrap();
    // Used now: the link says so, and counts as a wrong key.
    let used = https::request(addr, &pin, local, "GET", path, "").await;
    assert_eq!(used.status, 404);
    assert!(used.text().contains("unknown, used or expired"));
    relay
        .wait_audit("refused", |a| a.contains("portal.external_rejected"))
        .await;
    drop(eve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_from_the_settings_file_are_in_the_database_at_start() {
    let from_file = Profile {
        name: "vendor".into(),
        description_de: "Hersteller".into(),
        description_en: "Vendor".into(),
        limits: Limits::from_allowances(&parse_allowances("view,chat").unwrap()),
        for_colleagues: false,
        for_externals: true,
    };
    let p = from_file.clone();
    let relay = TestRelay::start_with(move |c| c.profiles = vec![p]).await;
    let stored = relay.relay().store().profile("vendor").await.unwrap();
    assert_eq!(stored, Some(from_file));
    relay
        .wait_audit("put", |a| a.starts_with("profile.put name=\"vendor\""))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colleague_online_is_offered_the_session_and_takes_it_over_or_declines() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    grant(&mut s.rep, &mut s.customer, Tier::View).await;
    let mut bob = Rep::login(&relay, "bob").await;
    let mut cy = Rep::login(&relay, "cy").await;
    // First offer: declined; Ann hears it and keeps the session.
    s.rep.say(&RepUp::OfferTransfer { rep: "bob".into() }).await;
    s.rep
        .until("offered", |m| match m {
            RepDown::TransferOffered { to } if to == "Bob" => Some(()),
            _ => None,
        })
        .await;
    let (code, _) = bob
        .until("offer", |m| match m {
            RepDown::TransferOffer { code, from, .. } if from == "Ada Lovelace" => {
                Some(code.clone())
            }
            _ => None,
        })
        .await;
    bob.say(&RepUp::DeclineTransfer { code: code.clone() })
        .await;
    s.rep
        .until("declined", |m| match m {
            RepDown::TransferDeclined { by } if by == "Bob" => Some(()),
            _ => None,
        })
        .await;
    // The declined code is spent.
    bob.say(&RepUp::JoinSession { code }).await;
    refused(&mut bob, Refusal::UnknownCode).await;

    // Second offer: another account cannot use Bob's code; Bob takes it over.
    s.rep.say(&RepUp::OfferTransfer { rep: "bob".into() }).await;
    let (code, _) = bob
        .until("offer", |m| match m {
            RepDown::TransferOffer { code, .. } => Some(code.clone()),
            _ => None,
        })
        .await;
    cy.say(&RepUp::JoinSession { code: code.clone() }).await;
    refused(&mut cy, Refusal::UnknownCode).await;
    bob.say(&RepUp::JoinSession { code }).await;
    bob.until("joined", |m| {
        matches!(m, RepDown::Joined { .. }).then_some(())
    })
    .await;
    s.rep
        .until("ended", |m| match m {
            RepDown::Ended {
                reason: EndReason::Transferred { to },
            } if to == "Bob" => Some(()),
            _ => None,
        })
        .await;
    let bob_id = bob.id;
    customer_sees(&mut s.customer, |l| {
        l.len() == 1 && l[0].rep == bob_id && l[0].role == ParticipantRole::Owner
    })
    .await;
    // Ann's grant went with her: Bob has to ask.
    bob.say(&RepUp::SysinfoRequest).await;
    refused(&mut bob, Refusal::NotGranted(Tier::Sysinfo)).await;
    bob.say(&RepUp::Request {
        tier: Tier::Control,
    })
    .await;
    s.customer
        .hear_until("bob's request", |m: &CustomerDown| match m {
            CustomerDown::PermissionRequest { rep, .. } if *rep == bob_id => Some(()),
            _ => None,
        })
        .await;
    for a in [
        "session.transfer_offer",
        "session.transfer_declined",
        "session.transfer_taken",
    ] {
        relay.wait_audit(a, |x| x.starts_with(a)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_ends_with_its_session_and_frees_its_licence() {
    let relay = TestRelay::start_with(|c| c.external_licences = 1).await;
    profile(&relay, "view only", "view", false, true).await;
    may_invite(&relay, "ada").await;
    let mut s = Session::start(&relay).await;
    let key = invite(&mut s.rep, "view only", "Eve").await.unwrap();
    s.customer
        .say(&CustomerUp::End {
            reason: HowEnded::EndButton,
        })
        .await;
    s.rep
        .until("ended", |m| {
            matches!(m, RepDown::Ended { .. }).then_some(())
        })
        .await;
    assert_eq!(
        join_external(&relay, &key).await.err(),
        Some(Refusal::UnknownCode),
        "the session is over: so is its invitation"
    );
    // Its licence is free again for the next session.
    let mut s2 = Session::start_for(&relay, "ada", Peer::customer(&relay).await).await;
    assert!(invite(&mut s2.rep, "view only", "Fred").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_whose_window_closed_leaves_the_customer_waiting_not_ended() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    s.rep
        .say(&RepUp::Leave {
            reason: HowEnded::WindowClosed,
        })
        .await;
    s.customer
        .hear_until("requeued", |m: &CustomerDown| match m {
            CustomerDown::Requeued {
                why: Requeue::SupporterLost { .. },
                ..
            } => Some(()),
            CustomerDown::Ended { reason } => panic!("ended: {reason:?}"),
            _ => None,
        })
        .await;
}
