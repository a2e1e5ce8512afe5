//! The support portal's request handling — routes, forms, queries, path parameters, cookies and
//! language headers — with requests made from the fuzzer's bytes, sent straight into the same
//! router the HTTPS server runs (TLS and HTTP/1 parsing are hyper's and rustls's). Whatever the
//! request: no panic, no "500 Internal Server Error", the security headers on every answer, and
//! the relay behind it keeps answering.
//!
//! Input: `METHOD TARGET\n` then header lines `Name: value\n`, an empty line, and the body.
#![no_main]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use tower::ServiceExt;

struct World {
    rt: tokio::runtime::Runtime,
    relay: lotse_relay::Relay,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temp dir");
        // A client build the portal offers: an x86-64 ELF header and an empty anchor.
        let clients = dir.path().join("clients");
        std::fs::create_dir(&clients).expect("clients dir");
        let mut build = vec![0u8; 8192];
        build[..4].copy_from_slice(b"\x7fELF");
        build[4] = 2;
        build[5] = 1;
        build[18..20].copy_from_slice(&62u16.to_le_bytes());
        build[4096..4096 + lotse_bundle::anchor::ANCHOR_LEN]
            .copy_from_slice(&lotse_bundle::anchor::UNSTAMPED_ANCHOR);
        std::fs::write(clients.join("lotse-linux-x86_64"), build).expect("client build");
        let mut cfg = lotse_relay::Config::new(
            dir.path().join("data"),
            "127.0.0.1:0".parse().expect("address"),
        );
        let mut p = lotse_relay::portal::PortalConfig::new("127.0.0.1:0".parse().expect("address"));
        p.clients = Some(clients);
        cfg.portal = Some(p);
        let relay = rt.block_on(async {
            let relay = lotse_relay::start(cfg).await.expect("the relay starts");
            relay
                .store()
                .add_rep("ada", "Ada Lovelace", "correct horse battery", 0)
                .await
                .expect("a rep");
            relay
        });
        World {
            rt,
            relay,
            _dir: dir,
        }
    })
}

fn request(data: &[u8]) -> Option<(Request<Body>, IpAddr)> {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split('\n');
    let (method, target) = lines.next()?.split_once(' ')?;
    let mut req = Request::builder().method(method).uri(target);
    for l in lines {
        let (name, value) = l.split_once(':')?;
        req = req.header(name.trim(), value.trim());
    }
    let req = req.body(Body::from(body.to_vec())).ok()?;
    // Many addresses, so that the per-address limits do not answer everything.
    let h = data
        .iter()
        .fold(0u32, |h, &b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    Some((req, IpAddr::V4(Ipv4Addr::from(h | 0x0a00_0000))))
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let Some((req, ip)) = request(data) else {
        return;
    };
    let portal = w.relay.portal.as_ref().expect("the portal");
    let app = portal.app_for(SocketAddr::new(ip, 40000));
    w.rt.block_on(async {
        let res = app.oneshot(req).await.expect("the router never fails");
        assert_ne!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let h = res.headers();
        assert!(h.contains_key(header::CONTENT_SECURITY_POLICY), "{h:?}");
        assert!(h.contains_key(header::X_FRAME_OPTIONS), "{h:?}");
        let _ = axum::body::to_bytes(res.into_body(), 64 << 20).await;
    });
});
