//! A small, strict HTTP/1.1 client codec: requests out, responses parsed
//! incrementally (Content-Length or chunked), with limits on every part.

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

pub const MAX_HEAD: usize = 8 * 1024;
pub const MAX_HEADERS: usize = 64;
/// One header or trailer line, or the status line.
pub const MAX_LINE: usize = 2 * 1024;
pub const MAX_BODY: usize = 64 * 1024;
/// 1xx interim responses skipped before the final one.
const MAX_INTERIM: u32 = 4;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The peer closed before the response was complete.
    Truncated,
    /// Status line, header or chunk framing is not HTTP/1.1.
    Malformed(&'static str),
    /// Head or body over our limits.
    TooLarge(&'static str),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Truncated => f.write_str("truncated response"),
            HttpError::Malformed(m) => write!(f, "malformed response: {}", m),
            HttpError::TooLarge(m) => write!(f, "response too large: {}", m),
        }
    }
}

/// Build a request. `headers` are (name, value) pairs; Host and
/// Connection: close are always sent.
pub fn request(method: &str, host: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut s = String::new();
    let _ = write!(
        s,
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: xenguest-cloudinit\r\nAccept: */*\r\n",
        method, path, host
    );
    for (k, v) in headers {
        let _ = write!(s, "{}: {}\r\n", k, v);
    }
    if method == "PUT" || method == "POST" {
        s.push_str("Content-Length: 0\r\n");
    }
    s.push_str("Connection: close\r\n\r\n");
    s.into_bytes()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    /// No length: the body ends when the peer closes.
    Close,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data(usize),
    DataEnd,
    Trailer,
    Done,
}

/// A parsed head: status, headers, how the body is framed.
type Head = (u16, Vec<(String, String)>, Framing);

/// Feed bytes as they arrive; `finish` when the peer closes.
pub struct Parser {
    buf: Vec<u8>,
    head: Option<Head>,
    body: Vec<u8>,
    chunk: ChunkState,
    trailers: usize,
    interim: u32,
    /// how far `buf` was searched for the end of the head
    scanned: usize,
    done: bool,
    /// the first error is final: later calls repeat it
    failed: Option<HttpError>,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    pub fn new() -> Self {
        Parser {
            buf: Vec::new(),
            head: None,
            body: Vec::new(),
            chunk: ChunkState::Size,
            trailers: 0,
            interim: 0,
            scanned: 0,
            done: false,
            failed: None,
        }
    }

    /// Add bytes; returns the response once it is complete.
    pub fn push(&mut self, data: &[u8]) -> Result<Option<Response>, HttpError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.done {
            return Ok(None); // anything after a complete response is ignored
        }
        self.buf.extend_from_slice(data);
        let r = self.progress();
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    fn progress(&mut self) -> Result<Option<Response>, HttpError> {
        while self.head.is_none() {
            // resume the search where the last one stopped (a CRLFCRLF may
            // straddle two pushes)
            let from = self.scanned.saturating_sub(3);
            let Some(end) = find(&self.buf[from..], b"\r\n\r\n").map(|i| i + from) else {
                if self.buf.len() > MAX_HEAD {
                    return Err(HttpError::TooLarge("head"));
                }
                self.scanned = self.buf.len();
                return Ok(None);
            };
            if end > MAX_HEAD {
                return Err(HttpError::TooLarge("head"));
            }
            let head = parse_head(&self.buf[..end])?;
            self.buf.drain(..end + 4);
            self.scanned = 0;
            // 100 Continue and friends come before the real response
            if (100..200).contains(&head.0) {
                if head.0 == 101 {
                    return Err(HttpError::Malformed("unrequested protocol switch"));
                }
                self.interim += 1;
                if self.interim > MAX_INTERIM {
                    return Err(HttpError::TooLarge("interim responses"));
                }
                continue;
            }
            self.head = Some(head);
        }
        self.body_progress()
    }

    /// The peer closed the connection.
    pub fn finish(&mut self) -> Result<Response, HttpError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.done {
            return Err(HttpError::Truncated); // the response was already returned
        }
        let r = self.finish_inner();
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    fn finish_inner(&mut self) -> Result<Response, HttpError> {
        if let Some(r) = self.body_progress()? {
            return Ok(r);
        }
        match &self.head {
            Some((_, _, Framing::Close)) => {
                self.done = true;
                Ok(self.take())
            }
            _ => Err(HttpError::Truncated),
        }
    }

    fn take(&mut self) -> Response {
        let (status, headers) = match self.head.take() {
            Some((status, headers, _)) => (status, headers),
            None => (0, Vec::new()), // not reached: callers hold a head
        };
        Response {
            status,
            headers,
            body: core::mem::take(&mut self.body),
        }
    }

    fn body_progress(&mut self) -> Result<Option<Response>, HttpError> {
        let Some((status, _, framing)) = &self.head else {
            return Ok(None);
        };
        let (status, framing) = (*status, *framing);
        // 204 and 304 carry no body (1xx never get here)
        if status == 204 || status == 304 {
            self.done = true;
            return Ok(Some(self.take()));
        }
        match framing {
            Framing::Length(n) => {
                let take = (n - self.body.len()).min(self.buf.len());
                self.body.extend(self.buf.drain(..take));
                if self.body.len() == n {
                    self.done = true;
                    return Ok(Some(self.take()));
                }
            }
            Framing::Close => {
                self.body.append(&mut self.buf);
                if self.body.len() > MAX_BODY {
                    return Err(HttpError::TooLarge("body"));
                }
            }
            Framing::Chunked => {
                if self.chunked()? {
                    self.done = true;
                    return Ok(Some(self.take()));
                }
            }
        }
        Ok(None)
    }

    /// Returns true when the last chunk and trailers are in.
    fn chunked(&mut self) -> Result<bool, HttpError> {
        loop {
            match self.chunk {
                ChunkState::Size => {
                    // httparse reads an empty size line as 0: refuse it
                    if self.buf.first().is_some_and(|b| !b.is_ascii_hexdigit()) {
                        return Err(HttpError::Malformed("chunk size"));
                    }
                    let (used, n) = match httparse::parse_chunk_size(&self.buf) {
                        Ok(httparse::Status::Complete(c)) => c,
                        Ok(httparse::Status::Partial) if self.buf.len() > 256 => {
                            return Err(HttpError::Malformed("chunk size line"))
                        }
                        Ok(httparse::Status::Partial) => return Ok(false),
                        Err(_) => return Err(HttpError::Malformed("chunk size")),
                    };
                    self.buf.drain(..used);
                    let total = (self.body.len() as u64).saturating_add(n);
                    if n == 0 {
                        self.chunk = ChunkState::Trailer;
                    } else if total > MAX_BODY as u64 {
                        return Err(HttpError::TooLarge("body"));
                    } else {
                        self.chunk = ChunkState::Data(n as usize);
                    }
                }
                ChunkState::Data(n) => {
                    let take = n.min(self.buf.len());
                    self.body.extend(self.buf.drain(..take));
                    if take < n {
                        self.chunk = ChunkState::Data(n - take);
                        return Ok(false);
                    }
                    self.chunk = ChunkState::DataEnd;
                }
                ChunkState::DataEnd => {
                    let have = self.buf.len().min(2);
                    if self.buf[..have] != b"\r\n"[..have] {
                        return Err(HttpError::Malformed("chunk not followed by CRLF"));
                    }
                    if have < 2 {
                        return Ok(false);
                    }
                    self.buf.drain(..2);
                    self.chunk = ChunkState::Size;
                }
                ChunkState::Trailer => {
                    let Some(end) = find(&self.buf, b"\r\n") else {
                        return if self.buf.len() > MAX_LINE {
                            Err(HttpError::TooLarge("trailer line"))
                        } else {
                            Ok(false)
                        };
                    };
                    if end == 0 {
                        self.buf.drain(..2);
                        self.chunk = ChunkState::Done;
                        continue;
                    }
                    // trailers are read and dropped, but must look like fields
                    if end > MAX_LINE {
                        return Err(HttpError::TooLarge("trailer line"));
                    }
                    self.trailers += 1;
                    if self.trailers > MAX_HEADERS {
                        return Err(HttpError::TooLarge("trailer count"));
                    }
                    let line = core::str::from_utf8(&self.buf[..end])
                        .map_err(|_| HttpError::Malformed("trailer line"))?;
                    field(line).map_err(|_| HttpError::Malformed("trailer line"))?;
                    self.buf.drain(..end + 2);
                }
                ChunkState::Done => return Ok(true),
            }
        }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// `name: value` with a token name (no folding, no spaces before the colon)
/// and a value free of control characters other than tab.
fn field(line: &str) -> Result<(&str, &str), HttpError> {
    if line.starts_with([' ', '\t']) {
        return Err(HttpError::Malformed("obsolete line folding"));
    }
    let (k, v) = line
        .split_once(':')
        .ok_or(HttpError::Malformed("header line"))?;
    if k.is_empty() || !k.bytes().all(is_tchar) {
        return Err(HttpError::Malformed("header name"));
    }
    if v.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(HttpError::Malformed("header value"));
    }
    Ok((k, v.trim_matches(|c| c == ' ' || c == '\t')))
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The head (without its final blank line): the grammar of the status
/// line and the fields is httparse's; line endings, lengths, folding, the
/// status range and the body framing are checked here.
fn parse_head(head: &[u8]) -> Result<Head, HttpError> {
    check_lines(head)?;
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut fields);
    let mut whole = Vec::with_capacity(head.len() + 4);
    whole.extend_from_slice(head);
    whole.extend_from_slice(b"\r\n\r\n");
    match resp.parse(&whole) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HttpError::Malformed("head")),
        Err(e) => {
            return Err(match e {
                httparse::Error::Status => HttpError::Malformed("status code"),
                httparse::Error::HeaderName => HttpError::Malformed("header name"),
                httparse::Error::HeaderValue => HttpError::Malformed("header value"),
                httparse::Error::TooManyHeaders => HttpError::TooLarge("header count"),
                _ => HttpError::Malformed("status line"),
            })
        }
    }
    let status = resp.code.unwrap_or(0);
    if !(100..600).contains(&status) {
        return Err(HttpError::Malformed("status code"));
    }
    let mut headers = Vec::new();
    let mut length = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        let v = core::str::from_utf8(h.value).map_err(|_| HttpError::Malformed("header value"))?;
        let (k, v) = (h.name, v.trim_matches(|c| c == ' ' || c == '\t'));
        if k.eq_ignore_ascii_case("content-length") {
            // digits only: no sign, no list ("5, 5"), no empty value
            if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HttpError::Malformed("content-length"));
            }
            let n: usize = v
                .parse()
                .map_err(|_| HttpError::Malformed("content-length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(HttpError::Malformed("conflicting content-length"));
            }
            if n > MAX_BODY {
                return Err(HttpError::TooLarge("body"));
            }
            length = Some(n);
        }
        if k.eq_ignore_ascii_case("transfer-encoding") {
            if !v.eq_ignore_ascii_case("chunked") {
                return Err(HttpError::Malformed("unsupported transfer-encoding"));
            }
            chunked = true;
        }
        headers.push((String::from(k), String::from(v)));
    }
    let framing = match (chunked, length) {
        (true, Some(_)) => return Err(HttpError::Malformed("both chunked and content-length")),
        (true, None) => Framing::Chunked,
        (false, Some(n)) => Framing::Length(n),
        (false, None) => Framing::Close,
    };
    Ok((status, headers, framing))
}

/// What httparse lets through and we do not: a bare CR or LF (it takes LF
/// alone as a line end), obsolete line folding, over-long lines, a head
/// that is not UTF-8.
fn check_lines(head: &[u8]) -> Result<(), HttpError> {
    let text = core::str::from_utf8(head).map_err(|_| HttpError::Malformed("head not UTF-8"))?;
    for (i, line) in text.split("\r\n").enumerate() {
        if line.contains(['\r', '\n']) {
            return Err(HttpError::Malformed("bare CR or LF"));
        }
        if line.len() > MAX_LINE {
            return Err(HttpError::TooLarge(if i == 0 {
                "status line"
            } else {
                "header line"
            }));
        }
        if i > 0 && line.starts_with([' ', '\t']) {
            return Err(HttpError::Malformed("obsolete line folding"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Result<Response, HttpError> {
        let mut p = Parser::new();
        for c in chunks {
            if let Some(r) = p.push(c)? {
                return Ok(r);
            }
        }
        p.finish()
    }

    #[test]
    fn content_length_in_pieces() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
        for split in 1..raw.len() {
            let r = parse_all(&[&raw[..split], &raw[split..]]).unwrap();
            assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
            assert_eq!(r.header("x-a"), Some("b"));
        }
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nssh-\r\n7\r\ned25519\r\n0\r\nX-T: 1\r\n\r\n";
        for split in 1..raw.len() {
            let r = parse_all(&[&raw[..split], &raw[split..]]).unwrap();
            assert_eq!(r.body, b"ssh-ed25519");
        }
    }

    #[test]
    fn truncated_and_oversized_and_garbage() {
        assert_eq!(
            parse_all(&[b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]),
            Err(HttpError::Truncated)
        );
        assert_eq!(
            parse_all(&[b"HTTP/1.1 200 OK\r\nContent-Len"]),
            Err(HttpError::Truncated)
        );
        assert_eq!(
            parse_all(&[b"HTTP/1.1 200 OK\r\nContent-Length: 999999\r\n\r\n"]),
            Err(HttpError::TooLarge("body"))
        );
        assert_eq!(
            parse_all(&[b"SSH-2.0-OpenSSH\r\n\r\n"]),
            Err(HttpError::Malformed("status line"))
        );
        assert_eq!(
            parse_all(&[b"HTTP/1.1 2000 OK\r\n\r\n"]),
            Err(HttpError::Malformed("status code"))
        );
        assert_eq!(
            parse_all(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]),
            Err(HttpError::Malformed("chunk size"))
        );
        assert_eq!(
            parse_all(&[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX"]),
            Err(HttpError::Malformed("chunk not followed by CRLF"))
        );
        assert!(parse_all(&[&[b'a'; MAX_HEAD + 10]]).is_err());
        assert_eq!(
            parse_all(&[b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"]),
            Err(HttpError::Malformed("conflicting content-length"))
        );
    }

    #[test]
    fn body_until_close_and_no_body_statuses() {
        let r = parse_all(&[b"HTTP/1.0 200 OK\r\n\r\nabc", b"def"]).unwrap();
        assert_eq!(r.body, b"abcdef");
        let r = parse_all(&[b"HTTP/1.1 204 No Content\r\n\r\n"]).unwrap();
        assert_eq!(r.status, 204);
    }

    #[test]
    fn requests() {
        let r = request(
            "PUT",
            "169.254.169.254",
            "/latest/api/token",
            &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        );
        let s = core::str::from_utf8(&r).unwrap();
        assert!(s.starts_with("PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"));
        assert!(s.contains("X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"));
        assert!(s.contains("Content-Length: 0\r\n"));
        assert!(s.ends_with("\r\n\r\n"));
    }

    #[test]
    fn interim_responses_are_skipped() {
        let r = parse_all(&[
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ])
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        assert_eq!(
            parse_all(&[b"HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\n"]),
            Err(HttpError::Malformed("unrequested protocol switch"))
        );
        let many = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM as usize + 1);
        assert_eq!(
            parse_all(&[&many]),
            Err(HttpError::TooLarge("interim responses"))
        );
    }

    #[test]
    fn strict_fields() {
        let cases: [(&[u8], HttpError); 14] = [
            (
                b"HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok",
                HttpError::Malformed("bare CR or LF"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
                HttpError::Malformed("bare CR or LF"),
            ),
            (
                // httparse files a bad reason phrase under Status
                b"HTTP/1.1 200 O\x01K\r\n\r\n",
                HttpError::Malformed("status code"),
            ),
            (
                b"HTTP/1.1 099 Early\r\n\r\n",
                HttpError::Malformed("status code"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
                HttpError::Malformed("chunk size"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
                HttpError::Malformed("content-length"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok",
                HttpError::Malformed("content-length"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nok",
                HttpError::Malformed("content-length"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
                HttpError::Malformed("header value"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
                HttpError::Malformed("obsolete line folding"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
                HttpError::Malformed("header name"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                HttpError::Malformed("unsupported transfer-encoding"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                HttpError::Malformed("both chunked and content-length"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n",
                HttpError::Malformed("chunk size"),
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(
                parse_all(&[raw]),
                Err(want),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn limits_on_lines_counts_and_trailers() {
        let mut long = Vec::from(&b"HTTP/1.1 200 OK\r\nX: "[..]);
        long.extend(core::iter::repeat_n(b'a', MAX_LINE));
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse_all(&[&long]), Err(HttpError::TooLarge("header line")));
        let mut many = Vec::from(&b"HTTP/1.1 200 OK\r\n"[..]);
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(alloc::format!("X-{}: 1\r\n", i).as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_all(&[&many]),
            Err(HttpError::TooLarge("header count"))
        );
        let mut trailers =
            Vec::from(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n"[..]);
        for _ in 0..=MAX_HEADERS {
            trailers.extend_from_slice(b"T: 1\r\n");
        }
        trailers.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_all(&[&trailers]),
            Err(HttpError::TooLarge("trailer count"))
        );
        assert_eq!(
            parse_all(&[
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnot a field\r\n\r\n"
            ]),
            Err(HttpError::Malformed("trailer line"))
        );
        // a close-delimited body over the limit
        let mut big = Vec::from(&b"HTTP/1.1 200 OK\r\n\r\n"[..]);
        big.extend(core::iter::repeat_n(b'x', MAX_BODY + 1));
        assert_eq!(parse_all(&[&big]), Err(HttpError::TooLarge("body")));
        // chunks adding up past the limit
        let mut chunks = Vec::from(&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..]);
        for _ in 0..=MAX_BODY / 4096 {
            chunks.extend_from_slice(b"1000\r\n");
            chunks.extend(core::iter::repeat_n(b'x', 4096));
            chunks.extend_from_slice(b"\r\n");
        }
        assert_eq!(parse_all(&[&chunks]), Err(HttpError::TooLarge("body")));
    }

    #[test]
    fn errors_are_final() {
        let mut p = Parser::new();
        assert!(p
            .push(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
            .is_err());
        assert_eq!(
            p.push(b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(HttpError::Malformed("content-length"))
        );
        assert_eq!(p.finish(), Err(HttpError::Malformed("content-length")));
    }

    /// The same bytes give the same answer however they are split, for
    /// valid responses and for random mutations of them.
    #[test]
    fn result_does_not_depend_on_segmentation() {
        let seeds: [&[u8]; 4] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 404 Not Found\r\n\r\nnope",
            b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
        ];
        let mut rng: u32 = 0x2545_f491;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            rng
        };
        let whole = |raw: &[u8]| {
            let mut p = Parser::new();
            match p.push(raw) {
                Ok(Some(r)) => Ok(r),
                Ok(None) => p.finish(),
                Err(e) => Err(e),
            }
        };
        let (mut oks, mut errs) = (0, 0);
        for round in 0..20_000 {
            let mut raw = seeds[round % seeds.len()].to_vec();
            for _ in 0..(next() % 4) {
                let i = next() as usize % raw.len();
                match next() % 4 {
                    0 => raw[i] = next() as u8,
                    1 => {
                        raw.remove(i);
                    }
                    2 => raw.insert(i, b"\r\n:;0aZ \t"[next() as usize % 9]),
                    _ => raw.truncate(i),
                }
                if raw.is_empty() {
                    raw.push(b'H');
                }
            }
            let want = whole(&raw);
            if let Ok(r) = &want {
                assert!(r.body.len() <= MAX_BODY);
                oks += 1;
            } else {
                errs += 1;
            }
            let mut p = Parser::new();
            let mut got = None;
            let mut at = 0;
            while at < raw.len() {
                let n = 1 + next() as usize % 7;
                let end = (at + n).min(raw.len());
                match p.push(&raw[at..end]) {
                    Ok(Some(r)) => {
                        got = Some(Ok(r));
                        break;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        got = Some(Err(e));
                        break;
                    }
                }
                at = end;
            }
            let got = got.unwrap_or_else(|| p.finish());
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&raw));
        }
        assert!(oks > 1000 && errs > 1000, "ok={} err={}", oks, errs);
    }
}
