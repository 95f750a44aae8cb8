"""Stage 1a: open zip packs safely, in memory, under limits; any other file passes through whole.

Nothing is extracted to disk, so there is no path to escape to, yet member names are still
checked: a pack with ``../`` or absolute names is hostile and its members are rejected.
Sizes are counted while reading, never taken from the (forgeable) zip header alone.
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


def is_zip(data: bytes) -> bool:
    return data[:4] in ZIP_MAGIC


def unsafe_name(name: str) -> bool:
    """True for member names that would escape an extraction folder ("zip slip")."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return True
    return any(part == ".." for part in norm.split("/"))


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes | None:
    """Read a member, stopping as soon as it passes ``limit`` bytes (None = over the limit)."""
    out = bytearray()
    with zf.open(info) as fh:
        while True:
            chunk = fh.read(1 << 16)
            if not chunk:
                return bytes(out)
            out += chunk
            if len(out) > limit:
                return None


def expand(data: bytes, config: ExpandConfig | None = None, *, _depth: int = 0, _prefix: str = "") -> tuple[
    list[Member], list[MemberRejection]
]:
    """Split raw bytes into decodable members: a zip becomes its files, anything else itself."""
    config = config or ExpandConfig()
    if not is_zip(data):
        return [Member(_prefix, data)], []
    members: list[Member] = []
    rejected: list[MemberRejection] = []
    whole = _prefix or ""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return [], [MemberRejection(whole, "zip-corrupt", str(exc))]
    if len(infos) > config.max_members:
        return [], [MemberRejection(whole, "zip-too-many-members", f"{len(infos)} > {config.max_members}")]
    total = 0
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
        limit = min(config.max_member_bytes, config.max_total_bytes - total)
        try:
            blob = _read_limited(zf, info, limit)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            rejected.append(MemberRejection(name, "zip-corrupt", str(exc)))
            continue
        if blob is None:
            if limit < config.max_member_bytes:
                rejected.append(MemberRejection(name, "zip-too-large", f"archive exceeds {config.max_total_bytes} bytes"))
                break
            rejected.append(MemberRejection(name, "zip-too-large", f"member exceeds {config.max_member_bytes} bytes"))
            continue
        total += len(blob)
        ratio = len(blob) / max(info.compress_size, 1)
        if ratio > config.max_ratio:
            rejected.append(MemberRejection(name, "zip-ratio", f"compression ratio {ratio:.0f} > {config.max_ratio:g}"))
            continue
        if is_zip(blob):
            if _depth + 1 > config.max_depth:
                rejected.append(MemberRejection(name, "zip-nested-too-deep", f"more than {config.max_depth} level(s) of zips"))
                continue
            inner, inner_rej = expand(blob, config, _depth=_depth + 1, _prefix=name)
            members += inner
            rejected += inner_rej
            continue
        members.append(Member(name, blob))
    return members, rejected
