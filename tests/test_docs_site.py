"""The documentation site (mkdocs.yml, docs/): it builds with ``--strict``, every page of the nav is
there, the included files are included, and the pages fit a 1,200 and a 1,600 px wide browser."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS_EXTRA = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers")  # the last: mkdocstrings-python
MISSING = [name for name in DOCS_EXTRA if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"the docs extra is not installed ({', '.join(MISSING)}): pip install -e '.[docs]'"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
API = [
    "semlink.api.run",
    "semlink.api.evaluate",
    "semlink.api.RunResult",
    "semlink.scenario.schema.Scenario",
    "semlink.codecs.base.Codec",
    "semlink.channel.base.ChannelModel",
    "semlink.metrics.base.Metric",
    "semlink.registry.Registry",
    "semlink.channel.cell.schedulers.base.Scheduler",
]
"""What docs/api.md documents."""

# Injected into a built page: how far the page, or anything in it outside a scrolling box, reaches
# past the window's right edge, how many tables must be scrolled sideways, and broken images.
PROBE = """<script>
window.addEventListener('load', function () {
  var root = document.documentElement, view = root.clientWidth, cut = 0, scrolled = 0, broken = 0;
  function scroller(el) {
    for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      var o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return p;
    }
    return null;
  }
  document.querySelectorAll('article *').forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.width === 0) return;
    var s = scroller(el);
    if (!s && box.right > view + 1) cut += 1;
    if (el.tagName === 'TABLE' && s && s.scrollWidth > s.clientWidth + 1) scrolled += 1;
    if (el.tagName === 'IMG' && !(el.complete && el.naturalWidth > 0)) broken += 1;
  });
  var body = document.body;
  body.setAttribute('data-probe', [root.scrollWidth - view, cut, scrolled, broken].join(','));
});
</script>"""


def nav_pages(nav: list) -> list[str]:
    """The Markdown files of mkdocs.yml's nav, in order."""
    pages: list[str] = []
    for entry in nav:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def html_of(site: Path, page: str) -> Path:
    """The built file of ``page`` (``guide/radio.md`` -> ``guide/radio/index.html``)."""
    stem = page.removesuffix(".md")
    return site / ("index.html" if stem == "index" else f"{stem}/index.html")


def section(markdown: str, heading: str) -> str:
    """The lines from ``## heading`` to the next ``## `` heading."""
    start = markdown.index(f"## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end >= 0 else None]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once with ``mkdocs build --strict`` into a temporary folder."""
    out = tmp_path_factory.mktemp("docs") / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's notice about its successor
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]
    return out


def test_every_page_of_the_nav_is_built(site: Path) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = nav_pages(config["nav"])
    assert len(pages) >= 14 and len(set(pages)) == len(pages)
    assert [page for page in pages if not html_of(site, page).is_file()] == []
    for page in pages:
        assert "--8<--" not in html_of(site, page).read_text(), f"{page}: a snippet was not included"


def test_included_files_are_included_where_they_live(site: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    reliability = html_of(site, "reliability.md").read_text()
    assert "<!-- --8<-- [start:reliability] -->" in readme and "<!-- --8<-- [end:reliability] -->" in readme
    assert "What holds, each checked by a test" in reliability and "The campaign" in reliability
    assert "Known limits" in reliability
    scenarios = html_of(site, "guide/scenarios.md").read_text()
    assert "Axes, repeats, metrics" in scenarios


def test_the_home_page_quick_start_is_the_readmes() -> None:
    """docs/index.md repeats the README's front door with the paths of docs/; the quick start (the
    regenerated table and figure) must not drift from the README's."""
    readme = section((ROOT / "README.md").read_text(), "Quick start")
    home = section((ROOT / "docs" / "index.md").read_text(), "Quick start")
    readme = readme.replace("](docs/quickstart_miou_vs_bpp.png)", "](quickstart_miou_vs_bpp.png)")
    readme = readme.replace('see "Large studies")', "see [Large studies](guide/large-studies.md))")
    assert home == readme


def test_the_api_page_documents_the_api_and_plugin_base_classes(site: Path) -> None:
    import griffe

    page = html_of(site, "api.md").read_text()
    assert [path for path in API if f'id="{path}"' not in page] == []
    assert ":class:`" not in page and ":mod:`" not in page  # reST roles turned into code (docs/sphinx_roles.py)
    undocumented = []
    for path in API:
        module, name = path.rsplit(".", 1)
        source = ROOT / f"{module.replace('.', '/')}.py"  # parsed alone: griffe's loader would visit the package
        thing = griffe.visit(module, filepath=source, code=source.read_text())[name]
        members = [thing, *(getattr(thing, "members", {}).values())]
        undocumented += [
            member.path
            for member in members
            if (member.is_function or member.is_class) and not member.name.startswith("_") and not member.docstring
        ]
    assert undocumented == []


@pytest.mark.slow  # six page loads in Chromium, about 16 s: the suite must stay under 10 minutes
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_pages_fit_a_browser_from_1200_to_1600_pixels(site: Path, tmp_path: Path) -> None:
    """The widest pages (the measured tables, the API's signatures) in headless Chromium: nothing
    reaches past the window, no table needs a sideways scroll, every image loads."""
    results = {}
    for page in ("index.md", "guide/codecs.md", "api.md"):
        built = html_of(site, page)
        built.write_text(built.read_text().replace("</body>", PROBE + "</body>"))
        for width in (1200, 1600):
            browser = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}"]
            dom = subprocess.run(
                [*browser, "--dump-dom", "--virtual-time-budget=5000", f"--window-size={width},1000", built.as_uri()],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert 'data-probe="' in dom.stdout, dom.stderr[-2000:]
            results[page, width] = dom.stdout.split('data-probe="', 1)[1].split('"', 1)[0]
    # page overflow px, elements cut, tables scrolled, broken images
    assert {key: value for key, value in results.items() if value != "0,0,0,0"} == {}
