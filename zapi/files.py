"""Files at the edges: an atomic writer and a validated reader for our own pydantic artifacts."""

from __future__ import annotations

import json
import os
import tempfile
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from zapi.errors import ZapiError

__all__ = ["atomic_write", "load_model"]

M = TypeVar("M", bound=BaseModel)


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A failure never leaves half a file, and the file is owner-readable only
    (``mkstemp``'s 0600): artifacts can hold personal data even when redacted.
    Text is written as UTF-8 with ``\\n`` line ends.
    """
    p = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(p))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".zapi-", suffix=".tmp", dir=folder)
    try:
        if isinstance(data, bytes):
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(data)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_model(
    path: str | os.PathLike[str],
    model: type[M],
    *,
    what: str,
    fix: str,
    error: type[ZapiError] = ZapiError,
    invalid: type[ZapiError] | None = None,
) -> M:
    """Read a JSON file (YAML unless the name ends in ``.json``) and validate it as ``model``.

    Every failure is one line naming the file, and for a validation error the
    first failing field: ``PATH: field 'a.b': MESSAGE; FIX``.

    Args:
        path: the file.
        model: the pydantic model to validate with.
        what: what the file is, for messages ("tool card", "rules file").
        fix: what the user should do, appended to every message.
        error: raised when the file cannot be read or parsed.
        invalid: raised when the content does not match the model (default ``error``).

    Raises:
        ZapiError: ``error`` or ``invalid`` as above, with ``path`` (and ``field``).
    """
    p = os.fspath(path)
    try:
        with open(p, encoding="utf-8-sig") as fh:
            text = fh.read()
    except OSError as exc:
        raise error(f"{p}: cannot read {what} ({exc.strerror}); {fix}", path=p) from exc
    try:
        if not p.endswith(".json"):
            import yaml

            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise ValueError(str(exc).replace("\n", " ")) from exc
        else:
            data = json.loads(text)
    except ValueError as exc:
        kind = "JSON" if p.endswith(".json") else "YAML"
        raise error(f"{p}: not {kind} ({exc}); {fix}", path=p) from exc
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise (invalid or error)(
            f"{p}: field {loc!r}: {first['msg']}; {fix}", path=p, field=loc
        ) from exc
