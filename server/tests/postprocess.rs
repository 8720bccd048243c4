//! Tests of the suggestion post-processing: mode choice, where single- and multi-line suggestions stop, and the
//! property that a suggestion only grows while the model is still decoding.
//!
//! Fixtures are documents with `┃` marking the cursor, parsed into the `CursorContext` an editor would send.

use proptest::prelude::*;
use rill_server::postprocess::{
    choose_mode, postprocess, CursorContext, Mode, Multiline, Suggestion, TAB_WIDTH,
};

/// The cursor marker in fixtures.
const CURSOR: char = '┃';

/// Parses a fixture such as `"def f(x):\n    return x +┃\n"` into the context around the cursor.
fn context(fixture: &str) -> CursorContext {
    let (before, after) = fixture
        .split_once(CURSOR)
        .expect("the fixture marks the cursor with ┃");
    let line_prefix = before.rsplit('\n').next().unwrap_or_default().to_string();
    let mut rest = after.split('\n');
    let line_suffix = rest.next().unwrap_or_default().to_string();
    let mut following_lines: Vec<String> = rest.map(str::to_string).collect();
    // A final newline terminates the last line; it does not start another one.
    if after.ends_with('\n') {
        following_lines.pop();
    }
    following_lines.truncate(20);
    CursorContext {
        line_prefix,
        line_suffix,
        following_lines,
    }
}

/// Post-processes `raw` at the fixture's cursor in the mode rill would choose itself, and compares the result
/// with `expect` (the text and whether it is complete, or `None` for nothing to show).
#[track_caller]
fn check(fixture: &str, raw: &str, expect: Option<(&str, bool)>) {
    let ctx = context(fixture);
    let mode = choose_mode(&ctx, Multiline::Auto);
    check_in(fixture, mode, raw, expect);
}

/// Like [`check`], in the given mode.
#[track_caller]
fn check_in(fixture: &str, mode: Mode, raw: &str, expect: Option<(&str, bool)>) {
    let ctx = context(fixture);
    let got = postprocess(raw, &ctx, mode);
    let want = expect.map(|(text, complete)| Suggestion {
        text: text.to_string(),
        complete,
    });
    assert_eq!(got, want, "fixture {fixture:?}, raw {raw:?}, {mode:?}");
}

/// Checks the mode chosen for the fixture's cursor under `setting`.
#[track_caller]
fn check_mode(fixture: &str, setting: Multiline, expect: Mode) {
    assert_eq!(
        choose_mode(&context(fixture), setting),
        expect,
        "fixture {fixture:?}, {setting:?}"
    );
}

#[test]
fn fixtures_parse_into_prefix_suffix_and_following_lines() {
    let ctx = context("a\nbc┃de\nf\n\ng\n");
    assert_eq!(ctx.line_prefix, "bc");
    assert_eq!(ctx.line_suffix, "de");
    assert_eq!(ctx.following_lines, ["f", "", "g"]);
    let ctx = context("┃");
    assert_eq!(
        (ctx.line_prefix.as_str(), ctx.line_suffix.as_str()),
        ("", "")
    );
    assert!(ctx.following_lines.is_empty());
}

#[test]
fn mode_choice_table() {
    use Mode::{MultiLine, SingleLine};
    use Multiline::{Always, Auto, Never};
    let table = [
        // Text before the cursor: complete the line.
        ("def f(x):\n    return x +┃\n", Auto, SingleLine),
        ("let x = ┃;", Auto, SingleLine),
        ("    ┃foo()", Auto, SingleLine),
        ("foo(┃x)", Auto, SingleLine),
        ("use std::┃", Auto, SingleLine),
        ("let f = |x| x ->┃", Auto, SingleLine),
        ("todo┃", Auto, SingleLine),
        ("x = 1 # note:┃ more", Auto, SingleLine),
        // Blank lines: write new lines.
        ("┃", Auto, MultiLine),
        ("def f(x):\n    ┃\n", Auto, MultiLine),
        ("\t\t┃  ", Auto, MultiLine),
        // Lines that open a block, with only closing brackets after the cursor.
        ("def f(x):┃\n", Auto, MultiLine),
        ("fn main() {┃}", Auto, MultiLine),
        ("foo(┃)", Auto, MultiLine),
        ("let v = [┃];", Auto, MultiLine),
        ("const f = (x) =>┃", Auto, MultiLine),
        ("items.each do┃", Auto, MultiLine),
        ("if [ -f x ]; then┃", Auto, MultiLine),
        ("café = {┃  ", Auto, MultiLine),
        // The setting overrides the choice.
        ("x = 1┃", Always, MultiLine),
        ("def f():┃", Never, SingleLine),
        ("    ┃", Never, SingleLine),
    ];
    for (fixture, setting, mode) in table {
        check_mode(fixture, setting, mode);
    }
}

#[test]
fn single_line_stops_at_the_first_newline() {
    let doc = "def f(x):\n    return x +┃\n";
    check(doc, " 1", Some((" 1", false)));
    check(doc, " 1  ", Some((" 1", false)));
    check(doc, " 1\n", Some((" 1", true)));
    check(doc, " 1\n    y = 2\n", Some((" 1", true)));
}

#[test]
fn whitespace_only_or_empty_shows_nothing() {
    let doc = "def f(x):\n    return x +┃\n";
    check(doc, "", None);
    check(doc, "   ", None);
    check(doc, " \t", None);
    // A first line with nothing on it ends a single-line suggestion without anything to show.
    check(doc, "\n    y = 2", None);
    check("def f():\n    ┃\n", "   \n  \t", None);
    check("def f():\n    ┃\n", "\n\n", None);
}

#[test]
fn single_line_cuts_at_the_last_occurrence_of_the_suffix() {
    check_in(
        "foo(┃)",
        Mode::SingleLine,
        "a, f(b))",
        Some(("a, f(b)", false)),
    );
    check_in(
        "foo(┃)",
        Mode::SingleLine,
        "a, f(b))\n",
        Some(("a, f(b)", true)),
    );
    check(
        "let s = format!(\"{}\", x┃);",
        ".len());\nnext();",
        Some((".len()", true)),
    );
    // Rust: the model finishes the argument list that the document already closes.
    check(
        "    let n = max(a, ┃);\n",
        "b.len());\n",
        Some(("b.len()", true)),
    );
}

#[test]
fn a_possible_start_of_the_suffix_is_held_back() {
    let doc = "if (x┃) {\n";
    check(doc, " > 0)", Some((" > 0", false)));
    check(doc, " > 0) ", Some((" > 0", false)));
    check(doc, " > 0) {", Some((" > 0", false)));
    check(doc, " > 0) {\n", Some((" > 0", true)));
    // Once the tail can no longer start the suffix it is shown.
    check(doc, " > f(0)", Some((" > f(0", false)));
    check(doc, " > f(0) +", Some((" > f(0) +", false)));
}

#[test]
fn text_that_only_repeats_the_suffix_is_not_shown() {
    check("foo(x┃)", ")", None);
    check("foo(x┃)", ");\n", None);
    check("foo(x┃);", " );", None);
    check_in("foo(┃)", Mode::MultiLine, ")\n", None);
}

#[test]
fn multi_byte_text_is_cut_on_character_boundaries() {
    check("let s = \"caf┃\";", "é\";\n", Some(("é", true)));
    check("let crab = '┃';", "🦀", Some(("🦀", false)));
    check("let crab = '┃';", "🦀';", Some(("🦀", false)));
    // The suffix starts with a multi-byte character, and so may the tail of the line.
    check("f(caf┃é)", "é", None);
    check("f(caf┃é)", "é + é)", Some(("é +", false)));
    check("f(caf┃é)", "e + 🦀", Some(("e + 🦀", false)));
    check(
        "fn greet() {┃",
        "\n    println!(\"héllo 🦀\");\n}\n",
        Some(("\n    println!(\"héllo 🦀\");\n}", true)),
    );
    check(
        "# café\n┃\n",
        "π = 3.14 # ≈\n\n\n",
        Some(("π = 3.14 # ≈", true)),
    );
}

#[test]
fn multi_line_on_a_block_opener_finishes_the_line_with_the_suffix() {
    // JavaScript and Go calls written on one line end where the document's own `)` begins.
    check(
        "const doubled = arr.map(┃);",
        "(v) => v * 2);\nconsole.log(doubled);",
        Some(("(v) => v * 2", true)),
    );
    check(
        "\tfmt.Println(┃)",
        "\"hello\")\n",
        Some(("\"hello\"", true)),
    );
    check_in(
        "foo(┃)",
        Mode::MultiLine,
        "a, f(b))",
        Some(("a, f(b)", false)),
    );
}

#[test]
fn python_block_ends_by_indentation() {
    let doc = "def add(a, b):┃\n";
    check(
        doc,
        "\n    return a + b\n\ndef sub(a, b):\n    return a - b\n",
        Some(("\n    return a + b", true)),
    );
    check(doc, "\n    return a", Some(("\n    return a", false)));
    // A dedent is known as soon as the line's first character arrives.
    check(
        doc,
        "\n    return a + b\np",
        Some(("\n    return a + b", true)),
    );
    check(
        "class A:\n    def f(self):┃\n",
        "\n        if self.x:\n            return 1\n        return 2\n    def g(self):\n",
        Some((
            "\n        if self.x:\n            return 1\n        return 2",
            true,
        )),
    );
}

#[test]
fn blank_line_block_ends_below_the_cursor_column() {
    let doc = "def f(x):\n    y = x * 2\n    ┃\n";
    check(doc, "return y\nprint(f(2))\n", Some(("return y", true)));
    check(
        doc,
        "if y:\n        y += 1\n    return y",
        Some(("if y:\n        y += 1\n    return y", false)),
    );
    check(doc, "return y\n  ", Some(("return y", false)));
}

#[test]
fn blank_line_in_column_zero_takes_the_completion_s_indentation() {
    // Editors often strip the indentation of empty lines, leaving the cursor in column 0 inside a block.
    check(
        "def f(x):\n    y = x * 2\n┃\n",
        "    return y\n\ndef g():\n    pass\n",
        Some(("    return y", true)),
    );
}

#[test]
fn two_blank_lines_end_the_suggestion() {
    check("┃", "import os\n\n\nimport sys", Some(("import os", true)));
    check(
        "┃",
        "import os\n\nimport sys",
        Some(("import os\n\nimport sys", false)),
    );
    check(
        "def f():┃",
        "  \n    x = 1   \n    y = 2\t\n\n\n    z = 3",
        Some(("\n    x = 1\n    y = 2", true)),
    );
}

#[test]
fn closing_brace_at_the_opener_s_indentation_is_included() {
    let doc = "fn main() {┃";
    check(
        doc,
        "\n    println!(\"hi\");\n}\n\nfn other() {}\n",
        Some(("\n    println!(\"hi\");\n}", true)),
    );
    // Until its newline, `}` might still become `} else {`, so it is held back.
    check(
        doc,
        "\n    println!(\"hi\");\n}",
        Some(("\n    println!(\"hi\");", false)),
    );
    check(
        "    while (1) {┃",
        "\n        work();\n    }\n    done();\n",
        Some(("\n        work();\n    }", true)),
    );
    check(
        "items.forEach((item) => {┃",
        "\n  console.log(item);\n});\n",
        Some(("\n  console.log(item);\n});", true)),
    );
    check(
        "func main() {┃",
        "\n\tfmt.Println(\"hi\")\n}\n",
        Some(("\n\tfmt.Println(\"hi\")\n}", true)),
    );
}

#[test]
fn other_lines_at_the_opener_s_indentation_end_the_block() {
    check(
        "    if x {┃",
        "\n        a();\n    } else {\n        b();\n    }\n",
        Some(("\n        a();", true)),
    );
    check(
        "    if x {┃",
        "\n        a();\n    }e",
        Some(("\n        a();", true)),
    );
    check(
        "    if x {┃",
        "\n        a();\n    b",
        Some(("\n        a();", true)),
    );
}

#[test]
fn end_keywords_close_ruby_and_lua_blocks() {
    check(
        "loop do┃",
        "\n  tick\nend\nputs 1\n",
        Some(("\n  tick\nend", true)),
    );
    check("if x then┃", "\n  y()\nen", Some(("\n  y()", false)));
    check("if x then┃", "\n  y()\nend\n", Some(("\n  y()\nend", true)));
    check("if x then┃", "\n  y()\nending = 1", Some(("\n  y()", true)));
}

#[test]
fn closing_line_is_left_out_when_the_document_already_closes_the_block() {
    // The next line of the document is the same `}`.
    check(
        "fn main() {┃\n}\n",
        "\n    run();\n}\n",
        Some(("\n    run();", true)),
    );
    check(
        "int main(void) {\n    for (int i = 0; i < n; i++) {┃\n    }\n}\n",
        "\n        sum += i;\n    }\n    return sum;\n",
        Some(("\n        sum += i;", true)),
    );
    // The text after the cursor closes it on the cursor's own line.
    check(
        "fn main() {┃}",
        "\n    run();\n}\n",
        Some(("\n    run();", true)),
    );
}

#[test]
fn tabs_count_as_four_columns() {
    assert_eq!(TAB_WIDTH, 4);
    check(
        "func f() {\n\tif ok {┃\n",
        "\n\t\treturn\n\t}\n\treturn\n",
        Some(("\n\t\treturn\n\t}", true)),
    );
    // Four spaces are as deep as the one tab of the opener's line, so this line ends the block.
    check(
        "\tif ok {┃",
        "\n        x()\n    y()\n",
        Some(("\n        x()", true)),
    );
    check(
        "\t┃\n",
        "a = 1\n\t  b = 2\n   c = 3\n",
        Some(("a = 1\n\t  b = 2", true)),
    );
}

#[test]
fn repetition_of_the_next_line_ends_the_suggestion() {
    let doc = "def f(x):\n    ┃\n    return x\n";
    check(doc, "y = x\n    return x\n", Some(("y = x", true)));
    // A line that may still become the next line is held back; it is shown once it differs.
    check(doc, "y = x\n    return", Some(("y = x", false)));
    check(doc, "y = x\n    return x", Some(("y = x", false)));
    check(
        doc,
        "y = x\n    return x + 1",
        Some(("y = x\n    return x + 1", false)),
    );
    check(
        doc,
        "y = x\n    return x + 1\n    return x\n",
        Some(("y = x\n    return x + 1", true)),
    );
    // The model's first line on a blank cursor line is a whole line, and may be the copy.
    check("    a = 1\n    ┃\n    b = 2\n", "b = 2\n", None);
    check("def f(x):┃\n    return x\n", "\n    return x\n", None);
}

#[test]
fn forced_modes_apply_their_rules() {
    check_in(
        "    total = add(a,┃\n",
        Mode::MultiLine,
        "\n        b,\n    )\nprint(total)\n",
        Some(("\n        b,\n    )", true)),
    );
    check_in("def f():┃", Mode::SingleLine, "\n    pass", None);
    check_in(
        "def f():┃",
        Mode::SingleLine,
        " pass\n",
        Some((" pass", true)),
    );
}

/// Checks, for every prefix of `raw`, that a result that is not complete is extended by the result of every
/// longer prefix, and that a complete result never changes again.
#[track_caller]
fn assert_grows(ctx: &CursorContext, mode: Mode, raw: &str) {
    let cuts: Vec<usize> = raw
        .char_indices()
        .map(|(at, _)| at)
        .chain([raw.len()])
        .collect();
    let results: Vec<(&str, Option<Suggestion>)> = cuts
        .iter()
        .map(|&at| (&raw[..at], postprocess(&raw[..at], ctx, mode)))
        .collect();
    for (i, (short, earlier)) in results.iter().enumerate() {
        let Some(earlier) = earlier else { continue };
        for (long, later) in &results[i + 1..] {
            let Some(later) = later else {
                panic!("{ctx:?} {mode:?}: {short:?} gave {earlier:?} but {long:?} gave nothing");
            };
            if earlier.complete {
                assert_eq!(
                    later, earlier,
                    "{ctx:?} {mode:?}: changed after completion: {short:?} -> {long:?}"
                );
            } else {
                assert!(
                    later.text.starts_with(&earlier.text),
                    "{ctx:?} {mode:?}: {short:?} gave {earlier:?} but {long:?} gave {later:?}"
                );
            }
        }
    }
}

/// Fixtures covering every mode and block kind, with continuations that hit every stop rule.
const FIXTURES: [&str; 14] = [
    "def f(x):\n    return x +┃\n",
    "def f(x):┃\n    return x\n",
    "def f(x):\n    y = x\n    ┃\n    return y\n",
    "def f(x):\n    y = x\n┃\n",
    "fn main() {┃",
    "fn main() {┃}",
    "fn main() {┃\n}\n",
    "\tif ok {┃\n\t}\n",
    "foo(┃)",
    "f(caf┃é)",
    "if (x┃) {\n",
    "if x then┃",
    "    total = add(a,┃\n",
    "let s = '┃';",
];

const RAWS: [&str; 10] = [
    "\n    return x + 1\n\ndef g():\n    pass\n",
    "a, f(b)) + g(c))\nnext",
    " > 0) { y(); } ) {\n",
    "é + é) + 🦀é)\n",
    "\n    println!(\"hi\");\n}\n\nfn other() {}\n",
    "\n\t\treturn\n\t} else {\n\t\tx\n\t}\n",
    "y = x\n    return x + 1\n    return x\n",
    "\n  y()\nend\nending\n",
    "import os\n\n\nimport sys",
    "  \n    x = 1   \n    y = 2\t\n    )\n}\n",
];

#[test]
fn suggestions_only_grow_while_incomplete() {
    for fixture in FIXTURES {
        let ctx = context(fixture);
        for raw in RAWS {
            for mode in [Mode::SingleLine, Mode::MultiLine] {
                assert_grows(&ctx, mode, raw);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The same property on random continuations built from the characters the stop rules look at.
    #[test]
    fn random_suggestions_only_grow_while_incomplete(
        fixture in prop::sample::select(FIXTURES.to_vec()),
        raw in "[ \t\n}){(;:,eéndxr🦀]{0,40}",
        multi in any::<bool>(),
    ) {
        let mode = if multi { Mode::MultiLine } else { Mode::SingleLine };
        assert_grows(&context(fixture), mode, &raw);
    }

    /// The same property, and the absence of panics, on random cursor contexts as well as continuations.
    #[test]
    fn random_contexts_only_grow_while_incomplete(
        line_prefix in "[ \t}){(:,eénd🦀]{0,8}",
        line_suffix in "[ \t}){(:;,eé🦀]{0,4}",
        following_lines in prop::collection::vec("[ \t})e🦀]{0,4}", 0..3),
        raw in "[ \t\n}){(;:,eénd🦀]{0,30}",
        multi in any::<bool>(),
    ) {
        let ctx = CursorContext { line_prefix, line_suffix, following_lines };
        let mode = if multi { Mode::MultiLine } else { Mode::SingleLine };
        assert_grows(&ctx, mode, &raw);
    }

    /// The same property on random continuations made of whole lines, indented at the depths and written with
    /// the words (closing brackets, keywords, copies of the fixtures' lines) where the block rules decide.
    #[test]
    fn random_line_structured_suggestions_only_grow_while_incomplete(
        fixture in prop::sample::select(FIXTURES.to_vec()),
        lines in prop::collection::vec(
            (
                prop::sample::select(vec!["", " ", "  ", "    ", "\t", "\t  ", "        ", "\t\t"]),
                prop::sample::select(vec![
                    "", "}", "});", "} else {", ")", ") {", "end", "ending", "e", "fi", "return x", "return y",
                    "y = x", "x", "é)", "🦀", "a, f(b))", "  ", "\t",
                ]),
            ),
            0..8,
        ),
        multi in any::<bool>(),
    ) {
        let mode = if multi { Mode::MultiLine } else { Mode::SingleLine };
        let raw: Vec<String> = lines.iter().map(|(indent, text)| format!("{indent}{text}")).collect();
        assert_grows(&context(fixture), mode, &raw.join("\n"));
    }
}
