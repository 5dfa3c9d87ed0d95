"""zapi.files: the one atomic writer and the one validated reader."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolgen.cards import load_card
from zapi.api import load_rules
from zapi.errors import AnalysisError, InvalidToolCard, ToolCardError
from zapi.files import atomic_write


class TestAtomicWrite:
    """Text or bytes land whole, owner-only, and a failure leaves nothing behind."""

    def test_text_and_bytes(self, tmp_path: Path) -> None:
        atomic_write(tmp_path / "a" / "t.txt", "héllo\n")
        atomic_write(tmp_path / "b.bin", b"\x00\xff")
        assert (tmp_path / "a" / "t.txt").read_text(encoding="utf-8") == "héllo\n"
        assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
        assert os.stat(tmp_path / "b.bin").st_mode & 0o077 == 0

    def test_failure_leaves_the_old_file_and_no_temp(self, tmp_path: Path) -> None:
        target = tmp_path / "t.txt"
        atomic_write(target, "old")
        with pytest.raises(TypeError):
            atomic_write(target, 42)  # type: ignore[arg-type]
        assert target.read_text() == "old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]


class TestLoadModel:
    """Read, parse, validate: one line naming the file and the first bad field."""

    def test_rules_field_error(self, tmp_path: Path) -> None:
        rules = tmp_path / "rules.yaml"
        rules.write_text('force: ["files/{path+}"]\n')
        with pytest.raises(AnalysisError) as info:
            load_rules(str(rules))
        msg = info.value.message
        assert msg.startswith(f"{rules}: field 'force.0'") and "\n" not in msg

    def test_rules_unknown_field_and_bad_yaml(self, tmp_path: Path) -> None:
        rules = tmp_path / "rules.yaml"
        rules.write_text("forse: []\n")
        with pytest.raises(AnalysisError, match="field 'forse'"):
            load_rules(str(rules))
        rules.write_text("force: [\n")
        with pytest.raises(AnalysisError, match="not YAML"):
            load_rules(str(rules))

    def test_card_errors(self, tmp_path: Path) -> None:
        with pytest.raises(ToolCardError, match="cannot read tool card"):
            load_card(tmp_path / "missing.json")
        bad = tmp_path / "bad.json"
        bad.write_text('{"name": "x"}')
        with pytest.raises(InvalidToolCard, match="re-run zapi analyze"):
            load_card(bad)
