//! The guards a reasoning chain's result must pass before it is applied: on the output the default model (Gemma 3 270M) gave in Helix (recorded in issue 16), on variants of it, and on correct rewrites they must let through.

use rill_server::reasoning::guards::{check, check_explanation, Proposal, Rejection};
use rill_server::reasoning::prompt::{instruction_texts, ReasoningRequest, ReasoningTask};

const MEAN: &str = "def mean(xs):\n    return sum_all(xs) / len(xs)\n";

/// rill's own prompt texts for a chain of `task` on `code` (leaked: the proposals borrow them).
fn instructions(task: ReasoningTask, language_id: &str, code: &str) -> &'static [String] {
    let request = ReasoningRequest {
        task,
        language_id,
        code,
        context_before: "",
        problem: None,
        max_steps: 2,
    };
    Vec::leak(instruction_texts(&request))
}

fn proposal<'a>(
    task: ReasoningTask,
    language_id: &'a str,
    original: &'a str,
    result: &'a str,
) -> Proposal<'a> {
    Proposal {
        task,
        language_id,
        original,
        result,
        step_text: "",
        instructions: instructions(task, language_id, original),
    }
}

/// Recorded in Helix: "improve step by step" on `mean` answered with the prompt's JavaScript
/// example, and the chain applied it over the Python code.
#[test]
fn the_prompts_javascript_example_is_never_applied_to_python() {
    let recorded = "function activeNames(users) {\n  return users.filter((user) => user.active).map((user) => user.name);\n}\n";
    let verdict = check(&proposal(ReasoningTask::Improve, "python", MEAN, recorded));
    assert!(
        matches!(verdict, Err(Rejection::OtherLanguage { .. })),
        "{verdict:?}"
    );
    let words = verdict.unwrap_err().describe("python");
    assert!(words.contains("not python"), "{words}");
}

/// The same example copied into a JavaScript file: the language matches, the copy check does not.
#[test]
fn a_copied_example_is_caught_even_in_the_examples_language() {
    let original = "function totalPrice(items) {\n  var sum = 0;\n  for (var i = 0; i < items.length; i++) {\n    sum += items[i].price;\n  }\n  return sum;\n}\n";
    let recorded = "function activeNames(users) {\n  return users.filter((user) => user.active).map((user) => user.name);\n}\n";
    let verdict = check(&proposal(
        ReasoningTask::Improve,
        "javascript",
        original,
        recorded,
    ));
    assert!(
        matches!(verdict, Err(Rejection::CopiedExample { .. })),
        "{verdict:?}"
    );
}

/// The fix example's body pasted over another function keeps Python syntax but is about the
/// example, not the selection.
#[test]
fn the_fix_examples_body_is_caught_as_a_copy() {
    let original =
        "def sum_all(xs):\n    acc = 0\n    for x in xs:\n        acc = acc + x\n    return acc\n";
    let recorded = "def sum_all(xs):\n    total = 0\n    for value in values:\n        total += value\n    return total / len(values)\n";
    let verdict = check(&proposal(ReasoningTask::Fix, "python", original, recorded));
    assert!(
        matches!(verdict, Err(Rejection::CopiedExample { .. })),
        "{verdict:?}"
    );
}

#[test]
fn a_result_about_something_else_is_rejected() {
    let original = "def parse_header(line, separator):\n    key, value = line.split(separator, 1)\n    return key.strip(), value.strip()\n";
    let result = "def parse_header(data):\n    print(\"hello world\")\n";
    let verdict = check(&proposal(
        ReasoningTask::Improve,
        "python",
        original,
        result,
    ));
    assert!(
        matches!(verdict, Err(Rejection::Unrelated { .. })),
        "{verdict:?}"
    );
}

#[test]
fn fix_and_improve_keep_the_definitions_and_their_parameters() {
    // A parameter dropped without a word about it.
    let result = "def mean():\n    return sum_all(xs) / len(xs)\n";
    let verdict = check(&proposal(ReasoningTask::Fix, "python", MEAN, result));
    assert!(
        matches!(verdict, Err(Rejection::DefinitionChanged { .. })),
        "{verdict:?}"
    );
    // The function renamed without a word about it.
    let result = "def average(xs):\n    return sum_all(xs) / len(xs)\n";
    let verdict = check(&proposal(ReasoningTask::Improve, "python", MEAN, result));
    assert!(
        matches!(verdict, Err(Rejection::DefinitionChanged { .. })),
        "{verdict:?}"
    );
    // A step that says it renames may.
    let mut renamed = proposal(ReasoningTask::Improve, "python", MEAN, result);
    renamed.step_text = "Rename the function to average\nWhy: it computes the average.";
    assert_eq!(check(&renamed), Ok(()));
}

#[test]
fn correct_rewrites_pass() {
    // An empty-list guard and type hints: names and parameters kept, still Python.
    let result = "def mean(xs: list[float]) -> float:\n    if not xs:\n        return 0.0\n    return sum_all(xs) / len(xs)\n";
    assert_eq!(
        check(&proposal(ReasoningTask::Improve, "python", MEAN, result)),
        Ok(())
    );
    // A multi-line dict literal is Python too.
    let result = "def mean(xs):\n    names = {\n        \"total\": sum_all(xs),\n    }\n    return names[\"total\"] / len(xs)\n";
    assert_eq!(
        check(&proposal(ReasoningTask::Improve, "python", MEAN, result)),
        Ok(())
    );
    // Python's `//` is an operator and a `;` in a string is text.
    let result = "def mean(xs):\n    print(\"a; b {\")  # ok;\n    return sum_all(xs) // len(xs)\n";
    assert_eq!(
        check(&proposal(ReasoningTask::Fix, "python", MEAN, result)),
        Ok(())
    );
    // Rust's match arms use `=>`; `&self` and `mut` are not parameter names.
    let original = "fn area(&self, scale: f64) -> f64 {\n    self.w * self.h * scale\n}\n";
    let result = "fn area(&self, mut scale: f64) -> f64 {\n    match scale {\n        s if s < 0.0 => 0.0,\n        _ => self.w * self.h * scale,\n    }\n}\n";
    assert_eq!(
        check(&proposal(ReasoningTask::Fix, "rust", original, result)),
        Ok(())
    );
    // A language rill has no markers for is not judged on syntax.
    assert_eq!(
        check(&proposal(
            ReasoningTask::Fix,
            "lua",
            "x = 1\n",
            "local x = 1\n"
        )),
        Ok(())
    );
}

#[test]
fn python_syntax_in_a_javascript_file_is_rejected() {
    let original = "function mean(xs) {\n  return sumAll(xs) / xs.length;\n}\n";
    let result = "def mean(xs):\n    return sumAll(xs) / len(xs)\n";
    let verdict = check(&proposal(
        ReasoningTask::Fix,
        "javascript",
        original,
        result,
    ));
    assert!(
        matches!(verdict, Err(Rejection::OtherLanguage { .. })),
        "{verdict:?}"
    );
}

/// Recorded from the default model on `tests/fixtures/sizes.py` (the e2e fix chain): the steps
/// repeat the fix example's titles and reasons, and the code turns a sum of file sizes into an
/// average over directories.
#[test]
fn a_chain_that_repeats_the_examples_reasoning_is_rejected() {
    let original = "def total_size(paths):\n    \"\"\"Return the total size of the given files in bytes.\"\"\"\n    total = 0\n    for path in paths:\n        if os.path.isfile(path):\n            total += os.path.getsize(path)\n    retrun total\n";
    let recorded = "def total_size(paths):\n    if not paths:\n        return 0\n    ret = 0\n    for path in paths:\n        if os.path.isdir(path):\n            ret += os.path.getsize(path)\n    return ret / len(paths)\n";
    let mut chain = proposal(ReasoningTask::Fix, "python", original, recorded);
    chain.step_text = "Handle an empty list\ndividing by `len(paths)` raises ZeroDivisionError when the list is empty.\n";
    let verdict = check(&chain);
    assert!(
        matches!(verdict, Err(Rejection::CopiedReasoning { .. })),
        "{verdict:?}"
    );
    // Reasons of its own that happen to share a few words with the example pass.
    let fixed = "def total_size(paths):\n    \"\"\"Return the total size of the given files in bytes.\"\"\"\n    total = 0\n    for path in paths:\n        if os.path.isfile(path):\n            total += os.path.getsize(path)\n    return total\n";
    let mut own = proposal(ReasoningTask::Fix, "python", original, fixed);
    own.step_text = "Spell the return keyword\n`retrun` is not a keyword, so the function fails when the list is empty or not.\n";
    assert_eq!(check(&own), Ok(()));
}

/// Recorded from SmolLM2-135M-Instruct through its chat template (tests/tests/reasoning_instruct.rs):
/// the step titles are the format's placeholder and a sentence of the instructions, and the "fix"
/// computes the mean of the squares.
#[test]
fn steps_titled_with_the_prompts_own_text_are_rejected() {
    let original = "def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    retrun total / len(xs)\n";
    let recorded = "def mean(xs):\n    return sum(x * x for x in xs) / len(xs)\n";
    for title in ["<step title, one line>", "Use at most 2 small steps."] {
        let mut chain = proposal(ReasoningTask::Fix, "python", original, recorded);
        chain.step_text = title;
        let verdict = check(&chain);
        assert!(
            matches!(verdict, Err(Rejection::CopiedReasoning { .. })),
            "{title}: {verdict:?}"
        );
    }
    // A title of its own passes this check.
    let fixed = "def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs)\n";
    let mut own = proposal(ReasoningTask::Fix, "python", original, fixed);
    own.step_text = "Spell the return keyword\nWhy: `retrun` is a name, not a keyword.\n";
    assert_eq!(check(&own), Ok(()));
}

/// Recorded in the Neovim e2e run: "explain step by step" on `mul` answered with the fix example's
/// reason, the name swapped in.
#[test]
fn an_explanation_that_repeats_the_prompts_example_is_set_aside() {
    let code = "def mul(a, b):\n    return a * b\n";
    let mut explanation = proposal(ReasoningTask::Explain, "python", code, code);
    explanation.step_text =
        "Use the variable that holds the sum\n`mul` is a typo; the sum is stored in `total`.\n";
    let verdict = check_explanation(&explanation);
    assert!(
        matches!(verdict, Err(Rejection::CopiedReasoning { .. })),
        "{verdict:?}"
    );
    explanation.step_text =
        "Multiply the arguments\nThe function returns the product of `a` and `b`.\n";
    assert_eq!(check_explanation(&explanation), Ok(()));
}

/// Recorded from the default model on `reasoning_bench` (heapq's `_heappop_max` with `retrun`):
/// the "fix" rewrote the docstring and kept the misspelled keyword, and was applied.
#[test]
fn a_fix_that_changes_only_a_docstring_is_rejected() {
    let original = "def _heappop_max(heap):\n    \"\"\"Maxheap version of a heappop.\"\"\"\n    lastelt = heap.pop()    # raises appropriate IndexError if heap is empty\n    if heap:\n        returnitem = heap[0]\n        heap[0] = lastelt\n        _siftup_max(heap, 0)\n        retrun returnitem\n    return lastelt\n";
    let recorded = original.replace("a heappop.", "a stack.");
    let verdict = check(&proposal(ReasoningTask::Fix, "python", original, &recorded));
    assert_eq!(verdict, Err(Rejection::OnlyProse));
    let fixed = original.replace("retrun returnitem", "return returnitem");
    assert_eq!(
        check(&proposal(ReasoningTask::Fix, "python", original, &fixed)),
        Ok(())
    );
}

#[test]
fn a_result_the_model_finds_much_less_likely_is_rejected_in_words() {
    use rill_server::reasoning::guards::{model_prefers, MAX_PREFERENCE_DROP};
    // Mean log probabilities per token: a result as likely, or likelier, passes.
    assert!(model_prefers(-1.2, -1.1).is_ok());
    assert!(model_prefers(-1.2, -1.2 - MAX_PREFERENCE_DROP * 0.9).is_ok());
    let rejection = model_prefers(-1.2, -1.2 - MAX_PREFERENCE_DROP * 2.0).unwrap_err();
    assert!(matches!(rejection, Rejection::ModelPrefersOriginal { .. }));
    let words = rejection.describe("python");
    assert!(words.contains("much less likely"), "{words}");
    assert!(words.contains("1.20"), "{words}");
    // A result the model could not score at all is never taken as better.
    assert!(model_prefers(-1.2, f32::NEG_INFINITY).is_err());
}

#[test]
fn a_one_word_fix_that_happens_to_spell_the_examples_words_is_not_a_copy() {
    // The fix example sums `values` into `total`; so does this fix, one word changed.
    let original = "def mean(values):\n    total = 0\n    for value in values:\n        total += values\n    return total / len(values)\n";
    let fixed = original.replace("total += values", "total += value");
    let mut fix = proposal(ReasoningTask::Fix, "python", original, &fixed);
    fix.step_text = "Add each value, not the list\n`total += values` adds the list every time\n";
    assert_eq!(check(&fix), Ok(()));
}
