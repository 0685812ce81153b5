"""Connecting with mTLS and with an API key over TLS, configured only through the `temporal` CLI's
variables, against a real Temporal dev server.

The dev server speaks plaintext only (`temporal server start-dev` has no TLS flags), so a TLS
terminator in front of it plays Temporal Cloud's frontend: it presents a server certificate from
a throwaway CA and, in the mTLS case, refuses any client without a certificate that CA signed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from core.settings import Settings
from core.temporal import connect

# TLS libraries check a certificate's validity against the machine's clock, so the throwaway
# certificates are valid from an hour before the test for a day, whatever the date.


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.now(UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    elif server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A throwaway CA, a server certificate for localhost/127.0.0.1 and a client certificate."""
    ca_key = _key()
    ca = _issue("arrears test CA", ca_key, None, ca=True)
    files: dict[str, Path] = {}
    for name, cert_key, cert in (
        ("ca", ca_key, ca),
        ("server", server_key := _key(), None),
        ("client", client_key := _key(), None),
    ):
        if cert is None:
            chosen = server_key if name == "server" else client_key
            cert = _issue(f"arrears {name}", chosen, (ca.subject, ca_key), server=name == "server")
            cert_key = chosen
        files[f"{name}.pem"] = tmp_path / f"{name}.pem"
        files[f"{name}.pem"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{name}.key"] = tmp_path / f"{name}.key"
        files[f"{name}.key"].write_bytes(_pem_key(cert_key))
    return files


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(ConnectionError, ssl.SSLError, OSError, RuntimeError):
        writer.close()


@contextlib.asynccontextmanager
async def tls_frontend(
    upstream: str, pki: dict[str, Path], *, require_client_cert: bool
) -> AsyncIterator[str]:
    """A TLS terminator (HTTP/2 by ALPN, as gRPC wants) forwarding to the plaintext dev server."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki["server.pem"], pki["server.key"])
    context.set_alpn_protocols(["h2"])
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki["ca.pem"])
    host, _, port = upstream.rpartition(":")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield f"localhost:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), timeout=2)


async def _namespace_answers(settings: Settings) -> str:
    client = await connect(settings)
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace), timeout=timedelta(seconds=10)
    )
    return described.namespace_info.name


async def test_a_worker_connects_with_mtls_from_the_temporal_cli_variables_alone(
    dev_server: str, pki: dict[str, Path]
) -> None:
    async with tls_frontend(dev_server, pki, require_client_cert=True) as frontend:
        settings = Settings(
            TEMPORAL_ADDRESS=frontend,
            TEMPORAL_TLS_CLIENT_CERT_PATH=pki["client.pem"],
            TEMPORAL_TLS_CLIENT_KEY_PATH=pki["client.key"],
            TEMPORAL_TLS_SERVER_CA_CERT_PATH=pki["ca.pem"],
        )
        assert await _namespace_answers(settings) == "default"


async def test_without_a_client_certificate_an_mtls_frontend_refuses_the_connection(
    dev_server: str, pki: dict[str, Path]
) -> None:
    async with tls_frontend(dev_server, pki, require_client_cert=True) as frontend:
        settings = Settings(
            TEMPORAL_ADDRESS=frontend,
            TEMPORAL_TLS="true",
            TEMPORAL_TLS_SERVER_CA_CERT_PATH=pki["ca.pem"],
        )
        with pytest.raises(RuntimeError) as refused:
            await asyncio.wait_for(_namespace_answers(settings), timeout=30)
        assert "TLS" in str(refused.value) or "transport" in str(refused.value)


async def test_an_api_key_profile_connects_over_tls_and_sends_the_key(
    dev_server: str, pki: dict[str, Path], tmp_path: Path
) -> None:
    async with tls_frontend(dev_server, pki, require_client_cert=False) as frontend:
        profile = tmp_path / "temporal.toml"
        profile.write_text(
            f'[profile.cloud]\naddress = "{frontend}"\napi_key = "cloud-api-key-789"\n'
            f'[profile.cloud.tls]\nserver_ca_cert_path = "{pki["ca.pem"]}"\n'
        )
        settings = Settings(TEMPORAL_CONFIG_FILE=profile, TEMPORAL_PROFILE="cloud")
        client = await connect(settings)
        assert client.api_key == "cloud-api-key-789"
        assert await _namespace_answers(settings) == "default"
