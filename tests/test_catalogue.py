"""index.html as a catalogue: cards carried over by fingerprint, the fast YAML scan agrees with
the parser, hostile index text stays text, and the page works in headless Chromium
(screenshots at 1,280 px and on a phone, a scripted search that filters)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from chartgen.repo.catalogue import (DATA_NAME, Card, build_cards, dump_catalogue, read_catalogue,
                                     readable_time, safe_link, scan_yaml_versions)
from chartgen.repo.html import PageOptions, render_page, repo_alias, script_json
from chartgen.repo.publish import publish
from chartgen.repo.reading import load_index, parse_index
from chartgen.repo.update import update_index
from conftest import REPO, need_tool
from publish_helpers import package, serve_directory

T1, T2 = "2026-12-04T05:32:10.123456789Z", "2026-12-05T08:00:00Z"


def _entry(name, version, **extra):
    entry = {"apiVersion": "v2", "name": name, "version": version, "created": T1, "digest": "0" * 64,
             "urls": [f"https://e.test/charts/{name}-{version}.tgz"]}
    entry.update(extra)
    return entry


def _index_text(entries: dict, fmt: str = "json") -> str:
    from chartgen.repo.writing import dump_index

    return dump_index(parse_index(json.dumps({"apiVersion": "v1", "generated": T1, "entries": entries})), fmt)


# --- values as shown -------------------------------------------------------------------

def test_readable_times():
    assert readable_time(T1) == "2026-12-04 05:32 UTC"
    assert readable_time("2026-12-04T07:32:00+02:00") == "2026-12-04 05:32 UTC"
    assert readable_time("2026-12-04T05:32:00.5-0130") == "2026-12-04 07:02 UTC"
    assert readable_time("yesterday") == "yesterday" and readable_time(None) == ""


@pytest.mark.parametrize("url, kept", [
    ("https://e.test/a-1.0.0.tgz", True), ("http://e.test/a.tgz", True), ("a-1.0.0.tgz", True),
    ("sub/a.tgz", True), ("javascript:alert(1)", False), ("JavaScript:alert(1)", False),
    ("data:text/html,<script>", False), ("//evil.test/a.tgz", False), ("vbscript:x", False),
    ("java\nscript:alert(1)", False), ("https:\\\\evil.test", False), (" ", False)])
def test_only_http_and_relative_links_are_kept(url, kept):
    assert safe_link(url) == (url if kept else "")


def test_alias_from_the_setting_or_the_url():
    assert repo_alias(PageOptions(alias="orchestrator")) == "orchestrator"
    assert repo_alias(PageOptions(base_url="https://org.github.io/serverless-workflows/")) == "serverless-workflows"
    assert repo_alias(PageOptions(base_url="https://charts.example.com")) == "charts"
    assert repo_alias(PageOptions(oci="oci://quay.io/org/Workflow_Charts")) == "workflow-charts"
    assert repo_alias(PageOptions()) == "charts"


def test_script_json_cannot_close_the_script_or_break_lines():
    text = script_json({"a": "</script><script>alert(1)</script>", "b": "\u2028\u2029&<!--"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script>", "b": "\u2028\u2029&<!--"}


# --- cards -------------------------------------------------------------------------------

def test_card_of_a_chartgen_chart():
    entries = {"mta": [_entry("mta", v, appVersion="1.0.0", description="Migration toolkit analysis",
                                annotations={"chartgen.io/workflow-type": "assessment",
                                             "chartgen.io/operator-versions": ">=1.36.0 <1.38.0",
                                             "chartgen.io/content-hash": "sha256:" + "f" * 64,
                                             "chartgen.io/source-repository": "https://github.com/org/wf.git",
                                             "chartgen.io/source-path": "workflows/mta",
                                             "chartgen.io/source-commit": "abc123"})
                       for v in ("1.2.0", "1.1.0", "1.0.0")]}
    entries["mta"][2]["urls"] = ["https://mirror.test/mta-1.0.0.tgz"]
    (card,) = build_cards(parse_index(_index_text(entries)))
    assert (card.name, card.version, card.count, card.workflow_type) == ("mta", "1.2.0", 3, "assessment")
    assert card.operator_versions == ">=1.36.0 <1.38.0" and card.created == "2026-12-04 05:32 UTC"
    assert card.source == "https://github.com/org/wf/tree/abc123/workflows/mta"
    assert card.url == "https://e.test/charts/mta-1.2.0.tgz"
    # older versions in brief; a URL is kept only when it is not the default one
    assert card.older == (("1.1.0", "1.0.0", "2026-12-04 05:32 UTC", ""),
                          ("1.0.0", "1.0.0", "2026-12-04 05:32 UTC", "https://mirror.test/mta-1.0.0.tgz"))
    assert card.older_link(card.older[0]) == "https://e.test/charts/mta-1.1.0.tgz"
    assert "f" * 64 not in card.to_json()  # no content hash, no digest
    assert Card.from_data(json.loads(card.to_json())) == card


def test_catalogue_round_trip_and_garbage_is_ignored(tmp_path):
    cards = build_cards(parse_index(_index_text({"a": [_entry("a", "1.0.0")], "b\u2028": [_entry("b\u2028", "2.0.0")]})))
    path = tmp_path / DATA_NAME
    path.write_text(dump_catalogue(cards, T1))
    again = list(read_catalogue(path).values())
    assert [card.to_json() for card in again] == [card.to_json() for card in cards]
    assert [card.name for card in again] == ["a", "b\u2028"] and again[0].older == ()  # older versions left unread
    assert len(path.read_text().rstrip("\n").split("\n")) == 2 + len(cards)  # one chart per line
    for garbage in ("", "[]", "{", '{"format": 1, "charts": {"a": {"name": "b", "version": "1"}}}',
                    '{"format": 1, "charts": {"a": {"name": "a"}}}', '{"format": 2, "charts": {}}',
                    '{"format": 1, "charts": {"a": {"name": "a", "version": "1", "older": [[1, 2]]}}}',
                    "[" * 100000):
        path.write_text(garbage)
        assert read_catalogue(path) == {}
    assert read_catalogue(tmp_path / "missing.json") == {}


def test_cards_are_carried_over_only_while_their_block_is_unchanged(tmp_path):
    entries = {f"c{i}": [_entry(f"c{i}", "1.0.0", description=f"chart {i}")] for i in range(3)}
    first = parse_index(_index_text(entries))
    cards = {card.name: card for card in build_cards(first)}
    # A previous card whose block is unchanged is reused as is (even a doctored one) ...
    doctored = {**cards, "c1": Card(**{**cards["c1"].__dict__, "description": "from the cache"})}
    again = {card.name: card for card in build_cards(first, doctored)}
    assert again["c1"].description == "from the cache"
    # ... and made again as soon as the block differs (another tool edited the index)
    entries["c1"][0]["description"] = "edited by hand"
    edited = {card.name: card for card in build_cards(parse_index(_index_text(entries)), doctored)}
    assert edited["c1"].description == "edited by hand" and edited["c0"] is doctored["c0"]


def test_a_publication_parses_only_the_chart_it_changes(tmp_path, monkeypatch):
    import chartgen.repo.blocks as blocks

    site = tmp_path / "site"
    publish([package(tmp_path / "s", tmp_path / "d", name, "1.0.0") for name in ("a", "b", "c")], "dir:" + str(site))
    parsed = []
    real = blocks.parse_json_block
    monkeypatch.setattr(blocks, "parse_json_block", lambda text, start, end, name, *rest: (
        parsed.append(name), real(text, start, end, name, *rest))[1])
    publish([package(tmp_path / "s", tmp_path / "d", "b", "1.1.0")], "dir:" + str(site))
    assert set(parsed) == {"b"}
    cards = read_catalogue(site / DATA_NAME)
    assert cards["b"].version == "1.1.0" and cards["b"].count == 2 and cards["b"].docs == "b/1.1.0/index.html"
    # the same page as a run without any previous catalogue
    page = (site / "index.html").read_text()
    (site / DATA_NAME).unlink()
    (site / "index.html").unlink()
    update_index(site, "")
    assert (site / "index.html").read_text() == page


def test_yaml_index_from_helm_gets_the_same_cards_from_the_scan_and_the_parser(tmp_path):
    """Helm's own index.yaml (go-yaml: long text folded, quotes where needed): the scan of
    older versions gives what the full parser gives."""
    import helm_python

    from publish_helpers import make_chart
    from chartgen.repo.package import package_chart

    dist = tmp_path / "dist"
    for version, app in (("1.0.0", "1.0"), ("1.1.0", "true"), ("2.0.0-rc.1", "it's \"quoted\": yes"), ("2.0.0", "2.0.0")):
        chart = make_chart(tmp_path / "src", "long", version)
        text = (chart / "Chart.yaml").read_text().replace('appVersion: "1.0.0"', f"appVersion: {json.dumps(app)}")
        text = text.replace("description: A tiny", "description: " + "A very long description, " * 8 + "of a tiny")
        (chart / "Chart.yaml").write_text(text)
        package_chart(chart, dist)
    helm_python.repo_index_generate(dist, base_url="https://e.test/charts")
    index = load_index(dist / "index.yaml")
    assert index.source_format == "yaml" and "long" in index._spans
    start, end = index._spans["long"]
    scanned = scan_yaml_versions(index._source_text[start:end])
    parsed = yaml.safe_load((dist / "index.yaml").read_text())["entries"]["long"]
    assert scanned == [(e["version"], e["appVersion"], e["created"], e["urls"][0]) for e in parsed]
    (card,) = build_cards(index)
    assert card.description.startswith("A very long description, A very long") and card.count == 4


_scalars = st.one_of(st.text(max_size=30), st.sampled_from(["1.0", "true", "null", "~", "- x", "a: b", "#x", "'q'",
                                                           '"d"', "x #y", "@x", "`x", "|", ">", "&a", "*a", "!t",
                                                           "1.2.3+build", "v1.0.0", "é\u2028", "\t", " lead"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(-rc\.[0-9])?", fullmatch=True),
                          _scalars, _scalars), min_size=1, max_size=4),
       st.sampled_from(["pyyaml", "pyyaml-wide"]))
def test_the_yaml_scan_agrees_with_the_parser_or_declines(rows, dumper):
    versions = [{"apiVersion": "v2", "appVersion": app, "created": created, "name": "x", "version": version,
                 "urls": [f"https://e.test/x-{version}.tgz"], "description": app}
                for version, app, created in rows]
    text = yaml.safe_dump({"entries": {"x": versions}}, sort_keys=True, allow_unicode=True,
                          width=1000 if dumper == "pyyaml-wide" else 40)
    block = text.split("\n", 1)[1]
    scanned = scan_yaml_versions(block)
    if scanned is not None:
        parsed = yaml.safe_load(text)["entries"]["x"]
        assert scanned == [(str(e["version"]), _as_text(e.get("appVersion")), _as_text(e.get("created")),
                            e["urls"][0]) for e in parsed]


def _as_text(value):
    return "" if value is None else value if isinstance(value, str) else None  # non-strings must not be scanned


# --- hostile index text ------------------------------------------------------------------

HOSTILE = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">\u2028\u2029'


def _hostile_index() -> str:
    entry = _entry("evil", "1.0.0", description=HOSTILE, appVersion=HOSTILE,
                   annotations={"chartgen.io/workflow-type": HOSTILE, "chartgen.io/operator-versions": HOSTILE,
                                "chartgen.io/source-repository": "javascript:alert(1)//"},
                   urls=["javascript:window.pwned=3"])
    older = _entry("evil", "0.9.0", appVersion=HOSTILE, created=HOSTILE, urls=["javascript:window.pwned=4"])
    name = 'x"><script>window.pwned=5</script>'
    return _index_text({"evil": [entry, older], name: [_entry(name, "1.0.0", urls=[f"{name}-1.0.0.tgz"])]})


def test_hostile_index_text_stays_text():
    index = parse_index(_hostile_index())
    page = render_page(build_cards(index), PageOptions(title="<b>t</b>", base_url="https://e.test/c"))
    assert page.count("<script") == 2 and "<img" not in page and "javascript:" not in page
    assert "&lt;/script&gt;&lt;script&gt;window.pwned=1" in page and "&lt;b&gt;t&lt;/b&gt;" in page
    # install lines are pasted into shells: a hostile name is one quoted word
    assert "helm install &#39;x&#34;&gt;&lt;script&gt;window.pwned=5&lt;/script&gt;&#39; &#39;c/x&#34;" in page
    # catalogue.json is data for JSON.parse and textContent only
    data = json.loads(dump_catalogue(build_cards(index)))
    assert data["charts"]["evil"]["description"] == HOSTILE and "url" not in data["charts"]["evil"]
    assert data["charts"]["evil"]["older"] == [["0.9.0", HOSTILE, HOSTILE[:64], ""]]


# --- in Chromium -------------------------------------------------------------------------

def _demo_site(tmp_path: Path) -> Path:
    """A repository folder with the committed workflow charts, some in several versions,
    one for an older operator, and a hostile one."""
    from chartgen.repo.package import package_chart

    site, dist = tmp_path / "site", tmp_path / "dist"
    charts = REPO / "charts"
    archives = []
    for name in ("escalation", "greeting", "move2kube", "mta"):
        for i, version in enumerate(("0.1.0-rc.1", "0.1.0-rc.2", "0.1.0", "0.2.0")):
            if name == "move2kube" and i > 0:
                break
            work = tmp_path / "src" / f"{name}-{version}" / name
            shutil.copytree(charts / name, work)
            text = (work / "Chart.yaml").read_text()
            text = re.sub(r"(?m)^version: .*$", f"version: {version}", text)
            if name == "move2kube":
                text = text.replace(">=1.36.0 <1.38.0", ">=1.34.0 <1.36.0")
            (work / "Chart.yaml").write_text(text)
            archives.append(package_chart(work, dist / version).path)
    archives.append(package(tmp_path / "src" / "h", dist / "h", "zz-hostile", "1.0.0"))
    publish(archives, "dir:" + str(site), title="Orchestrator workflows")
    # a description that tries to run script, as another tool could have written it
    lines = (site / "index.yaml").read_text().splitlines(keepends=True)
    lines = [re.sub(r'"description": "[^"]*"', lambda _: '"description": ' + json.dumps(HOSTILE), line)
             if '"name": "zz-hostile"' in line else line for line in lines]
    (site / "index.yaml").write_text("".join(lines))
    update_index(site, "", title="Orchestrator workflows")
    return site


def _visible(page) -> list[str]:
    return page.evaluate("Array.from(document.querySelectorAll('li.chart')).filter(li => !li.hidden)"
                         ".map(li => li.querySelector('.name').textContent)")


def _save(path: Path) -> None:
    keep = os.environ.get("CHARTGEN_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


def test_catalogue_in_chromium(tmp_path):
    from browser import chromium_browser

    chromium = need_tool("chromium")
    site = _demo_site(tmp_path)
    with serve_directory(site) as url, chromium_browser(chromium) as browser:
        page = browser.page(1280, 900)
        page.goto(url + "/index.html")
        assert page.evaluate("window.pwned") is None
        names = ["escalation", "greeting", "move2kube", "mta", "zz-hostile"]
        assert _visible(page) == names
        assert page.evaluate("document.getElementById('toc').open") is True  # the contents beside the list
        assert page.evaluate("document.querySelector('.setup code').textContent") == \
            f"helm repo add charts {url}\nhelm repo update"  # the page's own folder filled in
        _save(page.screenshot(tmp_path / "catalogue-1280.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280

        # a scripted search: type into the box, the list and the contents follow
        page.type("#q", "approve")
        assert _visible(page) == ["escalation"]
        assert page.evaluate("Array.from(document.querySelectorAll('#toc li')).filter(li => !li.hidden).length") == 1
        assert page.evaluate("document.getElementById('count').textContent") == "1 of 5 charts"
        assert page.evaluate("location.search") == "?q=approve"
        page.clear("#q")
        page.type("#q", "no such chart")
        assert _visible(page) == [] and page.evaluate("!document.getElementById('none').hidden")
        page.clear("#q")
        page.evaluate("(s => { s.value = 'assessment'; s.dispatchEvent(new Event('input')); })"
                      "(document.getElementById('type'))")
        assert _visible(page) == ["mta"]
        page.evaluate("(s => { s.value = ''; s.dispatchEvent(new Event('input')); })(document.getElementById('type'))")
        page.type("#operator", "1.37")
        assert _visible(page) == ["escalation", "greeting", "mta"]
        page.clear("#operator")
        page.type("#operator", "1.35.2")
        assert _visible(page) == ["move2kube"]
        _save(page.screenshot(tmp_path / "catalogue-1280-filtered.png"))
        page.clear("#operator")

        # older versions, loaded from catalogue.json when unfolded
        page.click("#chart-greeting a.older")
        rows = page.wait_for("(t => t && Array.from(t.rows).slice(1).map(r => Array.from(r.cells)"
                             ".map(c => c.textContent)))(document.querySelector('#chart-greeting table.versions'))")
        assert [row[0] for row in rows] == ["0.1.0", "0.1.0-rc.2", "0.1.0-rc.1"]
        link = page.evaluate("document.querySelector('#chart-greeting table.versions a').href")
        assert link == f"{url}/greeting-0.1.0.tgz"
        page.evaluate("document.getElementById('chart-greeting').scrollIntoView()")
        _save(page.screenshot(tmp_path / "catalogue-1280-older.png"))

        # the README/values page of a version
        page.goto(url + "/" + page.evaluate("document.querySelector('#chart-mta .meta a').getAttribute('href')"))
        assert page.evaluate("document.querySelector('h1').textContent") == "mta 0.2.0"
        assert page.evaluate("document.querySelector('.readme h1').textContent") == "mta"
        assert page.evaluate("document.querySelectorAll('.readme table').length") >= 1  # the values table
        _save(page.screenshot(tmp_path / "chart-page-1280.png"))

        phone = browser.page(390, 844, mobile=True)
        phone.goto(url + "/index.html?q=gree")
        assert _visible(phone) == ["greeting"] and phone.evaluate("document.getElementById('q').value") == "gree"
        phone.goto(url + "/index.html")
        assert phone.evaluate("document.getElementById('toc').open") is False  # folded on a phone
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
        _save(phone.screenshot(tmp_path / "catalogue-390.png"))
        _save(phone.screenshot(tmp_path / "catalogue-390-full.png", full_page=True))
        assert phone.evaluate("window.pwned") is None


def test_page_without_javascript_lists_every_chart(tmp_path):
    """Progressive enhancement: the static page already lists each chart's latest version."""
    site = _demo_site(tmp_path)
    page = (site / "index.html").read_text()
    static = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    for name, version in (("escalation", "0.2.0"), ("greeting", "0.2.0"), ("move2kube", "0.1.0-rc.1"),
                          ("mta", "0.2.0")):
        assert f'id="chart-{name}"' in static and f"helm install {name} charts/{name} --version {version}" in static
    assert '">3 older versions</a>' in static and 'href="mta/0.2.0/index.html#readme"' in static
    assert "<details" not in static.split('id="toc"')[1]  # none per chart: Chromium hides thousands slowly


def test_chart_pages_are_never_written_through_a_symlink(tmp_path):
    site, outside = tmp_path / "site", tmp_path / "outside"
    site.mkdir()
    outside.mkdir()
    (site / "hello").symlink_to(outside)
    publish([package(tmp_path / "s", tmp_path / "d", "hello", "1.0.0")], "dir:" + str(site))
    assert list(outside.iterdir()) == [] and (site / "hello-1.0.0.tgz").is_file()
    assert read_catalogue(site / DATA_NAME)["hello"].docs == ""  # no README link to a page not written


def test_chart_page_shows_readme_and_values_as_text(tmp_path):
    from chartgen.repo.package import package_chart
    from publish_helpers import make_chart

    chart = make_chart(tmp_path / "src", "hello", "1.0.0")
    (chart / "README.md").write_text("# hello\n<script>window.pwned=1</script>\n[x](javascript:alert(1)) "
                                     "![pixel](https://track.test/p.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    site = tmp_path / "site"
    publish([package_chart(chart, tmp_path / "dist").path], "dir:" + str(site), base_url="https://e.test/c")
    page = (site / "hello" / "1.0.0" / "index.html").read_text()
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page and page.count("<script") == 0
    assert "<h1>hello</h1>" in page and "<td>2</td>" in page and 'href="javascript' not in page
    assert "<img" not in page and '<a href="https://track.test/p.png" rel="nofollow noopener">pixel</a>' in page
    assert 'href="https://e.test/c/hello-1.0.0.tgz"' in page and "helm install hello c/hello --version 1.0.0" in page
    assert (site / "hello" / "1.0.0" / "values.yaml").read_text() == "greeting: Hello\n"


def test_install_lines_for_oci_and_the_settings_that_reach_the_page(tmp_path):
    from chartgen.repo.html import install_lines
    from chartgen.repo.update import index_settings
    from chartgen.settings import PublishSettings

    oci = PageOptions(oci="oci://quay.io/org/charts")
    assert install_lines(oci, "mta", "1.0.0") == ["helm install mta oci://quay.io/org/charts/mta --version 1.0.0"]
    both = PageOptions(base_url="https://org.github.io/charts", oci="oci://quay.io/org/charts/")
    assert install_lines(both, "mta", "1.0.0")[1] == "helm install mta charts/mta --version 1.0.0"
    page = render_page(build_cards(parse_index(_index_text({"mta": [_entry("mta", "1.0.0")]}))), oci)
    assert "helm repo add oci" not in page and "helm repo add charts" not in page and "helm install mta oci://quay.io/org/charts/mta --version 1.0.0" in page
    settings = index_settings(PublishSettings(target="oci://quay.io/org/charts", alias="orchestrator"))
    assert settings["oci"] == "oci://quay.io/org/charts" and settings["alias"] == "orchestrator"
    assert index_settings(PublishSettings(target="git:repo.git"))["oci"] == ""
    dist = tmp_path / "dist"
    package(tmp_path / "src", dist, "hello", "1.0.0")
    update_index(dist, "https://e.test/charts", **{k: v for k, v in settings.items() if k != "oci"})
    assert "helm repo add orchestrator https://e.test/charts" in (dist / "index.html").read_text()


def test_an_unchanged_repository_rewrites_no_page(tmp_path):
    dist = tmp_path / "dist"
    package(tmp_path / "src", dist, "hello", "1.0.0")
    update_index(dist, "")
    files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in dist.rglob("*") if p.is_file()}
    update_index(dist, "")
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in dist.rglob("*") if p.is_file()} == files
    (dist / "index.html").unlink()  # a page lost (or made by an older chartgen) is made again
    update_index(dist, "")
    assert (dist / "index.html").read_bytes() == files[dist / "index.html"][0]


def test_operator_filter_reads_helm_constraints(tmp_path):
    """The page's operator-version box evaluates each chart's constraint as Helm reads it."""
    from browser import chromium_browser

    chromium = need_tool("chromium")
    constraints = {"between": ">=1.36.0 <1.38.0", "tilde-minor": "~1.36 || ~1.37", "caret": "^1.35.0",
                   "either": ">=1.37.0, <1.38.0 || >=2.0.0", "wild": "1.37.x", "words": "weird operators"}
    entries = {name: [_entry(name, "1.0.0", annotations={"chartgen.io/operator-versions": value})]
               for name, value in constraints.items()}
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(render_page(build_cards(parse_index(_index_text(entries)))))
    cases = {"1.37": ["between", "caret", "either", "tilde-minor", "wild"],
             "1.36.5": ["between", "caret", "tilde-minor"], "2.1": ["either"], "1.35.9": ["caret"],
             "weird": ["words"]}  # not a version: matched as text
    with serve_directory(site) as url, chromium_browser(chromium) as browser:
        page = browser.page(1280, 900)
        for version, expected in cases.items():
            page.goto(url + "/index.html?operator=" + version)
            assert _visible(page) == expected, version
