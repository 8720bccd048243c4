"""Unit tests of benches/compare.py's table logic: python3 -m unittest benches/test_compare.py"""

import io
import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402  (after the path tweak)
from compare import DASH, LLAMA, Row, Source  # noqa: E402

RILL = {
    "keystroke_ttft_ms_p50": 12.0,
    "keystroke_ttft_ms_p95": 60.0,
    "cold_prompt_ttft_ms": 3000.0,
    "rss_10_docs_mb": 450.4,
    "bytes_per_cached_token": 18432,
    "decode_tps_plain": 40.0,
    "decode_tps_speculative": 90.0,
    "speculative_speedup": 2.25,
    "acceptance_rate": 0.8,
    "tokens_per_forward": 2.5,
    "first_partial_ms_p50": 30.0,
    "first_partial_ms_p95": 80.0,
    "prewarmed_first_completion_ms": 120.0,
    "served_without_model_fraction": 0.375,
    "cpu_seconds_per_keystroke": 0.05,
    "prefill_512_tps": 900.0,
    "prefill_1536_tps": 700.0,
    "decode_300_tps": 95.0,
    "diagnostics_scan_s": 11.4,
    "diagnostics_scan_positions_per_s": 445.0,
}
LLAMA_VALUES = {
    "keystroke_ttft_ms_p50": 40.0,
    "keystroke_ttft_ms_p95": 100.0,
    "cold_prompt_ttft_ms": 2500.0,
    "decode_tps": 50.0,
    "pp512_tps": 400.0,
    "pp1536_tps": 875.0,
    "tg_tps": 47.0,
    "scan_s": 38.0,
    "scan_positions_per_s": 133.4,
    "rss_10_docs_mb": 615.8,
    "llama_cpp_python_version": "0.3.36",
}


def sources(rill=RILL, llama=LLAMA_VALUES):
    result = {name: Source(name, values=rill) for name in compare.RILL_BENCHES}
    result[LLAMA] = Source(LLAMA, values=llama)
    return result


def rows_by_label(table):
    return {row[0]: row for row in table}


class RatioAndMet(unittest.TestCase):
    def test_ratio_is_rill_over_llama(self):
        self.assertAlmostEqual(compare.ratio(20.0, 40.0), 0.5)
        self.assertIsNone(compare.ratio(None, 40.0))
        self.assertIsNone(compare.ratio(20.0, None))
        self.assertIsNone(compare.ratio(20.0, 0.0))

    def test_absolute_and_relative_limits_must_both_hold(self):
        row = Row("x", "ms", ("a", "k"), "k", at_most=25, ratio_at_most=0.5)
        self.assertEqual(compare.met(row, 20.0, 40.0), "yes")
        self.assertEqual(compare.met(row, 20.0, 30.0), "no")  # ratio 0.67
        self.assertEqual(compare.met(row, 26.0, 100.0), "no")  # above 25 ms
        self.assertEqual(compare.met(row, 25.0, 50.0), "yes")  # limits are inclusive

    def test_missing_value_gives_question_mark_unless_something_failed(self):
        row = Row("x", "ms", ("a", "k"), "k", at_most=25, ratio_at_most=0.5)
        self.assertEqual(compare.met(row, 20.0, None), "?")
        self.assertEqual(compare.met(row, 30.0, None), "no")
        self.assertEqual(compare.met(row, None, 40.0), "?")
        self.assertEqual(compare.met(row, None, None), "?")

    def test_at_least_limits(self):
        row = Row("x", "t/s", ("a", "k"), "k", ratio_at_least=1.5)
        self.assertEqual(compare.met(row, 75.0, 50.0), "yes")
        self.assertEqual(compare.met(row, 74.9, 50.0), "no")
        row = Row("x", "t/s", ("a", "k"), at_least=10)
        self.assertEqual(compare.met(row, 10.0, None), "yes")
        self.assertEqual(compare.met(row, 9.0, None), "no")

    def test_row_without_target(self):
        row = Row("x", "", ("a", "k"))
        self.assertEqual(compare.met(row, 1.0, None), DASH)
        self.assertEqual(row.target(), DASH)

    def test_target_text(self):
        row = Row("x", "ms", ("a", "k"), "k", at_most=25, ratio_at_most=0.5)
        self.assertEqual(row.target(), "≤ 25 ms and ≤ 0.5× llama.cpp")
        self.assertEqual(Row("x", "t/s", ratio_at_least=1.0).target(), "≥ 1.0× llama.cpp")
        self.assertEqual(Row("x", "MB", at_most=600).target(), "≤ 600 MB")


class Formatting(unittest.TestCase):
    def test_values(self):
        self.assertEqual(compare.format_value(12.345, "ms"), "12.3 ms")
        self.assertEqual(compare.format_value(3.14159, "ms"), "3.14 ms")
        self.assertEqual(compare.format_value(0.05, "s"), "0.050 s")
        self.assertEqual(compare.format_value(0.375, "%"), "37.5%")
        self.assertEqual(compare.format_value(550.4, "MB"), "550 MB")
        self.assertEqual(compare.format_value(2.5, ""), "2.50")
        self.assertEqual(compare.format_value(1234.6, "t/s"), "1235 t/s")
        self.assertEqual(compare.format_value(None, "ms"), DASH)

    def test_markdown_escapes_pipes(self):
        text = compare.markdown_table(["a", "b"], [["x|y", "1"]])
        self.assertEqual(text.splitlines(), ["| a | b |", "|---|---|", "| x\\|y | 1 |"])


class Table(unittest.TestCase):
    def test_full_results(self):
        table = rows_by_label(compare.build_rows(sources()))
        self.assertEqual(len(table), len(compare.ROWS))
        p50 = table["keystroke → first token, p50"]
        self.assertEqual(p50[1:], ["12.0 ms", "40.0 ms", "0.30×", "≤ 25 ms and ≤ 0.5× llama.cpp", "yes"])
        p95 = table["keystroke → first token, p95"]
        self.assertEqual((p95[3], p95[5]), ("0.60×", "no"))
        self.assertEqual(table["pre-warmed first completion"][2:], [DASH, DASH, "≤ 100 ms", "no"])
        cold = table["cold 1.5k-token prompt → first token"]
        self.assertEqual((cold[3], cold[5]), ("1.20×", "no"))
        plain = table["decode, plain greedy (edit replay)"]
        self.assertEqual((plain[1], plain[2], plain[3], plain[5]), ("40.0 t/s", "50.0 t/s", "0.80×", "no"))
        speculative = table["decode, speculative (edit replay)"]
        self.assertEqual((speculative[3], speculative[5]), ("1.80×", "yes"))
        self.assertEqual(table["memory, 10 open 2k-token documents"][1:],
                         ["450 MB", "616 MB", "0.73×", "≤ 500 MB", "yes"])
        self.assertEqual(table["prefill 512 tokens"][1:],
                         ["900.0 t/s", "400.0 t/s", "2.25×", "≥ 1.0× llama.cpp", "yes"])
        self.assertEqual(table["prefill 1536 tokens"][1:],
                         ["700.0 t/s", "875.0 t/s", "0.80×", "≥ 1.0× llama.cpp", "no"])
        scan = table["diagnostics scan, 491-line file"]
        self.assertEqual(scan[1:], ["11.4 s", "38.0 s", "0.30×", "≤ 10 s and ≤ 1.0× llama.cpp", "no"])
        rate = table["diagnostics scan, positions per second"]
        self.assertEqual(rate[1:], ["445.0 pos/s", "133.4 pos/s", "3.34×", DASH, DASH])
        self.assertEqual(table["typing replay: served by typed-ahead/cache"][1], "37.5%")
        self.assertEqual(table["speculative: draft acceptance rate"][1], "80.0%")
        self.assertEqual(table["llama-bench tg128 (reference)"][1:3], [DASH, "47.0 t/s"])

    def test_failed_rill_benchmark_shows_dash_and_reason(self):
        given = sources()
        given["incremental_bench"] = Source("incremental_bench", reason="exit 101: error: no bin target")
        table = rows_by_label(compare.build_rows(given))
        p50 = table["keystroke → first token, p50"]
        self.assertEqual(p50[1], f"{DASH} (incremental_bench: exit 101: error: no bin target)")
        self.assertEqual((p50[2], p50[3], p50[5]), ("40.0 ms", DASH, "?"))
        # The other benchmarks still count.
        self.assertEqual(table["decode, speculative (edit replay)"][5], "yes")

    def test_missing_llama_cpp(self):
        given = sources()
        given[LLAMA] = Source(LLAMA, reason="skipped: --skip-llama")
        table = rows_by_label(compare.build_rows(given))
        p50 = table["keystroke → first token, p50"]
        self.assertEqual(p50[2:4], [f"{DASH} (skipped: --skip-llama)", DASH])
        self.assertEqual(p50[5], "?")  # 12 ms meets 25 ms; the ratio is unknown
        self.assertEqual(table["keystroke → first token, p95"][5], "no")  # 60 ms fails 50 ms anyway
        self.assertEqual(table["memory, 10 open 2k-token documents"][5], "yes")  # 450 ≤ 500 MB
        self.assertEqual(table["diagnostics scan, 491-line file"][5], "no")  # 11.4 s > 10 s

    def test_old_llama_results_without_the_new_keys(self):
        llama = {key: value for key, value in LLAMA_VALUES.items()
                 if key not in ("pp1536_tps", "scan_s", "scan_positions_per_s", "rss_10_docs_mb")}
        table = rows_by_label(compare.build_rows(sources(llama=llama)))
        prefill = table["prefill 1536 tokens"]
        self.assertEqual(prefill[2], f"{DASH} (llama.cpp printed no `pp1536_tps`)")
        self.assertEqual(prefill[5], "?")
        self.assertEqual(table["prefill 512 tokens"][5], "yes")  # pp512_tps was always there
        memory = table["memory, 10 open 2k-token documents"]
        self.assertEqual((memory[3], memory[5]), (DASH, "yes"))  # no ratio target, 450 ≤ 500 MB

    def test_key_missing_from_output(self):
        rill = dict(RILL)
        del rill["rss_10_docs_mb"]
        rill["acceptance_rate"] = "n/a"  # not a number
        table = rows_by_label(compare.build_rows(sources(rill=rill)))
        memory = table["memory, 10 open 2k-token documents"]
        self.assertEqual(memory[1], f"{DASH} (incremental_bench printed no `rss_10_docs_mb`)")
        self.assertEqual(memory[5], "?")
        self.assertTrue(table["speculative: draft acceptance rate"][1].startswith(DASH))

    def test_no_sources_at_all(self):
        table = compare.build_rows({})
        for row in table:
            self.assertIn(row[5], ("?", DASH))
            self.assertEqual(row[3], DASH)

    def test_zero_llama_value_gives_no_ratio(self):
        llama = dict(LLAMA_VALUES, decode_tps=0.0)
        table = rows_by_label(compare.build_rows(sources(llama=llama)))
        self.assertEqual(table["decode, plain greedy (edit replay)"][3], DASH)
        self.assertEqual(table["decode, plain greedy (edit replay)"][5], "?")


class BusyWarning(unittest.TestCase):
    def test_warns_only_above_three_quarters_of_the_cores(self):
        self.assertIsNone(compare.busy_warning({"load_average_before": "1.40 2.0 2.0"}, cores=2))
        self.assertIn("5.04", compare.busy_warning({"load_average_before": "5.04 4.72 4.37"}, cores=2))
        self.assertIsNone(compare.busy_warning({}, cores=2))
        self.assertIsNone(compare.busy_warning({"load_average_before": "unknown"}, cores=2))


class Diagnose(unittest.TestCase):
    LINE = "rill: 0 flags in 491 lines, scored in 11.4 s (5069 positions, 445 per second)"

    def test_summary_line(self):
        values = compare.parse_diagnose_summary("", ["loading model", self.LINE])
        self.assertEqual(values, {
            "diagnostics_scan_s": 11.4,
            "diagnostics_scan_positions_per_s": 445.0,
            "diagnostics_scan_positions": 5069,
            "diagnostics_scan_lines": 491,
            "diagnostics_scan_flags": 0,
        })
        one = "rill: 1 flag in 3 lines, scored in 0.2 s (20 positions, 100 per second)"
        self.assertEqual(compare.parse_diagnose_summary("", [one])["diagnostics_scan_flags"], 1)
        self.assertIsNone(compare.parse_diagnose_summary(self.LINE, ["no summary"]))  # stderr only

    def test_command(self):
        argv = [str(a) for a in compare.rill_command(compare.DIAGNOSE)]
        self.assertEqual(argv[1:], ["diagnose", "--threads", "2",
                                    str(Path("benches/workloads/diagnostics/textwrap.py"))])
        self.assertTrue(argv[0].endswith(os.path.join("target", "release", "rill")))
        self.assertEqual(compare.rill_command("model_bench")[-3:], ["--", "--json", "--skip-llama"])

    def test_run_parses_stderr(self):
        code = f'import sys; print("x.py:1:1: flag"); print({self.LINE!r}, file=sys.stderr)'
        source, status = compare.run_json("d", [sys.executable, "-c", code], 30, echo=None,
                                          parse=compare.parse_diagnose_summary)
        self.assertEqual((status, source.values["diagnostics_scan_s"]), (0, 11.4))
        source, _ = compare.run_json("d", [sys.executable, "-c", "print('{}')"], 30, echo=None,
                                     parse=compare.parse_diagnose_summary)
        self.assertEqual(source.reason, "printed no summary line")


class Parsing(unittest.TestCase):
    def test_last_json_object(self):
        self.assertEqual(compare.last_json_object('progress\n{"a": 1}\n{"b": 2}\ntrailing\n'), {"b": 2})
        self.assertIsNone(compare.last_json_object("no json\n[1, 2]\n{broken\n"))

    def test_failure_line_prefers_errors(self):
        lines = ["\x1b[1merror\x1b[0m: no bin target named `x`", "help: available bin targets:", "    a"]
        self.assertEqual(compare.failure_line(lines), "error: no bin target named `x`")
        self.assertEqual(compare.failure_line(["one", "two", ""]), "two")
        self.assertEqual(compare.failure_line([]), "")

    def test_load_json_file(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "saved.json")
            with open(path, "w", encoding="utf-8") as file:
                json.dump({"decode_tps": 50.0}, file, indent=2)  # pretty-printed: several lines
            source = compare.load_json_file(LLAMA, path)
            self.assertEqual(source.values, {"decode_tps": 50.0})
            source = compare.load_json_file(LLAMA, os.path.join(directory, "absent.json"))
            self.assertIsNone(source.values)
            self.assertIn("cannot read", source.reason)


class Running(unittest.TestCase):
    def run_python(self, code, timeout=30):
        return compare.run_json("bench", [sys.executable, "-c", code], timeout, echo=None)

    def test_success(self):
        source, code = self.run_python('import sys; print("x", file=sys.stderr); print(\'{"k": 1.5}\')')
        self.assertEqual((code, source.values), (0, {"k": 1.5}))

    def test_failure_keeps_the_reason(self):
        source, code = self.run_python('import sys; print("Error: model missing", file=sys.stderr); sys.exit(3)')
        self.assertEqual(code, 3)
        self.assertIsNone(source.values)
        self.assertEqual(source.reason, "exit 3: Error: model missing")

    def test_no_json(self):
        source, code = self.run_python('print("hello")')
        self.assertEqual((code, source.reason), (0, "printed no JSON object"))

    def test_timeout(self):
        source, code = self.run_python("import time; time.sleep(20)", timeout=0.5)
        self.assertIsNone(code)
        self.assertIn("timed out", source.reason)

    def test_missing_program(self):
        source, code = compare.run_json("bench", ["/nonexistent/program"], 5, echo=None)
        self.assertIsNone(code)
        self.assertIn("cannot start", source.reason)


class Main(unittest.TestCase):
    def test_saved_results_and_missing_venv(self):
        with tempfile.TemporaryDirectory() as directory:
            rill = os.path.join(directory, "rill.json")
            with open(rill, "w", encoding="utf-8") as file:
                json.dump(RILL, file)
            args = compare.parse_args(
                ["--rill-json", rill, "--llama-python", os.path.join(directory, "no", "python")]
            )
            stderr = io.StringIO()
            given = compare.rill_sources(args, echo=stderr)
            given[LLAMA] = compare.llama_source(args, echo=stderr)
            self.assertIn("skipping llama.cpp", stderr.getvalue())
            text = compare.report(given)
            self.assertIn("| keystroke → first token, p50 | 12.0 ms |", text)
            self.assertIn(f"{DASH} (llama.cpp: venv missing", text)
            self.assertIn(f"(from {rill})", text)
            self.assertIn("| prefill 512 tokens | 900.0 t/s |", text)
            self.assertIn("| diagnostics scan, 491-line file | 11.4 s |", text)
            self.assertEqual(set(given), set(compare.RILL_BENCHES) | {LLAMA})

    def test_llama_exit_3_is_reported_as_not_installed(self):
        with tempfile.TemporaryDirectory() as directory:
            fake = os.path.join(directory, "python")
            with open(fake, "w", encoding="utf-8") as file:
                file.write("#!/bin/sh\necho 'cannot import llama_cpp' >&2\nexit 3\n")
            os.chmod(fake, 0o755)
            args = compare.parse_args(["--skip-rill", "--llama-python", fake])
            stderr = io.StringIO()
            source = compare.llama_source(args, echo=stderr)
            self.assertIsNone(source.values)
            self.assertIn("not importable", source.reason)
            self.assertIn("skipping llama.cpp", stderr.getvalue())


if __name__ == "__main__":
    unittest.main()
