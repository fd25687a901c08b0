"""A scenario's transport: plain HTTP, or TLS with a CA of the scenario's own.

Plain HTTP off loopback (the Docker target's daemons listen on 0.0.0.0 in their containers) needs
``--insecure-plaintext`` of a build that claims ``tls``. Over TLS each node gets the CA, its own
certificate (naming every address it is reached by) and key, in a TLS folder beside its credentials;
a scenario may give one node a faulty certificate instead (for another name, expired, or from
another CA) to see its peers refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rbee_bdd.clients.pki import CA_FILE, KEY_FILE, Issued, ScenarioCa, node_files, node_flags

TLS_FOLDER = "tls"
FAULTY = ("for another name", "expired", "from another CA",  # its peers refuse it
          "with a key that does not match", "with its key missing", "with a CA bundle that is not PEM")  # itself


@dataclass
class Transport:
    """How the scenario's daemons talk: ``tls`` or not; with TLS, the scenario's CA."""

    tls: bool = False
    claims_tls: bool = False  # the build knows --insecure-plaintext and the --tls-* flags
    allow_plaintext: bool = True  # False: no --insecure-plaintext even off loopback (to see the refusal)
    faulty: dict[str, str] = field(default_factory=dict)  # node -> one of FAULTY
    ca: ScenarioCa | None = None

    def __post_init__(self) -> None:
        if self.tls and self.ca is None:
            self.ca = ScenarioCa()

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def ca_pem(self) -> bytes:
        return self.ca.pem if self.ca is not None else b""

    def untrusted(self, node: str) -> bool:
        """Whether the node's certificate is one its peers (and the harness) are to refuse."""
        return self.faulty.get(node, "") in FAULTY[:3]

    def issue(self, node: str, hosts: list[str]) -> Issued:
        """The node's certificate, or the faulty one the scenario asked for."""
        assert self.ca is not None
        fault = self.faulty.get(node, "")
        if fault == "for another name":
            return self.ca.issue(node, ["elsewhere.invalid"])
        if fault == "from another CA":
            return ScenarioCa("another CA").issue(node, hosts)
        return self.ca.issue(node, hosts, expired=fault == "expired")

    def files(self, node: str, hosts: list[str]) -> dict[str, bytes]:
        """The node's own TLS folder (``tls/<node>/``: the CA, its certificate and its key), by relative name."""
        if not self.tls:
            return {}
        fault = self.faulty.get(node, "")
        issued = self.issue(node, hosts)
        if fault == "with a key that does not match":
            issued = Issued(issued.cert, self.issue(node, hosts).key)
        files = {CA_FILE: b"not a certificate\n" if fault == "with a CA bundle that is not PEM" else self.ca_pem,
                 **node_files(issued)}
        if fault == "with its key missing":
            del files[KEY_FILE]
        return {f"{TLS_FOLDER}/{node}/{name}": data for name, data in files.items()}

    def flags(self, secrets_dir: str, node: str, off_loopback: bool) -> list[str]:
        """The daemon's transport flags (its files under *secrets_dir*)."""
        if self.tls:
            return node_flags(f"{secrets_dir}/{TLS_FOLDER}/{node}")
        return ["--insecure-plaintext"] if off_loopback and self.claims_tls and self.allow_plaintext else []
