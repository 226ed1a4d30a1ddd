"""The secure cluster's transport certificate, signed by the node's own CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from auditlog.indexer.certs import write_transport_certificate


def _ca(folder: Path) -> x509.Certificate:
    """Write a self-signed CA as certutil does (PEM certificate, unencrypted PEM key) and return it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir()
    (folder / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "ca.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                                      serialization.NoEncryption()))
    return cert


def test_certificate_is_signed_by_the_ca(tmp_path: Path) -> None:
    """The transport certificate's signature verifies with the CA's public key and names the CA as issuer."""
    ca = _ca(tmp_path / "ca")
    cert = x509.load_pem_x509_certificate(
        write_transport_certificate(tmp_path / "ca", tmp_path / "transport", "127.0.0.1").read_bytes())
    public = ca.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())
    assert ca.subject == cert.issuer


def test_certificate_names_the_loopback_address(tmp_path: Path) -> None:
    """The certificate's subject alternative names hold 127.0.0.1."""
    _ca(tmp_path / "ca")
    cert = x509.load_pem_x509_certificate(
        write_transport_certificate(tmp_path / "ca", tmp_path / "transport", "127.0.0.1").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [ipaddress.ip_address("127.0.0.1")] == names.get_values_for_type(x509.IPAddress)


def test_key_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The private key file is written with mode 0600."""
    _ca(tmp_path / "ca")
    write_transport_certificate(tmp_path / "ca", tmp_path / "transport", "127.0.0.1")
    assert 0o600 == (tmp_path / "transport" / "transport.key").stat().st_mode & 0o777
