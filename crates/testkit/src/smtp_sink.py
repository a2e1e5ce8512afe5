#!/usr/bin/python3
"""A real SMTP server on the loopback for the relay's mail tests (Debian's python3-aiosmtpd).

    smtp_sink.py DIR accept   every mail is written to DIR/N.eml, its envelope to DIR/N.rcpt,
                              and how it came (tls=…, auth=…) to DIR/N.meta
    smtp_sink.py DIR refuse   every recipient is refused with 550
    smtp_sink.py DIR silent   connections are accepted and never answered (a hung server)

Options after the mode (accept):
    --starttls CERT KEY       STARTTLS offered and required before anything else
    --tls CERT KEY            implicit TLS (SMTPS) from the first byte
    --auth USER PASSWORD      AUTH PLAIN/LOGIN required (over TLS only), with these credentials

Prints "ready PORT" once it listens; stops when its standard input closes.
"""
import asyncio
import os
import socket
import sys


def main():
    out, mode = sys.argv[1], sys.argv[2]
    opts = sys.argv[3:]
    tls_mode, tls_ctx, auth = None, None, None
    while opts:
        if opts[0] in ("--starttls", "--tls"):
            import ssl
            tls_mode = opts[0][2:]
            tls_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls_ctx.load_cert_chain(opts[1], opts[2])
            opts = opts[3:]
        elif opts[0] == "--auth":
            auth = (opts[1], opts[2])
            opts = opts[3:]
        else:
            raise SystemExit("unknown option %r" % opts[0])
    if mode == "silent":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        print("ready", s.getsockname()[1], flush=True)
        held = []
        s.settimeout(0.2)
        while True:
            try:
                c, _ = s.accept()
                held.append(c)
            except socket.timeout:
                pass
            if sys.stdin in select_readable():
                return

    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self):
            self.n = 0

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if mode == "refuse":
                return "550 5.7.1 not accepted here"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            self.n += 1
            path = os.path.join(out, "%d.eml" % self.n)
            with open(path + ".part", "wb") as f:
                f.write(envelope.original_content or envelope.content)
            with open(os.path.join(out, "%d.rcpt" % self.n), "w") as f:
                f.write("\n".join(envelope.rcpt_tos))
            with open(os.path.join(out, "%d.meta" % self.n), "w") as f:
                # STARTTLS sets session.ssl; implicit TLS shows on the transport.
                secure = session.ssl is not None or \
                    server.transport.get_extra_info("ssl_object") is not None
                tls = "yes" if secure else "no"
                who = session.auth_data
                login = who.decode() if isinstance(who, bytes) else (who or "")
                f.write("tls=%s auth=%s\n" % (tls, login))
            os.rename(path + ".part", path)
            return "250 Message accepted"

    # aiosmtpd 1.4 checks its own port by connecting to it, so it needs a real one: take a free
    # one from the kernel, and try again should another program take it meanwhile.
    for attempt in range(10):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        kwargs = {}
        if tls_mode == "starttls":
            kwargs.update(tls_context=tls_ctx, require_starttls=True)
        elif tls_mode == "tls":
            kwargs.update(ssl_context=tls_ctx)
        if auth is not None:
            from aiosmtpd.smtp import AuthResult

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (auth_data.login.decode(), auth_data.password.decode()) == auth
                # handled=False: aiosmtpd answers 535 itself (by default it leaves that to us).
                return AuthResult(success=ok, handled=False,
                                  auth_data=auth_data.login if ok else None)

            # aiosmtpd counts only STARTTLS as TLS for AUTH; with implicit TLS every byte is
            # encrypted anyway.
            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=(tls_mode != "tls"))
        c = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
        try:
            c.start()
            break
        except Exception:
            if attempt == 9:
                raise
    print("ready", port, flush=True)
    sys.stdin.read()
    c.stop()


def select_readable():
    import select
    r, _, _ = select.select([sys.stdin], [], [], 0)
    return r


if __name__ == "__main__":
    main()
