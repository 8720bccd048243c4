//! Token healing on the default model's real vocabulary: which prompt ends are backed up, that the healed prompt is a token prefix of the text the user goes on to write, and that constrained decoding writes the healed bytes back (and changes nothing when the model's own choice was the removed token).

mod common;

use common::{model, tokenizer};
use rill_model::generate::{generate, GenerationParams};
use rill_model::healing::{self, Healing};
use rill_model::Sequence;

fn encode_with_bos(text: &str) -> Vec<u32> {
    tokenizer().encode_with_bos(text).expect("encode")
}

/// Plans healing for `prefix` (BOS protected) and checks the plan's own invariants.
fn plan(prefix: &str) -> (Vec<u32>, Healing) {
    let tokens = encode_with_bos(prefix);
    let healing = healing::plan(tokenizer(), &tokens, 1).expect("plan");
    assert!(healing.tokens <= 4);
    // The removed tokens spell exactly the healed text, which ends the prefix.
    let removed: Vec<u8> = tokens[tokens.len() - healing.tokens..]
        .iter()
        .flat_map(|&id| tokenizer().token_bytes(id).unwrap().to_vec())
        .collect();
    assert_eq!(removed, healing.text.as_bytes(), "{prefix:?}");
    assert!(prefix.ends_with(&healing.text));
    (tokens, healing)
}

/// The healed prompt is a token prefix of what the document holds once the user has written
/// `continuation`: healing keeps the model on the tokenization it sees in real code. With
/// `needed`, the unhealed prompt is not such a prefix (the cursor really ends inside a token).
fn check_heals_towards(prefix: &str, continuation: &str, needed: bool) {
    let (tokens, healing) = plan(prefix);
    assert!(healing.is_active(), "{prefix:?} should be healed");
    let full = encode_with_bos(&format!("{prefix}{continuation}"));
    let healed = &tokens[..tokens.len() - healing.tokens];
    assert!(
        full.starts_with(healed),
        "healed prompt of {prefix:?} is not a prefix of the tokens with {continuation:?}"
    );
    if needed {
        assert!(
            !full.starts_with(&tokens),
            "{prefix:?} + {continuation:?} keeps the prompt's last token: not a healing case"
        );
    }
}

// Gemma's vocabulary keeps indentation runs apart from the keyword after them, so a cursor after
// the indentation is a natural boundary there (byte-level BPE vocabularies merge ` return`);
// healing it still must keep the prompt a prefix of the real tokens.

#[test]
fn indentation_before_a_keyword_stays_a_token_prefix() {
    check_heals_towards("def mean(xs):\n    total = 0\n    ", "return total", false);
}

#[test]
fn deep_indentation_runs_stay_a_token_prefix() {
    check_heals_towards(
        "class A:\n    def f(self):\n        if x:\n            ",
        "return self.x",
        false,
    );
}

#[test]
fn tabs_stay_a_token_prefix() {
    check_heals_towards("fn main() {\n\tif x {\n\t\t", "return;", false);
}

#[test]
fn partial_identifiers_are_healed() {
    check_heals_towards("def add(a, b):\n    retu", "rn a + b", true);
    check_heals_towards("def f(items):\n    for item in ite", "ms:", true);
    check_heals_towards("    result = compu", "te_total(xs)", true);
}

#[test]
fn an_open_quote_is_healed() {
    check_heals_towards("    print(\"", "hello\")", false);
}

#[test]
fn crlf_documents_heal_the_indentation_not_the_line_break() {
    let (_, healing) = plan("def f(x):\r\n    y = x\r\n    ");
    assert!(healing.is_active());
    assert!(!healing.text.contains('\n'), "{:?}", healing.text);
}

#[test]
fn a_bare_line_break_is_never_healed() {
    let (_, healing) = plan("x = 1\n");
    assert!(!healing.is_active(), "{healing:?}");
    let (_, healing) = plan("x = 1\r\n");
    assert!(!healing.is_active(), "{healing:?}");
}

#[test]
fn multi_byte_text_heals_whole_characters_only() {
    for prefix in ["s = \"héllo wö", "名前 = \"日本", "emoji = \"🦀", "x = 'ü"] {
        let (_, healing) = plan(prefix);
        // `plan` already checked the text ends the prefix; it is a String, so whole characters.
        assert!(healing.text.len() <= healing::MAX_HEAL_BYTES);
    }
}

#[test]
fn only_bos_or_control_tokens_are_left_alone() {
    let tokens = vec![tokenizer().bos_id()];
    assert!(!healing::plan(tokenizer(), &tokens, 1).unwrap().is_active());
    assert!(!healing::plan(tokenizer(), &tokens, 0).unwrap().is_active());
}

#[test]
fn the_mask_keeps_tokens_that_begin_with_or_begin_the_owed_bytes() {
    let tokenizer = tokenizer();
    let owed = b"    ";
    let mut logits = vec![0.0f32; tokenizer.vocab_size()];
    assert!(healing::mask(tokenizer, owed, &mut logits));
    let allowed: Vec<u32> = (0..logits.len() as u32)
        .filter(|&id| logits[id as usize] == 0.0)
        .collect();
    assert!(allowed.len() > 1);
    for &id in &allowed {
        let bytes = tokenizer.token_bytes(id).unwrap();
        assert!(
            bytes.starts_with(owed) || owed.starts_with(bytes),
            "{bytes:?}"
        );
        let rest = healing::remaining(tokenizer, owed, id);
        assert!(bytes.len() >= owed.len() || rest.len() == owed.len() - bytes.len());
    }
    // A letter token never qualifies.
    let x = tokenizer.encode("x").unwrap()[0];
    assert_eq!(logits[x as usize], f32::NEG_INFINITY);
}

#[test]
fn constrained_decoding_writes_the_rest_of_a_partial_word() {
    let tokenizer = tokenizer();
    let prefix = "def add(a, b):\n    \"\"\"Return the sum.\"\"\"\n    retu";
    let (tokens, healing) = plan(prefix);
    assert!(healing.is_active());
    let prompt = &tokens[..tokens.len() - healing.tokens];
    let mut sequence = Sequence::new(model());
    let params = GenerationParams {
        max_tokens: 8,
        heal: healing.text.clone(),
        ..GenerationParams::default()
    };
    let out = generate(
        model(),
        tokenizer,
        &mut sequence,
        prompt,
        &params,
        &|| false,
        |_| {},
    )
    .expect("generate");
    // The output continues the user's word: "rn ..." — the healed bytes themselves are not
    // suggested again.
    assert!(
        format!("{}{}", healing.text, out.text).starts_with(&healing.text),
        "{:?}",
        out.text
    );
    assert!(out.text.starts_with("rn"), "{:?}", out.text);
}

#[test]
fn healing_changes_nothing_when_the_model_would_pick_the_removed_token() {
    let tokenizer = tokenizer();
    let model = model();
    // The model's own greedy text: at every boundary its choice is the next token, so healing
    // the prompt back over one of its tokens must reproduce the same continuation.
    let start = encode_with_bos("import os\n\ndef list_files(path):\n");
    let mut sequence = Sequence::new(model);
    let params = GenerationParams {
        max_tokens: 16,
        ..GenerationParams::default()
    };
    let greedy = generate(
        model,
        tokenizer,
        &mut sequence,
        &start,
        &params,
        &|| false,
        |_| {},
    )
    .expect("generate");
    assert!(greedy.tokens.len() >= 12);
    let cut = 6;
    let mut prompt = start.clone();
    prompt.extend_from_slice(&greedy.tokens[..cut]);
    let expected = tokenizer.decode(&greedy.tokens[cut..12]).unwrap();
    let healing_text = String::from_utf8(
        tokenizer
            .token_bytes(greedy.tokens[cut - 1])
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let healed = GenerationParams {
        max_tokens: 12 - cut + 1,
        heal: healing_text,
        ..GenerationParams::default()
    };
    let mut fresh = Sequence::new(model);
    let out = generate(
        model,
        tokenizer,
        &mut fresh,
        &prompt[..prompt.len() - 1],
        &healed,
        &|| false,
        |_| {},
    )
    .expect("generate healed");
    assert_eq!(out.text, expected);
}

#[test]
fn the_line_search_heals_like_generate() {
    let prefix = "def add(a, b):\n    \"\"\"Return the sum.\"\"\"\n    retu";
    let (tokens, healing) = plan(prefix);
    let prompt = &tokens[..tokens.len() - healing.tokens];
    let outcome = common::search_lines(prompt, &common::line_search(&healing.text));
    let best = &outcome.candidates[0];
    eprintln!(
        "{healing:?} {:?}",
        outcome
            .candidates
            .iter()
            .map(|c| (&c.text, c.confidence()))
            .collect::<Vec<_>>()
    );
    assert!(best.text.starts_with("rn"), "{:?}", best.text);
}
