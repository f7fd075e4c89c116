//! A strict YAML subset, enough for cloud-config and NoCloud `meta-data`,
//! read by hand: no crate we checked does YAML on `no_std` + `alloc` with
//! errors that name a position and refuse what it does not understand
//! (`serde_yaml`/`serde_yml` and `yaml-rust2`/`saphyr` need `std`;
//! `yaml-peg` builds without `std` but accepts anchors, tags and
//! merge keys, which we want refused).
//!
//! Accepted:
//! - block mappings (`key: value`, one per line, keys unique) and block
//!   sequences (`- item`), nested by indentation with spaces; a sequence
//!   may sit at its key's own indentation (`key:` then `- a`); compact
//!   forms `- key: value` (a mapping as an item) and `- - a`;
//! - flow sequences `[a, "b", [c]]` and flow mappings `{a: 1, b: [x]}`,
//!   each closed on the line it opens;
//! - plain scalars on one line, single-quoted (`''` is a quote) and
//!   double-quoted scalars (escapes `\\ \" \/ \0 \a \b \t \n \v \f \r \e
//!   \  \N \_ \L \P \xXX \uXXXX \UXXXXXXXX`) on one line;
//! - block scalars `|` and `>` with chomping `-`/`+` (no indentation digit);
//! - comments (`#` at a line's start or after a space), blank lines, CRLF
//!   line ends, one `---` before the document, a leading byte-order mark.
//!
//! Every scalar is a string (`port: 80` gives "80", `on: yes` gives "yes");
//! an empty value is `Null`.
//!
//! Refused, with line and column: tabs in indentation, anchors (`&a`),
//! aliases (`*a`), tags (`!!str`), directives (`%YAML`), a second document
//! (`---` later, `...`), complex keys (`? `), duplicate keys, a plain value
//! continued on the next line, `key: a: b` on one line, flow collections
//! over several lines, reserved indicators (`@`, `` ` ``), control
//! characters, and nesting deeper than `MAX_DEPTH`.

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Nesting of collections (block and flow together).
pub const MAX_DEPTH: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Str(String),
    Seq(Vec<Value>),
    /// Entries in document order, keys unique.
    Map(Vec<(String, Value)>),
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based
    pub line: usize,
    /// 1-based, counting bytes
    pub column: usize,
    pub what: &'static str,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.line, self.column, self.what
        )
    }
}

type Result<T> = core::result::Result<T, YamlError>;

#[derive(Clone, Copy)]
struct Line<'a> {
    no: usize,
    indent: usize,
    /// after the indentation
    text: &'a str,
}

impl Line<'_> {
    /// Blank or only a comment.
    fn is_void(&self) -> bool {
        let t = self.text.trim_start_matches([' ', '\t']);
        t.is_empty() || t.starts_with('#')
    }

    /// `---` or `...` at the margin: the document ends here.
    fn is_document_marker(&self) -> bool {
        self.indent == 0 && (is_marker(self.text, "---") || is_marker(self.text, "..."))
    }

    fn err(&self, offset: usize, what: &'static str) -> YamlError {
        YamlError {
            line: self.no,
            column: self.indent + offset + 1,
            what,
        }
    }
}

pub fn parse(text: &str) -> Result<Value> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let at = |column: usize, what| YamlError {
            line: i + 1,
            column,
            what,
        };
        if let Some(c) = raw
            .char_indices()
            .find(|&(_, c)| c.is_control() && c != '\t')
        {
            return Err(at(c.0 + 1, "control character"));
        }
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let text = &raw[indent..];
        if text.starts_with('\t') && !text.trim().is_empty() {
            return Err(at(indent + 1, "tab in indentation"));
        }
        lines.push(Line {
            no: i + 1,
            indent,
            text,
        });
    }
    let mut p = Parser { lines, pos: 0 };
    p.document()
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    /// The next line with content (skipping blanks and comments).
    fn peek(&mut self) -> Option<Line<'a>> {
        while let Some(l) = self.lines.get(self.pos) {
            if !l.is_void() {
                return Some(*l);
            }
            self.pos += 1;
        }
        None
    }

    fn document(&mut self) -> Result<Value> {
        let mut marker = false;
        let mut value = None;
        while let Some(l) = self.peek() {
            if l.indent == 0 && is_marker(l.text, "---") {
                if marker || value.is_some() || !is_comment(&l.text[3..]) {
                    return Err(l.err(0, "more than one document (or content after ---)"));
                }
                marker = true;
                self.pos += 1;
                continue;
            }
            if l.indent == 0 && is_marker(l.text, "...") {
                return Err(l.err(0, "document end marker"));
            }
            if l.indent == 0 && l.text.starts_with('%') {
                return Err(l.err(0, "directives are not supported"));
            }
            if value.is_some() {
                return Err(l.err(0, "unexpected content after the document"));
            }
            // consumes at least this line
            value = Some(self.node(0, 0)?);
        }
        Ok(value.unwrap_or(Value::Null))
    }

    /// A block node whose first line is indented at least `min`.
    fn node(&mut self, min: usize, depth: usize) -> Result<Value> {
        let Some(l) = self.peek() else {
            return Ok(Value::Null);
        };
        if l.indent < min {
            return Ok(Value::Null);
        }
        if depth >= MAX_DEPTH {
            return Err(l.err(0, "nested too deeply"));
        }
        if is_item(l.text) {
            return self.sequence(l.indent, depth + 1);
        }
        if key(&l)?.is_some() {
            return self.mapping(l.indent, depth + 1);
        }
        // a lone scalar or flow collection on its own line
        self.pos += 1;
        let mut c = Cursor::new(l, 0);
        let v = c.inline_value(depth)?;
        c.end()?;
        Ok(v)
    }

    fn mapping(&mut self, n: usize, depth: usize) -> Result<Value> {
        let mut map: Vec<(String, Value)> = Vec::new();
        while let Some(l) = self.peek() {
            if l.indent < n || l.is_document_marker() {
                break;
            }
            if l.indent > n {
                return Err(l.err(
                    0,
                    "unexpected indentation (a value continued on the next line is not supported)",
                ));
            }
            if is_item(l.text) {
                return Err(l.err(0, "a sequence item where a mapping key was expected"));
            }
            let Some((k, rest)) = key(&l)? else {
                return Err(l.err(0, "expected `key: value`"));
            };
            if map.iter().any(|(have, _)| *have == k) {
                return Err(l.err(0, "duplicate key"));
            }
            self.pos += 1;
            let v = self.value(l, rest, n, depth, true)?;
            map.push((k, v));
        }
        Ok(Value::Map(map))
    }

    fn sequence(&mut self, n: usize, depth: usize) -> Result<Value> {
        let mut seq = Vec::new();
        while let Some(l) = self.peek() {
            if l.indent < n || l.is_document_marker() {
                break;
            }
            if l.indent > n {
                return Err(l.err(
                    0,
                    "unexpected indentation (a value continued on the next line is not supported)",
                ));
            }
            if !is_item(l.text) {
                break;
            }
            let after = &l.text[1..];
            let gap = after.len() - after.trim_start_matches(' ').len();
            let inner = Line {
                no: l.no,
                indent: n + 1 + gap,
                text: &after[gap..],
            };
            if !inner.is_void() && (is_item(inner.text) || key(&inner)?.is_some()) {
                // `- - a` or `- key: value`: the rest of the line starts a
                // nested block at its own column
                if depth >= MAX_DEPTH {
                    return Err(l.err(0, "nested too deeply"));
                }
                self.lines[self.pos] = inner;
                let v = if is_item(inner.text) {
                    self.sequence(inner.indent, depth + 1)?
                } else {
                    self.mapping(inner.indent, depth + 1)?
                };
                seq.push(v);
                continue;
            }
            self.pos += 1;
            seq.push(self.value(l, 1, n, depth, false)?);
        }
        Ok(Value::Seq(seq))
    }

    /// The value after `key:` or `-` on line `l`, from byte `at` of its
    /// text; `n` is the key's or dash's indentation.
    fn value(
        &mut self,
        l: Line<'a>,
        at: usize,
        n: usize,
        depth: usize,
        in_map: bool,
    ) -> Result<Value> {
        let mut c = Cursor::new(l, at);
        c.spaces();
        if c.at_end() {
            return match self.peek() {
                Some(next) if next.indent > n => self.node(n + 1, depth),
                // `key:` followed by `- item` at the key's own column
                Some(next) if in_map && next.indent == n && is_item(next.text) => {
                    if depth >= MAX_DEPTH {
                        return Err(next.err(0, "nested too deeply"));
                    }
                    self.sequence(n, depth + 1)
                }
                _ => Ok(Value::Null),
            };
        }
        if matches!(c.peek(), Some(b'|' | b'>')) {
            return self.block_scalar(c, n);
        }
        let v = c.inline_value(depth)?;
        c.end()?;
        Ok(v)
    }

    /// `|` or `>` (cursor on it): the lines indented past `n` that follow.
    fn block_scalar(&mut self, mut c: Cursor<'a>, n: usize) -> Result<Value> {
        let folded = c.bump() == Some(b'>');
        let chomp = match c.peek() {
            Some(b'-') | Some(b'+') => c.bump(),
            _ => None,
        };
        if c.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(c.err("explicit indentation indicators are not supported"));
        }
        c.end()?;
        // the content: blank lines, and lines indented like the first
        // non-blank one (which must be past `n`), extra spaces kept
        let mut lines: Vec<String> = Vec::new();
        let mut indent = None;
        while let Some(l) = self.lines.get(self.pos) {
            if l.text.trim_start_matches(' ').is_empty() {
                lines.push(String::new());
                self.pos += 1;
                continue;
            }
            let want = *indent.get_or_insert(l.indent);
            if want <= n || l.indent < want {
                break;
            }
            let mut s = String::new();
            (want..l.indent).for_each(|_| s.push(' '));
            s.push_str(l.text);
            lines.push(s);
            self.pos += 1;
        }
        let trailing = lines.iter().rev().take_while(|s| s.is_empty()).count();
        let content = &lines[..lines.len() - trailing];
        // literal: every break kept; folded: a break between two lines of
        // text is a space, a run of k blank lines is k breaks, and
        // more-indented lines keep theirs
        let mut s = String::new();
        let (mut blanks, mut prev_more) = (0usize, false);
        for (k, line) in content.iter().enumerate() {
            if line.is_empty() {
                blanks += 1;
                continue;
            }
            let more = line.starts_with(' ');
            let breaks = match (k == blanks, folded) {
                (true, _) => blanks, // leading blank lines
                (false, false) => blanks + 1,
                (false, true) if blanks > 0 => blanks,
                (false, true) if prev_more || more => 1,
                (false, true) => {
                    s.push(' ');
                    0
                }
            };
            (0..breaks).for_each(|_| s.push('\n'));
            s.push_str(line);
            blanks = 0;
            prev_more = more;
        }
        if chomp != Some(b'-') && !content.is_empty() {
            s.push('\n');
        }
        if chomp == Some(b'+') {
            (0..trailing).for_each(|_| s.push('\n'));
        }
        Ok(Value::Str(s))
    }
}

fn is_comment(s: &str) -> bool {
    let t = s.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#')
}

/// `---` or `...` alone (or before a space).
fn is_marker(text: &str, m: &str) -> bool {
    text.strip_prefix(m)
        .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
}

/// `- ...` or a lone `-`.
fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ") || text.starts_with("-\t")
}

/// The mapping key on this line, and where its value starts (after the
/// colon), if the line is `key: ...`.
fn key(l: &Line) -> Result<Option<(String, usize)>> {
    let t = l.text;
    if t.starts_with("? ") || t == "?" {
        return Err(l.err(0, "complex keys (`? `) are not supported"));
    }
    let mut c = Cursor::new(*l, 0);
    match c.peek() {
        Some(b'"') | Some(b'\'') => {
            let k = c.quoted()?;
            c.spaces();
            if c.peek() == Some(b':') && c.colon_ends() {
                c.bump();
                return Ok(Some((k, c.i)));
            }
            Ok(None)
        }
        Some(b'[') | Some(b'{') | Some(b'#') => Ok(None),
        _ => {
            // plain: up to the first `: ` (or a final `:`), before any comment
            let b = t.as_bytes();
            for i in 0..b.len() {
                if b[i] == b'#' && i > 0 && matches!(b[i - 1], b' ' | b'\t') {
                    return Ok(None);
                }
                if b[i] == b':' && (i + 1 == b.len() || matches!(b[i + 1], b' ' | b'\t')) {
                    let k = t[..i].trim_end_matches([' ', '\t']);
                    if k.is_empty() {
                        return Err(l.err(i, "empty key"));
                    }
                    Cursor::new(*l, 0).check_plain_start(k)?;
                    return Ok(Some((k.into(), i + 1)));
                }
            }
            Ok(None)
        }
    }
}

/// Reading inline content of one line.
struct Cursor<'a> {
    line: Line<'a>,
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(line: Line<'a>, at: usize) -> Cursor<'a> {
        Cursor {
            line,
            s: line.text.as_bytes(),
            i: at,
        }
    }

    fn err(&self, what: &'static str) -> YamlError {
        self.line.err(self.i, what)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    fn spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Only spaces and a comment remain.
    fn at_end(&self) -> bool {
        match self.peek() {
            None => true,
            Some(b'#') => self.i == 0 || matches!(self.s[self.i - 1], b' ' | b'\t'),
            _ => false,
        }
    }

    fn end(&mut self) -> Result<()> {
        self.spaces();
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err("unexpected text after the value"))
        }
    }

    /// A `:` here is a mapping indicator (followed by a space or the end).
    fn colon_ends(&self) -> bool {
        matches!(self.s.get(self.i + 1), None | Some(b' ' | b'\t'))
    }

    fn text(&self, from: usize, to: usize) -> &'a str {
        self.line.text.get(from..to).unwrap_or("")
    }

    /// A scalar or flow collection in block context.
    fn inline_value(&mut self, depth: usize) -> Result<Value> {
        match self.peek() {
            Some(b'[') | Some(b'{') => self.flow(depth),
            Some(b'"') | Some(b'\'') => Ok(Value::Str(self.quoted()?)),
            _ => {
                let start = self.i;
                let mut end = start;
                while let Some(b) = self.peek() {
                    if b == b'#' && self.i > start && matches!(self.s[self.i - 1], b' ' | b'\t') {
                        break;
                    }
                    if b == b':' && self.colon_ends() {
                        return Err(self.err("`key: value` inside a value (quote it, or put the mapping on its own lines)"));
                    }
                    self.i += 1;
                    if !matches!(b, b' ' | b'\t') {
                        end = self.i;
                    }
                }
                let v = self.text(start, end);
                self.i = end;
                let at = Cursor { i: start, ..*self };
                at.check_plain_start(v)?;
                Ok(Value::Str(v.into()))
            }
        }
    }

    /// What a plain scalar may not start with.
    fn check_plain_start(&self, v: &str) -> Result<()> {
        let b = v.as_bytes();
        let Some(&first) = b.first() else {
            return Ok(());
        };
        let then_space = matches!(b.get(1), None | Some(b' ' | b'\t'));
        let what = match first {
            b'&' => "anchors are not supported",
            b'*' => "aliases are not supported",
            b'!' => "tags are not supported",
            b'@' | b'`' => "reserved indicator",
            b'|' | b'>' => "block scalar indicator in this place",
            b'%' => "directives are not supported",
            b',' | b']' | b'}' => "flow indicator at the start of a value",
            b'-' | b'?' | b':' if then_space => "indicator followed by a space",
            _ => return Ok(()),
        };
        Err(self.err(what))
    }

    /// `'...'` or `"..."` on this line (cursor on the quote).
    fn quoted(&mut self) -> Result<String> {
        let open = self.i;
        let q = self.bump();
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(b) = self.peek() {
                if b == b'\'' || b == b'"' || b == b'\\' {
                    break;
                }
                self.i += 1;
            }
            out.push_str(self.text(start, self.i));
            match (q, self.bump()) {
                (_, None) => {
                    self.i = open;
                    return Err(self.err("quoted scalar not closed on its line"));
                }
                (Some(b'\''), Some(b'\'')) => {
                    if self.peek() == Some(b'\'') {
                        self.i += 1;
                        out.push('\'');
                    } else {
                        return Ok(out);
                    }
                }
                (Some(b'"'), Some(b'"')) => return Ok(out),
                (Some(b'"'), Some(b'\\')) => out.push(self.escape()?),
                (_, Some(b)) => out.push(b as char),
            }
        }
    }

    /// After a backslash in a double-quoted scalar.
    fn escape(&mut self) -> Result<char> {
        let Some(e) = self.bump() else {
            return Err(self.err("quoted scalar not closed on its line"));
        };
        let hex = |c: &mut Cursor, n: usize| -> Result<char> {
            let digits = c.text(c.i, c.i + n);
            if digits.len() != n || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(c.err("bad hex escape"));
            }
            c.i += n;
            u32::from_str_radix(digits, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| c.err("escape is not a character"))
        };
        Ok(match e {
            b'0' => '\0',
            b'a' => '\x07',
            b'b' => '\x08',
            b't' | b'\t' => '\t',
            b'n' => '\n',
            b'v' => '\x0b',
            b'f' => '\x0c',
            b'r' => '\r',
            b'e' => '\x1b',
            b' ' => ' ',
            b'"' => '"',
            b'/' => '/',
            b'\\' => '\\',
            b'N' => '\u{85}',
            b'_' => '\u{a0}',
            b'L' => '\u{2028}',
            b'P' => '\u{2029}',
            b'x' => hex(self, 2)?,
            b'u' => hex(self, 4)?,
            b'U' => hex(self, 8)?,
            _ => {
                self.i -= 1;
                return Err(self.err("unknown escape"));
            }
        })
    }

    /// `[...]` or `{...}` closed on this line (cursor on the bracket).
    fn flow(&mut self, depth: usize) -> Result<Value> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        let open = self.bump();
        let close = if open == Some(b'[') { b']' } else { b'}' };
        let mut seq = Vec::new();
        let mut map: Vec<(String, Value)> = Vec::new();
        loop {
            self.spaces();
            match self.peek() {
                None => return Err(self.err("flow collection not closed on its line")),
                Some(b) if b == close => {
                    self.i += 1;
                    break;
                }
                _ => {}
            }
            if close == b'}' {
                let at = self.i;
                let k = match self.flow_node(depth)? {
                    Value::Str(k) => k,
                    _ => return Err(self.err("flow mapping keys must be scalars")),
                };
                self.spaces();
                if self.bump() != Some(b':') {
                    self.i = at;
                    return Err(self.err("flow mapping entry without `: value`"));
                }
                self.spaces();
                let v = match self.peek() {
                    Some(b',') | Some(b'}') => Value::Null,
                    _ => self.flow_node(depth)?,
                };
                if map.iter().any(|(have, _)| *have == k) {
                    self.i = at;
                    return Err(self.err("duplicate key"));
                }
                map.push((k, v));
            } else {
                let v = self.flow_node(depth)?;
                self.spaces();
                if self.peek() == Some(b':') {
                    return Err(self.err("mappings inside flow sequences are not supported"));
                }
                seq.push(v);
            }
            self.spaces();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b) if b == close => {}
                None => return Err(self.err("flow collection not closed on its line")),
                _ => return Err(self.err("expected `,` or the closing bracket")),
            }
        }
        Ok(if close == b']' {
            Value::Seq(seq)
        } else {
            Value::Map(map)
        })
    }

    /// One entry inside a flow collection.
    fn flow_node(&mut self, depth: usize) -> Result<Value> {
        match self.peek() {
            Some(b'[') | Some(b'{') => self.flow(depth + 1),
            Some(b'"') | Some(b'\'') => Ok(Value::Str(self.quoted()?)),
            _ => {
                let start = self.i;
                let mut end = start;
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'[' | b']' | b'{' | b'}') {
                        break;
                    }
                    if b == b':'
                        && (self.colon_ends()
                            || matches!(self.s.get(self.i + 1), Some(b',' | b']' | b'}')))
                    {
                        break;
                    }
                    if b == b'#' && self.i > start && matches!(self.s[self.i - 1], b' ' | b'\t') {
                        return Err(self.err("flow collection not closed on its line"));
                    }
                    self.i += 1;
                    if !matches!(b, b' ' | b'\t') {
                        end = self.i;
                    }
                }
                let v = self.text(start, end);
                if v.is_empty() {
                    return Err(self.err("empty entry in a flow collection"));
                }
                let at = Cursor { i: start, ..*self };
                at.check_plain_start(v)?;
                Ok(Value::Str(v.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| ((*k).into(), v.clone()))
                .collect(),
        )
    }

    fn err(text: &str) -> (usize, usize, &'static str) {
        let e = parse(text).expect_err(text);
        (e.line, e.column, e.what)
    }

    #[test]
    fn cloud_config_forms() {
        let doc = "#cloud-config\n\
            hostname: web-1   # a comment\n\
            fqdn: \"web-1.example.com\"\n\
            ssh_authorized_keys:\n\
            \x20 - ssh-ed25519 AAAA one@x\n\
            \x20 - 'ssh-ed25519 BBBB two # not a comment'\n\
            packages: [nginx, \"curl\", [nested]]\n\
            users:\n\
            - name: alice\n\
            \x20 groups: [sudo]\n\
            \x20 ssh_authorized_keys:\n\
            \x20   - ssh-ed25519 CCCC\n\
            - default\n\
            write_files:\n\
            \x20 - path: /etc/motd\n\
            \x20   content: |\n\
            \x20     hello\n\
            \x20       indented\n\
            \n\
            \x20     # kept: inside the block\n\
            \x20 - path: /x\n\
            \x20   content: >-\n\
            \x20     folded\n\
            \x20     text\n\
            empty:\n\
            flow_map: {a: 1, 'b': [x, y], c: }\n";
        let v = parse(doc).unwrap();
        assert_eq!(v.get("hostname"), Some(&s("web-1")));
        assert_eq!(v.get("fqdn"), Some(&s("web-1.example.com")));
        assert_eq!(
            v.get("ssh_authorized_keys"),
            Some(&Value::Seq(vec![
                s("ssh-ed25519 AAAA one@x"),
                s("ssh-ed25519 BBBB two # not a comment")
            ]))
        );
        assert_eq!(
            v.get("packages"),
            Some(&Value::Seq(vec![
                s("nginx"),
                s("curl"),
                Value::Seq(vec![s("nested")])
            ]))
        );
        assert_eq!(
            v.get("users"),
            Some(&Value::Seq(vec![
                map(&[
                    ("name", s("alice")),
                    ("groups", Value::Seq(vec![s("sudo")])),
                    (
                        "ssh_authorized_keys",
                        Value::Seq(vec![s("ssh-ed25519 CCCC")])
                    ),
                ]),
                s("default"),
            ]))
        );
        let Some(Value::Seq(files)) = v.get("write_files") else {
            panic!()
        };
        assert_eq!(
            files[0].get("content"),
            Some(&s("hello\n  indented\n\n# kept: inside the block\n"))
        );
        assert_eq!(files[1].get("content"), Some(&s("folded text")));
        assert_eq!(v.get("empty"), Some(&Value::Null));
        assert_eq!(
            v.get("flow_map"),
            Some(&map(&[
                ("a", s("1")),
                ("b", Value::Seq(vec![s("x"), s("y")])),
                ("c", Value::Null)
            ]))
        );
    }

    #[test]
    fn scalars() {
        let v = parse("a: 'it''s'\nb: \"tab\\there \\u00e9 \\x41 \\\"q\\\" \\\\\"\nc: plain with spaces  \nd: x:y\ne: \"\"\nf: a#b\n'g h': 1\n").unwrap();
        assert_eq!(v.get("a"), Some(&s("it's")));
        assert_eq!(v.get("b"), Some(&s("tab\there \u{e9} A \"q\" \\")));
        assert_eq!(v.get("c"), Some(&s("plain with spaces")));
        assert_eq!(v.get("d"), Some(&s("x:y")));
        assert_eq!(v.get("e"), Some(&s("")));
        assert_eq!(v.get("f"), Some(&s("a#b")));
        assert_eq!(v.get("g h"), Some(&s("1")));
        // block scalars: chomping
        let v = parse("k: |+\n  a\n\n\nl: |-\n  b\n\nm: |\n  c\n\n").unwrap();
        assert_eq!(v.get("k"), Some(&s("a\n\n\n")));
        assert_eq!(v.get("l"), Some(&s("b")));
        assert_eq!(v.get("m"), Some(&s("c\n")));
        let v = parse("f: >\n  one\n  two\n\n  three\n").unwrap();
        assert_eq!(v.get("f"), Some(&s("one two\nthree\n")));
    }

    #[test]
    fn documents() {
        assert_eq!(parse(""), Ok(Value::Null));
        assert_eq!(parse("# only a comment\n\n"), Ok(Value::Null));
        assert_eq!(parse("---\na: 1\n"), Ok(map(&[("a", s("1"))])));
        assert_eq!(
            parse("\u{feff}a: 1\r\nb: 2\r\n"),
            Ok(map(&[("a", s("1")), ("b", s("2"))]))
        );
        assert_eq!(parse("- a\n- b\n"), Ok(Value::Seq(vec![s("a"), s("b")])));
        assert_eq!(
            parse("- - a\n  - b\n- c\n"),
            Ok(Value::Seq(vec![Value::Seq(vec![s("a"), s("b")]), s("c")]))
        );
        assert_eq!(parse("just text\n"), Ok(s("just text")));
        assert_eq!(
            parse("k:\n- a\n- b\nj: c\n"),
            Ok(map(&[
                ("k", Value::Seq(vec![s("a"), s("b")])),
                ("j", s("c"))
            ]))
        );
    }

    #[test]
    fn refusals_name_their_position() {
        assert_eq!(
            err("a: 1\nb: &anchor 2\n"),
            (2, 4, "anchors are not supported")
        );
        assert_eq!(err("a: *ref\n"), (1, 4, "aliases are not supported"));
        assert_eq!(err("a: !!str 1\n"), (1, 4, "tags are not supported"));
        assert_eq!(
            err("%YAML 1.2\n---\na: 1\n"),
            (1, 1, "directives are not supported")
        );
        assert_eq!(
            err("a: 1\n---\nb: 2\n"),
            (2, 1, "more than one document (or content after ---)")
        );
        assert_eq!(err("a: 1\n...\n"), (2, 1, "document end marker"));
        assert_eq!(err("a: 1\na: 2\n"), (2, 1, "duplicate key"));
        assert_eq!(err("a: {x: 1, x: 2}\n"), (1, 11, "duplicate key"));
        assert_eq!(err("a:\n\tb: 1\n"), (2, 1, "tab in indentation"));
        assert_eq!(
            err("a: b: c\n"),
            (
                1,
                5,
                "`key: value` inside a value (quote it, or put the mapping on its own lines)"
            )
        );
        assert_eq!(
            err("a: one\n  two\n"),
            (
                2,
                3,
                "unexpected indentation (a value continued on the next line is not supported)"
            )
        );
        assert_eq!(
            err("a: [1,\n  2]\n"),
            (1, 7, "flow collection not closed on its line")
        );
        assert_eq!(
            err("a: 'open\n"),
            (1, 4, "quoted scalar not closed on its line")
        );
        assert_eq!(err("a: \"\\q\"\n"), (1, 6, "unknown escape"));
        assert_eq!(
            err("? a\n: b\n"),
            (1, 1, "complex keys (`? `) are not supported")
        );
        assert_eq!(err("a: @x\n"), (1, 4, "reserved indicator"));
        assert_eq!(
            err("a: |2\n  x\n"),
            (1, 5, "explicit indentation indicators are not supported")
        );
        assert_eq!(
            err("a: [b: c]\n"),
            (1, 6, "mappings inside flow sequences are not supported")
        );
        assert_eq!(
            err("a: 1\n- b\n"),
            (2, 1, "a sequence item where a mapping key was expected")
        );
        assert_eq!(err("a: x\u{7}\n"), (1, 5, "control character"));
        assert_eq!(err("a: 'x' y\n"), (1, 8, "unexpected text after the value"));
        assert_eq!(
            err("- a\nb: 1\n"),
            (2, 1, "unexpected content after the document")
        );
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(err(&deep).2, "nested too deeply");
        let mut deep_block = String::new();
        for i in 0..MAX_DEPTH + 1 {
            deep_block.push_str(&" ".repeat(i));
            deep_block.push_str("k:\n");
        }
        assert_eq!(err(&deep_block).2, "nested too deeply");
        let deep_items = "- ".repeat(MAX_DEPTH + 1) + "x\n";
        assert_eq!(err(&deep_items).2, "nested too deeply");
    }
}
