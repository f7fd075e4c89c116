//! A small, strict HTTP/1.1 client codec: requests out, responses parsed
//! incrementally (Content-Length or chunked), with limits on every part.

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

pub const MAX_HEAD: usize = 8 * 1024;
pub const MAX_HEADERS: usize = 64;
pub const MAX_BODY: usize = 64 * 1024;

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

/// Feed bytes as they arrive; `finish` when the peer closes.
pub struct Parser {
    buf: Vec<u8>,
    head: Option<(u16, Vec<(String, String)>, Framing)>,
    body: Vec<u8>,
    chunk: ChunkState,
    done: bool,
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
            done: false,
        }
    }

    /// Add bytes; returns the response once it is complete.
    pub fn push(&mut self, data: &[u8]) -> Result<Option<Response>, HttpError> {
        if self.done {
            return Ok(None); // anything after a complete response is ignored
        }
        self.buf.extend_from_slice(data);
        if self.head.is_none() {
            let Some(end) = find(&self.buf, b"\r\n\r\n") else {
                if self.buf.len() > MAX_HEAD {
                    return Err(HttpError::TooLarge("head"));
                }
                return Ok(None);
            };
            if end > MAX_HEAD {
                return Err(HttpError::TooLarge("head"));
            }
            let head = parse_head(&self.buf[..end])?;
            self.buf.drain(..end + 4);
            self.head = Some(head);
        }
        self.body_progress()
    }

    /// The peer closed the connection.
    pub fn finish(&mut self) -> Result<Response, HttpError> {
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
        let (status, headers, _) = self.head.take().unwrap();
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
        // 1xx, 204 and 304 carry no body
        if (100..200).contains(&status) || status == 204 || status == 304 {
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
                    let Some(end) = find(&self.buf, b"\r\n") else {
                        return if self.buf.len() > 256 {
                            Err(HttpError::Malformed("chunk size line"))
                        } else {
                            Ok(false)
                        };
                    };
                    let line = core::str::from_utf8(&self.buf[..end])
                        .map_err(|_| HttpError::Malformed("chunk size"))?;
                    let hex = line.split(';').next().unwrap_or("").trim(); // extensions ignored
                    if hex.is_empty() || hex.len() > 8 {
                        return Err(HttpError::Malformed("chunk size"));
                    }
                    let n = usize::from_str_radix(hex, 16)
                        .map_err(|_| HttpError::Malformed("chunk size"))?;
                    self.buf.drain(..end + 2);
                    if n == 0 {
                        self.chunk = ChunkState::Trailer;
                    } else if self.body.len() + n > MAX_BODY {
                        return Err(HttpError::TooLarge("body"));
                    } else {
                        self.chunk = ChunkState::Data(n);
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
                        return if self.buf.len() > MAX_HEAD {
                            Err(HttpError::TooLarge("trailers"))
                        } else {
                            Ok(false)
                        };
                    };
                    self.buf.drain(..end + 2);
                    if end == 0 {
                        self.chunk = ChunkState::Done;
                    }
                }
                ChunkState::Done => return Ok(true),
            }
        }
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn parse_head(head: &[u8]) -> Result<(u16, Vec<(String, String)>, Framing), HttpError> {
    let text = core::str::from_utf8(head).map_err(|_| HttpError::Malformed("head not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(HttpError::Malformed("status line"));
    }
    let code = parts.next().unwrap_or("");
    if code.len() != 3 {
        return Err(HttpError::Malformed("status code"));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| HttpError::Malformed("status code"))?;
    if !(100..600).contains(&status) {
        return Err(HttpError::Malformed("status code"));
    }
    let mut headers = Vec::new();
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        if headers.len() == MAX_HEADERS {
            return Err(HttpError::TooLarge("header count"));
        }
        let (k, v) = line
            .split_once(':')
            .ok_or(HttpError::Malformed("header line"))?;
        if k.is_empty() || k.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err(HttpError::Malformed("header name"));
        }
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
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
}
