//! An in-memory xenstored: a tree with per-node permissions, domain paths,
//! watches (fired on the node and its descendants, and once on
//! registration), transactions with conflict detection (EAGAIN), and the
//! daemon's side of each guest's ring page. Its message framing is written
//! here independently of the client's, so a bug on one side is not mirrored.
//!
//! Misbehaviour for hostile-input tests: `misbehave` makes the next reply
//! garbage, mis-addressed, duplicated, late, oversized, move a ring index
//! backwards or past the ring, or never come; `flood` keeps a guest's
//! response ring full of watch events (a node rewritten without end, or
//! events on a watch); `hang` stops the daemon answering at all.
//! A guest that breaks the protocol itself (a request over 4096 bytes) is
//! cut off, as xenstored does: `is_bad` tells.

use std::collections::{BTreeMap, HashMap, VecDeque};

use xenabi::hal::SharedMem;
use xenabi::xs_wire as xs;

use crate::mem::SimPage;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehave {
    /// Reply with an unknown message type.
    GarbageKind,
    /// Reply with a request id nobody asked for (then the real reply).
    WrongReqId,
    /// Reply with a header claiming a payload over 4096 bytes.
    OversizeLen,
    /// Move rsp_prod more than a ring ahead of rsp_cons.
    ProdJump,
    /// Swallow the request: no reply ever.
    Silent,
    /// Reply with an error name that does not exist.
    UnknownError,
    /// Send a watch event with a path but no token, then the real reply.
    BadWatchEvent,
    /// First this many replies to requests never made, then the real reply.
    StrayReplies(u32),
    /// The real reply, twice.
    DuplicateReply,
    /// Hold the reply back and send it just before the next one.
    Late,
    /// Move rsp_prod behind rsp_cons (an index running backwards).
    ProdBackwards,
    /// Move req_cons past the guest's req_prod, then serve no more.
    ConsPast,
}

/// What a flooding daemon sends whenever a guest's ring has room: it tops
/// the output queue up to two rings' worth each time it runs, so replies
/// always wait behind a backlog of events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flood {
    /// Rewrite `path` (absolute) without end, alternating two values, as a
    /// backend looping on its `state`; its watches fire every time.
    Rewrite { path: String, values: [Vec<u8>; 2] },
    /// Watch events for `token` sent to `domid` whether it watches or not:
    /// `path` again and again, or a new child of it each time (`distinct`).
    Events {
        domid: u16,
        path: String,
        token: String,
        distinct: bool,
    },
}

const FLOOD_BACKLOG: usize = 2 * xs::XENSTORE_RING_SIZE;
/// Flood messages made per `process` at most.
const FLOOD_PER_ROUND: usize = 64;

#[derive(Clone, Debug)]
struct Node {
    value: Vec<u8>,
    /// perms[0]: owner and everyone's default access; the rest: per-domain ACL.
    perms: Vec<(u16, char)>,
    generation: u64,
}

struct Watch {
    domid: u16,
    path: String, // absolute
    token: String,
    relative: bool,
}

struct Transaction {
    domid: u16,
    tree: BTreeMap<String, Node>,
    /// generation of each node read or written (0 = absent) when the
    /// transaction first touched it; any change by then means EAGAIN
    accessed: HashMap<String, u64>,
    /// Changed nodes in order, with whether the change was a removal;
    /// replayed onto the tree at commit.
    writes: Vec<(String, bool)>,
}

struct Conn {
    domid: u16,
    page: SimPage,
    inbuf: Vec<u8>,
    outq: VecDeque<u8>,
    /// Broke the protocol; no longer served.
    bad: bool,
}

pub struct Xenstored {
    tree: BTreeMap<String, Node>,
    generation: u64,
    watches: Vec<Watch>,
    transactions: HashMap<u32, Transaction>,
    next_tx: u32,
    conns: Vec<Conn>,
    misbehave: VecDeque<Misbehave>,
    /// Initial watch events, sent right after the XS_WATCH reply.
    pending_initial: Vec<(u16, Vec<u8>)>,
    /// Replies held back by `Misbehave::Late`, per domain.
    held: Vec<(u16, Vec<u8>)>,
    floods: Vec<Flood>,
    hung: bool,
    /// Requests served, for tests.
    pub requests: u64,
    /// Writes and events the floods made, for tests.
    pub flood_writes: u64,
    pub flood_events: u64,
}

const SIZE: u32 = xs::XENSTORE_RING_SIZE as u32;

impl Default for Xenstored {
    fn default() -> Self {
        Self::new()
    }
}

impl Xenstored {
    pub fn new() -> Self {
        let mut d = Xenstored {
            tree: BTreeMap::new(),
            generation: 0,
            watches: Vec::new(),
            transactions: HashMap::new(),
            next_tx: 1,
            conns: Vec::new(),
            misbehave: VecDeque::new(),
            pending_initial: Vec::new(),
            held: Vec::new(),
            floods: Vec::new(),
            hung: false,
            requests: 0,
            flood_writes: 0,
            flood_events: 0,
        };
        d.tree.insert(
            "/".into(),
            Node {
                value: vec![],
                perms: vec![(0, 'n')],
                generation: 0,
            },
        );
        d
    }

    /// Connect domain `domid` through its ring page; creates
    /// /local/domain/<domid> owned by it, as the toolstack does.
    pub fn introduce(&mut self, domid: u16, page: SimPage) {
        let home = format!("/local/domain/{}", domid);
        self.tool_write(&home, b"");
        self.tool_set_perms(&home, &[(domid, 'n')]);
        self.conns.push(Conn {
            domid,
            page,
            inbuf: vec![],
            outq: VecDeque::new(),
            bad: false,
        });
    }

    /// Whether domain `domid`'s connection was cut off for breaking the protocol.
    pub fn is_bad(&self, domid: u16) -> bool {
        self.conns.iter().any(|c| c.domid == domid && c.bad)
    }

    /// Watches registered by `domid`.
    pub fn watch_count(&self, domid: u16) -> usize {
        self.watches.iter().filter(|w| w.domid == domid).count()
    }

    /// Like `introduce`, but lay the domain's home out as libxl does
    /// (libxl__domain_make): the home and `device`, `control`, `cpu`,
    /// `memory` read-only to the guest; `data`, `attr`, `error`, `drivers`,
    /// `feature` and the `control/` keys a guest answers owned by it. A guest
    /// writing anywhere else under its home gets EACCES, as on real Xen.
    pub fn introduce_libxl(&mut self, domid: u16, page: SimPage) {
        self.introduce(domid, page);
        let home = format!("/local/domain/{}", domid);
        let ro = [(0, 'n'), (domid, 'r')];
        let rw = [(domid, 'n')];
        self.tool_set_perms(&home, &ro);
        for d in ["cpu", "memory", "device", "control"] {
            self.tool_write(&format!("{}/{}", home, d), b"");
            self.tool_set_perms(&format!("{}/{}", home, d), &ro);
        }
        for d in [
            "control/shutdown",
            "control/feature-poweroff",
            "control/feature-reboot",
            "control/feature-suspend",
            "control/sysrq",
            "data",
            "drivers",
            "feature",
            "attr",
            "error",
        ] {
            self.tool_write(&format!("{}/{}", home, d), b"");
            self.tool_set_perms(&format!("{}/{}", home, d), &rw);
        }
        self.tool_write(
            &format!("{}/control/platform-feature-xs_reset_watches", home),
            b"1",
        );
    }

    pub fn misbehave(&mut self, m: Misbehave) {
        self.misbehave.push_back(m);
    }

    /// Start a flood; it runs every `process` until `stop_floods`.
    pub fn flood(&mut self, f: Flood) {
        self.floods.push(f);
    }

    pub fn stop_floods(&mut self) {
        self.floods.clear();
    }

    /// Stop (or resume) answering: no request read, no reply written.
    pub fn hang(&mut self, hung: bool) {
        self.hung = hung;
    }

    fn outq_len(&self, domid: Option<u16>) -> usize {
        self.conns
            .iter()
            .filter(|c| domid.is_none_or(|d| c.domid == d))
            .map(|c| c.outq.len())
            .max()
            .unwrap_or(0)
    }

    fn run_floods(&mut self) {
        let floods = std::mem::take(&mut self.floods);
        for f in &floods {
            let target = match f {
                Flood::Rewrite { .. } => None,
                Flood::Events { domid, .. } => Some(*domid),
            };
            for _ in 0..FLOOD_PER_ROUND {
                if self.outq_len(target) >= FLOOD_BACKLOG {
                    break;
                }
                match f {
                    Flood::Rewrite { path, values } => {
                        let v = values[(self.flood_writes % 2) as usize].clone();
                        self.flood_writes += 1;
                        self.tool_write(path, &v);
                    }
                    Flood::Events {
                        domid,
                        path,
                        token,
                        distinct,
                    } => {
                        let mut ev = if *distinct {
                            format!("{}/{}", path, self.flood_events)
                        } else {
                            path.clone()
                        }
                        .into_bytes();
                        ev.push(0);
                        ev.extend_from_slice(token.as_bytes());
                        ev.push(0);
                        self.flood_events += 1;
                        self.send(*domid, xs::XS_WATCH_EVENT, 0, 0, &ev);
                    }
                }
            }
        }
        self.floods = floods;
    }

    // ---- toolstack side (dom0) ----

    pub fn tool_write(&mut self, path: &str, value: &[u8]) {
        let mut tree = std::mem::take(&mut self.tree);
        let r = self.write_node(&mut tree, 0, path, value, true);
        self.tree = tree;
        r.expect("toolstack write");
        self.fire(path, false);
    }

    pub fn tool_read(&self, path: &str) -> Option<Vec<u8>> {
        self.tree.get(path).map(|n| n.value.clone())
    }

    pub fn tool_rm(&mut self, path: &str) {
        self.generation += 1;
        Self::rm_node(&mut self.tree, path, self.generation);
        self.fire(path, true);
    }

    pub fn tool_set_perms(&mut self, path: &str, perms: &[(u16, char)]) {
        self.generation += 1;
        if let Some(n) = self.tree.get_mut(path) {
            n.perms = perms.to_vec();
            n.generation = self.generation;
        }
    }

    /// A node's permissions as (domid, n/r/w/b), owner first.
    pub fn tool_perms(&self, path: &str) -> Option<Vec<(u16, char)>> {
        self.tree.get(path).map(|n| n.perms.clone())
    }

    // ---- tree ----

    fn can(node: &Node, domid: u16, want: char) -> bool {
        if domid == 0 || node.perms.first().map(|p| p.0) == Some(domid) {
            return true;
        }
        let grant = node
            .perms
            .iter()
            .skip(1)
            .find(|p| p.0 == domid)
            .map(|p| p.1)
            .unwrap_or(node.perms[0].1);
        grant == 'b' || grant == want
    }

    fn parent(path: &str) -> Option<&str> {
        if path == "/" {
            return None;
        }
        Some(match path.rfind('/') {
            Some(0) => "/",
            Some(i) => &path[..i],
            None => "/",
        })
    }

    fn write_node(
        &mut self,
        tree: &mut BTreeMap<String, Node>,
        domid: u16,
        path: &str,
        value: &[u8],
        create_parents: bool,
    ) -> Result<(), &'static str> {
        self.generation += 1;
        let generation = self.generation;
        if let Some(n) = tree.get_mut(path) {
            if !Self::can(n, domid, 'w') {
                return Err("EACCES");
            }
            n.value = value.to_vec();
            n.generation = generation;
            return Ok(());
        }
        let parent = Self::parent(path).ok_or("EINVAL")?;
        if !tree.contains_key(parent) {
            if !create_parents {
                return Err("ENOENT");
            }
            self.write_node(tree, domid, parent, b"", true)?;
        }
        let p = &tree[parent];
        if !Self::can(p, domid, 'w') {
            return Err("EACCES");
        }
        // A new node inherits its parent's permissions, owned by its creator.
        let mut perms = p.perms.clone();
        if domid != 0 {
            perms[0].0 = domid;
        }
        // the parent's child list changed: transactions that listed it conflict
        if let Some(p) = tree.get_mut(parent) {
            p.generation = generation;
        }
        tree.insert(
            path.to_string(),
            Node {
                value: value.to_vec(),
                perms,
                generation,
            },
        );
        Ok(())
    }

    fn rm_node(tree: &mut BTreeMap<String, Node>, path: &str, generation: u64) -> Vec<String> {
        if let Some(p) = Self::parent(path).and_then(|p| tree.get_mut(p)) {
            if path != "/" {
                p.generation = generation;
            }
        }
        let prefix = format!("{}/", path);
        let doomed: Vec<String> = tree
            .keys()
            .filter(|k| *k == path || k.starts_with(&prefix))
            .cloned()
            .collect();
        for k in &doomed {
            tree.remove(k);
        }
        doomed
    }

    fn children(tree: &BTreeMap<String, Node>, path: &str) -> Vec<String> {
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{}/", path)
        };
        tree.keys()
            .filter(|k| {
                k.starts_with(&prefix) && k.len() > prefix.len() && !k[prefix.len()..].contains('/')
            })
            .map(|k| k[prefix.len()..].to_string())
            .collect()
    }

    fn absolute(domid: u16, path: &str) -> Option<String> {
        // xenstored's character set: letters, digits and -/_@
        let valid = |c: char| c.is_ascii_alphanumeric() || "-/_@".contains(c);
        if path.is_empty()
            || path.len() > xs::XENSTORE_ABS_PATH_MAX
            || path.contains("//")
            || !path.chars().all(valid)
        {
            return None;
        }
        if path.starts_with('@') {
            return Some(path.to_string()); // special watch names stay as they are
        }
        let p = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/local/domain/{}/{}", domid, path)
        };
        let p = if p.len() > 1 {
            p.trim_end_matches('/').to_string()
        } else {
            p
        };
        Some(p)
    }

    /// Queue watch events for a change at `path` (absolute): watches on the
    /// node and its ancestors fire, and on removal those below it too. A
    /// watcher that may not read the node is not told about it.
    fn fire(&mut self, path: &str, removed: bool) {
        let mut events = vec![];
        for w in &self.watches {
            let hit = path == w.path
                || path.starts_with(&format!("{}/", w.path))
                || (removed && w.path.starts_with(&format!("{}/", path)))
                || (w.path == "/" && path.starts_with('/'));
            let readable = match self.tree.get(path) {
                Some(n) => Self::can(n, w.domid, 'r'),
                None => true,
            };
            if hit && readable {
                let shown = if w.relative {
                    let home = format!("/local/domain/{}/", w.domid);
                    path.strip_prefix(&home).unwrap_or(path).to_string()
                } else {
                    path.to_string()
                };
                events.push((w.domid, shown, w.token.clone()));
            }
        }
        for (domid, p, token) in events {
            let mut payload = p.into_bytes();
            payload.push(0);
            payload.extend_from_slice(token.as_bytes());
            payload.push(0);
            self.send(domid, xs::XS_WATCH_EVENT, 0, 0, &payload);
        }
    }

    // ---- ring side ----

    /// One message as bytes (an over-long payload becomes E2BIG).
    fn frame(kind: u32, req_id: u32, tx_id: u32, payload: &[u8]) -> Vec<u8> {
        if payload.len() > xs::XENSTORE_PAYLOAD_MAX {
            return Self::frame(xs::XS_ERROR, req_id, tx_id, b"E2BIG\0");
        }
        let mut m = Vec::with_capacity(16 + payload.len());
        for w in [kind, req_id, tx_id, payload.len() as u32] {
            m.extend(w.to_le_bytes());
        }
        m.extend(payload);
        m
    }

    fn send_bytes(&mut self, domid: u16, bytes: &[u8]) {
        if let Some(c) = self.conns.iter_mut().find(|c| c.domid == domid) {
            c.outq.extend(bytes);
        }
    }

    fn send(&mut self, domid: u16, kind: u32, req_id: u32, tx_id: u32, payload: &[u8]) {
        self.send_bytes(domid, &Self::frame(kind, req_id, tx_id, payload));
    }

    /// Serve every connection once: take requests, answer, flush replies.
    pub fn process(&mut self) {
        if self.hung {
            return;
        }
        self.run_floods();
        for i in 0..self.conns.len() {
            if self.conns[i].bad {
                continue;
            }
            // requests in
            let (page, domid) = (self.conns[i].page.clone(), self.conns[i].domid);
            let cons = page.read_u32(xs::XS_REQ_CONS_OFFSET);
            let prod = page.read_u32(xs::XS_REQ_PROD_OFFSET);
            let avail = prod.wrapping_sub(cons).min(SIZE);
            let mut bytes = vec![0u8; avail as usize];
            ring_copy(cons, bytes.len(), |at, range| {
                page.read(xs::XS_REQ_OFFSET + at, &mut bytes[range])
            });
            self.conns[i].inbuf.extend_from_slice(&bytes);
            page.write_u32(xs::XS_REQ_CONS_OFFSET, cons.wrapping_add(avail));
            loop {
                let buf = &self.conns[i].inbuf;
                if buf.len() < 16 {
                    break;
                }
                let w = |o: usize| u32::from_le_bytes(buf[o..o + 4].try_into().unwrap());
                let (kind, req_id, tx_id, len) = (w(0), w(4), w(8), w(12) as usize);
                if len > xs::XENSTORE_PAYLOAD_MAX {
                    self.conns[i].bad = true;
                    self.conns[i].inbuf.clear();
                    break;
                }
                if buf.len() < 16 + len {
                    break;
                }
                let payload = buf[16..16 + len].to_vec();
                self.conns[i].inbuf.drain(..16 + len);
                self.requests += 1;
                self.handle(domid, kind, req_id, tx_id, &payload);
            }
            // replies out
            let c = &mut self.conns[i];
            let cons = page.read_u32(xs::XS_RSP_CONS_OFFSET);
            let prod = page.read_u32(xs::XS_RSP_PROD_OFFSET);
            let space = SIZE - prod.wrapping_sub(cons).min(SIZE);
            let n = (space as usize).min(c.outq.len());
            let bytes: Vec<u8> = c.outq.drain(..n).collect();
            ring_copy(prod, n, |at, range| {
                page.write(xs::XS_RSP_OFFSET + at, &bytes[range])
            });
            page.write_u32(xs::XS_RSP_PROD_OFFSET, prod.wrapping_add(n as u32));
        }
    }

    fn handle(&mut self, domid: u16, kind: u32, req_id: u32, tx_id: u32, payload: &[u8]) {
        // a reply held back goes out before the next one
        if let Some(i) = self.held.iter().position(|h| h.0 == domid) {
            let (_, late) = self.held.remove(i);
            self.send_bytes(domid, &late);
        }
        let mut copies = 1;
        let mut hold = false;
        match self.misbehave.pop_front() {
            None => {}
            Some(Misbehave::StrayReplies(n)) => {
                for k in 0..n {
                    let never = req_id.wrapping_add(1000).wrapping_add(k);
                    self.send(domid, kind, never, tx_id, b"OK\0");
                }
            }
            Some(Misbehave::DuplicateReply) => copies = 2,
            Some(Misbehave::Late) => hold = true,
            Some(Misbehave::ProdBackwards) => return self.set_rsp_prod(domid, u32::MAX), // -1

            Some(Misbehave::ConsPast) => {
                if let Some(c) = self.conns.iter_mut().find(|c| c.domid == domid) {
                    let prod = c.page.read_u32(xs::XS_REQ_PROD_OFFSET);
                    c.page
                        .write_u32(xs::XS_REQ_CONS_OFFSET, prod.wrapping_add(5000));
                    c.bad = true; // its view of the ring is gone: serve no more
                }
                return;
            }
            Some(Misbehave::Silent) => return,
            Some(Misbehave::GarbageKind) => {
                return self.send(domid, 0x7777, req_id, tx_id, b"junk")
            }
            Some(Misbehave::UnknownError) => {
                return self.send(domid, xs::XS_ERROR, req_id, tx_id, b"EWEIRD\0")
            }
            Some(Misbehave::BadWatchEvent) => {
                self.send(domid, xs::XS_WATCH_EVENT, 0, 0, b"data/lonely\0")
            }
            Some(Misbehave::WrongReqId) => {
                self.send(domid, kind, req_id.wrapping_add(1000), tx_id, b"OK\0")
            }
            Some(Misbehave::OversizeLen) => {
                if let Some(c) = self.conns.iter_mut().find(|c| c.domid == domid) {
                    for w in [kind, req_id, tx_id, 5000] {
                        c.outq.extend(w.to_le_bytes());
                    }
                }
                return;
            }
            Some(Misbehave::ProdJump) => return self.set_rsp_prod(domid, 5000),
        }
        let reply = match self.execute(domid, kind, tx_id, payload) {
            Ok(p) => Self::frame(kind, req_id, tx_id, &p),
            Err(e) => {
                let mut p = e.as_bytes().to_vec();
                p.push(0);
                Self::frame(xs::XS_ERROR, req_id, tx_id, &p)
            }
        };
        if hold {
            self.held.push((domid, reply));
        } else {
            for _ in 0..copies {
                self.send_bytes(domid, &reply);
            }
        }
        for (d, ev) in std::mem::take(&mut self.pending_initial) {
            self.send(d, xs::XS_WATCH_EVENT, 0, 0, &ev);
        }
    }

    /// Put rsp_prod at the guest's rsp_cons plus `ahead` (wrapping).
    fn set_rsp_prod(&self, domid: u16, ahead: u32) {
        if let Some(c) = self.conns.iter().find(|c| c.domid == domid) {
            let cons = c.page.read_u32(xs::XS_RSP_CONS_OFFSET);
            c.page
                .write_u32(xs::XS_RSP_PROD_OFFSET, cons.wrapping_add(ahead));
        }
    }

    fn execute(
        &mut self,
        domid: u16,
        kind: u32,
        tx_id: u32,
        payload: &[u8],
    ) -> Result<Vec<u8>, &'static str> {
        let parts: Vec<&[u8]> = payload
            .strip_suffix(b"\0")
            .unwrap_or(payload)
            .split(|&b| b == 0)
            .collect();
        let s = |i: usize| {
            parts
                .get(i)
                .and_then(|p| std::str::from_utf8(p).ok())
                .ok_or("EINVAL")
        };
        match self.transactions.get(&tx_id) {
            _ if tx_id == 0 => {}
            None => return Err("ENOENT"),
            Some(t) if t.domid != domid => return Err("ENOENT"),
            Some(_) => {}
        }
        let ok = || Ok(b"OK\0".to_vec());
        match kind {
            xs::XS_READ | xs::XS_DIRECTORY | xs::XS_GET_PERMS => {
                let path = Self::absolute(domid, s(0)?).ok_or("EINVAL")?;
                self.note_access(tx_id, &path);
                let tree = self.tree_of(tx_id);
                let node = tree.get(&path).ok_or("ENOENT")?;
                if !Self::can(node, domid, 'r') {
                    return Err("EACCES");
                }
                Ok(match kind {
                    xs::XS_READ => node.value.clone(),
                    xs::XS_GET_PERMS => node
                        .perms
                        .iter()
                        .flat_map(|(d, p)| format!("{}{}\0", p, d).into_bytes())
                        .collect(),
                    _ => Self::children(tree, &path)
                        .into_iter()
                        .flat_map(|c| format!("{}\0", c).into_bytes())
                        .collect(),
                })
            }
            xs::XS_WRITE | xs::XS_MKDIR => {
                let path = Self::absolute(domid, s(0)?).ok_or("EINVAL")?;
                let value = if kind == xs::XS_WRITE {
                    let at = payload.iter().position(|&b| b == 0).ok_or("EINVAL")? + 1;
                    payload[at..].to_vec()
                } else {
                    vec![]
                };
                if kind == xs::XS_MKDIR && self.tree_of(tx_id).contains_key(&path) {
                    return ok();
                }
                self.modify(tx_id, &path, false, |d, tree| {
                    d.write_node(tree, domid, &path, &value, true)
                })?;
                ok()
            }
            xs::XS_RM => {
                let path = Self::absolute(domid, s(0)?).ok_or("EINVAL")?;
                if path == "/" || path.starts_with('@') {
                    return Err("EINVAL");
                }
                let tree = self.tree_of(tx_id);
                match tree.get(&path) {
                    None => {
                        let parent_exists =
                            Self::parent(&path).is_some_and(|p| tree.contains_key(p));
                        return if parent_exists { ok() } else { Err("ENOENT") };
                    }
                    Some(n) if !Self::can(n, domid, 'w') => return Err("EACCES"),
                    _ => {}
                }
                self.modify(tx_id, &path, true, |d, tree| {
                    d.generation += 1;
                    Self::rm_node(tree, &path, d.generation);
                    Ok(())
                })?;
                ok()
            }
            xs::XS_SET_PERMS => {
                let path = Self::absolute(domid, s(0)?).ok_or("EINVAL")?;
                let mut perms = vec![];
                for p in parts.iter().skip(1) {
                    perms.push(parse_perm(p).ok_or("EINVAL")?);
                }
                if perms.is_empty() {
                    return Err("EINVAL");
                }
                let node = self.tree_of(tx_id).get(&path).ok_or("ENOENT")?;
                if domid != 0 && node.perms[0].0 != domid {
                    return Err("EACCES");
                }
                self.modify(tx_id, &path, false, |d, tree| {
                    d.generation += 1;
                    let n = tree.get_mut(&path).ok_or("ENOENT")?;
                    n.perms = perms;
                    n.generation = d.generation;
                    Ok(())
                })?;
                ok()
            }
            xs::XS_WATCH => {
                let (p, token) = (s(0)?, s(1)?.to_string());
                let path = Self::absolute(domid, p).ok_or("EINVAL")?;
                if self
                    .watches
                    .iter()
                    .any(|w| w.domid == domid && w.path == path && w.token == token)
                {
                    return Err("EEXIST");
                }
                let relative = !p.starts_with('/') && !p.starts_with('@');
                self.watches.push(Watch {
                    domid,
                    path: path.clone(),
                    token: token.clone(),
                    relative,
                });
                // reply first, then the initial event, as xenstored does
                let mut ev = if relative {
                    p.as_bytes().to_vec()
                } else {
                    path.into_bytes()
                };
                ev.push(0);
                ev.extend_from_slice(token.as_bytes());
                ev.push(0);
                self.pending_initial.push((domid, ev));
                ok()
            }
            xs::XS_UNWATCH => {
                let (p, token) = (s(0)?, s(1)?);
                let path = Self::absolute(domid, p).ok_or("EINVAL")?;
                let before = self.watches.len();
                self.watches
                    .retain(|w| !(w.domid == domid && w.path == path && w.token == token));
                if self.watches.len() == before {
                    return Err("ENOENT");
                }
                ok()
            }
            xs::XS_RESET_WATCHES => {
                self.watches.retain(|w| w.domid != domid);
                self.transactions.retain(|_, t| t.domid != domid);
                ok()
            }
            xs::XS_TRANSACTION_START => {
                if tx_id != 0 {
                    return Err("EBUSY"); // no nesting
                }
                let id = self.next_tx;
                self.next_tx += 1;
                self.transactions.insert(
                    id,
                    Transaction {
                        domid,
                        tree: self.tree.clone(),
                        accessed: HashMap::new(),
                        writes: vec![],
                    },
                );
                Ok(format!("{}\0", id).into_bytes())
            }
            xs::XS_TRANSACTION_END => {
                let commit = match s(0)? {
                    "T" => true,
                    "F" => false,
                    _ => return Err("EINVAL"),
                };
                let t = self.transactions.remove(&tx_id).ok_or("ENOENT")?;
                if commit {
                    self.commit(t)?;
                }
                ok()
            }
            xs::XS_GET_DOMAIN_PATH => {
                let id = s(0)?;
                if id.is_empty() || id.len() > 5 || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("EINVAL");
                }
                let id: u16 = id.parse().map_err(|_| "EINVAL")?;
                Ok(format!("/local/domain/{}\0", id).into_bytes())
            }
            _ => Err("ENOSYS"),
        }
    }

    /// Apply a transaction whose nodes nobody else changed meanwhile.
    fn commit(&mut self, t: Transaction) -> Result<(), &'static str> {
        let conflict = t
            .accessed
            .iter()
            .any(|(p, g)| self.tree.get(p).map(|n| n.generation).unwrap_or(0) != *g);
        if conflict {
            return Err("EAGAIN");
        }
        let mut fired = vec![];
        for (p, removal) in &t.writes {
            if *removal {
                self.generation += 1;
                Self::rm_node(&mut self.tree, p, self.generation);
                fired.push((p.clone(), true));
                continue;
            }
            match t.tree.get(p) {
                // removed again later in the transaction: that removal replays
                None => {}
                Some(_) => {
                    // the node and any parents the transaction created
                    let mut missing = vec![p.clone()];
                    let mut at = p.as_str();
                    while let Some(parent) = Self::parent(at) {
                        if self.tree.contains_key(parent) {
                            break;
                        }
                        missing.push(parent.to_string());
                        at = parent;
                    }
                    for m in missing.into_iter().rev() {
                        let Some(node) = t.tree.get(&m) else { continue };
                        self.generation += 1;
                        let mut node = node.clone();
                        node.generation = self.generation;
                        let created = self.tree.insert(m.clone(), node).is_none();
                        if created {
                            if let Some(parent) =
                                Self::parent(&m).and_then(|q| self.tree.get_mut(q))
                            {
                                parent.generation = self.generation;
                            }
                        }
                    }
                    fired.push((p.clone(), false));
                }
            }
        }
        for (p, removed) in fired {
            self.fire(&p, removed);
        }
        Ok(())
    }

    fn tree_of(&self, tx_id: u32) -> &BTreeMap<String, Node> {
        match self.transactions.get(&tx_id) {
            Some(t) if tx_id != 0 => &t.tree,
            _ => &self.tree,
        }
    }

    /// Remember the generation a transaction first saw a node at (0 =
    /// absent), for conflict detection at commit.
    fn note_access(&mut self, tx_id: u32, path: &str) {
        if let Some(t) = self.transactions.get_mut(&tx_id) {
            let g = t.tree.get(path).map(|n| n.generation).unwrap_or(0);
            t.accessed.entry(path.to_string()).or_insert(g);
        }
    }

    fn modify(
        &mut self,
        tx_id: u32,
        path: &str,
        removal: bool,
        f: impl FnOnce(&mut Self, &mut BTreeMap<String, Node>) -> Result<(), &'static str>,
    ) -> Result<(), &'static str> {
        if tx_id == 0 {
            let mut tree = std::mem::take(&mut self.tree);
            let r = f(self, &mut tree);
            self.tree = tree;
            r?;
            self.fire(path, removal);
        } else {
            self.note_access(tx_id, path);
            let mut t = self.transactions.remove(&tx_id).ok_or("ENOENT")?;
            let r = f(self, &mut t.tree);
            if r.is_ok() {
                t.writes.push((path.to_string(), removal));
            }
            self.transactions.insert(tx_id, t);
            r?;
        }
        Ok(())
    }
}

/// Split `len` bytes (at most a ring) from ring index `idx` into the part up
/// to the ring's end and the part after the wrap: `f(offset in ring, range
/// of the bytes)` for each.
fn ring_copy(idx: u32, len: usize, mut f: impl FnMut(usize, std::ops::Range<usize>)) {
    let start = (idx % SIZE) as usize;
    let first = len.min(SIZE as usize - start);
    f(start, 0..first);
    if first < len {
        f(0, first..len);
    }
}

/// `<n|r|w|b><domid>` from a request, checked byte by byte.
fn parse_perm(p: &[u8]) -> Option<(u16, char)> {
    let (&mode, id) = p.split_first()?;
    if !b"nrwb".contains(&mode) || id.is_empty() || id.len() > 5 {
        return None;
    }
    if !id.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let d = std::str::from_utf8(id).ok()?.parse().ok()?;
    Some((d, mode as char))
}
