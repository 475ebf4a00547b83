"""Add Japanese translations from a small .po fragment to the catalogue, then compile.

    .venv/bin/python scripts/i18n_add.py fragment.po

Several people (or sessions) may add strings at once: the whole extract/update/fill/compile
runs under one file lock, and only the fragment's own msgids are touched.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "watchnet/translations/ja/LC_MESSAGES/messages.po"


def main(fragment: str) -> int:
    with open("/tmp/watchnet-i18n.lock", "w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        env = {"PYBABEL": str(Path(sys.executable).with_name("pybabel"))}
        subprocess.run(
            ["bash", "scripts/i18n.sh", "update"],
            cwd=ROOT,
            check=True,
            env={**__import__("os").environ, **env},
            capture_output=True,
        )
        with open(fragment, "rb") as fh:
            extra = {m.id: m.string for m in read_po(fh) if m.id and m.string}
        with PO.open("rb") as fh:
            catalog = read_po(fh)
        filled = 0
        for message in catalog:
            if message.id in extra and message.string != extra[message.id]:
                message.string = extra[message.id]
                message.flags.discard("fuzzy")
                filled += 1
        with PO.open("wb") as fh:
            write_po(fh, catalog, width=76)
        subprocess.run(
            ["bash", "scripts/i18n.sh", "compile"],
            cwd=ROOT,
            check=True,
            env={**__import__("os").environ, **env},
            capture_output=True,
        )
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"filled {filled}; still untranslated: {len(missing)}")
        for msgid in missing[:50]:
            print("  ", msgid if isinstance(msgid, str) else msgid[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
