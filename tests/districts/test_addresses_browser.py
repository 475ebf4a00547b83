"""The staff page of address data in a real browser: readable in both languages, the
Japanese names of the data set marked as Japanese, and no accessibility violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import browser_login

from tests.districts.test_addresses import run_import, sample_rows, write_csv
from watchnet.core.extensions import db

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_the_address_page_lists_the_cities_and_passes_axe_in_both_languages(
    app: Any, live_server: Any, page: Any, organizer: Any, district: Any, tmp_path: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    sample = write_csv(tmp_path / "10_2024.csv", sample_rows())
    assert run_import(app, str(sample), "--district", str(district.id)).exit_code == 0
    browser_login(page, live_server, organizer)
    page.goto(f"{live_server.url}/districts/landmarks")
    page.click("#address-data-link")
    page.wait_for_selector("#address-counts")
    rows = page.locator("#address-counts tbody tr").all_inner_texts()
    assert [r.split("\t")[:3] for r in rows] == [
        ["群馬県", "前橋市", "1"],
        ["群馬県", "高崎市", "7"],
    ]
    page.click("#address-imports summary")
    assert "9行目：列の数が違います" in page.inner_text("#address-imports")
    assert Axe().run(page).response["violations"] == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "address_page.png"), full_page=True)

    organizer.locale = "en"
    db.session.commit()
    page.reload()
    assert page.inner_text("h1") == "Address data for “Where am I?”"
    # Outside the table (the data), Japanese appears only where marked lang="ja".
    english = page.evaluate("""() => {
        const main = document.querySelector('main').cloneNode(true);
        main.querySelectorAll('[lang="ja"], table').forEach((el) => el.remove());
        return main.innerText;
    }""")
    assert not any("\u3040" <= ch <= "\u9fff" for ch in english), english
    assert Axe().run(page).response["violations"] == []
