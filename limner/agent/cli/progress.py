"""Shows a run's stream events on the terminal with rich (to stderr, so stdout stays for results)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


class ConsoleProgress:
    def __init__(self, quiet: bool = False):
        self.console = Console(stderr=True, highlight=False)
        self.quiet = quiet
        self.progress: Progress | None = None
        self.task = None

    def _bar(self, round_: int, steps: int):
        if self.progress is None:
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                     TimeElapsedColumn(), console=self.console, transient=True)
            self.progress.start()
        if self.task is None:
            self.task = self.progress.add_task(f"round {round_}: denoising", total=steps)

    def _close_bar(self):
        if self.progress is not None:
            self.progress.stop()
        self.progress = self.task = None

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "notice":  # warnings are shown even when quiet
            self.console.print(f"[yellow]note[/]: {escape(event['text'])}")
            return
        if self.quiet:
            return
        if kind == "step":
            self._bar(event["round"], event["steps"])
            self.progress.update(self.task, completed=event["step"])
            return
        self._close_bar()
        if kind == "plan":
            plan = event["plan"]
            self.console.print(f"[bold]plan v{plan['version']}[/] by {escape(plan['planner'])}: {escape(plan['rewritten_prompt'])}")
            for check in plan["checks"]:
                self.console.print(f"  check {escape(check['id'])}: {escape(check['question'])}", style="dim")
            for region in (plan.get("layout") or {}).get("regions", []):
                box = ", ".join(f"{v:.2f}" for v in region["box"])
                self.console.print(f"  region {escape(region['phrase'])}: box \\[{box}]", style="dim")
        elif kind == "generated":
            reused = f" ({event['reused']} reused from disk)" if event["reused"] else ""
            strategy = f" by {event['strategy']}" if event.get("strategy") else ""
            self.console.print(f"round {event['round']}: {event['n']} candidates{strategy}{reused}")
            if event.get("layout"):
                self.console.print(f"  {escape(str(event['layout']))}", style="dim")
        elif kind == "candidate":
            self.console.print(f"  {event['id']}  score {event['score']:.3f}")
        elif kind == "decision":
            self.console.print(f"[cyan]decide[/]: {event['action']} - {escape(event['reason'])}")
        elif kind == "finished":
            self.console.print(f"[bold]{event['status']}[/]: {escape(event['stop_reason'])}")
