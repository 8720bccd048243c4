//! Prompts that ask the model to fix, explain or improve code in explicit numbered steps, for base models (few-shot) and instruct models (their chat template).
//!
//! Both prompts ask for the same output format, which [`super::parse`] reads:
//!
//! ````text
//! 1. <step title, one line>
//! Why: <one-line rationale>
//! ```<lang>
//! <the complete code after this step>
//! ```
//! 2. ...
//! ````
//!
//! For [`ReasoningTask::Explain`] the code block is left out: explanations do not edit. Both prompts
//! end with "1." so the model's continuation starts inside the first step; the server prepends
//! [`BuiltPrompt::output_prefix`] to the output before parsing it.
//!
//! The few-shot prompt frames every example with [`TASK_MARKER`] and [`END_MARKER`] lines. A base
//! model that has finished its steps usually writes the end marker or starts another example, so
//! both markers are stop strings.

use minijinja::value::{from_args, Value, ValueKind};
use minijinja::{context, Environment, Error, ErrorKind, State};

/// The reasoning code actions rill offers (on the wire by [`ReasoningTask::command_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReasoningTask {
    Fix,
    Explain,
    Improve,
}

impl ReasoningTask {
    /// Every task, in the order the code actions are listed.
    pub const ALL: [ReasoningTask; 3] = [
        ReasoningTask::Fix,
        ReasoningTask::Explain,
        ReasoningTask::Improve,
    ];

    /// The code action's title.
    pub fn title(self) -> &'static str {
        match self {
            ReasoningTask::Fix => "rill: fix this step by step",
            ReasoningTask::Explain => "rill: explain step by step",
            ReasoningTask::Improve => "rill: improve step by step",
        }
    }

    /// The short name used in command arguments.
    pub fn command_name(self) -> &'static str {
        match self {
            ReasoningTask::Fix => "fix",
            ReasoningTask::Explain => "explain",
            ReasoningTask::Improve => "improve",
        }
    }

    /// The task whose [`command_name`](Self::command_name) is `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|task| task.command_name() == name)
    }

    /// Whether the task's steps carry code that is turned into edits.
    pub fn edits_code(self) -> bool {
        self != ReasoningTask::Explain
    }
}

/// What the prompt is about.
#[derive(Debug, Clone, Copy)]
pub struct ReasoningRequest<'a> {
    pub task: ReasoningTask,
    /// The LSP language id, e.g. "python" or "rust".
    pub language_id: &'a str,
    /// The selected code (whole lines), to be rewritten.
    pub code: &'a str,
    /// Some lines before the selection (may be empty), for the model's understanding only.
    pub context_before: &'a str,
    /// A diagnostic message when the action was invoked on a diagnostic.
    pub problem: Option<&'a str>,
    pub max_steps: usize,
}

/// A prompt ready for generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltPrompt {
    pub text: String,
    pub uses_chat_template: bool,
    /// Text the server should prepend to the model's output before parsing ("1." because the prompt ends with it).
    pub output_prefix: String,
    /// Stop strings for generation.
    pub stop: Vec<String>,
}

/// Why a prompt could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("the model's chat template does not parse: {0}")]
    InvalidTemplate(String),
    #[error("the model's chat template failed to render: {0}")]
    RenderFailed(String),
}

/// The line that starts each task in the few-shot prompt (followed by the task name and " ===").
pub const TASK_MARKER: &str = "=== Task:";
/// The line that ends each worked example in the few-shot prompt.
pub const END_MARKER: &str = "=== End ===";

/// What both prompts prefill so that the continuation starts inside the first step.
const FIRST_STEP: &str = "1.";

/// Turn-end markers of common chat formats; harmless as stop strings when the model's tokenizer
/// already stops on them.
const CHAT_TURN_ENDS: [&str; 4] = ["<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>"];

/// Builds the prompt: the chat template when the model has one, else the few-shot prompt for base models.
pub fn build_prompt(
    request: &ReasoningRequest<'_>,
    chat_template: Option<&str>,
    bos_token: &str,
    eos_token: &str,
) -> Result<BuiltPrompt, PromptError> {
    match chat_template {
        Some(template) => {
            let message = chat_message(request);
            let rendered = render_chat_template(template, &message, bos_token, eos_token)?;
            Ok(BuiltPrompt {
                text: format!("{rendered}{FIRST_STEP}"),
                uses_chat_template: true,
                output_prefix: FIRST_STEP.to_string(),
                stop: chat_stop_strings(eos_token),
            })
        }
        None => Ok(BuiltPrompt {
            text: few_shot_prompt(request),
            uses_chat_template: false,
            output_prefix: FIRST_STEP.to_string(),
            stop: vec![END_MARKER.to_string(), TASK_MARKER.to_string()],
        }),
    }
}

fn chat_stop_strings(eos_token: &str) -> Vec<String> {
    let mut stop: Vec<String> = CHAT_TURN_ENDS.iter().map(|s| s.to_string()).collect();
    if !eos_token.is_empty() && !stop.iter().any(|s| s == eos_token) {
        stop.push(eos_token.to_string());
    }
    stop
}

/// The markdown fence language for an LSP language id.
pub fn fence_language(language_id: &str) -> &str {
    match language_id {
        "typescriptreact" => "tsx",
        "javascriptreact" => "jsx",
        "shellscript" => "bash",
        "csharp" => "cs",
        "objective-c" => "objc",
        "plaintext" => "",
        other => other,
    }
}

/// A fence long enough that no backtick run in `code` can close it early.
fn fence_for(code: &str) -> String {
    let longest_run = code.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat((longest_run + 1).max(3))
}

/// `code` in a fenced block, ending with a line break.
fn fenced(code: &str, language_id: &str) -> String {
    let fence = fence_for(code);
    let unified = code.replace("\r\n", "\n");
    let body = unified.trim_end_matches('\n');
    format!("{fence}{}\n{body}\n{fence}\n", fence_language(language_id))
}

/// The instructions of the chat prompt, specific to the task.
fn task_instruction(request: &ReasoningRequest<'_>) -> String {
    match (request.task, request.problem) {
        (ReasoningTask::Fix, Some(problem)) => format!(
            "Fix the code below step by step. The reported problem is: {}",
            one_line(problem)
        ),
        (ReasoningTask::Fix, None) => {
            "Find and fix the bugs in the code below step by step.".into()
        }
        (ReasoningTask::Improve, _) => "Improve the code below step by step: make it clearer, \
             more robust and more idiomatic without changing what it does."
            .into(),
        (ReasoningTask::Explain, _) => {
            "Explain step by step what the code below does, one idea per step.".into()
        }
    }
}

/// The format description of the chat prompt, matching the module documentation.
fn format_instruction(request: &ReasoningRequest<'_>) -> String {
    let lang = fence_language(request.language_id);
    let steps = request.max_steps.max(1);
    if request.task.edits_code() {
        format!(
            "Use at most {steps} small steps. Write each step exactly like this:\n\
             1. <step title, one line>\n\
             Why: <one-line rationale>\n\
             ```{lang}\n\
             <the complete code after this step>\n\
             ```\n\
             Each step builds on the previous one, and its code block holds the whole code after \
             the step, not just the changed lines. Write nothing before step 1 and nothing after \
             the last step."
        )
    } else {
        format!(
            "Use at most {steps} steps. Write each step exactly like this, without code blocks:\n\
             1. <step title, one line>\n\
             Why: <one-line explanation>\n\
             Write nothing before step 1 and nothing after the last step."
        )
    }
}

/// The single user message of the chat prompt.
fn chat_message(request: &ReasoningRequest<'_>) -> String {
    let mut message = format!(
        "{}\n\n{}\n\n",
        task_instruction(request),
        format_instruction(request)
    );
    if !request.context_before.trim().is_empty() {
        message.push_str("The code comes after these lines, which are shown for context only:\n");
        message.push_str(&fenced(request.context_before, request.language_id));
        message.push('\n');
    }
    message.push_str("The code:\n");
    message.push_str(&fenced(request.code, request.language_id));
    message
}

/// Collapses a diagnostic message onto one line, as the prompt format is line-based.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The introduction of the few-shot prompt.
const FEW_SHOT_INTRODUCTION: &str = "\
Each task below is solved in small numbered steps. A step has a one-line title, a \"Why:\" line \
with a one-line rationale, and the complete code after the step in a fenced block. Each step \
builds on the previous one. An explain task has no code blocks.

";

/// A worked fix example, in exactly the requested output format.
const FIX_EXAMPLE: &str = r#"=== Task: fix ===
Language: python
Problem: NameError: name 'totl' is not defined
Code:
```python
def average(values):
    total = 0
    for value in values:
        total += value
    return totl / len(values)
```
Steps (at most 3):
1. Use the variable that holds the sum
Why: `totl` is a typo; the sum is stored in `total`.
```python
def average(values):
    total = 0
    for value in values:
        total += value
    return total / len(values)
```
2. Handle an empty list
Why: dividing by `len(values)` raises ZeroDivisionError when the list is empty.
```python
def average(values):
    if not values:
        return 0.0
    total = 0
    for value in values:
        total += value
    return total / len(values)
```
=== End ===

"#;

/// A worked improve example, in exactly the requested output format.
const IMPROVE_EXAMPLE: &str = r#"=== Task: improve ===
Language: javascript
Code:
```javascript
function activeNames(users) {
  var result = [];
  for (var i = 0; i < users.length; i++) {
    if (users[i].active == true) {
      result.push(users[i].name);
    }
  }
  return result;
}
```
Steps (at most 3):
1. Test the flag directly
Why: `== true` coerces types and adds nothing for a boolean flag.
```javascript
function activeNames(users) {
  var result = [];
  for (var i = 0; i < users.length; i++) {
    if (users[i].active) {
      result.push(users[i].name);
    }
  }
  return result;
}
```
2. Replace the loop with filter and map
Why: the loop only selects users and picks a field, which filter and map say directly.
```javascript
function activeNames(users) {
  return users.filter((user) => user.active).map((user) => user.name);
}
```
=== End ===

"#;

/// The worked examples of the few-shot prompt, whose text a model must not hand back as its
/// answer (see [`super::guards`]).
pub fn worked_example_code() -> [&'static str; 2] {
    [FIX_EXAMPLE, IMPROVE_EXAMPLE]
}

/// Every text of the prompt that is rill's own, not the user's code: the few-shot introduction and
/// examples and the chat prompt's instructions. A step whose title or reason repeats them was
/// copied from the prompt (see [`super::guards`]).
pub fn instruction_texts(request: &ReasoningRequest<'_>) -> Vec<String> {
    vec![
        FEW_SHOT_INTRODUCTION.to_string(),
        FIX_EXAMPLE.to_string(),
        IMPROVE_EXAMPLE.to_string(),
        task_instruction(request),
        format_instruction(request),
    ]
}

/// The few-shot prompt for base models: two worked examples, then the task, ending with "1.".
fn few_shot_prompt(request: &ReasoningRequest<'_>) -> String {
    let mut prompt = String::from(FEW_SHOT_INTRODUCTION);
    prompt.push_str(FIX_EXAMPLE);
    prompt.push_str(IMPROVE_EXAMPLE);
    prompt.push_str(&format!(
        "{TASK_MARKER} {} ===\nLanguage: {}\n",
        request.task.command_name(),
        request.language_id
    ));
    if let Some(problem) = request.problem {
        prompt.push_str(&format!("Problem: {}\n", one_line(problem)));
    }
    if !request.context_before.trim().is_empty() {
        prompt.push_str("Context (read only):\n");
        prompt.push_str(&fenced(request.context_before, request.language_id));
    }
    prompt.push_str("Code:\n");
    prompt.push_str(&fenced(request.code, request.language_id));
    prompt.push_str(&format!(
        "Steps (at most {}):\n{FIRST_STEP}",
        request.max_steps.max(1)
    ));
    prompt
}

/// Renders a Hugging Face chat template with one user message, the way `transformers` does.
pub fn render_chat_template(
    template: &str,
    user_message: &str,
    bos_token: &str,
    eos_token: &str,
) -> Result<String, PromptError> {
    let env = chat_environment();
    let compiled = env
        .template_from_str(template)
        .map_err(|err| PromptError::InvalidTemplate(err.to_string()))?;
    let messages = vec![context! { role => "user", content => user_message }];
    compiled
        .render(context! {
            messages => messages,
            add_generation_prompt => true,
            bos_token => bos_token,
            eos_token => eos_token,
        })
        .map_err(|err| PromptError::RenderFailed(err.to_string()))
}

/// A minijinja environment configured like `transformers`' chat template sandbox.
fn chat_environment<'source>() -> Environment<'source> {
    let mut env = Environment::new();
    // transformers renders chat templates with these whitespace settings.
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_function("raise_exception", raise_exception);
    env.add_filter("tojson", to_json);
    env.set_unknown_method_callback(python_method);
    env
}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

fn to_json(value: Value) -> Result<Value, Error> {
    serde_json::to_string(&value)
        .map(Value::from_safe_string)
        .map_err(|err| Error::new(ErrorKind::InvalidOperation, err.to_string()))
}

/// The Python string and dict methods chat templates commonly call, which minijinja lacks.
fn python_method(
    state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    if let Some(text) = value.as_str() {
        return python_string_method(text, method, args);
    }
    if value.kind() == ValueKind::Map {
        return python_dict_method(state, value, method, args);
    }
    Err(Error::from(ErrorKind::UnknownMethod))
}

fn python_string_method(text: &str, method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        "strip" | "lstrip" | "rstrip" => {
            let (chars,): (Option<&str>,) = from_args(args)?;
            Ok(Value::from(python_strip(text, method, chars)))
        }
        "startswith" => {
            let (prefix,): (&str,) = from_args(args)?;
            Ok(Value::from(text.starts_with(prefix)))
        }
        "endswith" => {
            let (suffix,): (&str,) = from_args(args)?;
            Ok(Value::from(text.ends_with(suffix)))
        }
        "split" => {
            let (separator,): (Option<&str>,) = from_args(args)?;
            let parts: Vec<Value> = match separator {
                Some(separator) => text.split(separator).map(Value::from).collect(),
                None => text.split_whitespace().map(Value::from).collect(),
            };
            Ok(Value::from(parts))
        }
        "upper" => Ok(Value::from(text.to_uppercase())),
        "lower" => Ok(Value::from(text.to_lowercase())),
        "replace" => {
            let (old, new): (&str, &str) = from_args(args)?;
            Ok(Value::from(text.replace(old, new)))
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}

fn python_strip(text: &str, method: &str, chars: Option<&str>) -> String {
    let strip = |c: char| match chars {
        Some(set) => set.contains(c),
        None => c.is_whitespace(),
    };
    match method {
        "lstrip" => text.trim_start_matches(strip).to_string(),
        "rstrip" => text.trim_end_matches(strip).to_string(),
        _ => text.trim_matches(strip).to_string(),
    }
}

fn python_dict_method(
    state: &State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    match method {
        "items" => {
            let _: () = from_args(args)?;
            state.apply_filter("items", std::slice::from_ref(value))
        }
        "keys" => {
            let _: () = from_args(args)?;
            Ok(Value::from(value.try_iter()?.collect::<Vec<_>>()))
        }
        "values" => {
            let _: () = from_args(args)?;
            let values: Result<Vec<Value>, Error> =
                value.try_iter()?.map(|key| value.get_item(&key)).collect();
            Ok(Value::from(values?))
        }
        "get" => {
            let (key, default): (Value, Option<Value>) = from_args(args)?;
            let found = value.get_item(&key)?;
            Ok(if found.is_undefined() {
                default.unwrap_or(Value::from(()))
            } else {
                found
            })
        }
        _ => Err(Error::from(ErrorKind::UnknownMethod)),
    }
}
