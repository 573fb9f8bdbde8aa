"""The NAT lab's drivers read back whatever token and tag the lab hands them."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pytest

from tests.nat import browser_driver, peer_driver
from tests.nat.matrix import driver_arguments

PARSERS = [peer_driver.argument_parser, browser_driver.argument_parser]


@pytest.mark.parametrize("token", ["-starts-with-a-dash", "--looks-like-an-option", "plain_Tok9"])
@pytest.mark.parametrize("parser", PARSERS, ids=["aiortc", "chromium"])
def test_a_token_that_looks_like_an_option_is_read_as_the_token(
    parser: Callable[[], argparse.ArgumentParser], token: str
) -> None:
    arguments = driver_arguments("http://203.0.113.1:8080", token, "-tag", 20.0)
    parsed = parser().parse_args([*arguments, "--role", "mentee"])
    assert parsed.token == token
    assert parsed.tag == "-tag"
    assert parsed.url == "http://203.0.113.1:8080"
    assert parsed.timeout == 20.0
