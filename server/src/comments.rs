//! Line comments by language: which markers start one, whether a line is only a comment, and whether the cursor sits where code (not a comment) is expected.
//!
//! A small model that is unsure what comes next often writes a comment line (`# compute the
//! total`) where the user removed or is about to write code. `completion.codeOverComment` decides
//! what happens to such a suggestion; this module only tells the two apart. It depends on no other
//! rill module so that integration tests can include it directly.

/// The line-comment markers of a language (its LSP language id), most common first. Unknown
/// languages get the two most common markers.
pub fn markers(language_id: &str) -> &'static [&'static str] {
    match language_id {
        "python" | "shellscript" | "ruby" | "perl" | "r" | "yaml" | "toml" | "makefile"
        | "dockerfile" | "elixir" | "julia" | "powershell" | "nim" | "cmake" => &["#"],
        "lua" | "sql" | "haskell" | "ada" | "elm" => &["--"],
        "rust" | "c" | "cpp" | "csharp" | "go" | "java" | "javascript" | "javascriptreact"
        | "typescript" | "typescriptreact" | "kotlin" | "scala" | "swift" | "dart" | "zig"
        | "php" => &["//", "/*"],
        _ => &["//", "#"],
    }
}

/// Whether `line` holds nothing but a comment (after its indentation).
pub fn is_comment_line(line: &str, markers: &[&str]) -> bool {
    let text = line.trim_start();
    !text.is_empty() && markers.iter().any(|marker| text.starts_with(marker))
}

/// Whether code is expected at the cursor: the text before it on its line is not (inside) a
/// comment, and the nearest non-blank line above is code too, so the user is not writing a block
/// of comments.
pub fn code_expected(line_prefix: &str, previous_lines: &[&str], markers: &[&str]) -> bool {
    if markers.iter().any(|marker| line_prefix.contains(marker)) {
        return false;
    }
    match previous_lines
        .iter()
        .rev()
        .find(|line| !line.trim().is_empty())
    {
        Some(line) => !is_comment_line(line, markers),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lines_by_language() {
        assert!(is_comment_line("    # total", markers("python")));
        assert!(!is_comment_line("    total = 0  # sum", markers("python")));
        assert!(is_comment_line("\t// next", markers("rust")));
        assert!(is_comment_line("  -- x", markers("lua")));
        assert!(!is_comment_line("   ", markers("rust")));
    }

    #[test]
    fn code_is_expected_among_code_but_not_in_a_comment_block() {
        let python = markers("python");
        assert!(code_expected("    ", &["def f(x):", "    y = 1"], python));
        assert!(!code_expected(
            "    ",
            &["def f(x):", "    # explain"],
            python
        ));
        assert!(!code_expected("    x = 1  # ", &["def f(x):"], python));
        assert!(code_expected("", &[], python));
    }
}
