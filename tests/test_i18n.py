"""Every user-facing string is translated into Japanese, the compiled catalogue is current, and
the wording is respectful."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from watchnet.core.extensions import db

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "watchnet/translations/ja/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [
            str(pybabel),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}


def _catalog(path: Path):
    with path.open("rb") as fh:
        return read_po(fh) if path.suffix == ".po" else read_mo(fh)


def test_every_string_in_the_code_has_a_japanese_translation(extracted):
    catalog = _catalog(PO)
    missing = sorted(
        msgid
        for msgid in extracted
        if (m := catalog.get(msgid)) is None
        or not m.string
        or m.fuzzy
        or (isinstance(m.string, tuple) and not all(m.string))
    )
    assert missing == [], f"untranslated (run scripts/i18n.sh update, translate): {missing[:20]}"


def test_the_compiled_catalogue_matches_the_translations():
    po, mo = _catalog(PO), _catalog(MO)

    def flat(value):  # plural entries come back as lists from one reader, tuples from the other
        return tuple(value) if isinstance(value, (list, tuple)) else value

    in_po = {flat(m.id): flat(m.string) for m in po if m.id and not m.fuzzy}
    in_mo = {flat(m.id): flat(m.string) for m in mo if m.id}
    assert in_mo == in_po, "run scripts/i18n.sh compile"


def test_no_stigmatising_words_anywhere_users_could_read_them():
    pattern = re.compile("徘徊|痴呆")
    offenders = []
    for folder, globs in (
        (ROOT / "templates", ["**/*.html"]),
        (ROOT / "static", ["**/*.js"]),
        (ROOT / "watchnet", ["**/*.py", "**/*.po"]),
    ):
        for glob in globs:
            for path in folder.glob(glob):
                if pattern.search(path.read_text(encoding="utf-8")):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_staff_pages_are_japanese_until_the_user_switches_to_english(organizer_client, organizer):
    assert "ログアウト" in organizer_client.get("/account").get_data(as_text=True)
    organizer_client.post("/lang/en", data={"next": "/account"})
    html = organizer_client.get("/account").get_data(as_text=True)
    assert "Log out" in html and "ログアウト" not in html
    db.session.refresh(organizer)
    assert organizer.locale == "en"


def test_an_anonymous_visitor_can_switch_language_too(client):
    client.post("/lang/en")
    assert "Log in" in client.get("/login").get_data(as_text=True)
