//! Text read back from a shared place (a stack's tags, a lock's holder, a record's fields) as a
//! terminal may show it: whoever wrote it there chose every byte, so its control characters
//! (ANSI escapes that repaint the screen, carriage returns that overwrite a line) are written as
//! escapes, and it is cut to a length a message can hold.

/// One line of `text`, control characters (newlines too) escaped, at most `max_chars` of it.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut shown = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            shown.push('…');
            break;
        }
        if c.is_control() {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown
}

/// Several lines of `text` (newlines and tabs kept), every other control character escaped.
pub fn lines(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_shown_not_obeyed() {
        let shown = one_line("ci@\u{1b}[2Jhost\rpid 1\nx", 100);
        assert_eq!(shown, r"ci@\u{1b}[2Jhost\rpid 1\nx");
    }

    #[test]
    fn long_text_is_cut() {
        assert_eq!(one_line(&"a".repeat(10), 4), "aaaa…");
        assert_eq!(one_line("abcd", 4), "abcd");
    }
}
