"""Targets that terminate TLS themselves, as instances behind an NLB's TCP
listener do when API Gateway's TLS passes through the load balancer.

The front starts one per `POST /_front/tls_targets` ({"names": [...],
"days": N}): a server on a free loopback port that presents a self-signed
certificate for `names`, valid from a day ago for `days` days, and answers
every HTTP request over the session with `200 OK`. The exporter's TLS probe
is pointed at it with `collectors.tls_probe.addresses`; API Gateway would
refuse it, as it refuses any certificate no public CA signed.
"""

import datetime
import socket
import ssl
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(names, days):
    """A certificate for `names` (PEM) valid from a day ago for `days` days,
    and its key: what `aws acm import-certificate` takes."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (certificate.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def start(names, days=365):
    """Starts a TLS target for `names`; returns its `127.0.0.1:PORT`. It runs
    on daemon threads until the process ends."""
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError("names: a non-empty list of host names")
    if not isinstance(days, int) or not 1 <= days <= 3650:
        raise ValueError("days: a whole number of days, 1 to 3650")
    pem, key = self_signed(names, days)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # The context reads files only; they are not needed once loaded.
    with tempfile.NamedTemporaryFile() as cert_file, tempfile.NamedTemporaryFile() as key_file:
        cert_file.write(pem)
        key_file.write(key)
        cert_file.flush()
        key_file.flush()
        context.load_cert_chain(cert_file.name, key_file.name)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    threading.Thread(target=_accept, args=(listener, context), daemon=True).start()
    host, port = listener.getsockname()
    return f"{host}:{port}"


def _accept(listener, context):
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            # Out of descriptors for a moment (EMFILE): try again.
            time.sleep(0.1)
            continue
        threading.Thread(target=_serve, args=(connection, context), daemon=True).start()


def _serve(connection, context):
    """One connection: the handshake (which a client that refuses the
    certificate ends), then `200 OK` to the request, then close."""
    try:
        connection.settimeout(10)
        with context.wrap_socket(connection, server_side=True) as tls:
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                chunk = tls.recv(4096)
                if not chunk:
                    return
                request += chunk
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except (OSError, ssl.SSLError):
        pass
    finally:
        connection.close()
