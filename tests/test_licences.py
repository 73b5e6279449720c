"""PeerPulse is Apache-2.0: every runtime dependency must allow that.

The check reads the installed metadata (importlib.metadata) of every runtime dependency
named in pyproject.toml's ``[project] dependencies`` and of their own runtime
dependencies, transitively (extras followed, environment markers evaluated). Optional
extras of PeerPulse itself (``dev``: pytest, mypy, igraph, which is GPL and only used by a
benchmark) are not shipped and not checked.

How a package's licence is read, in order: the SPDX ``License-Expression`` field; a short
``License`` field made of known licence names; the ``License ::`` trove classifiers (all of
them must be allowed). A package whose licence cannot be read this way fails the test:
check it by hand, then add an alias or a reviewed exception below, with the reason.

The policy (also in README.md, "Licence"):

- permissive licences (MIT, BSD, ISC, Apache-2.0, PSF, Zlib, public-domain dedications)
  are allowed for any package;
- MPL-2.0 is allowed for any package: its copyleft is per file, so using an unmodified
  library imposes nothing on our code (the ASF lists it as "category B": fine to depend
  on); changes to the MPL files themselves would have to be published;
- LGPL is weak copyleft at the library level and is allowed only for reviewed packages,
  named in ``REVIEWED``: psycopg (the PostgreSQL driver) is LGPL-3.0. PeerPulse imports the
  unmodified library as a separately installed package, which users can replace with
  their own build; that use is generally considered compatible with distributing
  PeerPulse under Apache-2.0. Modifying or vendoring psycopg would need a new review;
- everything else (GPL, AGPL, SSPL, proprietary, unknown) fails.
"""

from __future__ import annotations

import email.message
import importlib.metadata as md
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]

# SPDX ids allowed for any package.
PERMISSIVE = frozenset({
    "MIT", "MIT-0", "MIT-CMU", "BSD-2-Clause", "BSD-3-Clause", "BSD", "0BSD", "ISC",
    "Apache-2.0", "PSF-2.0", "Python-2.0", "Zlib", "CC0-1.0", "Unlicense", "HPND",
    "BSL-1.0",
    # Weak copyleft per file: allowed for unmodified use (see the module docstring).
    "MPL-2.0",
})

# Weak copyleft at the library level: allowed only for these packages, each reviewed.
REVIEWED: dict[str, frozenset[str]] = {
    # LGPL-3.0: imported unmodified and installed separately (dynamic use), replaceable by
    # the user; generally considered compatible with shipping PeerPulse under Apache-2.0.
    "psycopg": frozenset({"LGPL-3.0-only", "LGPL-3.0-or-later"}),
    "psycopg-binary": frozenset({"LGPL-3.0-only", "LGPL-3.0-or-later"}),
}

# Free-text `License` fields and trove classifiers, mapped to SPDX ids.
ALIASES = {
    "mit": "MIT", "mit license": "MIT", "the mit license": "MIT", "mit-cmu": "MIT-CMU",
    "bsd": "BSD", "bsd license": "BSD", "new bsd": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause", "modified bsd": "BSD-3-Clause",
    "bsd-3-clause": "BSD-3-Clause", "bsd 3-clause": "BSD-3-Clause",
    "bsd 3-clause license": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause",
    "bsd-2-clause": "BSD-2-Clause", "bsd 2-clause": "BSD-2-Clause", "isc": "ISC",
    "isc license": "ISC", "isc license (iscl)": "ISC",
    "apache": "Apache-2.0", "apache-2.0": "Apache-2.0", "apache 2.0": "Apache-2.0",
    "apache 2": "Apache-2.0", "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0", "apache software license": "Apache-2.0",
    "apache software license 2.0": "Apache-2.0",
    "psf": "PSF-2.0", "psf-2.0": "PSF-2.0", "python software foundation license": "PSF-2.0",
    "zlib": "Zlib", "zlib/libpng license": "Zlib", "public domain": "Unlicense",
    "the unlicense (unlicense)": "Unlicense", "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "mpl-2.0": "MPL-2.0", "mpl 2.0": "MPL-2.0",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0-only",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gnu general public license (gpl)": "GPL", "gpl": "GPL",
    "gnu affero general public license v3": "AGPL-3.0-only",
}
_CLASSIFIER = "License :: "


@dataclass(frozen=True)
class Dist:
    name: str  # canonical
    version: str
    via: tuple[str, ...]  # the chain of requirements that brought it in
    metadata: email.message.Message


# --- SPDX expressions -------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9.+:-]+)")


def _tokens(expression: str) -> list[str]:
    tokens, pos = [], 0
    expression = expression.strip()
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if not match:
            raise ValueError(f"unreadable licence expression {expression!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def expression_allowed(expression: str, allowed: frozenset[str]) -> bool:
    """Is an SPDX licence expression satisfiable with ``allowed`` licences?

    ``A OR B`` needs one of them, ``A AND B`` both, ``A WITH exception`` needs A.

    >>> expression_allowed("Apache-2.0 OR BSD-2-Clause", frozenset({"MIT", "BSD-2-Clause"}))
    True
    >>> expression_allowed("MIT AND GPL-3.0-only", frozenset({"MIT"}))
    False
    """
    tokens = _tokens(expression)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"incomplete licence expression {expression!r}")
        pos += 1
        return tokens[pos - 1]

    def atom() -> bool:
        token = take()
        if token == "(":
            value = any_of()
            if take() != ")":
                raise ValueError(f"unbalanced licence expression {expression!r}")
            return value
        if token.upper() in ("AND", "OR", "WITH", ")"):
            raise ValueError(f"unexpected {token!r} in licence expression {expression!r}")
        value = token in allowed or token.rstrip("+") in allowed
        if (peek() or "").upper() == "WITH":  # an exception only adds permissions
            take()
            take()
        return value

    def all_of() -> bool:
        value = atom()
        while (peek() or "").upper() == "AND":
            take()
            value = atom() and value
        return value

    def any_of() -> bool:
        value = all_of()
        while (peek() or "").upper() == "OR":
            take()
            value = all_of() or value
        return value

    result = any_of()
    if pos != len(tokens):
        raise ValueError(f"trailing text in licence expression {expression!r}")
    return result


# --- reading a package's licence --------------------------------------------------------

def licence_of(metadata: email.message.Message) -> tuple[str, str] | None:
    """(SPDX expression, where it was read) of a distribution, or None when unreadable."""
    expression = (metadata.get("License-Expression") or "").strip()
    if expression:
        return expression, "License-Expression"
    text = (metadata.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80:
        parts = re.split(r"\s+(AND|OR|and|or)\s+|\s*/\s*|\s*,\s*", text)
        names = [p for p in parts if p and p.upper() not in ("AND", "OR")]
        ids = [ALIASES.get(n.strip().lower(), n.strip()) for n in names]
        if all(i in _KNOWN_IDS for i in ids):
            # A free-text list ("MIT/Apache") is read as a choice, like most authors mean it.
            return " OR ".join(ids), "License"
    classifiers = [c[len(_CLASSIFIER):] for c in metadata.get_all("Classifier") or []
                   if c.startswith(_CLASSIFIER)]
    ids = []
    for classifier in classifiers:
        name = classifier.split(" :: ")[-1]
        if name.lower() in ("osi approved", "other/proprietary license"):
            if name.lower() == "other/proprietary license":
                return "LicenseRef-proprietary", "classifiers"
            continue
        ids.append(ALIASES.get(name.lower(), f"LicenseRef-{name}"))
    if ids:
        # Several classifiers may mean a choice or a combination: require all to be allowed.
        return " AND ".join(sorted(set(ids))), "classifiers"
    return None


_KNOWN_IDS = frozenset(ALIASES.values()) | PERMISSIVE


def allowed_for(name: str) -> frozenset[str]:
    return PERMISSIVE | REVIEWED.get(canonicalize_name(name), frozenset())


def problems(dists: Iterable[Dist]) -> list[str]:
    found = []
    for dist in dists:
        chain = " -> ".join((*dist.via, dist.name))
        read = licence_of(dist.metadata)
        if read is None:
            found.append(f"{dist.name} {dist.version} (via {chain}): its licence cannot be "
                         "read from its metadata; check it by hand and record it in "
                         "tests/test_licences.py")
            continue
        expression, source = read
        try:
            ok = expression_allowed(expression, allowed_for(dist.name))
        except ValueError as err:
            ok, expression = False, f"{expression} ({err})"
        if not ok:
            found.append(f"{dist.name} {dist.version} (via {chain}): licence {expression!r} "
                         f"(from {source}) is not compatible with Apache-2.0 under the "
                         "policy in tests/test_licences.py")
    return found


# --- the runtime dependency closure -----------------------------------------------------

def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"]]


def runtime_distributions() -> list[Dist]:
    """Every installed distribution PeerPulse needs at run time, with how it got there."""
    found: dict[str, Dist] = {}
    extras_seen: dict[str, set[str]] = {}
    queue: list[tuple[Requirement, tuple[str, ...]]] = [
        (r, ("peerpulse",)) for r in runtime_requirements()]
    missing = []
    while queue:
        requirement, via = queue.pop(0)
        name = canonicalize_name(requirement.name)
        wanted = set(requirement.extras)
        if name in extras_seen and wanted <= extras_seen[name]:
            continue
        extras_seen.setdefault(name, set()).update(wanted)
        try:
            dist = md.distribution(requirement.name)
        except md.PackageNotFoundError:
            missing.append(" -> ".join((*via, requirement.name)))
            continue
        found.setdefault(name, Dist(name, dist.version, via, dist.metadata))
        environments = [{"extra": extra} for extra in sorted(extras_seen[name]) or [""]]
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate(e) for e in environments):
                queue.append((sub, (*via, name)))
    assert not missing, f"runtime dependencies not installed: {missing}"
    return sorted(found.values(), key=lambda d: d.name)


# --- tests ------------------------------------------------------------------------------

def test_every_runtime_dependency_has_an_apache_compatible_licence() -> None:
    dists = runtime_distributions()
    found = problems(dists)
    assert not found, "licence problems:\n" + "\n".join(found)


def test_only_runtime_dependencies_are_considered() -> None:
    names = {d.name for d in runtime_distributions()}
    assert {"slack-bolt", "sqlalchemy", "networkx", "psycopg", "psycopg-binary"} <= names
    # dev extras are not shipped: igraph (GPL, a benchmark's comparison) and the test tools
    assert not names & {"igraph", "pytest", "mypy", "hypothesis", "import-linter"}


def test_the_project_declares_apache_2() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert "Copyright 2026 PeerPulse contributors" in text


def _meta(**fields: str | list[str]) -> email.message.Message:
    message = email.message.Message()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            message[key.replace("_", "-")] = item
    return message


@pytest.mark.parametrize(("name", "fields", "ok"), [
    ("a", {"License_Expression": "MIT"}, True),
    ("a", {"License_Expression": "Apache-2.0 OR BSD-2-Clause"}, True),
    ("a", {"License_Expression": "(MIT OR GPL-3.0-only) AND BSD-3-Clause"}, True),
    ("a", {"License_Expression": "MIT AND GPL-3.0-only"}, False),
    ("a", {"License_Expression": "Apache-2.0 WITH LLVM-exception"}, True),
    ("a", {"License_Expression": "MPL-2.0"}, True),
    ("a", {"License_Expression": "LGPL-3.0-only"}, False),  # LGPL only once reviewed
    ("psycopg", {"License_Expression": "LGPL-3.0-only"}, True),
    ("psycopg", {"License_Expression": "GPL-3.0-only"}, False),
    ("a", {"License": "MIT"}, True),
    ("a", {"License": "GPL"}, False),
    ("a", {"License": "BSD\n\nlong text"},
     False),  # unreadable: no classifier to fall back on
    ("a", {"License": "long text\n...", "Classifier": ["License :: OSI Approved :: BSD License"]},
     True),
    ("a", {"Classifier": ["License :: OSI Approved :: GNU General Public License v3 (GPLv3)"]},
     False),
    ("a", {"Classifier": ["License :: OSI Approved :: MIT License",
                          "License :: OSI Approved :: Apache Software License"]}, True),
    ("a", {"Classifier": ["License :: Other/Proprietary License"]}, False),
    ("a", {}, False),
])
def test_the_policy(name: str, fields: dict[str, str | list[str]], ok: bool) -> None:
    found = problems([Dist(name, "1.0", ("peerpulse", "x"), _meta(**fields))])
    assert (not found) is ok, found
    if found:  # the message names the package and how it was pulled in
        assert found[0].startswith(f"{name} 1.0 (via peerpulse -> x -> {name})")
