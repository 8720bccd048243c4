#!/usr/bin/env python3
"""The llama.cpp baseline of quality_bench: plain greedy completions of the same holes (see benches/README.md).

For every hole of benches/workloads/quality/holes.jsonl (written by `quality_bench --generate`) the
default model, through llama.cpp (llama-cpp-python, installed by scripts/install-llama-cpp.sh into a
venv outside the repository), continues the text before the cursor greedily, and the continuation
is cut the way a plain editor integration would cut it:

- whole-line and mid-line holes: the first line;
- multi-line holes: up to the first non-blank line indented less than the cursor's line (the body).

The prompt is what rill's prompt window takes for a model without fill-in-the-middle tokens
(server/src/engine/prompt.rs, `window_start`): BOS, then the end of the text before the cursor, at
most `--context-tokens` tokens with BOS, starting at an anchored line start. The text after the
cursor is not shown to the model. Holes run in file order on one Llama instance, and each prompt
reuses the longest common token prefix of what the context already holds (what llama-server's
cache_prompt does), so consecutive holes of a file share their prefill as in rill.

    "${XDG_CACHE_HOME:-$HOME/.cache}/rill/llama-cpp-venv/bin/python" benches/quality_baseline.py \
        --limit 5 --out llama.json

Writes one JSON object (to --out, else stdout): `label`, `engine`, `settings`, `wall_s` and
`holes`, one entry per hole with `id`, `kind`, `language`, `file`, `text` (the cut suggestion),
`items` ([{"text"}], empty when nothing is shown), `latency_ms` (from tokenizing the prompt to the
end of decoding), `prompt_tokens`, `reused_tokens`, `generated_tokens`. Progress and a short
summary go to stderr. Exit code 3 when llama_cpp cannot be imported, 2 without a model.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

try:
    import llama_cpp
    from llama_cpp import Llama
    from llama_cpp import _internals as llama_internals
except ImportError as error:  # pragma: no cover - depends on the environment
    print(
        f"quality_baseline: cannot import llama_cpp ({error}).\n"
        "Install it with scripts/install-llama-cpp.sh and run this script with that venv's python:\n"
        '    "${XDG_CACHE_HOME:-$HOME/.cache}/rill/llama-cpp-venv/bin/python" benches/quality_baseline.py',
        file=sys.stderr,
    )
    sys.exit(3)

ROOT = Path(__file__).resolve().parent.parent
HOLES = ROOT / "benches" / "workloads" / "quality" / "holes.jsonl"
KINDS = ("whole_line", "mid_line", "multi_line")
# Columns a tab counts for in indentation comparisons, as in rill's post-processing.
TAB_WIDTH = 4


def log(message):
    print(f"quality_baseline: {message}", file=sys.stderr, flush=True)


def default_model_path():
    if os.environ.get("RILL_MODEL"):
        return Path(os.environ["RILL_MODEL"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "rill" / "models" / "gemma-3-270m-q4_k_m.gguf"


def load_holes(path):
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def spread(n, count):
    """`count` indices spread evenly over range(n): quality_bench's rule for --limit."""
    if count >= n:
        return list(range(n))
    return [(2 * i + 1) * n // (2 * count) for i in range(count)]


def limit_per_kind(holes, limit):
    keep = set()
    for kind in KINDS:
        of_kind = [index for index, hole in enumerate(holes) if hole["kind"] == kind]
        keep.update(of_kind[index] for index in spread(len(of_kind), limit))
    return [hole for index, hole in enumerate(holes) if index in keep]


def window_start(data, lengths, budget):
    """rill's `window_start` (server/src/engine/prompt.rs): the index of the first token to keep so
    that at most `budget` tokens remain, the cut anchored in steps of a quarter of the budget and
    moved forward to the first token that starts a non-empty line. `data` is the text as bytes and
    `lengths[i]` the bytes token i stands for."""
    count = len(lengths)
    if count <= budget:
        return 0
    step = max(budget // 4, 1)
    target = -(-(count - budget) // step) * step
    offset = sum(lengths[:target])
    for index in range(target, count):
        starts_line = offset > 0 and data[offset - 1] == 0x0A
        non_empty = offset < len(data) and data[offset] not in (0x0A, 0x0D)
        if starts_line and non_empty:
            return index
        offset += lengths[index]
    return min(target, count - 1)


def indent_width(line):
    width = 0
    for character in line:
        if character == " ":
            width += 1
        elif character == "\t":
            width += TAB_WIDTH
        else:
            break
    return width


def cut(kind, text, body_indent):
    """What a plain editor shows of a raw continuation: the first line, or for multi-line holes the
    lines up to the first non-blank one indented less than the body. Returns (suggestion, final):
    `final` is true when more text cannot change it."""
    lines = text.split("\n")
    if kind != "multi_line":
        return lines[0].rstrip(), len(lines) > 1
    kept = [lines[0]]
    final = False
    for line in lines[1:]:
        # A line's indentation is known once it has a non-blank character, even before its end.
        if line.strip() and indent_width(line) < body_indent:
            final = True
            break
        kept.append(line)
    return "\n".join(part.rstrip() for part in kept).rstrip(), final


class Engine:
    """One Llama context, a greedy sampler and the prompt window of rill."""

    def __init__(self, args):
        self.llm = Llama(
            model_path=str(args.model),
            n_threads=args.threads,
            n_threads_batch=args.threads,
            n_ctx=args.n_ctx,
            n_batch=args.n_batch,
            verbose=False,
        )
        self.greedy = llama_internals.LlamaSampler()
        self.greedy.add_greedy()
        self.bos = self.llm.token_bos()
        # rill's budget: completion.contextTokens, at most the model's context less the answer.
        self.budget = min(args.context_tokens, self.llm._model.n_ctx_train() - args.max_tokens)
        self.max_tokens = args.max_tokens
        self.piece_cache = {}

    def piece(self, token):
        if token not in self.piece_cache:
            self.piece_cache[token] = self.llm.detokenize([token])
        return self.piece_cache[token]

    def prompt(self, text_before_cursor):
        data = text_before_cursor.encode("utf-8")
        tokens = self.llm.tokenize(data, add_bos=False, special=False)
        room = max(self.budget - 1, 1)
        if len(tokens) > room:
            lengths = [len(self.piece(token)) for token in tokens]
            if sum(lengths) == len(data):
                start = window_start(data, lengths, room)
            else:
                # The pieces do not add up to the text (a vocabulary with a space prefix): keep the
                # last tokens without the line rule.
                start = len(tokens) - room
            tokens = tokens[start:]
        return [self.bos] + tokens

    def is_eog(self, token):
        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))

    def sync(self, tokens):
        """Keeps the longest common prefix of the cache (at most all but the last prompt token, for
        fresh logits) and evaluates the rest. Returns how many tokens were reused."""
        cached = self.llm.input_ids[: self.llm.n_tokens].tolist()
        common = 0
        for a, b in zip(cached, tokens):
            if a != b:
                break
            common += 1
        reuse = min(common, len(tokens) - 1)
        self.llm.n_tokens = reuse
        if not self.llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
            # The cache cannot drop just its tail (sliding-window layers that moved on): start over.
            self.llm.reset()
            self.llm._ctx.kv_cache_clear()
            reuse = 0
        self.llm.eval(tokens[reuse:])
        return reuse

    def complete(self, hole, text_before_cursor):
        """The cut suggestion for one hole, with its figures."""
        started = time.perf_counter()
        tokens = self.prompt(text_before_cursor)
        reused = self.sync(tokens)
        last_line = text_before_cursor[text_before_cursor.rfind("\n") + 1 :]
        body_indent = indent_width(last_line)
        raw = b""
        generated = 0
        token = self.greedy.sample(self.llm._ctx, -1)
        while not self.is_eog(token):
            generated += 1
            raw += self.piece(token)
            _, final = cut(hole["kind"], raw.decode("utf-8", errors="ignore"), body_indent)
            if final or generated >= self.max_tokens:
                break
            self.llm.eval([token])
            token = self.greedy.sample(self.llm._ctx, -1)
        suggestion, _ = cut(hole["kind"], raw.decode("utf-8", errors="replace"), body_indent)
        if not suggestion.strip():
            suggestion = ""
        return {
            "text": suggestion,
            "items": [{"text": suggestion}] if suggestion else [],
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "prompt_tokens": len(tokens),
            "reused_tokens": reused,
            "generated_tokens": generated,
        }


def first_line(text):
    return text.split("\n", 1)[0].rstrip()


def summary(results, holes):
    by_id = {hole["id"]: hole for hole in holes}
    for kind in KINDS + ("all",):
        rows = [r for r in results if kind == "all" or r["kind"] == kind]
        if not rows:
            continue
        shown = sum(1 for r in rows if r["text"])
        exact = sum(
            1 for r in rows if r["text"] and first_line(r["text"]) == first_line(by_id[r["id"]]["expected"])
        )
        latencies = sorted(r["latency_ms"] for r in rows)
        p50 = latencies[max(0, math.ceil(0.5 * len(latencies)) - 1)]
        log(
            f"{kind}: {len(rows)} holes, first-line exact {exact}, shown {shown}, "
            f"latency p50 {p50:.0f} ms"
        )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holes", type=Path, default=HOLES, help="holes file (default: the corpus)")
    parser.add_argument("--limit", type=int, help="holes per kind, spread evenly (as quality_bench)")
    parser.add_argument("--out", type=Path, help="write the JSON here instead of stdout")
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--context-tokens", type=int, default=1536, help="rill's completion.contextTokens (default 1536)"
    )
    parser.add_argument(
        "--max-tokens", type=int, default=64, help="rill's completion.maxTokens (default 64)"
    )
    parser.add_argument("--n-ctx", type=int, default=0, help="context size (default: the budget + max tokens)")
    parser.add_argument("--n-batch", type=int, default=512)
    parser.add_argument("--label", default="llama.cpp")
    args = parser.parse_args(argv)
    if args.n_ctx <= 0:
        args.n_ctx = args.context_tokens + args.max_tokens + 16
    return args


def main(argv=None):
    args = parse_args(argv)
    if not args.model.exists():
        log(f"no model at {args.model}; run scripts/fetch-model.py first")
        return 2
    holes = load_holes(args.holes)
    if args.limit is not None:
        holes = limit_per_kind(holes, args.limit)
    version = getattr(llama_cpp, "__version__", "unknown")
    log(f"llama-cpp-python {version}; {len(holes)} holes; loading {args.model} ({args.threads} threads)")
    started = time.perf_counter()
    engine = Engine(args)
    sources = {}
    # File order, one file after the other, as quality_bench sends them to rill.
    order = {}
    for hole in holes:
        order.setdefault(hole["file"], len(order))
    ordered = sorted(holes, key=lambda hole: (order[hole["file"]], hole["start"]))
    results = []
    last_print = time.perf_counter()
    for index, hole in enumerate(ordered, start=1):
        if hole["file"] not in sources:
            sources[hole["file"]] = (ROOT / hole["file"]).read_bytes()
        source = sources[hole["file"]]
        if source[hole["start"] : hole["end"]].decode("utf-8") != hole["expected"]:
            log(f"hole {hole['id']} no longer matches {hole['file']}; regenerate with quality_bench --generate")
            return 1
        result = engine.complete(hole, source[: hole["start"]].decode("utf-8"))
        result.update({key: hole[key] for key in ("id", "kind", "language", "file", "line")})
        results.append(result)
        now = time.perf_counter()
        if now - last_print >= 30 or index == len(ordered):
            last_print = now
            per_hole = (now - started) / index
            log(f"{index}/{len(ordered)} holes, {per_hole:.1f} s per hole, ~{per_hole * (len(ordered) - index):.0f} s left")
    wall = time.perf_counter() - started
    summary(results, holes)
    report = {
        "label": args.label,
        "engine": f"llama-cpp-python {version}, greedy, {args.threads} threads",
        "settings": {
            "contextTokens": args.context_tokens,
            "maxTokens": args.max_tokens,
            "threads": args.threads,
            "n_ctx": args.n_ctx,
            "model": str(args.model),
        },
        "wall_s": round(wall, 1),
        "holes": results,
    }
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
