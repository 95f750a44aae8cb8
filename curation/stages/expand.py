"""Stage 1a: open zip packs safely, in memory, under limits; any other file passes through whole.

Nothing is extracted to disk, so there is no path to escape to, yet member names are still
checked: a pack with ``../`` or absolute names is hostile and its members are rejected.
Sizes are counted while reading, never taken from the (forgeable) zip header alone, and one
budget (``expand.max_total_bytes``) covers every byte decompressed from a raw file, nested
archives included: a small zip of zips cannot make a job decompress gigabytes before it stops.
"""

from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass

from curation.config import ExpandConfig

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


@dataclass(frozen=True)
class Member:
    """One file to decode: ``name`` is its path inside the pack ("" for a whole raw file)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class MemberRejection:
    member: str
    reason: str
    detail: str


@dataclass
class _Budget:
    """Bytes still allowed to be decompressed from one raw file (shared by nested archives)."""

    left: int


class _OverLimit(Exception):
    def __init__(self, which: str) -> None:
        self.which = which  # "member", "total" or "ratio"


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


def unsafe_name(name: str) -> bool:
    """True for member names that would escape an extraction folder ("zip slip")."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return True
    return any(part == ".." for part in norm.split("/"))


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo, config: ExpandConfig, budget: _Budget) -> bytes:
    """Read a member, stopping as soon as it passes a limit (raises ``_OverLimit`` naming it).

    The ratio is checked while streaming too: the decompressor never consumes more than the
    header's ``compress_size``, so ``max_ratio * compress_size`` bounds what a member may yield.
    """
    ratio_cap = int(config.max_ratio * max(info.compress_size, 1))
    out = bytearray()
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(1 << 16)
            if not chunk:
                break
            out += chunk
            budget.left -= len(chunk)
            if budget.left < 0:
                raise _OverLimit("total")
            if len(out) > config.max_member_bytes:
                raise _OverLimit("member")
            if len(out) > ratio_cap:
                raise _OverLimit("ratio")
    return bytes(out)


def expand(data: bytes, config: ExpandConfig | None = None, *, _depth: int = 0, _prefix: str = "",
           _budget: _Budget | None = None) -> tuple[list[Member], list[MemberRejection]]:
    """Split raw bytes into decodable members: a zip becomes its files, anything else itself."""
    config = config or ExpandConfig()
    if not is_zip(data):
        return [Member(_prefix, data)], []
    budget = _budget if _budget is not None else _Budget(config.max_total_bytes)
    members: list[Member] = []
    rejected: list[MemberRejection] = []
    whole = _prefix or ""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        return [], [MemberRejection(whole, "zip-corrupt", str(exc))]
    if len(infos) > config.max_members:
        return [], [MemberRejection(whole, "zip-too-many-members",
                                    f"{len(infos)} members > expand.max_members = {config.max_members}")]
    for info in sorted(infos, key=lambda i: i.filename):
        name = f"{_prefix}!/{info.filename}" if _prefix else info.filename
        if unsafe_name(info.filename):
            rejected.append(MemberRejection(name, "zip-slip", "member path escapes the archive"))
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            rejected.append(MemberRejection(name, "zip-symlink", "symbolic links are not followed"))
            continue
        if info.flag_bits & 0x1:
            rejected.append(MemberRejection(name, "zip-encrypted", "password-protected member"))
            continue
        try:
            blob = _read_limited(zf, info, config, budget)
        except _OverLimit as over:
            if over.which == "total":
                rejected.append(MemberRejection(name, "zip-too-large", "archive decompresses to more than "
                                                f"expand.max_total_bytes = {config.max_total_bytes} bytes"))
                break  # the budget is spent: nothing else of this file is read
            if over.which == "member":
                rejected.append(MemberRejection(name, "zip-too-large",
                                                f"member exceeds expand.max_member_bytes = {config.max_member_bytes}"))
            else:
                rejected.append(MemberRejection(name, "zip-ratio", "compression ratio > expand.max_ratio = "
                                                f"{config.max_ratio:g} ({info.compress_size} bytes compressed)"))
            continue
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
            rejected.append(MemberRejection(name, "zip-corrupt", str(exc)))
            continue
        if is_zip(blob):
            if _depth + 1 > config.max_depth:
                rejected.append(MemberRejection(name, "zip-nested-too-deep",
                                                f"more than expand.max_depth = {config.max_depth} level(s) of zips"))
                continue
            inner, inner_rej = expand(blob, config, _depth=_depth + 1, _prefix=name, _budget=budget)
            members += inner
            rejected += inner_rej
            if budget.left < 0:  # spent inside the inner archive
                break
            continue
        members.append(Member(name, blob))
    return members, rejected
