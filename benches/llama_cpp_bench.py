#!/usr/bin/env python3
"""The llama.cpp half of rill's side-by-side benchmark (see benches/README.md).

Runs the default model through llama.cpp (via llama-cpp-python, installed by
scripts/install-llama-cpp.sh into a venv outside the repository) on the same workloads as rill's
benchmarks and prints one flat JSON object on stdout; progress goes to stderr.

    "${XDG_CACHE_HOME:-$HOME/.cache}/rill/llama-cpp-venv/bin/python" benches/llama_cpp_bench.py

Keys:
  cold_prompt_ttft_ms     fresh context: evaluate benches/workloads/long_file.py (~1.5k tokens, BOS
                          first) and sample the first token greedily; median of --reps.
  keystroke_ttft_ms_p50   warm context holding that file: type --typed one character at a time at
  keystroke_ttft_ms_p95   the end; each keystroke tokenizes the whole new text, keeps the longest
                          common token prefix of the cached sequence (what llama-server's
                          cache_prompt does), evaluates the rest and samples the first token
                          greedily. Nearest-rank percentiles over the keystrokes.
  decode_tps              greedy decoding of --tokens tokens on each edit_replay prompt (the cases
                          of speculative_bench), prompt evaluation excluded: tokens after the first
                          divided by the time from the first token to the last, summed over the
                          cases (each case's time is the median of --reps).
  pp512_tps, tg_tps       like llama-bench's pp512 and tg128: 512 prompt tokens in one batch into
                          a fresh context; 128 single-token steps after BOS, without sampling
                          (llama-bench uses random tokens; these come from long_file.py). Median
                          of at least 3 runs.
Exit code 3 when llama_cpp cannot be imported.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

try:
    import llama_cpp
    from llama_cpp import Llama
    from llama_cpp import _internals as llama_internals
except ImportError as error:  # pragma: no cover - depends on the environment
    print(
        f"llama_cpp_bench: cannot import llama_cpp ({error}).\n"
        "Install it with scripts/install-llama-cpp.sh and run this script with that venv's python:\n"
        '    "${XDG_CACHE_HOME:-$HOME/.cache}/rill/llama-cpp-venv/bin/python" benches/llama_cpp_bench.py',
        file=sys.stderr,
    )
    sys.exit(3)

BENCHES = Path(__file__).resolve().parent
WORKLOADS = BENCHES / "workloads"
STDLIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")

# The cases of speculative_bench (benches/src/bin/speculative_bench.rs): a file of
# workloads/edit_replay and the start of the line after which it is cut.
EDIT_REPLAY_CASES = [
    ("bisect.py", "def bisect_left("),
    ("heapq.py", "def _siftup_max("),
    ("heapq.py", "def nlargest("),
    ("functools.py", "def _ge_from_le("),
    ("sampling.rs", "    fn min_p_excludes_unlikely_tokens() {"),
]

# What the keystrokes type after long_file.py: the file's real next line, after the eight spaces of
# indentation an editor inserts on Enter (they are part of the document before the first keystroke).
DEFAULT_INDENT = "        "
DEFAULT_TYPED = "self.break_on_hyphens = break_on_hyphens"


def log(message):
    print(f"llama_cpp_bench: {message}", file=sys.stderr, flush=True)


def default_model_path():
    if os.environ.get("RILL_MODEL"):
        return Path(os.environ["RILL_MODEL"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "rill" / "models" / "gemma-3-270m-q4_k_m.gguf"


def long_file_text():
    path = WORKLOADS / "long_file.py"
    if path.exists():
        return path.read_text(encoding="utf-8"), str(path)
    fallback = STDLIB / "textwrap.py"
    log(f"{path} is missing; using the first 5,600 bytes of {fallback}")
    data = fallback.read_bytes()[:5600]
    return data.decode("utf-8", errors="ignore"), f"{fallback} (first 5600 bytes)"


def cut_after_line(text, line_start):
    """The text up to and including the first line that starts with `line_start` (as rill does)."""
    found = text.find("\n" + line_start)
    if found < 0:
        raise ValueError(f"{line_start!r} is not at the start of a line")
    line = found + 1
    end = text.find("\n", line)
    return text if end < 0 else text[: end + 1]


def edit_replay_prompts():
    directory = WORKLOADS / "edit_replay"
    prompts = []
    if directory.is_dir():
        for file, line_start in EDIT_REPLAY_CASES:
            path = directory / file
            if not path.exists():
                log(f"{path} is missing; case skipped")
                continue
            text = path.read_text(encoding="utf-8")
            prompts.append((f"{file} after `{line_start.strip()}`", cut_after_line(text, line_start)))
    if not prompts:
        fallback = STDLIB / "bisect.py"
        log(f"{directory} has no cases; using {fallback} cut after `def bisect_left(`")
        text = fallback.read_text(encoding="utf-8")
        prompts.append(("bisect.py (stdlib)", cut_after_line(text, "def bisect_left(")))
    return prompts


def nearest_rank(samples, percentile):
    ordered = sorted(samples)
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[rank - 1]


def vm_hwm_mb():
    return proc_status_mb("VmHWM:")


def proc_status_mb(field):
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def load_average():
    try:
        with open("/proc/loadavg", encoding="ascii") as loadavg:
            return " ".join(loadavg.read().split()[:3])
    except OSError:
        return "unknown"


class Bench:
    """A Llama context driven token by token, with a greedy sampler."""

    def __init__(self, args):
        self.llm = Llama(
            model_path=str(args.model),
            n_threads=args.threads,
            n_threads_batch=args.threads,
            n_ctx=args.n_ctx,
            n_batch=args.n_batch,
            flash_attn=args.flash_attn,
            verbose=False,
        )
        self.greedy = llama_internals.LlamaSampler()
        self.greedy.add_greedy()
        self.bos = self.llm.token_bos()

    def tokenize(self, text):
        tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        if not tokens or tokens[0] != self.bos:
            tokens.insert(0, self.bos)
        return tokens

    def is_eog(self, token):
        return bool(llama_cpp.llama_vocab_is_eog(self.llm._model.vocab, token))

    def cached(self):
        return self.llm.input_ids[: self.llm.n_tokens].tolist()

    def truncate(self, length):
        """Keep the first `length` cached tokens (Llama.eval removes the rest from the KV cache)."""
        self.llm.n_tokens = length
        if not self.llm._ctx.kv_cache_seq_rm(-1, length, -1):
            raise RuntimeError(f"llama.cpp cannot remove the cache tail from position {length}")

    def clear(self):
        """A fresh context: nothing cached."""
        self.llm.reset()
        self.llm._ctx.kv_cache_clear()

    def eval_and_sample(self, tokens):
        self.llm.eval(tokens)
        return self.greedy.sample(self.llm._ctx, -1)

    def sync_and_sample(self, tokens):
        """What llama-server's cache_prompt does: reuse the longest common prefix of the cache,
        evaluate the rest (at least one token, for fresh logits) and sample. Returns
        (token, reused)."""
        cached = self.cached()
        common = 0
        for a, b in zip(cached, tokens):
            if a != b:
                break
            common += 1
        reuse = min(common, len(tokens) - 1)
        self.truncate(reuse)
        return self.eval_and_sample(tokens[reuse:]), reuse


def measure_cold(bench, tokens, reps):
    times, first = [], None
    for rep in range(reps):
        bench.clear()
        start = time.perf_counter()
        token = bench.eval_and_sample(tokens)
        times.append((time.perf_counter() - start) * 1000)
        if first is None:
            first = token
        elif token != first:
            log(f"warning: cold run {rep} sampled {token}, the first run {first}")
        log(f"  cold {len(tokens)}-token prompt: {times[-1]:.1f} ms")
    return statistics.median(times), first


def measure_keystrokes(bench, base, typed):
    """Warm the cache with `base`, then type `typed` one character at a time."""
    bench.clear()
    bench.eval_and_sample(bench.tokenize(base))
    times, tokenizing, reused, evaluated = [], [], [], []
    text = base
    for character in typed:
        text += character
        start = time.perf_counter()
        tokens = bench.tokenize(text)
        tokenized = time.perf_counter()
        token, reuse = bench.sync_and_sample(tokens)
        times.append((time.perf_counter() - start) * 1000)
        tokenizing.append((tokenized - start) * 1000)
        reused.append(reuse)
        evaluated.append(len(tokens) - reuse)
    # Check that reusing the cache gave what a fresh evaluation gives (the SWA layers included).
    bench.clear()
    fresh = bench.eval_and_sample(bench.tokenize(text))
    if fresh != token:
        log(
            f"warning: last keystroke sampled {token} from the reused cache, {fresh} afresh "
            "(a near tie rounds differently in a batch, or the cache was not reused correctly)"
        )
    log(
        f"  {len(typed)} keystrokes: p50 {nearest_rank(times, 50):.1f} ms, "
        f"p95 {nearest_rank(times, 95):.1f} ms, max {max(times):.1f} ms "
        f"(tokenizing p50 {nearest_rank(tokenizing, 50):.1f} ms); "
        f"evaluated {min(evaluated)}-{max(evaluated)} tokens per keystroke "
        f"(reused {min(reused)}-{max(reused)})"
    )
    return times, tokenizing, statistics.mean(evaluated)


def generate_greedy(bench, prompt, max_tokens):
    """Greedy decoding after `prompt` (reusing all of the cached prompt but its last token).
    Returns (tokens, seconds from the first token to the last)."""
    # Reuses the cached prompt (and whatever an earlier run generated after it) and evaluates the
    # rest, at least its last token.
    token, _ = bench.sync_and_sample(prompt)
    first_at = time.perf_counter()
    generated = [token]
    while len(generated) < max_tokens and not bench.is_eog(token):
        token = bench.eval_and_sample([token])
        generated.append(token)
    return generated, time.perf_counter() - first_at


def measure_decode(bench, prompts, args):
    total_tokens, total_seconds = 0, 0.0
    for label, text in prompts:
        tokens = bench.tokenize(text)
        budget = max(2, args.context_tokens)
        if len(tokens) > budget:  # keep BOS and the end, as rill's prepare_prompt does
            tokens = tokens[:1] + tokens[len(tokens) - budget + 1 :]
        # Cache all of the prompt but its last token, so that every run (the first too) evaluates
        # that token alone: evaluating it in a batch rounds differently, and greedy decoding can
        # then take another path at a near tie, which would make the runs incomparable.
        bench.clear()
        bench.llm.eval(tokens[:-1])
        runs = []
        for _ in range(args.reps):
            runs.append(generate_greedy(bench, tokens, args.tokens))
        if any(run[0] != runs[0][0] for run in runs):
            log(f"warning: {label}: the runs generated different tokens")
        seconds = statistics.median(run[1] for run in runs)
        steps = len(runs[0][0]) - 1
        total_tokens += steps
        total_seconds += seconds
        log(
            f"  {label}: {len(tokens)} prompt tokens, {steps + 1} generated, "
            f"{steps / seconds if seconds else 0:.1f} t/s"
        )
    return total_tokens / total_seconds if total_seconds else 0.0


def measure_pp(bench, tokens, reps):
    rates = []
    for _ in range(reps):
        bench.clear()
        start = time.perf_counter()
        bench.llm.eval(tokens)
        llama_cpp.llama_synchronize(bench.llm.ctx)
        rates.append(len(tokens) / (time.perf_counter() - start))
    return statistics.median(rates)


def measure_tg(bench, tokens, reps):
    """llama-bench's tg: one token per llama_decode after BOS, no sampling."""
    rates = []
    for _ in range(reps):
        bench.clear()
        bench.llm.eval([bench.bos])
        llama_cpp.llama_synchronize(bench.llm.ctx)
        start = time.perf_counter()
        for token in tokens:
            bench.llm.eval([token])
        llama_cpp.llama_synchronize(bench.llm.ctx)
        rates.append(len(tokens) / (time.perf_counter() - start))
    return statistics.median(rates)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=default_model_path(), help="GGUF file")
    parser.add_argument("--threads", type=int, default=2, help="n_threads and n_threads_batch")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--n-batch", type=int, default=512)
    parser.add_argument("--flash-attn", action="store_true", help="llama.cpp's flash attention")
    parser.add_argument("--reps", type=int, default=3, help="repetitions behind each median")
    parser.add_argument("--tokens", type=int, default=128, help="tokens generated per decode run")
    parser.add_argument(
        "--context-tokens", type=int, default=1536, help="most prompt tokens of an edit_replay case"
    )
    parser.add_argument("--typed", default=DEFAULT_TYPED, help="text typed, one keystroke a character")
    parser.add_argument("--quick", action="store_true", help="one repetition, 10 keystrokes")
    parser.add_argument(
        "--model-bench",
        action="store_true",
        help="only the figures model_bench compares with: pp16/pp128/pp512/pp1536, tg128, memory",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.reps = 1
        args.typed = args.typed[:10]
    if args.reps < 1 or args.tokens < 2 or not args.typed:
        parser.error("--reps must be at least 1, --tokens at least 2 and --typed not empty")
    return args


def model_bench_figures(bench, args, version, rss_after_load):
    """The llama-bench-like figures model_bench prints beside its own, in the same run."""
    long_text, _ = long_file_text()
    long_tokens = bench.tokenize(long_text)
    lengths = (16, 128, 512, 1536)
    # The long file repeated as often as the longest prompt needs (pp1536 is past its end).
    pp_tokens = (long_tokens * (lengths[-1] // len(long_tokens) + 1))[: lengths[-1]]
    reps = max(args.reps, 3)
    report = {}
    for length in lengths:
        rate = measure_pp(bench, pp_tokens[:length], reps)
        log(f"pp{length}: {rate:.1f} t/s")
        report[f"pp{length}_tps"] = round(rate, 2)
    tg = measure_tg(bench, long_tokens[1:129], reps)
    log(f"tg128: {tg:.1f} t/s")
    report.update({
        "tg_tps": round(tg, 2),
        "rss_after_load_mb": round(rss_after_load or 0.0, 1),
        "rss_peak_mb": round(vm_hwm_mb() or 0.0, 1),
        "llama_cpp_python_version": version,
        "threads": args.threads,
    })
    print(json.dumps(report))
    return 0


def main(argv=None):
    args = parse_args(argv)
    if not args.model.exists():
        print(
            f"llama_cpp_bench: no model at {args.model}; run scripts/fetch-model.py first",
            file=sys.stderr,
        )
        return 2
    load_before = load_average()
    version = getattr(llama_cpp, "__version__", "unknown")
    log(f"llama-cpp-python {version}; loading {args.model} ({args.threads} threads)")
    started = time.perf_counter()
    bench = Bench(args)
    log(f"loaded in {time.perf_counter() - started:.2f} s")

    rss_after_load = proc_status_mb("VmRSS:")

    # Fault the weights in and start the thread pool before anything is timed.
    bench.clear()
    bench.eval_and_sample(bench.tokenize("def main():\n"))
    if args.model_bench:
        return model_bench_figures(bench, args, version, rss_after_load)

    long_text, long_source = long_file_text()
    long_tokens = bench.tokenize(long_text)
    log(f"cold prompt: {long_source}, {len(long_tokens)} tokens")
    cold_ms, _ = measure_cold(bench, long_tokens, args.reps)

    log(f"keystrokes: typing {args.typed!r} after the file and {len(DEFAULT_INDENT)} spaces")
    keystrokes, tokenizing, evaluated = measure_keystrokes(bench, long_text + DEFAULT_INDENT, args.typed)

    prompts = edit_replay_prompts()
    log(f"decode: {len(prompts)} edit_replay prompts, {args.tokens} tokens, median of {args.reps}")
    decode_tps = measure_decode(bench, prompts, args)

    pp_tokens = (long_tokens * 2)[:512]
    pp512 = measure_pp(bench, pp_tokens, max(args.reps, 3))
    log(f"pp512: {pp512:.1f} t/s")
    tg = measure_tg(bench, long_tokens[1:129], max(args.reps, 3))
    log(f"tg128: {tg:.1f} t/s")

    report = {
        "cold_prompt_ttft_ms": round(cold_ms, 2),
        "keystroke_ttft_ms_p50": round(nearest_rank(keystrokes, 50), 2),
        "keystroke_ttft_ms_p95": round(nearest_rank(keystrokes, 95), 2),
        "decode_tps": round(decode_tps, 2),
        "pp512_tps": round(pp512, 2),
        "tg_tps": round(tg, 2),
        "llama_cpp_python_version": version,
        "cold_prompt_tokens": len(long_tokens),
        "keystrokes": len(keystrokes),
        "keystroke_tokens_evaluated_mean": round(evaluated, 2),
        "keystroke_tokenize_ms_p50": round(nearest_rank(tokenizing, 50), 2),
        "edit_replay_cases": len(prompts),
        "threads": args.threads,
        "flash_attn": args.flash_attn,
        "rss_peak_mb": round(vm_hwm_mb() or 0.0, 1),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
