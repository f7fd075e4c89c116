//! The command set and the interactive prompt's line editing.

use alloc::string::String;
use alloc::vec::Vec;

/// What the host (the kernel) answers; the session waits for the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// uptime, address and lease, metadata mode, key fingerprint, counters
    Status,
    Ifconfig,
    /// A fresh fetch of this metadata path (e.g. `meta-data/instance-id`).
    Metadata(String),
    /// The recent console ring.
    Log,
    Poweroff,
    Reboot,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Host(Request),
    Help,
    Exit,
    Empty,
    /// Unknown command or bad arguments: the message to show and the exit
    /// status (127 unknown, as shells say; 2 bad usage).
    Invalid {
        message: String,
        status: u32,
    },
}

/// Exit status of an unknown command.
pub const STATUS_UNKNOWN: u32 = 127;
/// Exit status of a known command used wrongly.
pub const STATUS_USAGE: u32 = 2;

fn usage(message: String) -> Command {
    Command::Invalid {
        message,
        status: STATUS_USAGE,
    }
}

pub const HELP: &str =
    "commands: status, ifconfig, metadata PATH, log, poweroff, reboot, help, exit";

/// Longest command line accepted; more is cut (and said so).
pub const MAX_LINE: usize = 256;

/// A metadata path: relative, printable, no `..` (it goes into a request line).
fn valid_metadata_path(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 200
        && !p.starts_with('/')
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
        && !p.split('/').any(|s| s == "..")
}

pub fn parse(line: &str) -> Command {
    let mut words = line.split_ascii_whitespace();
    let Some(cmd) = words.next() else {
        return Command::Empty;
    };
    let arg = words.next();
    let extra = words.next().is_some();
    let none = |r: Request| {
        if arg.is_some() {
            usage(alloc::format!("{}: takes no arguments", cmd))
        } else {
            Command::Host(r)
        }
    };
    match cmd {
        "status" => none(Request::Status),
        "ifconfig" => none(Request::Ifconfig),
        "log" => none(Request::Log),
        "poweroff" => none(Request::Poweroff),
        "reboot" => none(Request::Reboot),
        "help" | "?" => Command::Help,
        "exit" | "logout" | "quit" => Command::Exit,
        "metadata" => match arg {
            Some(p) if !extra && valid_metadata_path(p) => {
                Command::Host(Request::Metadata(p.into()))
            }
            _ => usage("usage: metadata PATH (e.g. meta-data/instance-id)".into()),
        },
        other => {
            let shown: String = other.chars().take(32).collect();
            Command::Invalid {
                message: alloc::format!("{}: unknown command ({})", shown, HELP),
                status: STATUS_UNKNOWN,
            }
        }
    }
}

/// What a keystroke did at the prompt.
#[derive(Debug, PartialEq, Eq)]
pub enum Key {
    /// Bytes to echo back.
    Echo(Vec<u8>),
    /// Enter: the line is complete.
    Line(String),
    /// Ctrl-D on an empty line.
    Eof,
}

/// Line editing for a pty session: printable ASCII, backspace, Ctrl-C
/// (drop the line), Ctrl-U (erase the line), Ctrl-D on an empty line.
#[cfg_attr(any(test, feature = "test-client"), derive(Clone))]
#[derive(Default)]
pub struct LineEditor {
    line: Vec<u8>,
    overflow: bool,
    last_cr: bool,
    /// Inside an escape sequence (arrow keys...): 1 after ESC, 2 inside CSI.
    escape: u8,
}

impl LineEditor {
    pub fn feed(&mut self, b: u8) -> Option<Key> {
        match (self.escape, b) {
            (0, 0x1b) => {
                self.escape = 1;
                return None;
            }
            (1, b'[') | (1, b'O') => {
                self.escape = 2;
                return None;
            }
            (1, _) => {
                self.escape = 0;
                return None;
            }
            (2, 0x40..=0x7e) => {
                self.escape = 0;
                return None;
            }
            (2, _) => return None,
            _ => {}
        }
        let was_cr = core::mem::replace(&mut self.last_cr, b == b'\r');
        match b {
            b'\r' | b'\n' => {
                if b == b'\n' && was_cr {
                    return None; // CR LF is one Enter
                }
                let line = String::from_utf8_lossy(&self.line).into_owned();
                self.line.clear();
                self.overflow = false;
                Some(Key::Line(line))
            }
            0x7f | 0x08 => self.line.pop().map(|_| Key::Echo(b"\x08 \x08".to_vec())),
            0x03 => {
                self.line.clear();
                Some(Key::Echo(b"^C\r\n".to_vec()))
            }
            0x15 => {
                let n = self.line.len();
                self.line.clear();
                (n > 0).then(|| Key::Echo(b"\x08 \x08".repeat(n)))
            }
            0x04 if self.line.is_empty() => Some(Key::Eof),
            0x20..=0x7e => {
                if self.line.len() >= MAX_LINE {
                    self.overflow = true;
                    return None;
                }
                self.line.push(b);
                Some(Key::Echo(alloc::vec![b]))
            }
            _ => None, // escape sequences and other controls are ignored
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse("status"), Command::Host(Request::Status));
        assert_eq!(parse("  ifconfig  "), Command::Host(Request::Ifconfig));
        assert_eq!(
            parse("metadata meta-data/instance-id"),
            Command::Host(Request::Metadata("meta-data/instance-id".into()))
        );
        assert_eq!(parse(""), Command::Empty);
        assert_eq!(parse("exit"), Command::Exit);
        assert!(matches!(
            parse("status now"),
            Command::Invalid {
                status: STATUS_USAGE,
                ..
            }
        ));
        assert!(matches!(
            parse("rm -rf /"),
            Command::Invalid {
                status: STATUS_UNKNOWN,
                ..
            }
        ));
        for bad in [
            "metadata",
            "metadata /etc/passwd",
            "metadata a/../b",
            "metadata a b",
            "metadata a%20b",
        ] {
            assert!(
                matches!(
                    parse(bad),
                    Command::Invalid {
                        status: STATUS_USAGE,
                        ..
                    }
                ),
                "{}",
                bad
            );
        }
    }

    fn feed(ed: &mut LineEditor, s: &[u8]) -> Vec<Key> {
        s.iter().filter_map(|&b| ed.feed(b)).collect()
    }

    #[test]
    fn line_editing() {
        let mut ed = LineEditor::default();
        let keys = feed(&mut ed, b"statx\x7fus\r\n");
        assert_eq!(keys.last(), Some(&Key::Line("status".into())));
        assert_eq!(keys.len(), 9); // 5 echoes, 1 erase, 2 echoes, the line
        let keys = feed(&mut ed, b"abc\x03def\r");
        assert_eq!(keys.last(), Some(&Key::Line("def".into())));
        assert_eq!(feed(&mut ed, b"\x04"), [Key::Eof]);
        assert_eq!(
            feed(&mut ed, b"a\x04\x15\r"),
            [
                Key::Echo(b"a".to_vec()),
                Key::Echo(b"\x08 \x08".to_vec()),
                Key::Line("".into())
            ]
        );
        // an overlong line is cut, never grows without bound
        let long = alloc::vec![b'x'; MAX_LINE * 4];
        let keys = feed(&mut ed, &long);
        assert_eq!(keys.len(), MAX_LINE);
        match ed.feed(b'\n') {
            Some(Key::Line(l)) => assert_eq!(l.len(), MAX_LINE),
            other => panic!("{:?}", other),
        }
        // escape sequences (arrow keys) do not end up in the line
        let keys = feed(&mut ed, b"\x1b[Ao\x1b[1;5Dk\x1bOA\r");
        assert_eq!(keys.last(), Some(&Key::Line("ok".into())));
    }
}
