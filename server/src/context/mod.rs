//! Cross-file context: a ring of recently opened, edited or viewed chunks of other documents, which completion prompts carry in front of the current document.
//!
//! The pieces have one job each: [`chunk`] cuts a chunk of lines out of a document,
//! [`similarity`] says how much two chunks (or a chunk and the cursor's surroundings) overlap and
//! so which chunks a new one evicts, and [`ring`] keeps the chunks, changes the list prompts see
//! only when the user is idle, and picks the chunks for one document's prompt. The engine turns
//! the picked chunks into tokens ([`crate::engine::prompt`]).

pub mod chunk;
pub mod ring;
pub mod similarity;

use std::sync::Arc;

/// The cross-file part of one prompt: chunks of other documents, oldest first, and where the
/// current document sits among them. The same value always gives the same prompt, which is how a
/// pre-warm and the completion that follows it agree on their first tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptContext {
    /// Chunks to show before the document, oldest first (the engine drops the oldest when they
    /// do not fit `budget_tokens`).
    pub chunks: Vec<PromptChunk>,
    /// Most tokens the chunks may take, headers included.
    pub budget_tokens: usize,
    /// The current document's path relative to [`PromptContext::repository`], as file headers name it.
    pub document_path: String,
    /// The LSP language id of the current document, which decides how a plain-text file header
    /// is written (a comment in that language).
    pub language_id: String,
    /// The name of the folder every document of the prompt lives in (`<|repo_name|>`).
    pub repository: String,
}

/// One chunk as a prompt shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptChunk {
    /// Path relative to [`PromptContext::repository`].
    pub path: String,
    /// Whole lines, each ending with a newline.
    pub text: Arc<str>,
}

impl PromptContext {
    /// The cross-file part of a prompt in `document` (a URI) showing `chunks`, with paths relative
    /// to the folder all of them share, whose name is the repository's.
    pub fn new(
        document: &str,
        language_id: &str,
        chunks: &[Arc<chunk::Chunk>],
        budget_tokens: usize,
    ) -> Self {
        if chunks.is_empty() {
            return Self::default();
        }
        let paths: Vec<&str> = std::iter::once(document)
            .chain(chunks.iter().map(|chunk| chunk.document.as_str()))
            .collect();
        let root = shared_folder(&paths);
        let relative = |path: &str| path.strip_prefix(root).unwrap_or(path).to_string();
        Self {
            chunks: chunks
                .iter()
                .map(|chunk| PromptChunk {
                    path: relative(&chunk.document),
                    text: chunk.text.clone(),
                })
                .collect(),
            budget_tokens,
            document_path: relative(document),
            language_id: language_id.to_string(),
            repository: root
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|name| !name.is_empty() && !name.ends_with(':'))
                .unwrap_or("project")
                .to_string(),
        }
    }

    /// Whether the prompt has no cross-file part at all (then it is exactly the single-file prompt).
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() || self.budget_tokens == 0
    }
}

/// The longest prefix of every path that ends with `/`: the folder they all live in.
fn shared_folder<'a>(paths: &[&'a str]) -> &'a str {
    let first = paths[0];
    let mut end = first.rfind('/').map_or(0, |slash| slash + 1);
    for path in &paths[1..] {
        while end > 0 && !path.starts_with(&first[..end]) {
            end = first[..end - 1].rfind('/').map_or(0, |slash| slash + 1);
        }
    }
    &first[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(document: &str) -> Arc<chunk::Chunk> {
        Arc::new(chunk::Chunk::new(document, 0, "a\nb\nc\n"))
    }

    #[test]
    fn paths_are_relative_to_the_shared_folder_named_as_the_repository() {
        let context = PromptContext::new(
            "file:///work/shop/json/decoder.py",
            "python",
            &[
                chunk("file:///work/shop/json/scanner.py"),
                chunk("file:///work/shop/tests/test_json.py"),
            ],
            100,
        );
        assert_eq!(context.document_path, "json/decoder.py");
        let paths: Vec<&str> = context.chunks.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["json/scanner.py", "tests/test_json.py"]);
        assert_eq!(context.repository, "shop");
        assert_eq!(
            shared_folder(&["file:///a/x.py", "file:///a/xy/z.py"]),
            "file:///a/"
        );
        let top = PromptContext::new("file:///x.py", "python", &[chunk("file:///y.py")], 1);
        assert_eq!(top.repository, "project");
        assert!(PromptContext::new("file:///x.py", "python", &[], 100).is_empty());
    }
}
