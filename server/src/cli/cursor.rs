//! Turning a `LINE:COL` cursor (1-based, columns in characters) into a byte offset of the text.

use anyhow::{bail, Context};

/// A parsed `LINE:COL` argument, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub line: usize,
    pub column: usize,
}

impl std::str::FromStr for Cursor {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        let (line, column) = text
            .split_once(':')
            .with_context(|| format!("`{text}` is not LINE:COL"))?;
        let line: usize = line
            .trim()
            .parse()
            .with_context(|| format!("bad line in `{text}`"))?;
        let column: usize = column
            .trim()
            .parse()
            .with_context(|| format!("bad column in `{text}`"))?;
        if line == 0 || column == 0 {
            bail!("LINE and COL are 1-based; `{text}` has a zero");
        }
        Ok(Self { line, column })
    }
}

impl Cursor {
    /// Byte offset of the cursor in `text`. A column past the end of its line means the end of
    /// the line, as editors clamp; a line past the end of the text is an error.
    pub fn byte_offset(&self, text: &str) -> anyhow::Result<usize> {
        let mut line_start = 0;
        for _ in 1..self.line {
            match text[line_start..].find('\n') {
                Some(newline) => line_start += newline + 1,
                None => bail!(
                    "line {} is past the end of the text ({} lines)",
                    self.line,
                    text.lines().count().max(1)
                ),
            }
        }
        let line = &text[line_start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        let line = line.strip_suffix('\r').unwrap_or(line);
        let within = line
            .char_indices()
            .nth(self.column - 1)
            .map_or(line.len(), |(offset, _)| offset);
        Ok(line_start + within)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(text: &str, at: &str) -> anyhow::Result<usize> {
        at.parse::<Cursor>()?.byte_offset(text)
    }

    #[test]
    fn offsets_count_characters_and_clamp_to_line_end() {
        let text = "fn a() {\n  🦀x\r\n}";
        assert_eq!(offset(text, "1:1").unwrap(), 0);
        assert_eq!(offset(text, "2:4").unwrap(), 9 + 2 + 4);
        assert_eq!(offset(text, "2:99").unwrap(), 9 + 2 + 4 + 1);
        assert_eq!(offset(text, "3:2").unwrap(), text.len());
    }

    #[test]
    fn bad_cursors_are_errors() {
        assert!(offset("a\nb", "3:1").is_err());
        assert!("0:1".parse::<Cursor>().is_err());
        assert!("x".parse::<Cursor>().is_err());
        assert!("1:y".parse::<Cursor>().is_err());
    }
}
