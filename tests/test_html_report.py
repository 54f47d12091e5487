"""``report.html``: one self-contained page, checked in a real headless Chromium: the tables show
the report's numbers, a click on a header sorts, the plots are visible, nothing fails in the
console, and nothing is fetched from elsewhere."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

MATRIX = """\
name: html
description: A small matrix for the HTML report.
defaults:
  dataset: {name: digits, train_subset: 400}
  strategy: {name: plain, epochs: 8, batch_size: 32}
experiments:
  depth:
    title: Depth and residual connections
    model: {name: [mlp, residual_mlp], hidden: 16, depth: [2, 4, 6]}
    probes: {grad_norms: {steps: [1]}}
    tables:
      - rows: model.depth
        columns: model.name
        metric: val_acc
        derived:
          - title: Improvement
            diff: [residual_mlp, mlp]
            decide: {margin: 0.05, min_runs: 2, max_runs: 4, wave: 2}
      - kind: leaderboard
        title: Leaderboard
        experiments: [depth]
        curves: [train_loss, val_acc]
  extra:
    title: Run for nothing but its cells
    model: {name: mlp, hidden: 8}
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    from dlbench.bench.cli import main

    folder = tmp_path_factory.mktemp("html")
    (folder / "matrix.yaml").write_text(MATRIX)
    # Run from the matrix's folder, as a user would: the page names ``matrix.yaml``, not a
    # temporary path (its screenshot is the README's picture).
    here = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["run", "--matrix", "matrix.yaml", "--out", "o"]) == 0
    finally:
        os.chdir(here)
    return folder / "o"


def test_the_page_is_self_contained(results: Path) -> None:
    page = (results / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script src" not in page and "<link " not in page
    assert page.count("<svg") == 2  # the gradient norms and the curves, inline
    for name in re.findall(r'href="(cells/[0-9a-f]+\.json)"', page):
        assert (results / name).is_file()


@pytest.fixture
def browser(tmp_path: Path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(
            f"needs Chromium and ChromeDriver ({CHROMIUM}, {CHROMEDRIVER}); .ci/run "
            "installs Debian's chromium and chromium-driver"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (test extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,1600",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


def test_the_report_in_a_real_browser(results: Path, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get((results / "report.html").as_uri())
    table = browser.find_element(By.CSS_SELECTOR, "table.sortable")
    headers = [th.text for th in table.find_elements(By.TAG_NAME, "th")]
    assert headers == ["Depth", "mlp", "residual_mlp", "Improvement"]
    markdown = re.sub(r"\\(.)", r"\1", (results / "report.md").read_text())  # unescaped
    rows = [
        [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]
    assert [row[0] for row in rows] == ["2", "4", "6"]
    for row in rows:  # the very numbers of report.md
        assert re.search(r"\|\s*" + r"\s*\|\s*".join(map(re.escape, row)) + r"\s*\|", markdown)

    def column(index: int) -> list[float]:
        cells = table.find_elements(By.CSS_SELECTOR, f"tbody tr td:nth-child({index})")
        return [float(cell.get_attribute("data-value")) for cell in cells]

    header = table.find_elements(By.TAG_NAME, "th")[1]
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert column(2) == sorted(column(2))
    header.click()
    assert column(2) == sorted(column(2), reverse=True)
    for svg in browser.find_elements(By.CSS_SELECTOR, "figure svg"):
        assert svg.is_displayed() and svg.size["width"] > 200 and svg.size["height"] > 100
    assert browser.find_element(By.TAG_NAME, "dl").is_displayed()  # the environment
    # The page opens with its contents, each comparison's outcome, and what has no table.
    outcomes = browser.find_elements(By.CSS_SELECTOR, "section.outcomes li")
    assert len(outcomes) == 3 and all("n=" in item.text for item in outcomes)
    assert "Run for nothing but its cells (extra)" in browser.find_element(By.TAG_NAME, "body").text
    assert not browser.find_elements(By.ID, "extra")  # no empty section
    links = browser.find_elements(By.CSS_SELECTOR, "nav.contents a")
    assert [link.text for link in links][:1] == ["Depth and residual connections"]
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:4] == b"\x89PNG"
    if os.environ.get("DLBENCH_SCREENSHOT"):  # how the README's picture is made
        shutil.copy(shot, os.environ["DLBENCH_SCREENSHOT"])
    links[-1].click()
    assert browser.current_url.endswith("#environment")
