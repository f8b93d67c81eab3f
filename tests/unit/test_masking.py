"""Secrets masked in data, in texts and in log records; other values left alone."""

from __future__ import annotations

import io
import logging

from sirocco import masking


def test_values_under_secret_keys_are_masked_in_data() -> None:
    data = {
        "user": "ann",
        "password": "hunter2",
        "nested": [{"os_auth_token": "t0k", "note": "token=abc def"}],
        "Client_Secret": None,
    }
    assert masking.mask(data) == {
        "user": "ann",
        "password": "***",
        "nested": [{"os_auth_token": "***", "note": "token=*** def"}],
        "Client_Secret": None,
    }
    assert data["password"] == "hunter2"  # a copy: what is stored stays as given


def test_values_after_secret_keys_are_masked_in_texts() -> None:
    text = (
        "Failed: {'password': 'hun\\'ter2', 'host': 'db'} "
        '{"client_secret": "s3", "port": 5} https://x/?token=abc&page=2 X-Auth-Token: sir_1'
    )
    assert masking.mask_text(text) == (
        "Failed: {'password': '***', 'host': 'db'} "
        '{"client_secret": "***", "port": 5} https://x/?token=***&page=2 X-Auth-Token: ***'
    )
    assert masking.mask_text("nothing to hide: a=1") == "nothing to hide: a=1"


def test_the_key_parts_are_configurable() -> None:
    parts = masking.parts_of("pin, Passphrase")
    assert parts == ("pin", "passphrase")
    assert masking.mask({"pin": 1234, "password": "x"}, parts) == {"pin": "***", "password": "x"}
    assert masking.parts_of("") == masking.DEFAULT_PARTS


def test_log_records_are_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(error)s"))
    handler.addFilter(masking.MaskingFilter())
    logger = logging.getLogger("sirocco.test.masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(
            "connecting with password=%s", "hunter2", extra={"error": "bad {'token': 'abc'}"}
        )
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "connecting with password=*** bad {'token': '***'}\n"


def test_install_covers_uvicorns_access_log() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    try:
        masking.install(masking.DEFAULT_PARTS, ("uvicorn.access",))
        access.warning('%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "GET", "/v2?token=abc", 200)
    finally:
        access.removeHandler(handler)
    assert stream.getvalue() == '127.0.0.1 - "GET /v2?token=*** HTTP/1.1" 200\n'


def test_mask_text_checks_mixed_case_and_non_ascii_text_as_before() -> None:
    # The quick exit for texts without a secret-looking part must not skip any of these.
    assert masking.mask_text("PassWord=x") == "PassWord=***"
    assert masking.mask_text("é token: 'x'") == "é token: '***'"
    assert masking.mask_text("id=0b7f1c5e state=SUCCESS") == "id=0b7f1c5e state=SUCCESS"
    # A non-ASCII part (long s: IGNORECASE matches it to "s") still goes through the pattern.
    assert masking.mask_text("pass=1", ("pa\u017f\u017f",)) == "pass=***"
