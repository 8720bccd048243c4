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
  pp1536_tps              the same with 1,536 tokens (long_file.py repeated to length), three
                          llama_decode calls of --n-batch 512; model_bench's longest prefill.
  scan_s,                 what `rill diagnose` does to --scan-file (workloads/diagnostics/textwrap.py):
  scan_positions_per_s    the whole file (BOS first) through one fresh context in chunks of --n-batch
                          with logits on every position, and each token's log-probability
                          (log-softmax over the vocabulary) and the model's own choice (argmax)
                          computed from them. One run; positions are the file's tokens.
  rss_10_docs_mb          peak RSS (VmHWM, kB / 1000 like rill's figure) of a fresh Python process
                          that loads the model and holds ten 2,048-token documents of real code,
                          one sequence each, in one context of n_ctx 20,480 and n_seq_max 10: what
                          `llama-server -c 20480 -np 10` holds with ten busy 2k slots (llama-server's
                          defaults: per-sequence KV streams, sliding-window layers cached for their
                          window only; --docs-swa-full caches them in full, as rill does).
Exit code 3 when llama_cpp cannot be imported.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:
    import numpy as np
    import llama_cpp
    from llama_cpp import Llama
    from llama_cpp import _internals as llama_internals
    from llama_cpp import _logger as llama_logger
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
REPO = BENCHES.parent
DEFAULT_SCAN_FILE = WORKLOADS / "diagnostics" / "textwrap.py"
# The Rust sources incremental_bench takes its ten documents from (its `corpus`), in its order.
DOCS_DIRS = ["model/src", "server/src", "server/src/lsp", "server/src/engine"]
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


def proc_status_kb(field):
    """A field of /proc/self/status in kB (rill's benchmarks divide these by 1000 for "MB")."""
    mib = proc_status_mb(field)
    return None if mib is None else mib * 1024


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


def pp_prompt(long_tokens, length):
    """`length` tokens of long_file.py, repeated as often as needed (pp1536 is past its end)."""
    return (long_tokens * (length // len(long_tokens) + 1))[:length]


def measure_pp(bench, tokens, reps):
    rates = []
    for _ in range(reps):
        bench.clear()
        start = time.perf_counter()
        bench.llm.eval(tokens)
        llama_cpp.llama_synchronize(bench.llm.ctx)
        rates.append(len(tokens) / (time.perf_counter() - start))
    return statistics.median(rates)


# --- The low-level API: contexts the high-level Llama cannot make (logits on every position
# without its n_ctx × vocabulary score array, several sequences in one context). ---

FLASH_ATTN_TYPE = {False: 0, True: 1}  # LLAMA_FLASH_ATTN_TYPE_DISABLED / _ENABLED


def context_params(args, n_ctx, n_seq_max=1, swa_full=True):
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = n_ctx
    params.n_batch = params.n_ubatch = args.n_batch
    params.n_seq_max = n_seq_max
    params.n_threads = params.n_threads_batch = args.threads
    # As the Llama objects of this script, so that every figure uses the same attention kernel.
    params.flash_attn_type = FLASH_ATTN_TYPE[bool(args.flash_attn)]
    params.swa_full = swa_full
    params.kv_unified = False  # one KV stream per sequence, as llama-server's slots have
    return params


def new_context(model, params):
    ctx = llama_cpp.llama_init_from_model(model, params)
    if not ctx:
        raise RuntimeError(f"llama.cpp cannot create a context of n_ctx {params.n_ctx}")
    return ctx


def decode(ctx, batch, tokens, start, seq_id, all_logits):
    """One llama_decode of `tokens` at positions start.. of sequence `seq_id`; logits for every
    token when `all_logits`, else for the last one only."""
    batch.n_tokens = len(tokens)
    for i, token in enumerate(tokens):
        batch.token[i] = token
        batch.pos[i] = start + i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq_id
        batch.logits[i] = all_logits
    batch.logits[len(tokens) - 1] = True
    code = llama_cpp.llama_decode(ctx, batch)
    if code != 0:
        raise RuntimeError(f"llama_decode returned {code}")


def tokenize_raw(vocab, text, add_bos):
    data = text.encode("utf-8")
    capacity = len(data) + 2
    buffer = (llama_cpp.llama_token * capacity)()
    count = llama_cpp.llama_tokenize(vocab, data, len(data), buffer, capacity, add_bos, False)
    if count < 0:
        raise RuntimeError(f"llama_tokenize needs {-count} tokens")
    return list(buffer[:count])


def log_probabilities(logits, targets, rows=64):
    """Each row's log-softmax at its target token, and its argmax: what a surprisal scan reads off
    the logits (rill's diagnostics flag a token by both). Rows at a time, to keep the
    temporaries small."""
    scores, choices = [], []
    for start in range(0, len(targets), rows):
        block = logits[start : start + rows]
        top = block.max(axis=1)
        log_sum = top + np.log(np.exp(block - top[:, None]).sum(axis=1))
        picked = block[np.arange(len(block)), targets[start : start + rows]]
        scores.append(picked - log_sum)
        choices.append(block.argmax(axis=1))
    return np.concatenate(scores), np.concatenate(choices)


def measure_scan(bench, args):
    """The diagnostics scan of `rill diagnose FILE` done with llama.cpp: every position of the file
    scored in one pass. Uses the loaded model with a context of its own, long enough for the
    file (the main one holds --n-ctx tokens)."""
    path = Path(args.scan_file)
    text = path.read_text(encoding="utf-8")
    n_vocab = llama_cpp.llama_vocab_n_tokens(bench.llm._model.vocab)
    length = len(bench.tokenize(text))
    ctx = new_context(bench.llm.model, context_params(args, (length // 256 + 1) * 256))
    batch = llama_cpp.llama_batch_init(args.n_batch, 0, 1)
    try:
        # The timer starts with the context made, as a server holds one already; tokenizing is
        # inside, as it is in rill's figure.
        started = time.perf_counter()
        tokens = bench.tokenize(text)
        targets = np.array(tokens[1:] + [0], dtype=np.int64)
        model_seconds = 0.0
        scores = []
        for start in range(0, len(tokens), args.n_batch):
            chunk = tokens[start : start + args.n_batch]
            before = time.perf_counter()
            decode(ctx, batch, chunk, start, 0, True)
            llama_cpp.llama_synchronize(ctx)
            model_seconds += time.perf_counter() - before
            pointer = llama_cpp.llama_get_logits(ctx)
            logits = np.ctypeslib.as_array(pointer, shape=(len(chunk), n_vocab))
            scores.append(log_probabilities(logits, targets[start : start + len(chunk)])[0])
        seconds = time.perf_counter() - started
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
    # The last position predicts nothing in the file; every other one scores its next token.
    mean_surprise = -float(np.concatenate(scores)[:-1].mean())
    lines = len(text.splitlines())
    log(
        f"scan: {path.name}, {lines} lines, {len(tokens)} positions in {seconds:.2f} s "
        f"({len(tokens) / seconds:.0f} per second; llama_decode {model_seconds:.2f} s), "
        f"mean surprise {mean_surprise:.3f} nats"
    )
    return {
        "scan_s": round(seconds, 3),
        "scan_positions_per_s": round(len(tokens) / seconds, 1),
        "scan_positions": len(tokens),
        "scan_lines": lines,
        "scan_decode_s": round(model_seconds, 3),
        "scan_mean_surprise_nats": round(mean_surprise, 4),
    }


def measure_docs_memory(args):
    """Runs this script with --docs-memory in a fresh process, so that its peak RSS is the ten
    documents' alone, and returns its JSON object (empty when it fails)."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--docs-memory",
        "--model", str(args.model), "--threads", str(args.threads), "--n-batch", str(args.n_batch),
        "--docs", str(args.docs), "--doc-tokens", str(args.doc_tokens),
    ]
    if args.flash_attn:
        command.append("--flash-attn")
    if args.docs_swa_full:
        command.append("--docs-swa-full")
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    log(f"docs memory: {command[1]} --docs-memory exited {result.returncode} without figures")
    return {}


def docs_corpus(vocab, needed):
    """Tokens of this repository's Rust sources, as incremental_bench's `corpus` takes them
    (file by file here; only the token boundaries between files can differ)."""
    files = sorted(
        (path for directory in DOCS_DIRS for path in (REPO / directory).glob("*.rs")),
        key=lambda path: path.parts,  # Rust sorts paths by component
    )
    tokens = []
    while len(tokens) < needed:
        if not files:
            raise RuntimeError(f"no Rust sources under {REPO} for the documents")
        for path in files:
            tokens += tokenize_raw(vocab, path.read_text(encoding="utf-8"), add_bos=False)
            if len(tokens) >= needed:
                break
    return tokens[:needed]


def docs_memory_main(args):
    """--docs-memory: load the model, hold --docs documents of --doc-tokens tokens (BOS first),
    one sequence each in one context, and print the peak RSS."""
    # Quiet, as the Llama objects of the parent are (verbose=False): llama.cpp logs every tensor.
    llama_logger.set_verbose(False)
    llama_cpp.llama_backend_init()
    model = llama_cpp.llama_model_load_from_file(
        str(args.model).encode("utf-8"), llama_cpp.llama_model_default_params()
    )
    if not model:
        log(f"cannot load {args.model}")
        return 2
    vocab = llama_cpp.llama_model_get_vocab(model)
    bos = llama_cpp.llama_vocab_bos(vocab)
    rss_model = proc_status_kb("VmRSS:")
    params = context_params(
        args, args.docs * args.doc_tokens, n_seq_max=args.docs, swa_full=args.docs_swa_full
    )
    ctx = new_context(model, params)
    batch = llama_cpp.llama_batch_init(args.n_batch, 0, 1)
    corpus = docs_corpus(vocab, args.docs * (args.doc_tokens - 1))
    started = time.perf_counter()
    for doc in range(args.docs):
        body = corpus[doc * (args.doc_tokens - 1) : (doc + 1) * (args.doc_tokens - 1)]
        tokens = [bos] + body
        for start in range(0, len(tokens), args.n_batch):
            decode(ctx, batch, tokens[start : start + args.n_batch], start, doc, False)
        llama_cpp.llama_synchronize(ctx)
        log(f"  document {doc}: {len(tokens)} tokens, RSS {proc_status_kb('VmRSS:') / 1000:.0f} MB")
    seconds = time.perf_counter() - started
    peak = proc_status_kb("VmHWM:")
    log(
        f"docs memory: {args.docs} documents of {args.doc_tokens} tokens in {seconds:.1f} s, "
        f"peak RSS {peak / 1000:.0f} MB (model alone {rss_model / 1000:.0f} MB)"
    )
    print(json.dumps({
        "rss_10_docs_mb": round(peak / 1000, 1),
        "rss_before_docs_mb": round(rss_model / 1000, 1),
        "docs_memory_docs": args.docs,
        "docs_memory_doc_tokens": args.doc_tokens,
        "docs_memory_swa_full": bool(args.docs_swa_full),
        "docs_memory_eval_s": round(seconds, 2),
    }))
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    llama_cpp.llama_model_free(model)
    return 0


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
    parser.add_argument(
        "--scan-file", default=str(DEFAULT_SCAN_FILE),
        help="file the diagnostics scan scores (default: %(default)s; empty: no scan)",
    )
    parser.add_argument("--docs", type=int, default=10, help="documents held for rss_10_docs_mb (0: none)")
    parser.add_argument("--doc-tokens", type=int, default=2048, help="tokens per document, BOS included")
    parser.add_argument(
        "--docs-swa-full", action="store_true",
        help="cache the sliding-window layers in full while holding the documents (llama-server: --swa-full)",
    )
    parser.add_argument("--docs-memory", action="store_true", help=argparse.SUPPRESS)  # the child
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
    reps = max(args.reps, 3)
    report = {}
    for length in lengths:
        rate = measure_pp(bench, pp_prompt(long_tokens, length), reps)
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
    if args.docs_memory:
        return docs_memory_main(args)
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

    pp512 = measure_pp(bench, pp_prompt(long_tokens, 512), max(args.reps, 3))
    log(f"pp512: {pp512:.1f} t/s")
    pp1536 = measure_pp(bench, pp_prompt(long_tokens, 1536), max(args.reps, 3))
    log(f"pp1536: {pp1536:.1f} t/s")
    tg = measure_tg(bench, long_tokens[1:129], max(args.reps, 3))
    log(f"tg128: {tg:.1f} t/s")
    # Taken before the scan, whose all-position logits (n_batch × vocabulary floats) would
    # otherwise become this process's peak.
    rss_peak = round(vm_hwm_mb() or 0.0, 1)

    scan = measure_scan(bench, args) if args.scan_file else {}
    docs = measure_docs_memory(args) if args.docs > 0 else {}

    report = {
        "cold_prompt_ttft_ms": round(cold_ms, 2),
        "keystroke_ttft_ms_p50": round(nearest_rank(keystrokes, 50), 2),
        "keystroke_ttft_ms_p95": round(nearest_rank(keystrokes, 95), 2),
        "decode_tps": round(decode_tps, 2),
        "pp512_tps": round(pp512, 2),
        "pp1536_tps": round(pp1536, 2),
        "tg_tps": round(tg, 2),
        "llama_cpp_python_version": version,
        "cold_prompt_tokens": len(long_tokens),
        "keystrokes": len(keystrokes),
        "keystroke_tokens_evaluated_mean": round(evaluated, 2),
        "keystroke_tokenize_ms_p50": round(nearest_rank(tokenizing, 50), 2),
        "edit_replay_cases": len(prompts),
        "threads": args.threads,
        "flash_attn": args.flash_attn,
        "rss_peak_mb": rss_peak,
    }
    report.update(scan)
    report.update(docs)
    report["load_average_before"] = load_before
    report["load_average_after"] = load_average()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
