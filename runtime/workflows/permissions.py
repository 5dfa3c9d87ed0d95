"""Scoped permissions: a policy file granting workflows and credentials tools, hosts and classes."""

from __future__ import annotations

import fnmatch
import json
import os
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime.workflows.runner import ToolInfo
from zapi.errors import ScopeDenied, WorkflowError

__all__ = ["Grant", "Policy", "load_policy"]

Access = Literal["read", "write", "destructive"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Grant(_Model):
    """What one workflow (or credential) may call. Every list holds globs; ``*`` is anything."""

    workflow: str = Field("*", description="workflow or plan name this grant is for")
    credential: str = Field("*", description="credential the runner calls with")
    tools: list[str] = Field(default_factory=lambda: ["*"])
    methods: list[str] = Field(default_factory=lambda: ["*"])
    hosts: list[str] = Field(default_factory=lambda: ["*"], description="host or host:port")
    access: list[Access] = Field(default_factory=lambda: list[Access](["read"]))

    def applies(self, workflow: str, credential: str) -> bool:
        """Whether this grant speaks about ``workflow`` called with ``credential``."""
        return fnmatch.fnmatchcase(workflow, self.workflow) and fnmatch.fnmatchcase(
            credential or "", self.credential
        )

    def refusal(self, info: ToolInfo) -> str | None:
        """Why this grant does not allow ``info`` (``None`` when it does)."""
        host = urlsplit(info.origin).netloc.lower()
        checks = (
            ("tool", info.name, self.tools),
            ("method", info.method.upper(), [m.upper() for m in self.methods]),
            ("host", host, self.hosts),
            ("class", info.access, list(self.access)),
        )
        for what, value, allowed in checks:
            if not any(fnmatch.fnmatchcase(value, pattern) for pattern in allowed):
                return f"{what} {value!r} is not in {allowed}"
        return None


class Policy(_Model):
    """A policy file: grants plus the classes or tools that need an approval first.

    With no grant for a workflow, ``default`` decides (``deny`` unless set).
    """

    schema_version: Literal["1"] = "1"
    default: Literal["allow", "deny"] = "deny"
    grants: list[Grant] = Field(default_factory=list)
    require_approval: list[str] = Field(
        default_factory=list,
        description="access classes (destructive, write) or tool globs that need an approval",
    )

    @classmethod
    def allow_all(cls) -> Policy:
        """The policy used when none is configured: everything allowed, no approvals."""
        return cls(default="allow")

    def check(self, workflow: str, info: ToolInfo) -> None:
        """Refuse a call the policy does not grant (pure; no I/O).

        Raises:
            ScopeDenied: no grant for this workflow/credential allows the tool, method,
                host and access class.
        """
        grants = [g for g in self.grants if g.applies(workflow, info.credential)]
        if not grants:
            if self.default == "allow":
                return
            raise ScopeDenied(
                f"workflow {workflow!r} has no grant in the policy and the default is deny; "
                f"add a grant for tool {info.name!r} to the policy file",
                tool=info.name,
                workflow=workflow,
            )
        reasons = []
        for grant in grants:
            why = grant.refusal(info)
            if why is None:
                return
            reasons.append(why)
        raise ScopeDenied(
            f"workflow {workflow!r} may not call {info.name!r} ({info.method} {info.origin}, "
            f"{info.access}): {'; '.join(reasons)}; extend its grant in the policy file",
            tool=info.name,
            workflow=workflow,
            reasons=reasons,
        )

    def needs_approval(self, info: ToolInfo) -> bool:
        """Whether calling ``info`` requires an approval first."""
        return any(
            rule == info.access or fnmatch.fnmatchcase(info.name, rule)
            for rule in self.require_approval
        )


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read a policy file (YAML or JSON).

    Raises:
        WorkflowError: the file cannot be read or does not match the policy model.
    """
    p = os.fspath(path)
    try:
        with open(p, encoding="utf-8") as fh:
            data: Any = yaml.safe_load(fh) if not p.endswith(".json") else json.load(fh)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise WorkflowError(f"{p}: cannot read policy file ({exc})", path=p) from exc
    try:
        return Policy.model_validate(data or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise WorkflowError(f"{p}: policy field {loc!r}: {first['msg']}", path=p) from exc
