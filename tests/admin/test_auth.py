"""The admin token: env, generated file (mode 0600), constant-time header check."""

from __future__ import annotations

import stat

import pytest

from radio.admin.auth import TOKEN_FILE, bearer_matches, load_or_create_token


def test_env_token_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTINUO_ADMIN_TOKEN", "x" * 20)
    token = load_or_create_token(tmp_path)
    assert token.value == "x" * 20 and token.source == "env"
    assert not (tmp_path / TOKEN_FILE).exists()


def test_short_env_token_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTINUO_ADMIN_TOKEN", "short")
    with pytest.raises(SystemExit, match="too short"):
        load_or_create_token(tmp_path)


def test_generated_token_is_private_and_stable(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CONTINUO_ADMIN_TOKEN", raising=False)
    first = load_or_create_token(tmp_path)
    path = tmp_path / TOKEN_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in capsys.readouterr().out  # says where, once
    second = load_or_create_token(tmp_path)
    assert second.value == first.value and len(first.value) >= 32
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "header, ok",
    [
        (None, False),
        ("", False),
        ("Bearer", False),
        ("Bearer wrong-token-wrong-token", False),
        ("Basic c2VjcmV0LXRva2VuLTEyMzQ1", False),
        ("Bearer secret-token-12345", True),
        ("bearer secret-token-12345", True),
        ("Bearer secret-token-123456", False),
        ("Bearer secret-token-1234", False),
    ],
)
def test_bearer_matches(header, ok):
    assert bearer_matches(header, "secret-token-12345") is ok
