"""The README and docs/*.md against the tree: every relative link and image resolves (headings for
``#anchors``), every quoted ``make`` target is in the Makefile, every quoted ``snakemake`` command's
profile and config files exist and its ``results/...`` targets are produced by a rule of the
workflow (asked of Snakemake itself), every quoted repository path exists; the README is a front
door (at most 250 lines; "Cluster your own embeddings" and "Results at a glance" on its first
screen). The checkers are tested on made-up bad input too, so a broken check cannot pass silently."""

from __future__ import annotations

import glob
import itertools
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 250
FIRST_SCREEN = 60
FIRST_SCREEN_HEADINGS = ("Cluster your own embeddings", "Results at a glance")

# <placeholder> (and a lone {wildcard}) in a quoted target -> a value the workflow accepts there
PLACEHOLDERS = {"ds": "synthetic", "dataset": "synthetic", "name": "synthetic", "split": "test",
                "method": "knn_cc", "m": "knn_cc", "k": "80"}
# repository paths quoted in the pages (user paths such as resources/mine/... are not checked)
REPO_PATH = re.compile(r"(?<![\w./~$-])((?:benchmarks|tests|config|profiles|docs|workflow|src)/[\w./*{},<>-]*)")


# --- reading the pages -------------------------------------------------------------------------

@dataclass
class Page:
    path: Path
    prose: str = ""                                   # text outside fenced code blocks
    blocks: list[str] = field(default_factory=list)   # fenced code blocks (their lines)
    headings: list[str] = field(default_factory=list)

    @property
    def code(self) -> list[str]:
        """Every piece of code: the inline code spans of the prose, then the fenced blocks' lines."""
        spans = []
        for paragraph in re.split(r"\n\s*\n", self.prose):
            spans += [m.group(2).replace("\n", " ") for m in re.finditer(r"(`+)(.+?)\1", paragraph, re.S)]
        lines = []
        for block in self.blocks:  # backslash continuations joined, shell comments dropped
            lines += [re.sub(r"(^|\s)#.*", "", ln) for ln in re.sub(r"\\\n\s*", " ", block).splitlines()]
        return spans + lines

    @property
    def anchors(self) -> set[str]:
        seen: dict[str, int] = {}
        out = set()
        for heading in self.headings:
            slug = github_slug(heading)
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
        return out


def read_page(path: Path, text: str | None = None) -> Page:
    page = Page(path)
    prose, block, fence = [], [], None
    for line in (path.read_text() if text is None else text).splitlines():
        marker = re.match(r"\s*(```+|~~~+)", line)
        if fence is None and marker:
            fence, block = marker.group(1), []
        elif fence is not None and line.strip().startswith(fence):
            page.blocks.append("\n".join(block))
            fence = None
        elif fence is not None:
            block.append(line)
        else:
            prose.append(line)
            heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
            if heading:
                page.headings.append(heading.group(1))
    page.prose = "\n".join(prose)
    return page


def github_slug(heading: str) -> str:
    """GitHub's anchor of a heading: the rendered text, lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def links(page: Page) -> list[str]:
    """Targets of the markdown links and images of the prose (inline code removed first)."""
    prose = re.sub(r"(`+).+?\1", lambda m: "x" * len(m.group(0)), page.prose, flags=re.S)
    return [m.group(1) for m in re.finditer(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", prose)]


# --- the checks (each returns a list of problems, empty when all is well) ------------------------

def check_links(page: Page, pages: dict[Path, Page]) -> list[str]:
    problems = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # http(s):, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.path.parent / file_part).resolve() if file_part else page.path
        where = f"{page.path.relative_to(REPO)}: link ({target})"
        if file_part and not dest.exists():
            problems.append(f"{where}: {file_part} does not exist")
            continue
        if anchor and dest.suffix == ".md":
            other = page if not file_part else pages.get(dest) or read_page(dest)
            if anchor not in other.anchors:
                problems.append(f"{where}: no heading with anchor #{anchor} in {dest.relative_to(REPO)}")
    return problems


def makefile_targets(makefile: Path = REPO / "Makefile") -> set[str]:
    targets = set()
    for line in makefile.read_text().splitlines():
        if line.startswith(".PHONY:"):
            targets.update(line.split(":", 1)[1].split())
        elif (m := re.match(r"([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?![=:])", line)) and not line.startswith("\t"):
            targets.update(m.group(1).split())
    return targets - {".PHONY"}


def commands(code: str, program: str) -> list[list[str]]:
    """The argument lists of each ``program`` call in a piece of code (shell separators and comments
    end a call)."""
    out = []
    for m in re.finditer(rf"(?:^|[\s(/;&|=])({re.escape(program)})(?=\s|$)", code):
        rest = code[m.end(1):]
        rest = re.split(r"\s#|&&|\|\||[;|)]", rest)[0]
        try:
            words = shlex.split(rest)
        except ValueError:
            words = rest.split()
        out.append(words)
    return out


def check_make(page: Page, targets: set[str]) -> list[str]:
    problems = []
    for code in page.code:
        for words in commands(code, "make"):
            named = [w for w in words if "=" not in w and not w.startswith("-")]
            if not named:
                continue
            target = named[0]
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", target):  # prose in a code comment ("make sure ...")
                continue
            if target not in targets:
                problems.append(f"{page.path.relative_to(REPO)}: `make {target}`: no target {target!r} in the Makefile "
                                f"(targets: {', '.join(sorted(targets))})")
    return problems


def expand(target: str) -> list[str]:
    """Shell brace expansion ({a,b}) and placeholders (<ds>, a lone {ds}) -> concrete targets."""
    def placeholder(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in PLACEHOLDERS:
            raise KeyError(f"unknown placeholder <{name}> in {target} (tests/test_docs.py PLACEHOLDERS)")
        return PLACEHOLDERS[name]

    parts = re.split(r"(\{[^{}]*,[^{}]*\})", target)
    choices = [p[1:-1].split(",") if p.startswith("{") and "," in p else [p] for p in parts]
    return [re.sub(r"<([\w ]+)>|\{(\w+)\}", placeholder, "".join(c)) for c in itertools.product(*choices)]


@dataclass
class SnakemakeCall:
    where: str
    profiles: list[str]
    configfiles: list[str]
    targets: list[str]


def snakemake_calls(page: Page) -> list[SnakemakeCall]:
    calls = []
    for code in page.code:
        for words in commands(code, "snakemake"):
            call = SnakemakeCall(f"{page.path.relative_to(REPO)}: `snakemake {' '.join(words)}`", [], [], [])
            option = None
            for word in words:
                if word.startswith("-"):
                    name, _, value = word.partition("=")
                    option = name
                    if value:
                        word = value
                    else:
                        continue
                if word.startswith("results/"):
                    call.targets.append(word)
                    option = None
                elif option == "--profile":
                    call.profiles.append(word)
                    option = None
                elif option == "--configfile":  # several files may follow
                    call.configfiles.append(word)
                else:
                    option = None
            calls.append(call)
    return calls


def check_snakemake(call: SnakemakeCall, producers: dict[str, list[str]]) -> list[str]:
    problems = []
    for profile in call.profiles:
        if not (REPO / profile / "config.yaml").exists():
            problems.append(f"{call.where}: profile {profile}/config.yaml does not exist")
    for configfile in call.configfiles:
        if not (REPO / configfile).is_file():
            problems.append(f"{call.where}: --configfile {configfile} does not exist")
    for target in call.targets:
        try:
            concrete = expand(target)
        except KeyError as err:
            problems.append(f"{call.where}: {err.args[0]}")
            continue
        for path in concrete:
            if not producers.get(path):
                problems.append(f"{call.where}: no rule of the workflow produces {path}")
    return problems


def check_paths(page: Page, ignore: set[str]) -> list[str]:
    problems = []
    for code in [page.prose.replace("`", " "), *page.blocks]:
        for m in REPO_PATH.finditer(code):
            path = m.group(1).rstrip(".,:;")
            if "<" in path or path in ignore or "…" in path:
                continue
            for concrete in (expand(path) if "{" in path else [path]):
                if re.search(r"\{|\}", concrete):
                    continue
                found = glob.glob(str(REPO / concrete)) if "*" in concrete else (REPO / concrete).exists()
                if not found:
                    problems.append(f"{page.path.relative_to(REPO)}: {concrete} does not exist")
    return problems


# --- which rules produce a target: Snakemake's own matching -------------------------------------

PRODUCERS_SCRIPT = r"""
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, Quietness, ResourceSettings

snakefile, workdir, targets = sys.argv[1], sys.argv[2], json.loads(sys.stdin.read())
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    workflow = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=Path(snakefile),
                            workdir=Path(workdir))._workflow
    out = {t: [rule.name for rule in workflow.rules if rule.is_producer(t)] for t in targets}
print("PRODUCERS " + json.dumps(out))
"""


def readme_datasets() -> dict[str, dict]:
    """The dataset YAML blocks of the README (a user's own datasets), by name."""
    out = {}
    for block in read_page(REPO / "README.md").blocks:
        try:
            data = yaml.safe_load(block)
        except yaml.YAMLError:
            continue
        if isinstance(data, dict) and "name" in data and "splits" in data:
            out[data["name"]] = data
    return out


def producers_of(targets: list[str], tmp: Path) -> dict[str, list[str]]:
    """For each target, the rules whose output matches it (wildcard constraints included), with the
    repository's config plus the README's own datasets (so `results/mine/...` is checked too)."""
    shutil.copytree(REPO / "config", tmp / "config")
    for name, data in readme_datasets().items():
        (tmp / "config" / "datasets" / f"{name}.yaml").write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-c", PRODUCERS_SCRIPT, str(REPO / "Snakefile"), str(tmp)],
                          input=json.dumps(sorted(set(targets))), capture_output=True, text=True, timeout=300)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("PRODUCERS ")]
    assert proc.returncode == 0 and line, f"loading the workflow failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(line[0][len("PRODUCERS "):])


BAD_PAGE = """# A bad page

## Real heading

[missing file](nowhere.md), [missing anchor](validation.md#no-such-heading), [good](#real-heading),
![missing image](missing.png), [web](https://example.com/x.md).

Run `make rnu` (typo) or `make setup GPU=1`, then

```bash
snakemake --profile profiles/nope --configfile config/nope.yaml results/synthetic/test/methods/knn_c/metrics.json
snakemake --cores all results/synthetic/test/metricz.json results/<ds>/<split>/metrics.json
```

See `benchmarks/no_such_script.py` and `tests/test_docs.py`.
"""
BAD_TARGETS = ["results/synthetic/test/methods/knn_c/metrics.json", "results/synthetic/test/metricz.json",
               "results/synthetic/test/metrics.json"]


@pytest.fixture(scope="module")
def pages() -> dict[Path, Page]:
    return {path.resolve(): read_page(path) for path in PAGES}


@pytest.fixture(scope="module")
def producers(pages, tmp_path_factory) -> dict[str, list[str]]:
    targets = list(BAD_TARGETS)
    for page in pages.values():
        for call in snakemake_calls(page):
            for target in call.targets:
                try:
                    targets += expand(target)
                except KeyError:
                    pass
    return producers_of(targets, tmp_path_factory.mktemp("docs-workflow"))


# --- the tests ------------------------------------------------------------------------------------

def test_the_pages_exist():
    names = {p.name for p in PAGES}
    assert {"README.md", "outputs.md", "datasets.md", "methods.md", "scale.md", "benchmarks.md",
            "development.md", "dependencies.md"} <= names


def test_every_relative_link_and_image_resolves(pages):
    problems = [p for page in pages.values() for p in check_links(page, pages)]
    assert not problems, "\n".join(problems)


def test_every_quoted_make_target_is_in_the_makefile(pages):
    targets = makefile_targets()
    assert {"run", "test", "run-all", "report", "setup", "data"} <= targets
    problems = [p for page in pages.values() for p in check_make(page, targets)]
    assert not problems, "\n".join(problems)


def test_every_quoted_snakemake_command_names_existing_profiles_configs_and_producible_targets(pages, producers):
    calls = [call for page in pages.values() for call in snakemake_calls(page)]
    assert sum(bool(call.targets) for call in calls) >= 10  # the extraction finds the commands
    problems = [p for call in calls for p in check_snakemake(call, producers)]
    assert not problems, "\n".join(problems)


def test_every_quoted_repository_path_exists(pages):
    ignore = {f"config/datasets/{name}.yaml" for name in readme_datasets()}
    problems = [p for page in pages.values() for p in check_paths(page, ignore)]
    assert not problems, "\n".join(problems)


def test_the_readme_is_a_front_door():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"
    first = read_page(REPO / "README.md", "\n".join(lines[:FIRST_SCREEN]))
    for wanted in FIRST_SCREEN_HEADINGS:
        assert any(h.startswith(wanted) for h in first.headings), f"no heading {wanted!r} in README's first {FIRST_SCREEN} lines"
    # the developers' guide: the README keeps a Dependencies section
    assert "Dependencies" in read_page(REPO / "README.md").headings


def test_the_checkers_catch_bad_links_targets_commands_and_paths(pages, producers):
    bad = read_page(REPO / "docs" / "bad.md", BAD_PAGE)
    link_problems = check_links(bad, pages)
    assert len(link_problems) == 3, link_problems
    assert any("nowhere.md" in p for p in link_problems) and any("#no-such-heading" in p for p in link_problems)
    assert any("missing.png" in p for p in link_problems)

    make_problems = check_make(bad, makefile_targets())
    assert len(make_problems) == 1 and "'rnu'" in make_problems[0], make_problems

    calls = snakemake_calls(bad)
    assert [c.targets for c in calls] == [["results/synthetic/test/methods/knn_c/metrics.json"],
                                          ["results/synthetic/test/metricz.json", "results/<ds>/<split>/metrics.json"]]
    first, second = (check_snakemake(c, producers) for c in calls)
    assert len(first) == 3, first  # the profile, the config file, the typo'd method
    assert any("profiles/nope" in p for p in first) and any("config/nope.yaml" in p for p in first)
    assert any("knn_c/metrics.json" in p for p in first)
    assert second == [f"{calls[1].where}: no rule of the workflow produces results/synthetic/test/metricz.json"]
    assert producers["results/synthetic/test/metrics.json"] == ["evaluate_ada_nets"]

    path_problems = check_paths(bad, set())
    assert sorted(path_problems) == [f"docs/bad.md: {p} does not exist" for p in
                                     ("benchmarks/no_such_script.py", "config/nope.yaml", "profiles/nope")], path_problems


def test_slugs_and_expansion_follow_github_and_the_shell():
    assert github_slug("Learned methods (GCN-V, GCN-V+E, L-GCN, LCE)") == "learned-methods-gcn-v-gcn-ve-l-gcn-lce"
    assert github_slug("GCN-D and GCN-D + GCN-S") == "gcn-d-and-gcn-d--gcn-s"
    assert github_slug("What `make run` produces") == "what-make-run-produces"
    assert expand("results/<ds>/models/{dbscan,hdbscan}_tuned.json") == [
        "results/synthetic/models/dbscan_tuned.json", "results/synthetic/models/hdbscan_tuned.json"]
    with pytest.raises(KeyError):
        expand("results/<nonsense>/x.json")
