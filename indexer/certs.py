"""The transport-layer certificate of a secure local cluster, signed by the node's own CA (``cryptography``).

Elasticsearch requires TLS between nodes once security is on and a cluster has more than one node. Every
member presents a certificate of the cluster's CA (the one ``elasticsearch-certutil`` made for HTTP);
members verify the chain, not the host name (``verification_mode: certificate``), as all listen on
127.0.0.1. The key never leaves the node's state folder.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: how long a local cluster's transport certificate is valid (the CA certutil makes lasts three years)
VALID_DAYS = 3 * 365


def write_transport_certificate(ca_dir: Path, out_dir: Path, host: str) -> Path:
    """Write ``transport.key`` (mode 0600) and ``transport.crt``, signed by ``ca_dir/ca.{crt,key}``.

    Args:
        ca_dir: the folder with the CA's PEM certificate and unencrypted PEM key.
        out_dir: where the two files go (created).
        host: the IP address the certificate names.

    Returns:
        The certificate's path.

    Raises:
        OSError: the CA files cannot be read or the output written.
        ValueError: the CA files are not PEM.
    """
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise ValueError(f"{ca_dir / 'ca.key'} is not an RSA key")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auditlog-transport")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = out_dir / "transport.key", out_dir / "transport.crt"
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path
