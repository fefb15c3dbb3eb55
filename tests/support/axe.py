"""axe-core (vendored in tests/support/vendor/axe-core/) run inside a Playwright page: its violations by impact."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

AXE_JS = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
IMPACTS = ("critical", "serious", "moderate", "minor")


STALE = '[data-stale="true"]'  # Streamlit's faded elements of a rerun under way (a fragment's, every few seconds)


def axe_violations(page, tags: list[str] | None = None, exclude: str | None = STALE) -> dict[str, list[dict]]:
    """Run axe-core on ``page`` as it is now; its violations grouped by impact (critical, serious, …).

    ``tags``: only the rules with these tags (``["wcag2a", "wcag2aa"]``); default: axe's default set
    (every rule but the experimental ones, its best practices included). ``exclude``: a CSS selector of what is
    left out; by default what a rerun is replacing, faded meanwhile (wait for the page to settle first).

    Each violation: axe's ``id``, ``help`` and ``nodes`` (each node's ``target`` selector and
    ``failureSummary``), enough to say which element fails and why."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    results = page.evaluate(
        """([tags, exclude]) => axe.run(exclude ? {exclude: [[exclude]]} : document,
                {resultTypes: ["violations"], ...(tags ? {runOnly: {type: "tag", values: tags}} : {})})
            .then(result => result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary}))})))""",
        [tags, exclude],
    )
    by_impact: dict[str, list[dict]] = defaultdict(list)
    for violation in results:
        by_impact[violation["impact"] or "minor"].append(violation)
    return dict(by_impact)


def describe(violations: list[dict], nodes: int = 4) -> str:
    """Violations as lines a failing test can print: the rule, its count, and the first few elements."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({len(violation['nodes'])}): {violation['help']}")
        for node in violation["nodes"][:nodes]:
            summary = " ".join((node["summary"] or "").split())[:240]
            lines.append(f"    {node['target']} {node['html'][:120]!r} — {summary}")
    return "\n".join(lines)
