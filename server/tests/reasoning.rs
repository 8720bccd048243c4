//! Tests of the reasoning-chain building blocks: prompts, the tolerant step parser and the step planner, fed with outputs written the way small models write them.

use rill_server::reasoning::parse::{completed_titles, parse_steps, ParsedChain, Step};
use rill_server::reasoning::prompt::{
    build_prompt, BuiltPrompt, PromptError, ReasoningRequest, ReasoningTask, END_MARKER,
    TASK_MARKER,
};
use rill_server::reasoning::steps::{
    applies_to, combined, comment_style, held_state, minimal_change, plan, plan_for_language,
    reasoning_as_comments, CommentStyle, Plan, TextChange,
};

// ---------------------------------------------------------------------------------------------
// Shared fixtures
// ---------------------------------------------------------------------------------------------

const ORIGINAL_PYTHON: &str = "def total_price(items):
    total = 0
    for item in items:
        total += item.price * item.quantity
    return totl
";

/// A well-formed answer to a fix request on `ORIGINAL_PYTHON`, as the prompt asks for it.
const WELL_FORMED: &str = "1. Fix the misspelled variable
Why: `totl` is not defined; the loop accumulates into `total`.
```python
def total_price(items):
    total = 0
    for item in items:
        total += item.price * item.quantity
    return total
```
2. Use a generator with sum
Why: sum() states the intent and removes the manual accumulator.
```python
def total_price(items):
    return sum(item.price * item.quantity for item in items)
```
";

fn titles(chain: &ParsedChain) -> Vec<&str> {
    chain.steps.iter().map(|step| step.title.as_str()).collect()
}

fn step(number: usize, title: &str, code: Option<&str>) -> Step {
    Step {
        number,
        title: title.to_string(),
        rationale: format!("because of {title}"),
        code: code.map(str::to_string),
    }
}

fn has_problem(chain: &ParsedChain, needle: &str) -> bool {
    chain
        .problems
        .iter()
        .any(|problem| problem.contains(needle))
}

// ---------------------------------------------------------------------------------------------
// Prompt
// ---------------------------------------------------------------------------------------------

fn request(task: ReasoningTask) -> ReasoningRequest<'static> {
    ReasoningRequest {
        task,
        language_id: "rust",
        code: "fn area(w: u32, h: u32) -> u32 {\n    w * w\n}\n",
        context_before: "/// Rectangle helpers.\n",
        problem: Some("unused variable: `h`"),
        max_steps: 4,
    }
}

#[test]
fn task_names_round_trip_and_titles_are_the_action_titles() {
    for task in ReasoningTask::ALL {
        assert_eq!(ReasoningTask::from_name(task.command_name()), Some(task));
    }
    assert_eq!(ReasoningTask::from_name("refactor"), None);
    assert_eq!(ReasoningTask::Fix.title(), "rill: fix this step by step");
    assert_eq!(ReasoningTask::Explain.title(), "rill: explain step by step");
    assert_eq!(ReasoningTask::Improve.title(), "rill: improve step by step");
    assert_eq!(ReasoningTask::Improve.command_name(), "improve");
}

#[test]
fn few_shot_prompt_holds_the_task_and_ends_where_a_step_begins() {
    let built = build_prompt(&request(ReasoningTask::Fix), None, "<bos>", "<eos>").unwrap();
    assert!(!built.uses_chat_template);
    assert!(built.text.ends_with("\n1."), "{}", built.text);
    assert_eq!(built.output_prefix, "1.");
    assert!(built
        .text
        .contains("```rust\nfn area(w: u32, h: u32) -> u32 {\n    w * w\n}\n```\n"));
    assert!(built.text.contains("/// Rectangle helpers."));
    assert!(built.text.contains("Problem: unused variable: `h`"));
    assert!(built.text.contains("Steps (at most 4):\n1."));
    assert!(built.stop.contains(&END_MARKER.to_string()));
    assert!(built.stop.contains(&TASK_MARKER.to_string()));
}

#[test]
fn few_shot_task_section_contains_no_stop_string() {
    let built = build_prompt(&request(ReasoningTask::Improve), None, "", "").unwrap();
    let task_start = built.text.rfind(TASK_MARKER).unwrap();
    let task_section = &built.text[task_start + TASK_MARKER.len()..];
    assert!(task_section.starts_with(" improve ==="));
    for stop in &built.stop {
        assert!(!task_section.contains(stop.as_str()), "{stop} in the task");
    }
}

/// The worked examples must be in exactly the format the parser reads, or the model learns a
/// format the parser rejects.
#[test]
fn few_shot_examples_parse_as_two_step_chains() {
    let built = build_prompt(&request(ReasoningTask::Fix), None, "", "").unwrap();
    let examples: Vec<&str> = built
        .text
        .split(END_MARKER)
        .filter_map(|part| part.split_once("Steps (at most 3):\n").map(|(_, s)| s))
        .collect();
    assert_eq!(examples.len(), 2);
    for example in examples {
        let chain = parse_steps(example, 10);
        assert_eq!(chain.steps.len(), 2, "{example}");
        assert!(chain.problems.is_empty(), "{:?}", chain.problems);
        assert!(chain
            .steps
            .iter()
            .all(|s| s.code.is_some() && !s.rationale.is_empty()));
    }
}

#[test]
fn few_shot_prompt_uses_a_longer_fence_for_code_that_contains_one() {
    let code = "doc = \"\"\"\n```python\nprint(1)\n```\n\"\"\"\n";
    let request = ReasoningRequest {
        task: ReasoningTask::Improve,
        language_id: "python",
        code,
        context_before: "",
        problem: None,
        max_steps: 3,
    };
    let built = build_prompt(&request, None, "", "").unwrap();
    assert!(built.text.contains(&format!("````python\n{code}````\n")));
    let task_section = &built.text[built.text.rfind(TASK_MARKER).unwrap()..];
    assert!(!task_section.contains("Context (read only)"));
    assert!(!task_section.contains("Problem:"));
}

#[test]
fn crlf_selections_are_shown_to_the_model_with_lf() {
    let request = ReasoningRequest {
        code: "a = 1\r\nb = 2\r\n",
        language_id: "python",
        ..request(ReasoningTask::Fix)
    };
    let built = build_prompt(&request, None, "", "").unwrap();
    assert!(built.text.contains("```python\na = 1\nb = 2\n```\n"));
    assert!(!built.text.contains('\r'));
}

const GEMMA3_TEMPLATE: &str = r#"{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"#;

const CHATML_QWEN_TEMPLATE: &str = r#"{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"#;

fn chat_prompt(task: ReasoningTask, template: &str) -> Result<BuiltPrompt, PromptError> {
    build_prompt(&request(task), Some(template), "<bos>", "<eos>")
}

#[test]
fn gemma3_instruct_template_renders_one_user_turn_and_prefills_the_first_step() {
    let built = chat_prompt(ReasoningTask::Fix, GEMMA3_TEMPLATE).unwrap();
    assert!(built.uses_chat_template);
    assert!(
        built.text.starts_with("<bos><start_of_turn>user\n"),
        "{}",
        built.text
    );
    assert!(built
        .text
        .ends_with("<end_of_turn>\n<start_of_turn>model\n1."));
    assert_eq!(built.text.matches("<start_of_turn>").count(), 2);
    assert!(built.text.contains("unused variable: `h`"));
    assert!(built
        .text
        .contains("```rust\nfn area(w: u32, h: u32) -> u32 {\n    w * w\n}\n```"));
    assert!(built.text.contains("Why: <one-line rationale>"));
    assert_eq!(built.output_prefix, "1.");
    assert!(built.stop.contains(&"<end_of_turn>".to_string()));
    assert!(built.stop.contains(&"<eos>".to_string()));
}

#[test]
fn chatml_template_renders_the_default_system_turn_and_the_user_turn() {
    let built = chat_prompt(ReasoningTask::Improve, CHATML_QWEN_TEMPLATE).unwrap();
    assert!(built.text.starts_with(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nImprove the code below"
    ), "{}", built.text);
    assert!(built
        .text
        .ends_with("<|im_end|>\n<|im_start|>assistant\n1."));
    assert!(built.text.contains("fn area(w: u32, h: u32)"));
    assert!(built.stop.contains(&"<|im_end|>".to_string()));
}

#[test]
fn chat_template_python_string_methods_are_available() {
    let template = r#"{%- for message in messages %}
{%- set content = message['content'].strip() %}
{%- if content.startswith('Explain') and not content.endswith('nope') %}
{{- '<|im_start|>' + message.role + '\n' + content.split('\n')[0].lstrip('E').upper() + '<|im_end|>\n' }}
{%- endif %}
{%- endfor %}
{{- '<|im_start|>assistant\n' if add_generation_prompt }}"#;
    let built = chat_prompt(ReasoningTask::Explain, template).unwrap();
    assert_eq!(
        built.text,
        "<|im_start|>user\nXPLAIN STEP BY STEP WHAT THE CODE BELOW DOES, ONE IDEA PER STEP.<|im_end|>\n<|im_start|>assistant\n1."
    );
}

#[test]
fn explain_prompt_asks_for_steps_without_code_blocks() {
    let built = chat_prompt(ReasoningTask::Explain, CHATML_QWEN_TEMPLATE).unwrap();
    assert!(built.text.contains("without code blocks"));
    assert!(!built.text.contains("<the complete code after this step>"));
    let fix = chat_prompt(ReasoningTask::Fix, CHATML_QWEN_TEMPLATE).unwrap();
    assert!(fix.text.contains("<the complete code after this step>"));
}

#[test]
fn a_template_that_raises_is_an_error_with_its_message() {
    let template = "{{ raise_exception('System role not supported') }}";
    let error = chat_prompt(ReasoningTask::Fix, template).unwrap_err();
    assert!(matches!(error, PromptError::RenderFailed(_)));
    assert!(
        error.to_string().contains("System role not supported"),
        "{error}"
    );
}

#[test]
fn a_template_that_does_not_parse_is_an_error() {
    let error = chat_prompt(ReasoningTask::Fix, "{% for message in messages %}").unwrap_err();
    assert!(
        matches!(error, PromptError::InvalidTemplate(_)),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

#[test]
fn well_formed_output_parses_cleanly() {
    let chain = parse_steps(WELL_FORMED, 5);
    assert_eq!(
        titles(&chain),
        ["Fix the misspelled variable", "Use a generator with sum"]
    );
    assert_eq!(
        chain.steps[0].rationale,
        "`totl` is not defined; the loop accumulates into `total`."
    );
    assert_eq!(
        chain.steps[1].code.as_deref(),
        Some(
            "def total_price(items):\n    return sum(item.price * item.quantity for item in items)"
        )
    );
    assert_eq!(chain.steps[1].number, 2);
    assert!(chain.problems.is_empty(), "{:?}", chain.problems);
    assert!(!chain.truncated);
}

#[test]
fn markdown_header_styles_and_inline_rationales_are_understood() {
    let output = "**Step 1:** Rename the loop variable — `i` says nothing about what it holds
```
for user in users:
    print(user)
```

### Step 2 - Add a type hint: because readers should know the element type
~~~python
for user in users:  # type: User
    print(user)
~~~
Step 3) **Print the name only**
Rationale: the whole object prints its repr.
```py
for user in users:  # type: User
    print(user.name)
```
";
    let chain = parse_steps(output, 5);
    assert_eq!(
        titles(&chain),
        [
            "Rename the loop variable",
            "Add a type hint",
            "Print the name only"
        ]
    );
    assert_eq!(
        chain.steps[0].rationale,
        "`i` says nothing about what it holds"
    );
    assert_eq!(
        chain.steps[1].rationale,
        "readers should know the element type"
    );
    assert_eq!(
        chain.steps[2].rationale,
        "the whole object prints its repr."
    );
    assert_eq!(
        chain.steps[1].code.as_deref(),
        Some("for user in users:  # type: User\n    print(user)")
    );
    assert!(chain.problems.is_empty(), "{:?}", chain.problems);
}

#[test]
fn a_minus_inside_inline_code_does_not_split_the_title() {
    let chain = parse_steps(
        "1) Use `len(xs) - 1` as the last index\nWhy: off by one.\n",
        5,
    );
    assert_eq!(titles(&chain), ["Use `len(xs) - 1` as the last index"]);
    assert_eq!(chain.steps[0].rationale, "off by one.");
}

#[test]
fn output_without_numbers_has_no_steps_and_says_so() {
    let output = "The function returns the wrong variable. You should return total instead of totl.
```python
def total_price(items):
    return total
```
";
    let chain = parse_steps(output, 5);
    assert!(chain.steps.is_empty());
    assert!(has_problem(&chain, "no numbered steps found"));
    assert!(!chain.truncated);
}

#[test]
fn empty_output_has_no_steps() {
    let chain = parse_steps("", 5);
    assert!(chain.steps.is_empty());
    assert_eq!(chain.problems, ["no numbered steps found"]);
}

#[test]
fn duplicated_step_numbers_keep_the_first() {
    let output = "1. Fix the name
Why: typo.
```python
return total
```
2. Check for empty input
Why: avoid errors.
```python
if not items:
    return 0
return total
```
2. Check for empty input
Why: avoid errors.
```python
if not items:
    return 0
return total
```
";
    let chain = parse_steps(output, 5);
    assert_eq!(titles(&chain), ["Fix the name", "Check for empty input"]);
    assert_eq!(chain.problems, ["step 2 appears twice; kept the first"]);
}

#[test]
fn out_of_order_and_skipped_numbers_are_renumbered_in_order_of_appearance() {
    let output = "1. Fix the name\nWhy: typo.\n```\nreturn total\n```\n3. Add a docstring\nWhy: docs.\n```\n\"\"\"Sum.\"\"\"\nreturn total\n```\n2. Rename\nWhy: clarity.\n```\n\"\"\"Sum.\"\"\"\nreturn sum_total\n```\n";
    let chain = parse_steps(output, 5);
    assert_eq!(
        titles(&chain),
        ["Fix the name", "Add a docstring", "Rename"]
    );
    let numbers: Vec<usize> = chain.steps.iter().map(|s| s.number).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert!(
        has_problem(&chain, "numbered 1, 3, 2"),
        "{:?}",
        chain.problems
    );
}

#[test]
fn output_cut_inside_a_code_block_is_truncated() {
    let output = "1. Fix the misspelled variable
Why: `totl` is not defined.
```python
def total_price(items):
    total = 0
    return total
```
2. Use sum
Why: shorter.
```python
def total_price(items):
    return sum(item.price for";
    let chain = parse_steps(output, 5);
    assert_eq!(chain.steps.len(), 2);
    assert!(chain.steps[0].code.is_some());
    assert_eq!(chain.steps[1].code, None);
    assert!(chain.truncated);
    assert!(has_problem(&chain, "stopped inside step 2's code"));
}

#[test]
fn output_cut_inside_a_title_is_truncated() {
    let output = "1. Fix the misspelled variable\nWhy: typo.\n```python\nreturn total\n```\n2. Guard against an em";
    let chain = parse_steps(output, 5);
    assert!(chain.truncated);
    assert!(has_problem(&chain, "stopped in step 2's title"));
    assert_eq!(chain.steps[1].title, "Guard against an em");
    assert_eq!(chain.steps[1].code, None);
    // Only the complete title line is reported while streaming.
    assert_eq!(completed_titles(output), ["Fix the misspelled variable"]);
}

#[test]
fn a_closing_fence_without_a_final_newline_is_not_truncation() {
    let output = WELL_FORMED.trim_end();
    let chain = parse_steps(output, 5);
    assert!(!chain.truncated, "{:?}", chain.problems);
    assert!(chain.steps[1].code.is_some());
}

#[test]
fn unfenced_indented_code_is_accepted_when_the_step_has_no_fence() {
    let output = "1. Fix the misspelled variable
Why: `totl` is not defined.
    def total_price(items):
        total = 0
        for item in items:
            total += item.price * item.quantity
        return total

2. Explain the fix
Why: readers may wonder.
The function now returns the accumulated total instead of an undefined name.
";
    let chain = parse_steps(output, 5);
    assert_eq!(
        chain.steps[0].code.as_deref(),
        Some("    def total_price(items):\n        total = 0\n        for item in items:\n            total += item.price * item.quantity\n        return total")
    );
    assert_eq!(chain.steps[1].code, None, "prose must not become code");
    assert!(has_problem(&chain, "step 1's code had no fence"));
}

#[test]
fn unfenced_plain_code_lines_after_a_label_are_accepted() {
    let output = "1. Return the total\nWhy: typo.\nUpdated code:\nreturn total\n2. Done\n";
    let chain = parse_steps(output, 5);
    assert_eq!(chain.steps[0].code.as_deref(), Some("return total"));
}

#[test]
fn a_prose_line_after_the_title_becomes_the_rationale() {
    let output = "1. Fix the misspelled variable
The name totl is never assigned anywhere in the function.
```python
return total
```
";
    let chain = parse_steps(output, 5);
    assert_eq!(
        chain.steps[0].rationale,
        "The name totl is never assigned anywhere in the function."
    );
    assert_eq!(chain.steps[0].code.as_deref(), Some("return total"));
}

#[test]
fn crlf_output_parses_like_lf_output() {
    let crlf = WELL_FORMED.replace('\n', "\r\n");
    let chain = parse_steps(&crlf, 5);
    assert_eq!(chain, parse_steps(WELL_FORMED, 5));
    assert!(chain.steps.iter().all(|s| !s.title.contains('\r')));
    assert!(chain.steps[0]
        .code
        .as_deref()
        .is_some_and(|c| !c.contains('\r')));
}

#[test]
fn more_steps_than_the_limit_keeps_the_first_ones() {
    let output = (1..=5)
        .map(|n| format!("{n}. Step number {n}\nWhy: reason {n}.\n```\ncode {n}\n```\n"))
        .collect::<String>();
    let chain = parse_steps(&output, 3);
    assert_eq!(
        titles(&chain),
        ["Step number 1", "Step number 2", "Step number 3"]
    );
    assert!(has_problem(&chain, "wrote 5 steps; kept the first 3"));
}

#[test]
fn chatter_before_and_after_the_steps_is_ignored() {
    let output = "Sure! Here is the step-by-step fix for your code.

1. Fix the misspelled variable
Why: `totl` is not defined.
```python
return total
```

I hope this helps! The final code is:
```python
return something_else
```
Let me know if you have questions.
";
    let chain = parse_steps(output, 5);
    assert_eq!(titles(&chain), ["Fix the misspelled variable"]);
    assert_eq!(chain.steps[0].code.as_deref(), Some("return total"));
    assert!(chain.problems.is_empty(), "{:?}", chain.problems);
}

#[test]
fn explain_steps_without_code_parse_with_rationales() {
    let output = "1. Define the function
Why: `total_price` takes a list of items.
2. Accumulate the prices
Why: the loop adds price times quantity for each item.
3. Return the result
Why: it returns `totl`, which is a typo for `total`.
";
    let chain = parse_steps(output, 5);
    assert_eq!(chain.steps.len(), 3);
    assert!(chain.steps.iter().all(|s| s.code.is_none()));
    assert_eq!(
        chain.steps[1].rationale,
        "the loop adds price times quantity for each item."
    );
    assert!(chain.problems.is_empty(), "{:?}", chain.problems);
    assert!(!chain.truncated);
}

#[test]
fn steps_with_empty_titles_are_skipped() {
    let output = "1.\n```\nreturn total\n```\n2. Add a guard\nWhy: empty input.\n```\nreturn total or 0\n```\n";
    let chain = parse_steps(output, 5);
    assert_eq!(titles(&chain), ["Add a guard"]);
    assert_eq!(chain.steps[0].number, 1);
    assert!(has_problem(&chain, "step 1 has no title"));
}

#[test]
fn a_title_on_the_line_after_a_bare_header_is_used() {
    let output =
        "### Step 1\nRename the accumulator\nWhy: `totl` is a typo.\n```\nreturn total\n```\n";
    let chain = parse_steps(output, 5);
    assert_eq!(titles(&chain), ["Rename the accumulator"]);
    assert_eq!(chain.steps[0].code.as_deref(), Some("return total"));
}

#[test]
fn fences_indented_under_a_list_item_are_dedented() {
    let output =
        "1. Fix the name\n   Why: typo.\n   ```python\n   if x:\n       return total\n   ```\n";
    let chain = parse_steps(output, 5);
    assert_eq!(chain.steps[0].rationale, "typo.");
    assert_eq!(
        chain.steps[0].code.as_deref(),
        Some("if x:\n    return total")
    );
}

#[test]
fn numbered_lines_and_short_fences_inside_code_stay_code() {
    let output = "1. Document the format\nWhy: users ask.\n````markdown\nSteps:\n1. Install\n```sh\nmake\n```\n````\n2. Done\nWhy: nothing else.\n";
    let chain = parse_steps(output, 5);
    assert_eq!(titles(&chain), ["Document the format", "Done"]);
    assert_eq!(
        chain.steps[0].code.as_deref(),
        Some("Steps:\n1. Install\n```sh\nmake\n```")
    );
}

#[test]
fn instruct_style_bold_titles_with_colon_rationales() {
    let output = "Here's how to fix it:

1. **Fix the typo**: `totl` should be `total`.
```python
return total
```

2. **Handle empty input (no items)**
   ```python
   if not items:
       return 0
   return total
   ```
";
    let chain = parse_steps(output, 5);
    assert_eq!(
        titles(&chain),
        ["Fix the typo", "Handle empty input (no items)"]
    );
    assert_eq!(chain.steps[0].rationale, "`totl` should be `total`.");
    assert_eq!(
        chain.steps[1].code.as_deref(),
        Some("if not items:\n    return 0\nreturn total")
    );
}

#[test]
fn a_title_with_parentheses_on_the_line_after_a_bare_header_is_used() {
    let output = "## Step 1\nHandle None (empty input)\nWhy: callers pass None.\n```\nreturn total or 0\n```\n";
    let chain = parse_steps(output, 5);
    assert_eq!(titles(&chain), ["Handle None (empty input)"]);
    assert_eq!(chain.steps[0].rationale, "callers pass None.");
}

/// Small base models often repeat a step verbatim under new numbers.
#[test]
fn a_base_model_repeating_itself_yields_one_planned_step() {
    let repeated = "Fix the variable name
Why: The variable name is wrong.
```python
def total_price(items):
    total = 0
    for item in items:
        total += item.price * item.quantity
    return total
```
";
    let output = format!("1. {repeated}2. {repeated}3. {repeated}");
    let chain = parse_steps(&output, 5);
    assert_eq!(chain.steps.len(), 3);
    let plan = plan(ORIGINAL_PYTHON, &chain.steps);
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.dropped.len(), 2);
    assert!(plan.dropped.iter().all(|d| d.reason == "changes nothing"));
}

// ---------------------------------------------------------------------------------------------
// Streaming titles
// ---------------------------------------------------------------------------------------------

fn assert_titles_grow_monotonically(text: &str) {
    let mut previous: Vec<String> = Vec::new();
    for (end, _) in text.char_indices().skip(1).chain([(text.len(), ' ')]) {
        let current = completed_titles(&text[..end]);
        assert!(
            current.starts_with(&previous),
            "{previous:?} is not a prefix of {current:?} at byte {end}"
        );
        previous = current;
    }
}

#[test]
fn completed_titles_grow_as_the_output_streams() {
    assert_titles_grow_monotonically(WELL_FORMED);
    assert_eq!(completed_titles(&WELL_FORMED[..2]), Vec::<String>::new());
    let first_line_end = WELL_FORMED.find('\n').unwrap();
    assert_eq!(
        completed_titles(&WELL_FORMED[..first_line_end]),
        Vec::<String>::new()
    );
    assert_eq!(
        completed_titles(&WELL_FORMED[..=first_line_end]),
        ["Fix the misspelled variable"]
    );
}

#[test]
fn completed_titles_grow_on_malformed_output_too() {
    let malformed = "Sure!\n**Step 1:** Fix it — typo\n```\n1. not a header\n```\n### Step 1\n3) Then this\n### Step 2\nLate title\nWhy: x\n2. Duplicate\n    indented code\n";
    assert_titles_grow_monotonically(malformed);
    assert_eq!(
        completed_titles(malformed),
        ["Fix it", "Then this", "Late title"]
    );
}

#[test]
fn completed_titles_match_parse_steps_on_the_whole_output() {
    for text in [
        WELL_FORMED,
        "1. A\n1. B\n3. C\n\n",
        "Step 1: A\nStep 2 - B\n",
    ] {
        let parsed: Vec<String> = parse_steps(text, usize::MAX)
            .steps
            .into_iter()
            .map(|s| s.title)
            .collect();
        assert_eq!(completed_titles(text), parsed, "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Planning
// ---------------------------------------------------------------------------------------------

fn apply_all(original: &str, plan: &Plan) -> String {
    plan.steps.iter().fold(original.to_string(), |text, step| {
        assert_eq!(text, step.before);
        step.edit.apply(&text).unwrap()
    })
}

#[test]
fn step_edits_chain_from_the_original_to_the_final_code() {
    let chain = parse_steps(WELL_FORMED, 5);
    let plan = plan(ORIGINAL_PYTHON, &chain.steps);
    assert!(plan.dropped.is_empty(), "{:?}", plan.dropped);
    assert_eq!(plan.steps.len(), 2);
    assert_eq!(plan.steps[0].before, ORIGINAL_PYTHON);
    assert_eq!(plan.steps[1].before, plan.steps[0].after);
    let expected_final =
        "def total_price(items):\n    return sum(item.price * item.quantity for item in items)\n";
    assert_eq!(apply_all(ORIGINAL_PYTHON, &plan), expected_final);
    // The first edit only touches the misspelled name.
    assert_eq!(plan.steps[0].edit.new_text, "a");
    let edit = combined(&plan, ORIGINAL_PYTHON).unwrap();
    assert_eq!(edit.apply(ORIGINAL_PYTHON).unwrap(), expected_final);
}

#[test]
fn steps_that_change_nothing_or_have_no_code_are_dropped() {
    let original = "x = compute()\n";
    let steps = [
        step(1, "Look at the call", None),
        step(2, "Keep it", Some("x = compute()")),
        step(3, "Name it better", Some("result = compute()")),
    ];
    let plan = plan(original, &steps);
    let reasons: Vec<(&str, &str)> = plan
        .dropped
        .iter()
        .map(|d| (d.title.as_str(), d.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("Look at the call", "no code"),
            ("Keep it", "changes nothing")
        ]
    );
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].number, 1);
    assert_eq!(plan.steps[0].title, "Name it better");
    assert_eq!(plan.steps[0].after, "result = compute()\n");
}

#[test]
fn an_empty_code_block_is_no_code_rather_than_a_deletion() {
    let plan = plan("x = 1\n", &[step(1, "Think", Some("  \n"))]);
    assert!(plan.steps.is_empty());
    assert_eq!(plan.dropped[0].reason, "no code");
}

#[test]
fn a_step_that_unbalances_brackets_is_dropped_and_the_chain_continues() {
    let original = "if (ready) {\n    start();\n}\n";
    let steps = [
        step(
            1,
            "Log first",
            Some("if (ready) {\n    log(\"go\";\n    start();\n}"),
        ),
        step(
            2,
            "Add a comment",
            Some("if (ready) {\n    // start now (\n    start();\n}"),
        ),
        step(
            3,
            "Quote a bracket",
            Some("if (ready) {\n    start(\"{\");\n}"),
        ),
    ];
    let plan = plan(original, &steps);
    assert_eq!(plan.dropped.len(), 1);
    assert_eq!(plan.dropped[0].title, "Log first");
    assert_eq!(plan.dropped[0].reason, "leaves brackets unbalanced");
    assert_eq!(
        plan.steps.len(),
        2,
        "brackets in comments and strings don't count"
    );
    assert_eq!(plan.steps[0].before, original);
    assert_eq!(
        apply_all(original, &plan),
        "if (ready) {\n    start(\"{\");\n}\n"
    );
}

#[test]
fn brackets_are_not_checked_when_the_selection_was_already_unbalanced() {
    let original = "def f(\n    a,\n";
    let steps = [step(1, "Add b", Some("def f(\n    a,\n    b,"))];
    assert_eq!(plan(original, &steps).steps.len(), 1);
}

#[test]
fn python_floor_division_is_not_a_comment_for_python() {
    let original = "half = n // 2\n";
    let code = "half = (n + 1) // (2 * (k)";
    let steps = [step(1, "Round up", Some(code))];
    assert_eq!(
        plan_for_language(original, &steps, "python").dropped.len(),
        1
    );
    let hashed = [step(1, "Note", Some("half = n // 2  # see (notes"))];
    assert_eq!(
        plan_for_language(original, &hashed, "python").steps.len(),
        1
    );
}

#[test]
fn rust_lifetimes_do_not_open_strings() {
    let original = "fn first(s: &str) -> &str {\n    s\n}\n";
    let code = "fn first<'a>(s: &'a str) -> &'a str {\n    s\n}";
    let plan = plan_for_language(
        original,
        &[step(1, "Name the lifetime", Some(code))],
        "rust",
    );
    assert_eq!(plan.steps.len(), 1, "{:?}", plan.dropped);
}

#[test]
fn minimal_change_never_splits_a_multibyte_character() {
    let before = "naïve = 'café'\n";
    let after = "naïve = 'cafè'\n";
    let change = minimal_change(before, after);
    assert!(before.is_char_boundary(change.start) && before.is_char_boundary(change.end));
    assert_eq!(&before[change.start..change.end], "é");
    assert_eq!(change.new_text, "è");
    assert_eq!(change.apply(before).unwrap(), after);
}

#[test]
fn minimal_change_handles_shared_lead_bytes_and_emoji() {
    // "é" is C3 A9 and "ê" is C3 AA: the byte prefix shares C3 but the char does not.
    let change = minimal_change("aé🦀", "aê🦀");
    assert_eq!(
        change,
        TextChange {
            start: 1,
            end: 3,
            new_text: "ê".into()
        }
    );
    let change = minimal_change("x = '🦀'", "x = '🦞'");
    assert_eq!(change.new_text, "🦞");
    assert_eq!(change.apply("x = '🦀'").unwrap(), "x = '🦞'");
    let insertion = minimal_change("aa", "aaa");
    assert_eq!(insertion.apply("aa").unwrap(), "aaa");
    assert_eq!(insertion.start, insertion.end);
}

#[test]
fn after_ends_with_a_newline_iff_the_original_does() {
    let steps = [step(1, "Rename", Some("result = compute()\n\n"))];
    assert_eq!(
        plan("x = compute()\n", &steps).steps[0].after,
        "result = compute()\n"
    );
    assert_eq!(
        plan("x = compute()", &steps).steps[0].after,
        "result = compute()"
    );
    let no_newline = [step(1, "Rename", Some("result = compute()"))];
    assert_eq!(
        plan("x = compute()\n", &no_newline).steps[0].after,
        "result = compute()\n"
    );
}

#[test]
fn crlf_originals_get_crlf_code() {
    let original = "let a = 1;\r\nlet b = 2;\r\n";
    let steps = [step(1, "Inline", Some("let a = 1;\nlet b = a + 1;"))];
    let plan = plan(original, &steps);
    assert_eq!(plan.steps[0].after, "let a = 1;\r\nlet b = a + 1;\r\n");
    assert_eq!(plan.steps[0].edit.new_text, "a + 1");
}

#[test]
fn dedented_model_code_gets_the_selection_indentation_back() {
    let original = "    def area(self):\n        return self.w * self.w\n";
    let steps = [step(
        1,
        "Use the height",
        Some("def area(self):\n    return self.w * self.h"),
    )];
    let plan = plan(original, &steps);
    assert_eq!(
        plan.steps[0].after,
        "    def area(self):\n        return self.w * self.h\n"
    );
    assert_eq!(plan.steps[0].edit.new_text, "h");
}

#[test]
fn applies_to_checks_the_current_text() {
    let chain = parse_steps(WELL_FORMED, 5);
    let plan = plan(ORIGINAL_PYTHON, &chain.steps);
    assert_eq!(applies_to(&plan, 0, ORIGINAL_PYTHON), Ok(()));
    assert_eq!(applies_to(&plan, 1, &plan.steps[0].after), Ok(()));
    assert_eq!(
        applies_to(&plan, 0, &plan.steps[0].after),
        Err("already applied".to_string())
    );
    assert_eq!(
        applies_to(&plan, 0, &plan.steps[1].after),
        Err("already applied".to_string())
    );
    assert_eq!(
        applies_to(&plan, 1, ORIGINAL_PYTHON),
        Err("apply step 1 first".to_string())
    );
    assert_eq!(
        applies_to(&plan, 0, "def something_else(): pass\n"),
        Err("the code changed since the step was planned".to_string())
    );
    assert!(applies_to(&plan, 2, ORIGINAL_PYTHON).is_err());
}

/// Found in Helix: after applying both steps and undoing the second, step 2/2 read "the code
/// changed since the step was planned" although the file held exactly step 1's result. The
/// document is read from the selection's start to its end, whatever the length of each state.
#[test]
fn the_state_the_document_holds_is_recognised_whatever_its_length() {
    let chain = parse_steps(WELL_FORMED, 5);
    let plan = plan(ORIGINAL_PYTHON, &chain.steps);
    let following = "\n\ndef after():\n    pass\n";
    for state in [
        ORIGINAL_PYTHON,
        plan.steps[0].after.as_str(),
        plan.steps[1].after.as_str(),
    ] {
        let rest = format!("{state}{following}more text\n");
        assert_eq!(
            held_state(&plan, ORIGINAL_PYTHON, &rest, following),
            Some(state)
        );
    }
    // After step 1 is undone from step 2 (the document holds step 1's result): step 2 applies,
    // step 1 is already applied.
    let rest = format!("{}{following}", plan.steps[0].after);
    let held = held_state(&plan, ORIGINAL_PYTHON, &rest, following).unwrap();
    assert_eq!(applies_to(&plan, 1, held), Ok(()));
    assert_eq!(
        applies_to(&plan, 0, held),
        Err("already applied".to_string())
    );
    // Anything else is none of the chain's states.
    let rest = format!("def something_else(): pass\n{following}");
    assert_eq!(held_state(&plan, ORIGINAL_PYTHON, &rest, following), None);
    // A state that is a prefix of another is told apart by what follows it.
    let longer = format!("{}    extra = 1\n", plan.steps[0].after);
    let appended = rill_server::reasoning::steps::Plan {
        steps: vec![rill_server::reasoning::steps::PlannedStep {
            after: longer.clone(),
            ..plan.steps[0].clone()
        }],
        dropped: Vec::new(),
    };
    let rest = format!("{}{following}", plan.steps[0].after);
    assert_eq!(
        held_state(&appended, &plan.steps[0].after, &rest, following),
        Some(plan.steps[0].after.as_str())
    );
}

#[test]
fn combined_is_none_without_kept_steps() {
    let plan = plan("x = 1\n", &[step(1, "Look", None)]);
    assert!(plan.steps.is_empty());
    assert_eq!(combined(&plan, "x = 1\n"), None);
}

#[test]
fn parsed_output_cut_mid_code_plans_only_complete_steps() {
    let output = "1. Fix the misspelled variable\nWhy: typo.\n```python\ndef total_price(items):\n    total = 0\n    for item in items:\n        total += item.price * item.quantity\n    return total\n```\n2. Use sum\nWhy: shorter.\n```python\ndef total_price(items):\n    return sum(";
    let chain = parse_steps(output, 5);
    let plan = plan(ORIGINAL_PYTHON, &chain.steps);
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.dropped[0].reason, "no code");
    assert!(plan.steps[0].after.ends_with("return total\n"));
}

// ---------------------------------------------------------------------------------------------
// Reasoning comments
// ---------------------------------------------------------------------------------------------

#[test]
fn reasoning_comments_use_the_language_comment_syntax() {
    let steps = [
        ("Fix the name".to_string(), "typo".to_string()),
        ("Use sum".to_string(), String::new()),
    ];
    assert_eq!(
        reasoning_as_comments(&steps, "python", "    "),
        "    # Step 1: Fix the name — typo\n    # Step 2: Use sum\n"
    );
    assert_eq!(
        reasoning_as_comments(&steps[..1], "rust", ""),
        "// Step 1: Fix the name — typo\n"
    );
    assert_eq!(
        reasoning_as_comments(&steps[..1], "lua", "\t"),
        "\t-- Step 1: Fix the name — typo\n"
    );
    assert_eq!(
        reasoning_as_comments(&steps[..1], "some-new-language", ""),
        "// Step 1: Fix the name — typo\n"
    );
    assert_eq!(
        reasoning_as_comments(&steps[..1], "css", ""),
        "/* Step 1: Fix the name — typo */\n"
    );
    assert_eq!(comment_style("shellscript"), CommentStyle::Line("#"));
    assert_eq!(comment_style("sql"), CommentStyle::Line("--"));
    assert_eq!(comment_style("typescriptreact"), CommentStyle::Line("//"));
}

#[test]
fn reasoning_comments_stay_on_one_line_each() {
    let steps = [("Fix\nthe name".to_string(), "it was\r\nwrong".to_string())];
    assert_eq!(
        reasoning_as_comments(&steps, "ruby", ""),
        "# Step 1: Fix the name — it was wrong\n"
    );
}
