"""A private certificate authority per scenario, and a certificate per node signed by it.

Keys are ECDSA P-256 (a key and a certificate cost about a millisecond). Each node's certificate
names every address its peers and the harness reach it by (its DNS names and IPs in the subject
alternative names). The scenario's faulty certificates come from the same place: one for another
name, one that has expired, one from another CA.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE = "ca.pem"
VALID = datetime.timedelta(days=1)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


@dataclass(frozen=True)
class Issued:
    """A node's certificate (PEM) and its private key (PEM)."""

    cert: bytes
    key: bytes


@dataclass
class ScenarioCa:
    """One scenario's CA: it signs the scenario's node certificates and nothing else."""

    name: str = "rbee-bdd scenario CA"
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        now = datetime.datetime.now(datetime.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .sign(self.key, hashes.SHA256()))

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, node: str, hosts: list[str], expired: bool = False) -> Issued:
        """A server and client certificate for *node*, valid for *hosts* (names and IPs); *expired*
        makes one whose validity ended an hour ago."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        start, end = (now - 2 * VALID, now - datetime.timedelta(hours=1)) if expired else \
            (now - datetime.timedelta(minutes=5), now + VALID)
        names = list(dict.fromkeys(hosts))
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node)]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName([_alt_name(h) for h in names]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


CERT_FILE, KEY_FILE = "cert.pem", "key.pem"


def node_files(issued: Issued) -> dict[str, bytes]:
    """A node's certificate and key as files of its own TLS folder."""
    return {CERT_FILE: issued.cert, KEY_FILE: issued.key}


def node_flags(folder: str) -> list[str]:
    """The reference flags that make a daemon serve HTTPS with the files of its TLS *folder* and verify
    peers against the scenario's CA (in the same folder)."""
    return ["--tls-cert", f"{folder}/{CERT_FILE}", "--tls-key", f"{folder}/{KEY_FILE}",
            "--tls-ca", f"{folder}/{CA_FILE}"]
