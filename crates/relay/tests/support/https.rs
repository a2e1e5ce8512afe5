//! A plain HTTPS/1.1 client for the portal that trusts only its key and can send from any
//! loopback address and as slowly as an attacker likes.

use lotse_net::Pin;
use rustls::pki_types::ServerName;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TCP connection to `addr` from `from` (any port).
pub async fn tcp(addr: SocketAddr, from: IpAddr) -> std::io::Result<tokio::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(from, 0))?;
    sock.connect(addr).await
}

/// A TLS connection to the portal, trusting only the key `pin` (`sha256//…`).
pub async fn tls(addr: SocketAddr, pin: &str, from: IpAddr) -> std::io::Result<Tls> {
    let pin: Pin = pin.parse().map_err(std::io::Error::other)?;
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .map_err(std::io::Error::other)?
    .dangerous()
    .with_custom_certificate_verifier(lotse_net::pinned_verifier(pin))
    .with_no_client_auth();
    let tcp = tcp(addr, from).await?;
    let name = ServerName::try_from("localhost").map_err(std::io::Error::other)?;
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
}

/// One request on a fresh connection; the whole response.
pub async fn request(
    addr: SocketAddr,
    pin: &str,
    from: IpAddr,
    method: &str,
    path: &str,
    form: &str,
) -> Resp {
    roundtrip(addr, pin, from, method, path, form, "").await
}

/// One request (with `extra` header lines) on a fresh connection; the whole response.
async fn roundtrip(
    addr: SocketAddr,
    pin: &str,
    from: IpAddr,
    method: &str,
    path: &str,
    form: &str,
    extra: &str,
) -> Resp {
    let mut s = tls(addr, pin, from).await.expect("TLS to the portal");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\
         Accept-Language: en\r\nContent-Length: {}\r\n{extra}",
        addr.port(),
        form.len()
    );
    if !form.is_empty() {
        req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    req.push_str("\r\n");
    req.push_str(form);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw))
        .await
        .expect("the portal answered in time")
        .ok();
    Resp::parse(&raw)
}

/// Whether the portal closes `s` (EOF or error) within `within`, reading and dropping
/// whatever it sends first; `false` if it is still open then.
pub async fn closes(s: &mut Tls, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let end = tokio::time::Instant::now() + within;
    loop {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn parse(raw: &[u8]) -> Resp {
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Resp {
                status: 0,
                headers: Vec::new(),
                body: raw.to_vec(),
            };
        };
        let head = String::from_utf8_lossy(&raw[..end]);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Resp {
            status,
            headers,
            body: raw[end + 4..].to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A browser in miniature for the portal's signed-in pages: keeps the cookies the portal sets
/// (by name, as a browser would for one site), sends them back, and speaks English from
/// `from`.
pub struct Browser {
    pub addr: SocketAddr,
    pub pin: String,
    pub from: IpAddr,
    pub cookies: std::collections::BTreeMap<String, String>,
}

impl Browser {
    pub fn new(addr: SocketAddr, pin: &str, from: IpAddr) -> Browser {
        Browser {
            addr,
            pin: pin.to_owned(),
            from,
            cookies: Default::default(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, "").await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send("POST", path, &body).await
    }

    async fn send(&mut self, method: &str, path: &str, body: &str) -> Resp {
        let mut extra = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0\r\n".to_owned();
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            extra.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        let resp = roundtrip(self.addr, &self.pin, self.from, method, path, body, &extra).await;
        for (k, v) in &resp.headers {
            if k != "set-cookie" {
                continue;
            }
            let first = v.split(';').next().unwrap_or("");
            if let Some((name, value)) = first.split_once('=') {
                if value.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(name.trim());
                } else {
                    self.cookies
                        .insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        resp
    }
}

impl Browser {
    /// Name and password on `/login`; the answer.
    pub async fn sign_in(&mut self, user: &str, password: &str) -> Resp {
        let page = self.get("/login").await;
        assert_eq!(page.status, 200);
        let csrf = hidden(&page.text(), "csrf");
        self.post(
            "/login",
            &[("user", user), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// Opens `page`, fills its `code` field with `code` and sends the form.
    pub async fn code_on_page(&mut self, page: &str, code: &str) -> Resp {
        let html = self.get(page).await.text();
        let csrf = hidden(&html, "csrf");
        self.post(page, &[("code", code), ("csrf", &csrf)]).await
    }

    /// Sends a form to `action` with the CSRF token of the page at `from` and `fields`.
    pub async fn submit(&mut self, from: &str, action: &str, fields: &[(&str, &str)]) -> Resp {
        let html = self.get(from).await.text();
        let csrf = hidden(&html, "csrf");
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }
}

/// Where a `303 See Other` sends the browser.
pub fn location(r: &Resp) -> &str {
    assert_eq!(r.status, 303, "{}", r.text());
    r.header("location").unwrap()
}

/// The value of the hidden field `name` on a page.
pub fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// `application/x-www-form-urlencoded` for one value.
pub fn url_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            b => format!("%{b:02X}"),
        })
        .collect()
}
