"""What `chartgen build` prints: text, JSON, a Markdown job summary, CI step outputs and
Tekton results. Pure functions of a `BuildReport`."""

from __future__ import annotations

import json

from chartgen.build.options import FAILED, OK, BuildReport, WorkflowReport


def format_text(report: BuildReport) -> str:
    """Plain, deterministic lines: a workflow per line, then the failing stage's errors."""
    width = text_width([w.name for w in report.workflows], [r.stage for r in report.repository])
    lines = [line for workflow in report.workflows for line in workflow_lines(workflow, width)]
    return "".join(line + "\n" for line in lines) + format_tail(report, width)


def text_width(names, repository_stages) -> int:
    """The width of the name column: the workflow names and the `[stage]` labels."""
    return max([len(n) for n in names] + [len(s) + 2 for s in repository_stages] + [4])


def workflow_lines(workflow: WorkflowReport, width: int) -> list[str]:
    """A workflow's line of the text report, and under a failed one its first errors. When
    stdout is not a terminal, `chartgen build` prints these as each workflow finishes."""
    lines = []
    done = [s.stage for s in workflow.stages if s.status == OK]
    outputs = workflow.outputs
    failed = workflow.failed_stage
    if failed is None:
        detail = []
        if outputs.get("chart_version"):
            detail.append(f"chart {outputs.get('chart', workflow.name)} {outputs['chart_version']}")
        if outputs.get("archive"):
            detail.append(outputs["archive"])
        if outputs.get("image"):
            detail.append(outputs["image"] + (f"@{outputs['image_digest']}" if outputs.get("image_digest") else ""))
        if outputs.get("pr_url"):
            detail.append(outputs["pr_url"])
        lines.append(f"{workflow.name:<{width}}  ok      {' '.join(done)}" + (f"  ({', '.join(detail)})"
                                                                           if detail else ""))
        if outputs.get("pr_diff"):  # --pr --dry-run: the diff that would be proposed
            lines.extend(f"    {line}" for line in outputs["pr_diff"].rstrip("\n").splitlines())
    else:
        lines.append(f"{workflow.name:<{width}}  FAILED  at {failed.stage}: {failed.message}")
        for finding in failed.findings[:20]:
            lines.append(f"    {finding.format()}")
        if len(failed.findings) > 20:
            lines.append(f"    ... {len(failed.findings) - 20} more (chartgen validate {workflow.folder})")
    return lines


def format_tail(report: BuildReport, width: int) -> str:
    """The end of the text report: the repository stages and the count."""
    lines = []
    for result in report.repository:
        status = {OK: "ok", FAILED: "FAILED"}.get(result.status, result.status)
        lines.append(f"{'[' + result.stage + ']':<{width}}  {status:<6}  {result.message}")
        if result.status == FAILED:
            lines.extend(f"    {f.format()}" for f in result.findings[:20])
    good = sum(w.ok for w in report.workflows)
    lines.append(f"{good} of {len(report.workflows)} workflows built" +
                 ("" if report.ok else "; failures above"))
    return "\n".join(lines) + "\n"


def format_json(report: BuildReport) -> str:
    """The report, plus `findings`: those of every failed stage (the key every chartgen JSON
    document of a failure has, see docs/cli.md)."""
    failed = [s for w in report.workflows for s in w.stages if s.status == FAILED]
    failed += [s for s in report.repository if s.status == FAILED]
    data = dict(report.to_dict(), findings=[f.to_dict() for stage in failed for f in stage.findings])
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def markdown_summary(report: BuildReport) -> str:
    from chartgen.ci import markdown_table
    from chartgen.markdown import escape

    rows = []
    for w in report.workflows:
        o = w.outputs
        failed = w.failed_stage
        rows.append([w.name, "✅" if w.ok else f"❌ {failed.stage}", o.get("chart_version", ""),
                     o.get("image_digest", ""), o.get("pr_url", ""),
                     failed.message if failed else ""])
    text = "### chartgen build\n\n" + markdown_table(
        ["workflow", "result", "chart version", "image digest", "pull request", "error"], rows)
    for result in report.repository:
        text += f"\n- `{result.stage}`: {result.status} {escape(result.message)}"
    return text + "\n"


def ci_outputs(report: BuildReport) -> dict[str, str]:
    """Step outputs / Tekton results. Single values describe the first workflow (a Tekton
    task or a matrix job builds one); lists cover all."""
    first = report.workflows[0].outputs if report.workflows else {}
    return {
        "ok": "true" if report.ok else "false",
        "failed": " ".join(w.name for w in report.workflows if not w.ok),
        "chart-version": first.get("chart_version", ""),
        "image-url": first.get("image", ""),
        "image-digest": first.get("image_digest", ""),
        "pr-url": first.get("pr_url", ""),
        "summary": json.dumps(report.to_dict(), separators=(",", ":")),
    }


def tekton_values(report: BuildReport) -> dict[str, str]:
    first = report.workflows[0].outputs if report.workflows else {}
    return {"IMAGE_URL": first.get("image", ""), "IMAGE_DIGEST": first.get("image_digest", ""),
            "CHART_VERSION": first.get("chart_version", ""), "PR_URL": first.get("pr_url", "")}
