"""Shared fixtures: golden-file updating, the browser, sample servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from samples.erp.app import ErpServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite tests/golden/* from the current output (review the diff)",
    )
    parser.addoption("--chaos", action="store_true", help="run the long chaos trials")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--chaos"):
        return
    skip = pytest.mark.skip(reason="long chaos trial: run with --chaos")
    for item in items:
        if "chaos" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def chromium_path() -> str | None:
    """The browser the recorder would use (``None`` = Playwright's managed one).

    Skips the test locally when there is none; under ``CI=true`` that is a failure.
    """
    from zapi.errors import RecordingError
    from zapi.recorder import find_browser

    try:
        return find_browser().path
    except RecordingError as exc:
        if IN_CI:
            pytest.fail(f"CI needs a Chromium for browser tests: {exc.message}")
        pytest.skip(f"no Chromium found for browser tests: {exc.message}")


@pytest.fixture
def erp_server() -> Iterator[ErpServer]:
    """A fresh ERP sample on 127.0.0.1 and an ephemeral port, seeded data."""
    from samples.erp.app import make_server

    with make_server(0, seed=0) as server:
        yield server
