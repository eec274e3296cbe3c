"""Progress of `chartgen build`: a live display on a terminal; elsewhere (CI logs, pipes) the
lines of each workflow as it finishes."""

from __future__ import annotations

from chartgen.build.output import workflow_lines


class Progress:
    """Per-workflow, per-stage progress on a terminal: one redrawn line per workflow, or, when
    they would not fit on the screen, one redrawn line counting them and naming the running ones."""

    def __init__(self, names: list[str], stream, last_stage: str = "") -> None:
        import shutil

        self.last_stage = last_stage      # a workflow showing "<last_stage> ok" or "... failed" is done
        self.names = [*names, "*"]
        self.stream = stream
        self.state = {n: "waiting" for n in self.names}
        self.drawn = 0
        self.width = max(max(len(n) for n in self.names), 10)
        self.compact = len(self.names) > shutil.get_terminal_size((80, 24)).lines - 2
        self.columns = shutil.get_terminal_size((80, 24)).columns

    def __call__(self, name: str, stage: str, status: str) -> None:
        if name not in self.state:
            return
        self.state[name] = f"{stage} ..." if status == "running" else f"{stage} {status}"
        self.draw()

    def draw(self) -> None:
        if self.compact:
            running = [f"{n} ({v[:-4]})" for n, v in self.state.items() if v.endswith(" ...") and n != "*"]
            done = sum(1 for n, v in self.state.items()
                       if n != "*" and (v.endswith(" failed") or v == f"{self.last_stage} ok"))
            line = f"{done}/{len(self.names) - 1} workflows; running: {', '.join(running) or '-'}"
            self.stream.write("\r\x1b[2K" + line[:max(self.columns - 1, 20)])
            self.drawn = 1
            self.stream.flush()
            return
        out = []
        if self.drawn:
            out.append(f"\x1b[{self.drawn}F")
        for name in self.names:
            label = "repository" if name == "*" else name
            out.append(f"\x1b[2K{label:<{self.width}}  {self.state[name]}\n")
        self.drawn = len(self.names)
        self.stream.write("".join(out))
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[2K" if self.compact else f"\x1b[{self.drawn}F\x1b[J")
            self.stream.flush()


class FinishedLines:
    """The text report's lines of each workflow, written as soon as it finishes (completion
    order) and flushed: one line per workflow (and the errors of a failed one), never redrawn.
    The end of the report (repository stages, count) follows with `format_tail`."""

    def __init__(self, stream, width: int) -> None:
        self.stream = stream
        self.width = width

    def __call__(self, workflow) -> None:
        self.stream.write("".join(line + "\n" for line in workflow_lines(workflow, self.width)))
        self.stream.flush()
