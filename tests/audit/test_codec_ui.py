"""The Temporal Web UI of `arrears up --ui` is pointed at our codec endpoint (docs/audit.md), so an
auditor who signed in at /codec/session sees decrypted payloads without configuring anything
but "include cross-origin credentials"."""

from __future__ import annotations

from pathlib import Path

from arrears.stack import codec_endpoint, dev_server_argv
from core.settings import Settings


def test_arrears_up_starts_the_dev_server_with_the_apis_codec_endpoint_for_its_web_ui(
    tmp_path: Path,
) -> None:
    argv = dev_server_argv(Settings(), Path("/venv/bin/temporal"), tmp_path, 7233, ui=True)
    at = argv.index("--ui-codec-endpoint")
    assert argv[at + 1] == "http://127.0.0.1:8000/codec"
    # The UI's default origin (http://127.0.0.1:8233) is on the codec's CORS allow-list.
    assert "http://127.0.0.1:8233" in Settings().ui_origins.split(",")


def test_the_codec_endpoint_follows_the_apis_public_url() -> None:
    public = Settings(ARREARS_PUBLIC_URL="https://arrears.example.com/")
    assert codec_endpoint(public) == "https://arrears.example.com/codec"
