//! Deterministic injection of realistic faults into Python source, for `diagnostics_bench`.
//!
//! A small lexer splits the code into names, numbers and operators (comments and string literals,
//! docstrings included, are skipped, so nothing is ever injected there), a second pass finds
//! function scopes with their parameters and assigned names, and each fault kind lists the sites
//! where it can be injected. [`plan`] then picks sites for several variants of a corpus, spaced
//! apart and never reused across variants, and [`apply`] writes a faulted copy of a file together
//! with the byte range of every change in it.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

/// The kinds of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// Two adjacent letters of a keyword (or `self`) swapped, or one dropped: `retrun`, `slef`.
    MisspelledKeyword,
    /// The same edit on an identifier of at least 4 letters used at least twice in the file.
    MisspelledIdentifier,
    /// `<=`↔`>=`, `<`↔`>`, `==`↔`!=`, binary `+`↔`-`, `and`↔`or`.
    SwappedOperator,
    /// One use of a local name replaced by another parameter or local of the same function.
    WrongVariable,
    /// `self.` deleted before an attribute inside a method.
    MissingSelf,
    /// An integer literal n written as n + 1 or n − 1.
    OffByOne,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::MisspelledKeyword,
        FaultKind::MisspelledIdentifier,
        FaultKind::SwappedOperator,
        FaultKind::WrongVariable,
        FaultKind::MissingSelf,
        FaultKind::OffByOne,
    ];

    /// A short name, used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::MisspelledKeyword => "misspelled_keyword",
            FaultKind::MisspelledIdentifier => "misspelled_identifier",
            FaultKind::SwappedOperator => "swapped_operator",
            FaultKind::WrongVariable => "wrong_variable",
            FaultKind::MissingSelf => "missing_self",
            FaultKind::OffByOne => "off_by_one",
        }
    }
}

/// Python's keywords; with `self` they are the words [`FaultKind::MisspelledKeyword`] misspells.
pub const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// A xorshift64* generator: deterministic, with no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // SplitMix64 of the seed, so that nearby seeds give unrelated streams and 0 is valid.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Name,
    Number,
    Op,
    Str,
}

/// A token of code: comments are dropped, string literals kept whole as [`TokenKind::Str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub range: Range<usize>,
    /// 0-based line of the token's first byte.
    pub line: usize,
    /// Bracket depth before the token.
    pub depth: usize,
    /// Whether the token is the first one on its physical line.
    pub line_start: bool,
}

const OPERATORS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "->", ":=", "==", "!=", "<=", ">=", "**", "//", "<<", ">>",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=",
];

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80
}

/// Splits Python source into tokens. Not a full lexer, but exact about what matters here: which
/// bytes are code and which are comments or string literals.
pub fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let (mut i, mut line, mut depth) = (0, 0, 0usize);
    let mut last_line = usize::MAX;
    let mut push = |tokens: &mut Vec<Token>, kind, range: Range<usize>, line, depth| {
        tokens.push(Token {
            kind,
            range,
            line,
            depth,
            line_start: last_line != line,
        });
        last_line = line;
    };
    while i < bytes.len() {
        let byte = bytes[i];
        let start = i;
        let start_line = line;
        if byte == b'\n' {
            line += 1;
            i += 1;
        } else if byte.is_ascii_whitespace() {
            i += 1;
        } else if byte == b'\\' {
            // A line continuation.
            i += 1;
        } else if byte == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if byte == b'\'' || byte == b'"' {
            i = string_end(bytes, i, &mut line);
            push(&mut tokens, TokenKind::Str, start..i, start_line, depth);
        } else if byte.is_ascii_digit()
            || (byte == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            while i < bytes.len() {
                let b = bytes[i];
                let exponent_sign = (b == b'+' || b == b'-')
                    && matches!(bytes[i - 1], b'e' | b'E')
                    && !bytes[start..i].iter().any(|b| matches!(b, b'x' | b'X'));
                if is_word_byte(b) || b == b'.' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            push(&mut tokens, TokenKind::Number, start..i, start_line, depth);
        } else if is_word_byte(byte) {
            while i < bytes.len() && is_word_byte(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            let prefix = word.len() <= 2
                && word.bytes().all(|b| b"rRbBuUfF".contains(&b))
                && matches!(bytes.get(i), Some(b'\'' | b'"'));
            if prefix {
                i = string_end(bytes, i, &mut line);
                push(&mut tokens, TokenKind::Str, start..i, start_line, depth);
            } else {
                push(&mut tokens, TokenKind::Name, start..i, start_line, depth);
            }
        } else {
            let rest = &text[i..];
            let length = OPERATORS
                .iter()
                .find(|op| rest.starts_with(*op))
                .map_or_else(
                    || rest.chars().next().map_or(1, char::len_utf8),
                    |op| op.len(),
                );
            i += length;
            let before = depth;
            match byte {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            let token_depth = before.min(depth);
            push(
                &mut tokens,
                TokenKind::Op,
                start..i,
                start_line,
                token_depth,
            );
        }
    }
    tokens
}

/// The end of the string literal whose opening quote is at `open`; counts the newlines it spans.
fn string_end(bytes: &[u8], open: usize, line: &mut usize) -> usize {
    let quote = bytes[open];
    let triple = bytes.len() >= open + 3 && bytes[open + 1] == quote && bytes[open + 2] == quote;
    let mut i = open + if triple { 3 } else { 1 };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                if bytes.get(i + 1) == Some(&b'\n') {
                    *line += 1;
                }
                i += 2;
                continue;
            }
            b'\n' => {
                *line += 1;
                if !triple {
                    return i;
                }
            }
            b if b == quote => {
                if !triple {
                    return i + 1;
                }
                if bytes.len() >= i + 3 && bytes[i + 1] == quote && bytes[i + 2] == quote {
                    return i + 3;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// A function: the tokens of its body and the local names visible there.
#[derive(Debug, Clone)]
struct Scope {
    body: Range<usize>,
    params: Vec<String>,
    /// Parameters and names assigned in the body (not in nested functions), sorted.
    names: Vec<String>,
}

/// The parsed pieces of one file.
struct Code<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    scopes: Vec<Scope>,
    /// Innermost scope of each token.
    innermost: Vec<Option<usize>>,
}

impl<'a> Code<'a> {
    fn new(text: &'a str) -> Self {
        let tokens = tokenize(text);
        let indents: Vec<usize> = text
            .split('\n')
            .map(|line| line.len() - line.trim_start_matches([' ', '\t']).len())
            .collect();
        let mut code = Code {
            text,
            tokens,
            scopes: Vec::new(),
            innermost: Vec::new(),
        };
        code.find_scopes(&indents);
        code
    }

    fn text(&self, index: usize) -> &'a str {
        &self.text[self.tokens[index].range.clone()]
    }

    fn text_at(&self, index: Option<usize>) -> &'a str {
        index
            .filter(|&i| i < self.tokens.len())
            .map_or("", |i| self.text(i))
    }

    fn is_name(&self, index: usize) -> bool {
        self.tokens[index].kind == TokenKind::Name
    }

    fn prev(&self, index: usize) -> &'a str {
        self.text_at(index.checked_sub(1))
    }

    fn next(&self, index: usize) -> &'a str {
        self.text_at(Some(index + 1))
    }

    fn logical_start(&self, index: usize) -> bool {
        let token = &self.tokens[index];
        token.line_start && token.depth == 0
    }

    fn find_scopes(&mut self, indents: &[usize]) {
        let n = self.tokens.len();
        for i in 0..n {
            if self.text(i) != "def" || !self.is_name(i) || !self.logical_start(i) {
                continue;
            }
            if i + 2 >= n || self.text(i + 2) != "(" {
                continue;
            }
            let depth = self.tokens[i].depth;
            let Some(close) =
                (i + 3..n).find(|&j| self.text(j) == ")" && self.tokens[j].depth == depth)
            else {
                continue;
            };
            let params = (i + 3..close)
                .filter(|&j| {
                    self.is_name(j)
                        && self.tokens[j].depth == depth + 1
                        && matches!(self.prev(j), "(" | "," | "*" | "**")
                })
                .map(|j| self.text(j).to_string())
                .collect();
            let Some(colon) =
                (close + 1..n).find(|&j| self.text(j) == ":" && self.tokens[j].depth == depth)
            else {
                continue;
            };
            let indent = indents[self.tokens[i].line];
            let end = (colon + 1..n)
                .find(|&j| self.logical_start(j) && indents[self.tokens[j].line] <= indent)
                .unwrap_or(n);
            self.scopes.push(Scope {
                body: colon + 1..end,
                params,
                names: Vec::new(),
            });
        }
        // Scopes are in order of their start, so the last one containing a token is the innermost.
        self.innermost = (0..n)
            .map(|j| self.scopes.iter().rposition(|s| s.body.contains(&j)))
            .collect();
        for s in 0..self.scopes.len() {
            let mut names: HashSet<String> = self.scopes[s].params.iter().cloned().collect();
            let body = self.scopes[s].body.clone();
            for j in body.clone() {
                if self.innermost[j] != Some(s) {
                    continue;
                }
                if self.logical_start(j) {
                    let end = (j + 1..body.end)
                        .find(|&k| self.logical_start(k))
                        .unwrap_or(body.end);
                    let assign =
                        (j..end).find(|&k| self.text(k) == "=" && self.tokens[k].depth == 0);
                    if let Some(assign) = assign {
                        for k in j..assign {
                            if self.is_name(k)
                                && self.tokens[k].depth == 0
                                && self.prev(k) != "."
                                && !matches!(self.next(k), "." | "(" | "[")
                                && !is_keyword(self.text(k))
                            {
                                names.insert(self.text(k).to_string());
                            }
                        }
                    }
                }
                if self.text(j) == "for" && self.is_name(j) {
                    for k in j + 1..body.end {
                        if self.text(k) == "in" {
                            break;
                        }
                        if self.is_name(k) && self.prev(k) != "." && !is_keyword(self.text(k)) {
                            names.insert(self.text(k).to_string());
                        }
                    }
                }
                if self.text(j) == "as" && j + 1 < body.end && self.is_name(j + 1) {
                    names.insert(self.text(j + 1).to_string());
                }
            }
            let mut names: Vec<String> = names.into_iter().collect();
            names.sort();
            self.scopes[s].names = names;
        }
    }

    /// Every name of the file's code, with how often it appears.
    fn name_counts(&self) -> HashMap<&'a str, usize> {
        let mut counts = HashMap::new();
        for i in 0..self.tokens.len() {
            if self.is_name(i) {
                *counts.entry(self.text(i)).or_insert(0) += 1;
            }
        }
        counts
    }
}

/// One place a fault can be injected, in the clean text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub kind: FaultKind,
    /// Index of the token the fault is about (its identity: no two chosen sites share one).
    pub token: usize,
    /// 0-based line.
    pub line: usize,
    /// Bytes of the clean text replaced by `replacement`.
    pub edit: Range<usize>,
    pub replacement: String,
    /// Bytes after the edit that the fault's recorded range covers too: the attribute name after
    /// a deleted `self.`, where the deletion shows.
    pub tail: usize,
}

/// Misspellings of `word`: two adjacent different letters swapped, or (for words of 3 letters or
/// more) one letter dropped; never a keyword or a name in `taken`.
fn misspellings(word: &str, taken: &HashMap<&str, usize>) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out: Vec<String> = Vec::new();
    for i in 0..chars.len().saturating_sub(1) {
        if chars[i] != chars[i + 1] {
            let mut swapped = chars.clone();
            swapped.swap(i, i + 1);
            out.push(swapped.into_iter().collect());
        }
    }
    if chars.len() >= 3 {
        for i in 0..chars.len() {
            let mut dropped = chars.clone();
            dropped.remove(i);
            out.push(dropped.into_iter().collect());
        }
    }
    let mut seen = HashSet::new();
    out.retain(|candidate| {
        seen.insert(candidate.clone())
            && candidate != word
            && !candidate.starts_with(|c: char| c.is_ascii_digit())
            && !is_keyword(candidate)
            && candidate != "self"
            && !taken.contains_key(candidate.as_str())
    });
    out
}

/// Every site of every fault kind in `text`, with the edit of each picked by `rng`.
pub fn candidates(text: &str, rng: &mut Rng) -> Vec<Site> {
    let code = Code::new(text);
    let counts = code.name_counts();
    let mut sites = Vec::new();
    let n = code.tokens.len();
    for i in 0..n {
        let token = &code.tokens[i];
        let word = code.text(i);
        let mut site = |kind, edit: Range<usize>, replacement: String, tail| {
            sites.push(Site {
                kind,
                token: i,
                line: token.line,
                edit,
                replacement,
                tail,
            });
        };
        match token.kind {
            TokenKind::Name => {
                let keyword = is_keyword(word) || word == "self";
                let prev = code.prev(i);
                // Misspellings.
                let identifier = !keyword
                    && word.chars().count() >= 4
                    && counts.get(word).copied().unwrap_or(0) >= 2
                    && !matches!(prev, "def" | "class");
                if keyword || identifier {
                    let options = misspellings(word, &counts);
                    if !options.is_empty() {
                        let kind = if keyword {
                            FaultKind::MisspelledKeyword
                        } else {
                            FaultKind::MisspelledIdentifier
                        };
                        let pick = options[rng.below(options.len())].clone();
                        site(kind, token.range.clone(), pick, 0);
                    }
                }
                if word == "and" || word == "or" {
                    let swapped = if word == "and" { "or" } else { "and" };
                    site(
                        FaultKind::SwappedOperator,
                        token.range.clone(),
                        swapped.into(),
                        0,
                    );
                }
                let scope = code.innermost[i].map(|s| &code.scopes[s]);
                // Missing `self.`: `self . name` inside a method.
                if word == "self"
                    && code.next(i) == "."
                    && i + 2 < n
                    && code.is_name(i + 2)
                    && scope.is_some_and(|s| s.params.first().is_some_and(|p| p == "self"))
                {
                    let attribute = code.tokens[i + 2].range.clone();
                    site(
                        FaultKind::MissingSelf,
                        token.range.start..attribute.start,
                        String::new(),
                        attribute.len(),
                    );
                }
                // Wrong variable: a use (not an assignment, keyword argument or attribute) of a
                // local name, replaced by another local of the same function.
                if let Some(scope) = scope {
                    let is_use = !keyword
                        && word != "cls"
                        && prev != "."
                        && !matches!(prev, "def" | "class" | "import" | "as")
                        && code.next(i) != "="
                        && scope.names.iter().any(|name| name == word);
                    if is_use {
                        let others: Vec<&String> = scope
                            .names
                            .iter()
                            .filter(|name| *name != word && *name != "self" && *name != "cls")
                            .collect();
                        if !others.is_empty() {
                            let pick = others[rng.below(others.len())].clone();
                            site(FaultKind::WrongVariable, token.range.clone(), pick, 0);
                        }
                    }
                }
            }
            TokenKind::Op => {
                let swapped = match word {
                    "<=" => Some(">="),
                    ">=" => Some("<="),
                    "<" => Some(">"),
                    ">" => Some("<"),
                    "==" => Some("!="),
                    "!=" => Some("=="),
                    "+" | "-" => {
                        // Binary only: after an operand.
                        let operand = i > 0
                            && match code.tokens[i - 1].kind {
                                TokenKind::Name => {
                                    !is_keyword(code.prev(i))
                                        || matches!(code.prev(i), "None" | "True" | "False")
                                }
                                TokenKind::Number | TokenKind::Str => true,
                                TokenKind::Op => matches!(code.prev(i), ")" | "]" | "}"),
                            };
                        operand.then(|| if word == "+" { "-" } else { "+" })
                    }
                    _ => None,
                };
                if let Some(swapped) = swapped {
                    site(
                        FaultKind::SwappedOperator,
                        token.range.clone(),
                        swapped.into(),
                        0,
                    );
                }
            }
            TokenKind::Number => {
                if let Ok(value) = word.parse::<u64>() {
                    let up = value == 0 || rng.below(2) == 0;
                    let new = if up { value + 1 } else { value - 1 };
                    site(FaultKind::OffByOne, token.range.clone(), new.to_string(), 0);
                }
            }
            TokenKind::Str => {}
        }
    }
    sites
}

/// Picks the sites of `variants` faulted copies of the corpus `files`: per variant, up to
/// `per_kind` faults of each kind, taken in turns (rarest kind first), at least `min_gap` lines apart within a file;
/// no site (token) is used by two variants. Returns `[variant][file]` lists of sites.
pub fn plan(
    files: &[&str],
    variants: usize,
    per_kind: usize,
    min_gap: usize,
    seed: u64,
) -> Vec<Vec<Vec<Site>>> {
    let mut pools: HashMap<FaultKind, Vec<(usize, Site)>> = HashMap::new();
    for (f, text) in files.iter().enumerate() {
        let mut rng = Rng::new(seed ^ (f as u64).wrapping_mul(0x1000_0000_01B3));
        for site in candidates(text, &mut rng) {
            pools.entry(site.kind).or_default().push((f, site));
        }
    }
    let mut rng = Rng::new(seed);
    for kind in FaultKind::ALL {
        rng.shuffle(pools.entry(kind).or_default());
    }
    // The rarest kinds choose first in every round, so the common ones do not take all the room.
    let mut order = FaultKind::ALL;
    order.sort_by_key(|kind| pools[kind].len());
    let mut used: HashSet<(usize, usize)> = HashSet::new();
    let mut plan = Vec::with_capacity(variants);
    for _ in 0..variants {
        let mut chosen: Vec<Vec<Site>> = vec![Vec::new(); files.len()];
        let mut counts: HashMap<FaultKind, usize> = HashMap::new();
        loop {
            let mut added = false;
            for kind in order {
                if counts.get(&kind).copied().unwrap_or(0) >= per_kind {
                    continue;
                }
                let pick = pools[&kind].iter().find(|(f, site)| {
                    !used.contains(&(*f, site.token))
                        && chosen[*f]
                            .iter()
                            .all(|other| other.line.abs_diff(site.line) >= min_gap)
                });
                if let Some((f, site)) = pick.cloned() {
                    used.insert((f, site.token));
                    chosen[f].push(site);
                    *counts.entry(kind).or_insert(0) += 1;
                    added = true;
                }
            }
            if !added {
                break;
            }
        }
        for sites in &mut chosen {
            sites.sort_by_key(|site| site.edit.start);
        }
        plan.push(chosen);
    }
    plan
}

/// Picks the sites of `variants` faulted copies of the corpus `files` at a realistic density:
/// each file is cut into sections of about `lines_per_fault` lines (at least one per file) and
/// every variant puts one fault in each section, of the kinds `kinds` in turns (the next kind
/// that has an unused site in the section). No site (token) is used by two variants. Returns
/// `[variant][file]` lists of sites.
pub fn plan_sparse(
    files: &[&str],
    variants: usize,
    lines_per_fault: usize,
    kinds: &[FaultKind],
    seed: u64,
) -> Vec<Vec<Vec<Site>>> {
    let mut plan = vec![vec![Vec::new(); files.len()]; variants];
    if kinds.is_empty() {
        return plan;
    }
    let mut rng = Rng::new(seed.wrapping_add(0x5A5A));
    let mut turn = rng.below(kinds.len());
    for (f, text) in files.iter().enumerate() {
        let mut file_rng = Rng::new(seed ^ (f as u64).wrapping_mul(0x1000_0000_01B3));
        let mut sites = candidates(text, &mut file_rng);
        sites.retain(|site| kinds.contains(&site.kind));
        rng.shuffle(&mut sites);
        let lines = text.lines().count().max(1);
        let sections = (lines + lines_per_fault / 2) / lines_per_fault.max(1);
        let sections = sections.max(1);
        let mut used: HashSet<usize> = HashSet::new();
        for variant in plan.iter_mut() {
            for section in 0..sections {
                let (from, to) = (section * lines / sections, (section + 1) * lines / sections);
                for attempt in 0..kinds.len() {
                    let kind = kinds[(turn + attempt) % kinds.len()];
                    let pick = sites.iter().find(|site| {
                        site.kind == kind
                            && (from..to).contains(&site.line)
                            && !used.contains(&site.token)
                    });
                    if let Some(site) = pick {
                        used.insert(site.token);
                        variant[f].push(site.clone());
                        turn = (turn + attempt + 1) % kinds.len();
                        break;
                    }
                }
            }
            variant[f].sort_by_key(|site| site.edit.start);
        }
    }
    plan
}

/// A fault as injected: where it is in the faulted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Bytes of the faulted text that changed: the replacement, or for a deletion the word now in
    /// its place.
    pub range: Range<usize>,
    /// 0-based line.
    pub line: usize,
    pub original: String,
    pub replacement: String,
}

/// Applies non-overlapping `sites` to `text`: the faulted text and its faults, in order.
pub fn apply(text: &str, sites: &[Site]) -> (String, Vec<Fault>) {
    let mut sites: Vec<&Site> = sites.iter().collect();
    sites.sort_by_key(|site| site.edit.start);
    let mut out = String::with_capacity(text.len());
    let mut faults = Vec::with_capacity(sites.len());
    let mut copied = 0;
    for site in sites {
        assert!(site.edit.start >= copied, "overlapping fault sites");
        out.push_str(&text[copied..site.edit.start]);
        let start = out.len();
        out.push_str(&site.replacement);
        faults.push(Fault {
            kind: site.kind,
            range: start..out.len() + site.tail,
            line: site.line,
            original: text[site.edit.clone()].to_string(),
            replacement: site.replacement.clone(),
        });
        copied = site.edit.end;
    }
    out.push_str(&text[copied..]);
    (out, faults)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#""""Module docstring: return while import def self else."""

import re  # import in a comment: return self.width

_LIMIT = 10


class Wrapper:
    """Class docstring with self.width and x <= y."""

    def __init__(self, width=70, text=''):
        self.width = width
        self.text = text + "self.width < 3"

    def wrap(self, chunks):
        lines = []
        total = 0
        while chunks:
            chunk = chunks.pop()
            if total + len(chunk) <= self.width and chunk != '':
                total = total - 1
            else:
                lines.append(chunk[0])
        # total == width in a comment
        return lines


def helper(value, limit=_LIMIT):
    result = value * 2
    if result > limit or value == 0:
        return limit
    return result + 1
"#;

    /// Byte ranges of comments and string literals, the bytes no fault may touch.
    fn non_code(text: &str) -> Vec<Range<usize>> {
        let mut ranges: Vec<Range<usize>> = tokenize(text)
            .into_iter()
            .filter(|t| t.kind == TokenKind::Str)
            .map(|t| t.range)
            .collect();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            if let Some(hash) = line.find('#') {
                let inside_string = ranges.iter().any(|r| r.contains(&(offset + hash)));
                if !inside_string {
                    ranges.push(offset + hash..offset + line.len());
                }
            }
            offset += line.len();
        }
        ranges
    }

    #[test]
    fn lexer_keeps_strings_and_comments_whole() {
        let tokens = tokenize(SAMPLE);
        let texts: Vec<&str> = tokens.iter().map(|t| &SAMPLE[t.range.clone()]).collect();
        assert!(texts[0].starts_with("\"\"\"Module") && texts[0].ends_with(".\"\"\""));
        assert!(!texts.contains(&"comment"));
        assert!(texts.contains(&"\"self.width < 3\""));
        assert!(texts.contains(&"<="));
        assert!(texts.contains(&"!="));
        let lines = tokens
            .iter()
            .find(|t| &SAMPLE[t.range.clone()] == "_LIMIT")
            .unwrap();
        assert_eq!(lines.line, 4);
    }

    #[test]
    fn every_kind_has_sites_and_each_changes_only_code() {
        let sites = candidates(SAMPLE, &mut Rng::new(7));
        let forbidden = non_code(SAMPLE);
        for kind in FaultKind::ALL {
            assert!(sites.iter().any(|s| s.kind == kind), "no site for {kind:?}");
        }
        for site in &sites {
            assert!(
                forbidden
                    .iter()
                    .all(|r| site.edit.end <= r.start || site.edit.start >= r.end),
                "{site:?} touches a comment or string"
            );
            let (faulted, faults) = apply(SAMPLE, std::slice::from_ref(site));
            assert_ne!(faulted, SAMPLE, "{site:?} changes nothing");
            let fault = &faults[0];
            if site.kind == FaultKind::MissingSelf {
                assert_eq!(fault.original, "self.");
                let attribute = &faulted[fault.range.clone()];
                assert!(attribute.chars().all(|c| c.is_alphanumeric() || c == '_'));
                assert!(!faulted[..fault.range.start].ends_with("self."));
            } else {
                assert_eq!(&faulted[fault.range.clone()], site.replacement);
            }
            // The fault stays on its line.
            assert_eq!(
                faulted[..fault.range.start].matches('\n').count(),
                site.line
            );
        }
    }

    #[test]
    fn kinds_make_the_expected_edits() {
        let sites = candidates(SAMPLE, &mut Rng::new(3));
        let of = |kind| sites.iter().filter(move |s: &&Site| s.kind == kind);
        for site in of(FaultKind::MisspelledKeyword) {
            let word = &SAMPLE[site.edit.clone()];
            assert!(is_keyword(word) || word == "self");
            assert!(!is_keyword(&site.replacement));
            assert!(site.replacement.len() + 1 >= word.len());
        }
        for site in of(FaultKind::MisspelledIdentifier) {
            let word = &SAMPLE[site.edit.clone()];
            assert!(
                word.len() >= 4 && SAMPLE.matches(word).count() >= 2,
                "{word}"
            );
        }
        let swaps: HashSet<(&str, &str)> = of(FaultKind::SwappedOperator)
            .map(|s| (&SAMPLE[s.edit.clone()], s.replacement.as_str()))
            .collect();
        for pair in [
            ("<=", ">="),
            ("!=", "=="),
            ("and", "or"),
            ("+", "-"),
            ("-", "+"),
        ] {
            assert!(swaps.contains(&pair), "{pair:?} missing from {swaps:?}");
        }
        // `=` and unary minus are never swapped.
        assert!(swaps.iter().all(|(old, _)| *old != "="));
        for site in of(FaultKind::WrongVariable) {
            let old = &SAMPLE[site.edit.clone()];
            assert_ne!(old, site.replacement);
            assert!(old != "self" && site.replacement != "self");
        }
        // `chunks` in `wrap` may become `lines` or `total`, locals of the same method.
        assert!(of(FaultKind::WrongVariable).any(|s| {
            &SAMPLE[s.edit.clone()] == "chunks"
                && ["lines", "total", "chunk"].contains(&s.replacement.as_str())
        }));
        for site in of(FaultKind::OffByOne) {
            let old: u64 = SAMPLE[site.edit.clone()].parse().unwrap();
            let new: u64 = site.replacement.parse().unwrap();
            assert_eq!(old.abs_diff(new), 1);
        }
        // Outside a method there is no `self.` to delete.
        assert!(of(FaultKind::MissingSelf).all(|s| s.line > 8 && s.line < 26));
    }

    #[test]
    fn sparse_plan_puts_one_fault_in_each_section() {
        let long: String = (0..4).map(|_| SAMPLE).collect();
        let files = [SAMPLE, long.as_str()];
        let kinds = [FaultKind::MisspelledKeyword, FaultKind::SwappedOperator];
        let a = plan_sparse(&files, 2, 30, &kinds, 5);
        assert_eq!(a, plan_sparse(&files, 2, 30, &kinds, 5));
        let sections = |text: &str| ((text.lines().count() + 15) / 30).max(1);
        let mut seen = HashSet::new();
        for variant in &a {
            for (f, sites) in variant.iter().enumerate() {
                assert_eq!(sites.len(), sections(files[f]), "file {f}");
                for site in sites {
                    assert!(kinds.contains(&site.kind));
                    assert!(seen.insert((f, site.token)), "site reused");
                }
            }
        }
        // Both kinds are used, in turns.
        let all: Vec<FaultKind> = a.iter().flatten().flatten().map(|s| s.kind).collect();
        assert!(kinds.iter().all(|kind| all.contains(kind)));
    }

    #[test]
    fn plan_is_deterministic_spaced_and_never_reuses_a_site() {
        let files = [SAMPLE, SAMPLE];
        let a = plan(&files, 3, 2, 5, 42);
        let b = plan(&files, 3, 2, 5, 42);
        assert_eq!(a, b);
        assert_ne!(a, plan(&files, 3, 2, 5, 43));
        let mut seen = HashSet::new();
        for variant in &a {
            assert!(variant.iter().map(Vec::len).sum::<usize>() > 0);
            for (f, sites) in variant.iter().enumerate() {
                for (x, site) in sites.iter().enumerate() {
                    assert!(seen.insert((f, site.token)), "site reused");
                    for other in &sites[x + 1..] {
                        assert!(site.line.abs_diff(other.line) >= 5);
                    }
                }
                let (faulted, faults) = apply(files[f], sites);
                assert_eq!(faults.len(), sites.len());
                assert_eq!(faulted.lines().count(), files[f].lines().count());
            }
        }
    }
}
