//! The HTML pieces of the page: escaping (every text that came from a server goes through it),
//! tables with numbers aligned on the right, and colour legends.

use std::fmt::Write as _;

use crate::scrub::{escape_char, is_unsafe};

/// Text made safe inside an element or a double-quoted attribute: markup escaped, and the
/// characters that reorder or hide text (control characters, bidirectional controls: the one
/// `is_unsafe` rule) shown as the terminal and NDJSON show them, `\u{202e}`, never raw.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if is_unsafe(c) => out.push_str(&escape_char(c)),
            c => out.push(c),
        }
    }
    out
}

/// A column of a table: its heading and whether it holds figures (aligned right).
pub struct Column<'a> {
    pub heading: &'a str,
    pub figures: bool,
}

pub const fn text_column(heading: &str) -> Column<'_> {
    Column { heading, figures: false }
}

pub const fn figure_column(heading: &str) -> Column<'_> {
    Column { heading, figures: true }
}

/// A table; `rows` hold HTML (escaped by whoever built them), one cell per column; a `footer`
/// row (totals) is set apart.
pub fn table(
    page: &mut String,
    id: &str,
    caption: &str,
    columns: &[Column],
    rows: &[Vec<String>],
    footer: Option<&[String]>,
) {
    let _ = write!(page, "<table id=\"{id}\"><caption>{}</caption><thead><tr>", escape(caption));
    for column in columns {
        let _ = write!(page, "<th scope=\"col\"{}>{}</th>", class(column), escape(column.heading));
    }
    page.push_str("</tr></thead><tbody>");
    let write_row = |page: &mut String, row: &[String]| {
        page.push_str("<tr>");
        for (column, cell) in columns.iter().zip(row) {
            let _ = write!(page, "<td{}>{cell}</td>", class(column));
        }
        page.push_str("</tr>");
    };
    for row in rows {
        write_row(page, row);
    }
    page.push_str("</tbody>");
    if let Some(footer) = footer {
        page.push_str("<tfoot>");
        write_row(page, footer);
        page.push_str("</tfoot>");
    }
    page.push_str("</table>");
}

fn class(column: &Column) -> &'static str {
    if column.figures { " class=\"num\"" } else { "" }
}

/// A legend of coloured swatches under a chart.
pub fn legend(page: &mut String, items: &[(&str, String)]) {
    page.push_str("<p class=\"legend\">");
    for (colour, label) in items {
        let _ = write!(page, "<span><i style=\"background:{colour}\"></i>{}</span>", escape(label));
    }
    page.push_str("</p>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_server_text_is_escaped() {
        assert_eq!(escape("<img src=x onerror=\"a&b\">"), "&lt;img src=x onerror=&quot;a&amp;b&quot;&gt;");
    }

    #[test]
    fn bidi_controls_and_terminal_escapes_are_shown_escaped_as_on_the_terminal() {
        assert_eq!(escape("abc\u{202e}fed\u{1b}[31m\n"), "abc\\u{202e}fed\\u{1b}[31m\\n");
    }
}
