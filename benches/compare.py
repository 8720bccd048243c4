#!/usr/bin/env python3
"""rill side by side with llama.cpp: runs rill's benchmarks and the llama.cpp one, prints one table.

Runs, in this order, each with `--json` (one flat JSON object on stdout):

    cargo run --release -q -p rill-benches --bin incremental_bench -- --json
    cargo run --release -q -p rill-benches --bin speculative_bench -- --json
    cargo run --release -q -p rill-benches --bin lsp_typing_bench -- --json
    cargo run --release -q -p rill-benches --bin model_bench -- --json --skip-llama
    target/release/rill diagnose --threads 2 benches/workloads/diagnostics/textwrap.py
    <llama-cpp venv>/bin/python benches/llama_cpp_bench.py

(`rill diagnose` prints no JSON: its summary line on stderr is parsed.)

and prints a Markdown table `metric | rill | llama.cpp | ratio | target | met?` followed by the
commands it ran. A benchmark that is missing or fails shows "—" and the reason; the others still
count. The ratio is always rill ÷ llama.cpp (times for latency rows, tokens/s for speed rows).
The llama.cpp venv comes from scripts/install-llama-cpp.sh. Standard library only.
See benches/README.md, section "Side by side with llama.cpp".
"""

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
DASH = "—"

# Exit code of benches/llama_cpp_bench.py when llama_cpp cannot be imported.
LLAMA_NOT_INSTALLED = 3


def default_llama_python():
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "rill" / "llama-cpp-venv" / "bin" / "python"


def cargo_bench(binary):
    return ["cargo", "run", "--release", "-q", "-p", "rill-benches", "--bin", binary, "--", "--json"]


DIAGNOSE = "rill diagnose"
# The file both sides scan for the diagnostics rows (llama_cpp_bench.py's --scan-file default).
SCAN_FILE = Path("benches") / "workloads" / "diagnostics" / "textwrap.py"
# llama_cpp_bench.py's default; rill's own default is every core, which on another machine would
# compare different thread counts.
SCAN_THREADS = 2
RILL_BENCHES = ["incremental_bench", "speculative_bench", "lsp_typing_bench", "model_bench", DIAGNOSE]
LLAMA = "llama.cpp"


def rill_binary():
    return REPO / "target" / "release" / "rill"


def rill_command(name):
    """The command line that measures rill's source `name`."""
    if name == DIAGNOSE:
        return [rill_binary(), "diagnose", "--threads", str(SCAN_THREADS), SCAN_FILE]
    if name == "model_bench":
        # llama.cpp's prefill figures come from llama_cpp_bench.py's own run, like every other
        # llama.cpp figure of the table; model_bench measuring it again would double its time.
        return cargo_bench(name) + ["--skip-llama"]
    return cargo_bench(name)


DIAGNOSE_SUMMARY = re.compile(
    r"rill: (?P<flags>\d+) flags? in (?P<lines>\d+) lines, scored in (?P<seconds>[\d.]+) s "
    r"\((?P<positions>\d+) positions, (?P<rate>[\d.]+) per second\)"
)


def parse_diagnose_summary(stdout, stderr_lines):
    """The figures of `rill diagnose`'s last summary line on stderr, or None. (Its stdout holds the
    flags, one a line.)"""
    for line in reversed(stderr_lines):
        found = DIAGNOSE_SUMMARY.search(ANSI_ESCAPE.sub("", line))
        if found:
            return {
                "diagnostics_scan_s": float(found["seconds"]),
                "diagnostics_scan_positions_per_s": float(found["rate"]),
                "diagnostics_scan_positions": int(found["positions"]),
                "diagnostics_scan_lines": int(found["lines"]),
                "diagnostics_scan_flags": int(found["flags"]),
            }
    return None


@dataclass
class Source:
    """One benchmark's results, or why there are none."""

    name: str
    values: Optional[dict] = None
    reason: Optional[str] = None
    command: Optional[str] = None
    note: str = ""

    def get(self, key):
        """(value, reason): the number under `key`, or None and why it is missing."""
        if self.values is None:
            reason = self.reason or "not run"
            return None, reason if reason.startswith("skipped") else f"{self.name}: {reason}"
        value = self.values.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"{self.name} printed no `{key}`"
        return float(value), None


@dataclass
class Row:
    label: str
    unit: str  # "ms", "t/s", "MB", "B", "%", "" (a plain number)
    rill: Optional[tuple] = None  # (source name, key)
    llama: Optional[str] = None  # key of the llama.cpp object
    at_most: Optional[float] = None  # rill ≤ this
    at_least: Optional[float] = None  # rill ≥ this
    ratio_at_most: Optional[float] = None  # rill ÷ llama.cpp ≤ this
    ratio_at_least: Optional[float] = None  # rill ÷ llama.cpp ≥ this
    about: str = ""

    def target(self):
        parts = []
        if self.at_most is not None:
            parts.append(f"≤ {self.at_most:g} {self.unit}".strip())
        if self.at_least is not None:
            parts.append(f"≥ {self.at_least:g} {self.unit}".strip())
        if self.ratio_at_most is not None:
            parts.append(f"≤ {self.ratio_at_most:.1f}× llama.cpp")
        if self.ratio_at_least is not None:
            parts.append(f"≥ {self.ratio_at_least:.1f}× llama.cpp")
        return " and ".join(parts) if parts else DASH


ROWS = [
    Row("keystroke → first token, p50", "ms", ("incremental_bench", "keystroke_ttft_ms_p50"),
        "keystroke_ttft_ms_p50", at_most=25, ratio_at_most=0.5),
    Row("keystroke → first token, p95", "ms", ("incremental_bench", "keystroke_ttft_ms_p95"),
        "keystroke_ttft_ms_p95", at_most=50, ratio_at_most=0.5),
    Row("pre-warmed first completion", "ms", ("lsp_typing_bench", "prewarmed_first_completion_ms"),
        at_most=100),
    Row("cold 1.5k-token prompt → first token", "ms", ("incremental_bench", "cold_prompt_ttft_ms"),
        "cold_prompt_ttft_ms", ratio_at_most=1.0),
    Row("prefill 512 tokens", "t/s", ("model_bench", "prefill_512_tps"), "pp512_tps",
        ratio_at_least=1.0),
    Row("prefill 1536 tokens", "t/s", ("model_bench", "prefill_1536_tps"), "pp1536_tps",
        ratio_at_least=1.0),
    Row("decode, plain greedy (edit replay)", "t/s", ("speculative_bench", "decode_tps_plain"),
        "decode_tps", ratio_at_least=1.0),
    Row("decode, speculative (edit replay)", "t/s", ("speculative_bench", "decode_tps_speculative"),
        "decode_tps", ratio_at_least=1.5),
    Row("diagnostics scan, 491-line file", "s", (DIAGNOSE, "diagnostics_scan_s"), "scan_s",
        at_most=10, ratio_at_most=1.0),
    Row("diagnostics scan, positions per second", "pos/s",
        (DIAGNOSE, "diagnostics_scan_positions_per_s"), "scan_positions_per_s"),
    Row("memory, 10 open 2k-token documents", "MB", ("incremental_bench", "rss_10_docs_mb"),
        "rss_10_docs_mb", at_most=500),
    Row("KV cache per cached token", "B", ("incremental_bench", "bytes_per_cached_token")),
    Row("model: RSS after loading the weights", "MB", ("model_bench", "rss_after_load_mb"),
        at_most=300),
    # The default GGUF is 253 MB: the issue allows the load a peak of the file's size + 50 MB.
    Row("model: peak RSS while loading", "MB", ("model_bench", "load_peak_rss_mb"), at_most=303),
    Row("typing replay: first partial, p50", "ms", ("lsp_typing_bench", "first_partial_ms_p50")),
    Row("typing replay: first partial, p95", "ms", ("lsp_typing_bench", "first_partial_ms_p95")),
    Row("typing replay: served by typed-ahead/cache", "%",
        ("lsp_typing_bench", "served_without_model_fraction")),
    Row("typing replay: CPU per keystroke", "s", ("lsp_typing_bench", "cpu_seconds_per_keystroke")),
    Row("speculative: draft acceptance rate", "%", ("speculative_bench", "acceptance_rate")),
    Row("speculative: tokens per forward pass", "", ("speculative_bench", "tokens_per_forward")),
    Row("llama-bench pp512 (reference)", "t/s", llama="pp512_tps"),
    Row("llama-bench tg128 (reference)", "t/s", llama="tg_tps"),
]


def format_number(value):
    if value is None:
        return DASH
    magnitude = abs(value)
    digits = 3 if magnitude < 1 else 2 if magnitude < 10 else 1 if magnitude < 1000 else 0
    return f"{value:.{digits}f}"


def format_value(value, unit):
    if value is None:
        return DASH
    if unit == "%":
        return f"{value * 100:.1f}%"
    if unit in ("MB", "B") and value >= 100:
        return f"{value:.0f} {unit}"
    return f"{format_number(value)} {unit}".strip()


def ratio(rill, llama):
    if rill is None or llama is None or llama == 0:
        return None
    return rill / llama


def met(row, rill, llama):
    """"yes", "no", "?" (a condition cannot be checked and none failed) or "—" (no target)."""
    checks = []
    if row.at_most is not None:
        checks.append(None if rill is None else rill <= row.at_most)
    if row.at_least is not None:
        checks.append(None if rill is None else rill >= row.at_least)
    r = ratio(rill, llama)
    if row.ratio_at_most is not None:
        checks.append(None if r is None else r <= row.ratio_at_most)
    if row.ratio_at_least is not None:
        checks.append(None if r is None else r >= row.ratio_at_least)
    if not checks:
        return DASH
    if any(check is False for check in checks):
        return "no"
    if any(check is None for check in checks):
        return "?"
    return "yes"


def cell(value, reason, unit):
    if value is not None:
        return format_value(value, unit)
    return f"{DASH} ({reason})" if reason else DASH


def build_rows(sources, rows=ROWS):
    """The table's rows as lists of cells; `sources` maps a source name to its Source."""
    llama_source = sources.get(LLAMA) or Source(LLAMA, reason="not run")
    table = []
    for row in rows:
        rill = rill_reason = llama = llama_reason = None
        if row.rill is not None:
            name, key = row.rill
            rill, rill_reason = (sources.get(name) or Source(name, reason="not run")).get(key)
        if row.llama is not None:
            llama, llama_reason = llama_source.get(row.llama)
        r = ratio(rill, llama)
        table.append([
            row.label,
            cell(rill, rill_reason, row.unit) if row.rill is not None else DASH,
            cell(llama, llama_reason, row.unit) if row.llama is not None else DASH,
            f"{r:.2f}×" if r is not None else DASH,
            row.target(),
            met(row, rill, llama),
        ])
    return table


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


HEADER = ["metric", "rill", "llama.cpp", "ratio", "target", "met?"]


def last_json_object(stdout):
    """The last line of `stdout` that parses as a JSON object, or None."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failure_line(lines):
    """The line of a failed command's stderr that best says why: its last error, else its last line."""
    lines = [ANSI_ESCAPE.sub("", line).strip() for line in lines]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if line.lower().startswith(("error", "fatal")) or "Error:" in line:
            return line
    return lines[-1] if lines else ""


def close_pipes(process):
    for pipe in (process.stdout, process.stderr):
        try:
            pipe.close()
        except (OSError, ValueError):
            pass


def run_json(name, argv, timeout, cwd=REPO, echo=sys.stderr, parse=None):
    """Runs `argv`, streaming its stderr through `echo`; returns (Source, exit code). The figures
    are the last JSON object on stdout, or what `parse(stdout, last stderr lines)` returns."""
    command = shlex.join(str(a) for a in argv)
    if echo is not None:
        print(f"compare: running {command}", file=echo, flush=True)
    started = time.monotonic()
    tail = []
    try:
        process = subprocess.Popen(
            [str(a) for a in argv], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True, errors="replace",
            start_new_session=True,  # so that a timeout ends cargo's child too
        )
    except OSError as error:
        return Source(name, reason=f"cannot start: {error.strerror or error}", command=command), None

    def pump():
        for line in process.stderr:
            if echo is not None:
                echo.write(line)
                echo.flush()
            tail.append(line.rstrip("\n"))
            del tail[:-20]

    chunks = []

    def collect():
        for line in process.stdout:
            chunks.append(line)

    readers = [threading.Thread(target=pump, daemon=True), threading.Thread(target=collect, daemon=True)]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout=timeout)
    except BaseException as error:  # the timeout, or Ctrl-C: the benchmark's own group has no terminal
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            process.kill()
        process.wait()
        if not isinstance(error, subprocess.TimeoutExpired):
            raise
        for reader in readers:
            reader.join(5)
        close_pipes(process)
        return Source(name, reason=f"timed out after {timeout:.0f} s", command=command,
                      note=f"killed after {timeout:.0f} s"), None
    for reader in readers:
        reader.join(30)  # a leftover grandchild may hold the pipes open; do not wait for it forever
    close_pipes(process)
    stdout = "".join(chunks)
    seconds = time.monotonic() - started
    note = f"exit {process.returncode}, {seconds:.0f} s"
    if process.returncode != 0:
        last = failure_line(tail)
        reason = f"exit {process.returncode}" + (f": {last[:160]}" if last else "")
        return Source(name, reason=reason, command=command, note=note), process.returncode
    values = last_json_object(stdout) if parse is None else parse(stdout, tail)
    if values is None:
        missing = "printed no JSON object" if parse is None else "printed no summary line"
        return Source(name, reason=missing, command=command, note=note), 0
    return Source(name, values=values, command=command, note=note), 0


def load_json_file(name, path):
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        return Source(name, reason=f"cannot read {path}: {error.strerror}", command=f"(from {path})")
    values = last_json_object(text)
    if values is None:
        try:
            values = json.loads(text)
        except ValueError:
            values = None
    if not isinstance(values, dict):
        return Source(name, reason=f"{path} holds no JSON object", command=f"(from {path})")
    return Source(name, values=values, command=f"(from {path})", note="saved results")


def rill_sources(args, echo=sys.stderr):
    if args.rill_json:
        merged = {}
        for path in args.rill_json:
            source = load_json_file("rill", path)
            if source.values is None:
                return {name: Source(name, reason=source.reason, command=source.command)
                        for name in RILL_BENCHES}
            merged.update(source.values)
        given = ", ".join(args.rill_json)
        return {name: Source(name, values=merged, command=f"(from {given})", note="saved results")
                for name in RILL_BENCHES}
    commands = {name: rill_command(name) for name in RILL_BENCHES}
    if args.skip_rill:
        return {name: Source(name, reason="skipped: --skip-rill",
                             command=shlex.join(str(a) for a in commands[name]))
                for name in RILL_BENCHES}
    sources = {}
    for name in RILL_BENCHES:
        if name == DIAGNOSE:
            sources[name] = run_diagnose(commands[name], args.timeout, echo)
        else:
            sources[name] = run_json(name, commands[name], args.timeout, echo=echo)[0]
    return sources


def run_diagnose(command, timeout, echo):
    # The binary itself, as lsp_typing_bench uses it: `cargo run -p rill-benches` builds no server.
    if not rill_binary().exists():
        return Source(DIAGNOSE, reason=f"no {rill_binary()}: run cargo build --release -p rill",
                      command=shlex.join(str(a) for a in command))
    return run_json(DIAGNOSE, command, timeout, echo=echo, parse=parse_diagnose_summary)[0]


def llama_source(args, echo=sys.stderr):
    if args.llama_json:
        return load_json_file(LLAMA, args.llama_json)
    python = Path(args.llama_python)
    script = REPO / "benches" / "llama_cpp_bench.py"
    command = shlex.join([str(python), str(script)])
    if args.skip_llama:
        return Source(LLAMA, reason="skipped: --skip-llama", command=command)
    if not python.exists():
        message = (f"no llama.cpp venv at {python}; install it with scripts/install-llama-cpp.sh "
                   "(about 12 minutes), or pass --skip-llama")
        print(f"compare: skipping llama.cpp: {message}", file=echo, flush=True)
        return Source(LLAMA, reason="venv missing: run scripts/install-llama-cpp.sh",
                      command=command)
    source, code = run_json(LLAMA, [python, script], args.timeout, echo=echo)
    if code == LLAMA_NOT_INSTALLED:
        print(f"compare: skipping llama.cpp: {python} cannot import llama_cpp; "
              "run scripts/install-llama-cpp.sh", file=echo, flush=True)
        source.reason = "llama_cpp not importable: run scripts/install-llama-cpp.sh"
    return source


def report(sources):
    lines = [markdown_table(HEADER, build_rows(sources)), ""]
    lines.append("ratio = rill ÷ llama.cpp. met? = every condition of the target holds "
                 "(\"?\": a figure it needs is missing).")
    lines.append("")
    lines.append(f"Commands (run in {REPO}):")
    lines.append("")
    for name in RILL_BENCHES + [LLAMA]:
        source = sources.get(name)
        if source is None:
            continue
        command = source.command or "(not run)"
        status = source.note if source.values is not None else (source.reason or "")
        lines.append(f"- `{command}`" + (f" — {status}" if status else ""))
    llama = sources.get(LLAMA)
    if llama is not None and llama.values and "llama_cpp_python_version" in llama.values:
        lines.append("")
        lines.append(f"llama-cpp-python {llama.values['llama_cpp_python_version']}"
                     + (f", load average {llama.values.get('load_average_before')} → "
                        f"{llama.values.get('load_average_after')}"
                        if "load_average_before" in llama.values else ""))
        warning = busy_warning(llama.values)
        if warning:
            lines.append("")
            lines.append(warning)
    return "\n".join(lines)


def busy_warning(values, cores=None):
    """A warning when the machine was busy as a benchmark started (its `load_average_before`), or None."""
    cores = cores or os.cpu_count() or 1
    try:
        load = float(str(values.get("load_average_before", "")).split()[0])
    except (ValueError, IndexError):
        return None
    if load <= 0.75 * cores:
        return None
    return (f"warning: the 1-minute load average was {load:g} on {cores} cores when llama.cpp "
            "started: other work shared the cores, and llama.cpp's OpenMP threads slow down "
            "several-fold then; rerun on a quiet machine before comparing.")


def save(path, value):
    if path:
        with open(path, "w", encoding="utf-8") as file:
            json.dump(value, file)
            file.write("\n")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-rill", action="store_true", help="do not run rill's benchmarks")
    parser.add_argument("--skip-llama", action="store_true", help="do not run the llama.cpp one")
    parser.add_argument("--rill-json", action="append", metavar="FILE",
                        help="reuse saved rill results (flat JSON objects, merged; repeatable)")
    parser.add_argument("--llama-json", metavar="FILE", help="reuse saved llama.cpp results")
    parser.add_argument("--save-rill", metavar="FILE", help="write the merged rill results here")
    parser.add_argument("--save-llama", metavar="FILE", help="write the llama.cpp results here")
    parser.add_argument("--llama-python", default=str(default_llama_python()),
                        help="python of the llama.cpp venv (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds each benchmark may take, build included (default 1800)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    sources = rill_sources(args)
    sources[LLAMA] = llama_source(args)
    merged = {}
    for name in RILL_BENCHES:
        merged.update(sources[name].values or {})
    if merged:
        save(args.save_rill, merged)
    if sources[LLAMA].values:
        save(args.save_llama, sources[LLAMA].values)
    print(report(sources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
