"""The [admin] and [quality] settings: operators by e-mail, bounds on the quality window."""

from __future__ import annotations

import pytest

from config.loader import ConfigError, load_settings
from config.settings import Settings
from web.admin.access import is_operator


def test_operators_are_listed_by_e_mail_in_any_case() -> None:
    settings = load_settings(environ={"PANAMIA_ADMIN__EMAILS": '["Ops@Example.org"]'})
    assert is_operator(settings, "ops@example.org")
    assert not is_operator(settings, "someone@example.org")
    assert not is_operator(Settings(), "ops@example.org")  # nobody by default


@pytest.mark.parametrize(
    ("variable", "value", "names"),
    [
        ("PANAMIA_ADMIN__EMAILS", '["not an address"]', "admin.emails"),
        ("PANAMIA_QUALITY__WINDOW_MINUTES", "0", "quality.window_minutes"),
        ("PANAMIA_LIMITS__QUALITY_BURST", "-1", "limits.quality"),
    ],
)
def test_bad_values_stop_start_up_naming_the_option(variable: str, value: str, names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        load_settings(environ={variable: value})
