"""Multipart file arguments: read local files, but only under the allowed directory."""

from __future__ import annotations

import mimetypes
import os

from runtime.request import FilePart
from zapi.errors import InvalidArguments

__all__ = ["read_files"]


def read_files(
    tool: str, parts: tuple[FilePart, ...], root: str | os.PathLike[str]
) -> dict[str, tuple[str, bytes, str]]:
    """Read each file argument, refusing paths outside ``root`` (symlinks resolved).

    Raises:
        InvalidArguments: a path outside ``root``, or a file that cannot be read; nothing
            was sent.
    """
    files: dict[str, tuple[str, bytes, str]] = {}
    if not parts:
        return files
    allowed = os.path.realpath(root)
    for part in parts:
        real = os.path.realpath(part.path)
        if os.path.commonpath([real, allowed]) != allowed:
            raise InvalidArguments(
                f"{tool}: argument {part.arg!r} must be a file under {allowed} (the allowed "
                f"files directory; change it with files_root= / --files-root), not {part.path}",
                tool=tool,
                field=part.arg,
                sent=False,
            )
        try:
            with open(real, "rb") as fh:
                content = fh.read()
        except OSError as exc:
            raise InvalidArguments(
                f"{tool}: argument {part.arg!r} must be the path of a readable file "
                f"({exc.strerror}: {part.path})",
                tool=tool,
                field=part.arg,
                sent=False,
            ) from exc
        ctype = mimetypes.guess_type(part.path)[0] or "application/octet-stream"
        files[part.name] = (os.path.basename(part.path), content, ctype)
    return files
