"""``repsense serve``: the web app on http://127.0.0.1:8000."""

from __future__ import annotations

import argparse
import ipaddress
import pathlib
import secrets
import sys
import threading
import webbrowser

from repsense.errors import RepsenseError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve", help="the web app: live coaching with the camera in the browser",
        description="Start the web app: camera in the browser, live skeleton, counts, form cues, "
                    "recordings and video uploads. Listens on 127.0.0.1 unless --host says "
                    "otherwise; then every request needs the token printed with the URL.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 for a phone on the "
                        "same network: a token is then required)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--no-browser", action="store_true", help="do not open the browser")
    p.add_argument("--token", help="the access token (default: a random one when --host is not "
                                   "loopback; none on loopback)")
    p.add_argument("--certfile", help="TLS certificate (PEM): serve HTTPS; browsers give the "
                                      "camera only to secure pages on other machines")
    p.add_argument("--keyfile", help="TLS private key (PEM) of --certfile")
    p.add_argument("--self-signed", action="store_true",
                   help="make a self-signed certificate for this machine and serve HTTPS "
                        "(the phone's browser asks to accept it once)")
    p.add_argument("--max-upload-mb", type=float, default=500.0,
                   help="largest video upload accepted, in MB (default 500)")
    p.add_argument("--model", choices=("lite", "full"), default="lite",
                   help="the server's pose model for browsers that send frames (default lite)")
    from repsense.cli.history import add_store_options

    add_store_options(p, "default")   # --db, --profile: where live sessions and uploads are kept
    p.add_argument("--no-history", action="store_true", help="keep no history of the sessions")
    p.add_argument("--broker", metavar="URL",
                   help="MQTT broker of the gym view (/gym) and of pose-only camera nodes: "
                        "mqtt://[USER:PASSWORD@]HOST[:PORT] or mqtts://... (default: 127.0.0.1:1883, "
                        "the embedded broker started there if nothing listens; docs/mqtt.md)")
    p.add_argument("--no-mqtt", action="store_true", help="no MQTT broker and no gym view")
    p.add_argument("--embedded-port", type=int, default=1883, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_serve)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from repsense.app.live import MAX_BINARY_BYTES
    from repsense.app.server import Settings, create_app

    if not 0 < args.port < 65536:
        raise RepsenseError(f"--port must be 1-65535, got {args.port}")
    if args.max_upload_mb <= 0:
        raise RepsenseError("--max-upload-mb must be > 0")
    if bool(args.certfile) != bool(args.keyfile):
        raise RepsenseError("--certfile and --keyfile go together")
    certfile, keyfile = args.certfile, args.keyfile
    if args.self_signed and not certfile:
        certfile, keyfile = self_signed_pair(args.host)
    for f in (certfile, keyfile):
        if f and not pathlib.Path(f).is_file():
            raise RepsenseError(f"{f}: no such file")
    token = args.token
    if token is None and not _is_loopback(args.host):
        token = secrets.token_urlsafe(16)
    settings = Settings(token=token, max_upload_mb=args.max_upload_mb, pose_model=args.model)
    if not args.no_history:
        from repsense.store import default_url

        settings.db_url, settings.profile = args.db or default_url(), args.profile
    if not args.no_mqtt:
        from repsense.app.gym import install
        from repsense.sinks.mqtt import BrokerAddress

        if args.broker:
            BrokerAddress.parse(args.broker)   # a bad URL is one line now, not a failed start
        # The gym view, the embedded broker when no --broker, live sessions' events on MQTT.
        install(settings, args.broker, port=args.embedded_port)
    app = create_app(settings)
    scheme = "https" if certfile else "http"
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    url = f"{scheme}://{shown}:{args.port}/" + (f"?token={token}" if token else "")
    print(f"repsense is serving on {url}", file=sys.stderr)
    if args.host in ("0.0.0.0", "::"):
        lan = _lan_address()
        if lan:
            print(f"  from a phone on this network: {scheme}://{lan}:{args.port}/"
                  + (f"?token={token}" if token else ""), file=sys.stderr)
            print(f"  the phone on the arm as the motion sensor: {scheme}://{lan}:{args.port}/sensors"
                  + (f"?token={token}" if token else ""), file=sys.stderr)
        if not certfile:
            print("  note: phones give the camera and the motion sensors only to https pages: "
                  "add --self-signed", file=sys.stderr)
    if not args.no_browser:
        if browser_available():
            threading.Timer(1.0, webbrowser.open, args=(url,)).start()
        else:
            print(f"  no browser to open on this machine: open {url} in your browser",
                  file=sys.stderr)
    print("  Ctrl-C stops it", file=sys.stderr)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            ssl_certfile=certfile, ssl_keyfile=keyfile,
                            ws_max_size=MAX_BINARY_BYTES + 16, ws_ping_interval=20.0)
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        raise RepsenseError(f"could not listen on {args.host}:{args.port} (in use? try --port)")
    return 0


def browser_available() -> bool:
    """A graphical browser can be opened here: not on a Linux machine with no display (a server,
    an SSH session), where Python's webbrowser would find none or a text one in the terminal."""
    import os

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def _lan_address() -> str | None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))   # no packet is sent: picks the outgoing interface
            return str(s.getsockname()[0])
        except OSError:
            return None


def self_signed_pair(host: str) -> tuple[str, str]:
    """A self-signed certificate and key for this machine, kept in the user's data folder."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from platformdirs import user_data_dir

    folder = pathlib.Path(user_data_dir("repsense")) / "tls"
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        return str(cert_path), str(key_path)
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    lan = _lan_address()
    if lan:
        names.append(x509.IPAddress(ipaddress.ip_address(lan)))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "repsense")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(key, hashes.SHA256()))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    print(f"made a self-signed certificate: {cert_path}", file=sys.stderr)
    return str(cert_path), str(key_path)
