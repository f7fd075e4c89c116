//! The cloud-init service: what the instance is told, from the first source
//! that has it. A seed disk read at boot (`seed.rs`) wins; otherwise, once
//! the network has an address, a network source (`cloudinit::select`: EC2,
//! OpenStack, NoCloud over HTTP) is driven through HTTP exchanges. Either
//! way the result is one `Metadata`, said on the console and in XenStore.

extern crate alloc;

use alloc::boxed::Box;

use cloudinit::fetch::Fetch;
use cloudinit::imds::{Outcome, Target};
use cloudinit::report::{self, Clock};
use cloudinit::select::{Ds, Select};
use cloudinit::source::{Action, Metadata, Source};

use crate::http::HttpConn;
use crate::net::{Net, Nic};
use crate::wake::Wake;
use crate::{Cx, Platform};

/// Steps of the flow per poll (each a request handed out or a response
/// taken): bounded, and enough that a fast service is not held back.
const STEPS_PER_POLL: usize = 8;

pub struct CloudInit {
    source: Option<Box<dyn Source>>,
    /// Where the network source's requests go (for the start line).
    target: Target,
    conn: Option<HttpConn>,
    boot_ns: u64,
    started: bool,
    finished: bool,
    /// What the source said, once done (None after a failure).
    pub metadata: Option<Metadata>,
}

impl CloudInit {
    /// A network source as `ds=` says (None: cloud-init's own selection).
    pub fn network<P: Platform>(
        cx: &mut Cx<'_, P>,
        ds: Option<Ds>,
        target: Target,
        boot_ns: u64,
        seed: u32,
    ) -> Self {
        let source = match Select::new(ds, target.clone(), seed) {
            Ok(s) => Some(Box::new(s) as Box<dyn Source>),
            Err(why) => {
                report_failure(cx, &why);
                None
            }
        };
        let finished = source.is_none();
        CloudInit {
            source,
            target,
            conn: None,
            boot_ns,
            started: false,
            finished,
            metadata: None,
        }
    }

    /// What a seed disk said: done before the network is up.
    pub fn from_seed<P: Platform>(
        cx: &mut Cx<'_, P>,
        md: Metadata,
        boot_ns: u64,
        now: u64,
    ) -> Self {
        let mut c = CloudInit {
            source: None,
            target: Target::default(),
            conn: None,
            boot_ns,
            started: true,
            finished: false,
            metadata: None,
        };
        c.finish(cx, md, now);
        c
    }

    /// A one-off fetch of `path` for SSH's `metadata` command.
    pub fn fetch(&self, path: &str) -> Option<Fetch> {
        self.source.as_ref()?.fetch(path)
    }

    pub fn poll<N: Nic, P: Platform>(
        &mut self,
        net: &mut Net<N>,
        cx: &mut Cx<'_, P>,
        now: u64,
    ) -> Wake {
        if self.finished || !net.configured() {
            return Wake::IDLE;
        }
        let Some(src) = self.source.as_mut() else {
            return Wake::IDLE;
        };
        if !self.started {
            self.started = true;
            let name = src.name();
            cx.say(&if name == "ec2" {
                report::start(&self.target)
            } else {
                report::source_start(name, &self.target)
            });
        }
        let mut wake = Wake::IDLE;
        for _ in 0..STEPS_PER_POLL {
            if let Some(c) = self.conn.as_mut() {
                match c.step(net, now) {
                    Some(outcome) => {
                        if let Some(c) = self.conn.take() {
                            c.close(net, now);
                        }
                        on_outcome(src.as_mut(), cx, now, outcome);
                        wake = wake.progressed();
                    }
                    None => {
                        wake.also_at(c.deadline());
                        return wake;
                    }
                }
            }
            match src.next(now) {
                Action::Request(r) => {
                    self.conn = Some(HttpConn::open(net, &r.to, r.bytes, now));
                    wake = wake.progressed();
                }
                Action::Wait(t) => {
                    wake.also_at(Some(t));
                    return wake;
                }
                Action::Done(md) => {
                    self.finish(cx, md, now);
                    return wake.progressed();
                }
                Action::Failed(why) => {
                    self.finished = true;
                    report_failure(cx, &why);
                    return wake.progressed();
                }
            }
        }
        wake.also_at(Some(now)); // more to do right away
        wake
    }

    fn finish<P: Platform>(&mut self, cx: &mut Cx<'_, P>, md: Metadata, now: u64) {
        self.finished = true;
        let clock = Clock {
            elapsed_ms: now.saturating_sub(self.boot_ns) / 1_000_000,
            uptime_ns: now.saturating_sub(self.boot_ns),
            wallclock_s: None,
        };
        for line in report::metadata_lines(&md, clock) {
            cx.say(&line);
        }
        cx.report_all(&report::xenstore_metadata(&md));
        self.metadata = Some(md);
    }
}

fn on_outcome<P: Platform>(src: &mut dyn Source, cx: &mut Cx<'_, P>, now: u64, outcome: Outcome) {
    let retries = src.retries();
    src.on_outcome(now, outcome);
    if src.retries() > retries {
        cx.say(&report::source_retry(
            src.name(),
            src.retries(),
            src.last_error().unwrap_or("-"),
        ));
    }
}

fn report_failure<P: Platform>(cx: &mut Cx<'_, P>, why: &str) {
    cx.say(&report::error(why));
    cx.report_all(&report::xenstore_error(why));
}
