"""requirements.lock pins what pyproject.toml asks for, every file by its hash, and
.ci/audit-dependencies tells a vulnerable release from a clean one (against a fake index:
the real PyPI is asked by .ci/run, never by the suite)."""

from __future__ import annotations

import asyncio
import re
import sys
import tomllib
from pathlib import Path

from aiohttp import web
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
AUDIT = ROOT / ".ci" / "audit-dependencies"


def locked() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$", LOCK.read_text(), re.M)
    return {canonicalize_name(name): version for name, version in pins}


def test_the_lock_pins_every_dependency_within_its_range_and_by_hash():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for r in project["optional-dependencies"]["test"]]
    pins = locked()
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: regenerate it (README)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])
    # Every pin carries at least one hash, so `pip install --require-hashes` accepts the file.
    hashed = re.findall(r"^\S+==\S+ \\\n    --hash=sha256:[0-9a-f]{64}", LOCK.read_text(), re.M)
    assert len(hashed) == len(pins) > 30


def _index(projects: dict[str, dict]) -> web.Application:
    async def project(request: web.Request) -> web.Response:
        found = projects.get(request.match_info["name"])
        return web.json_response(found) if found else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{name}/json", project)
    return app


async def _audit(aiohttp_server, tmp_path: Path, lock: str, projects: dict) -> tuple[int, str]:
    server = await aiohttp_server(_index(projects))
    (tmp_path / "requirements.lock").write_text(lock)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(AUDIT), str(tmp_path / "requirements.lock"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"AUDIT_INDEX": str(server.make_url("")).rstrip("/"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    said, _ = await asyncio.wait_for(process.communicate(), 60)
    return await process.wait(), said.decode()


LOCK_TEXT = "goodpkg==1.0 \\\n    --hash=sha256:00\nbadpkg==2.0 \\\n    --hash=sha256:11\n"
ADVISORY = {"id": "PYSEC-2026-1", "aliases": ["CVE-2026-0001"], "fixed_in": ["2.1"]}


async def test_the_audit_fails_on_a_locked_release_with_an_advisory(aiohttp_server, tmp_path):
    projects = {
        "goodpkg": {"info": {"version": "1.0"}, "vulnerabilities": []},
        "badpkg": {"info": {"version": "2.0"}, "vulnerabilities": [ADVISORY]},
    }
    code, said = await _audit(aiohttp_server, tmp_path, LOCK_TEXT, projects)
    assert code == 1
    assert "VULNERABLE badpkg==2.0: PYSEC-2026-1, CVE-2026-0001 (fixed in 2.1)" in said
    assert "2 of 2 locked releases audited, 1 with a known vulnerability" in said


async def test_the_audit_passes_and_says_what_it_could_not_check(aiohttp_server, tmp_path):
    withdrawn = {**ADVISORY, "withdrawn": "2026-02-01T00:00:00Z"}
    projects = {
        "goodpkg": {"info": {"version": "1.0"}, "vulnerabilities": [withdrawn]},
        # A newer release exists: the locked one's advisories are out of reach here.
        "badpkg": {"info": {"version": "2.5"}, "vulnerabilities": []},
    }
    code, said = await _audit(aiohttp_server, tmp_path, LOCK_TEXT, projects)
    assert code == 0, said
    assert "1 of 2 locked releases audited, 0 with a known vulnerability" in said
    assert "not audited" in said and "badpkg==2.0 (newest 2.5)" in said


async def test_the_audit_fails_when_the_index_cannot_be_asked(aiohttp_server, tmp_path):
    code, said = await _audit(aiohttp_server, tmp_path, LOCK_TEXT, {})
    # The fake index answers 404 for every project.
    assert code == 1 and "nothing audited" in said
