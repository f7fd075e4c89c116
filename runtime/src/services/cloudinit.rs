//! The cloud-init service: once the network has an address, drive the
//! metadata source (today the EC2 IMDS flow) through HTTP exchanges, then
//! say what was learned on the console and in XenStore.

extern crate alloc;

use cloudinit::imds::{Action, Imds, Outcome, Summary, Target};
use cloudinit::report;

use crate::http::HttpConn;
use crate::net::{Net, Nic};
use crate::wake::Wake;
use crate::{Cx, Platform};

/// Steps of the flow per poll (each a request handed out or a response
/// taken): bounded, and enough that a fast service is not held back.
const STEPS_PER_POLL: usize = 8;

pub struct CloudInit {
    imds: Imds,
    conn: Option<HttpConn>,
    boot_ns: u64,
    started: bool,
    finished: bool,
    /// What the metadata service said, once done.
    pub summary: Option<Summary>,
}

impl CloudInit {
    pub fn new(target: Target, boot_ns: u64, seed: u32) -> Self {
        CloudInit {
            imds: Imds::new(target, seed),
            conn: None,
            boot_ns,
            started: false,
            finished: false,
            summary: None,
        }
    }

    pub fn target(&self) -> &Target {
        self.imds.target()
    }

    pub fn poll<N: Nic, P: Platform>(&mut self, net: &mut Net<N>, cx: &mut Cx<'_, P>, now: u64) -> Wake {
        if self.finished || !net.configured() {
            return Wake::IDLE;
        }
        if !self.started {
            self.started = true;
            cx.say(&report::start(self.imds.target()));
        }
        let mut wake = Wake::IDLE;
        for _ in 0..STEPS_PER_POLL {
            if let Some(c) = self.conn.as_mut() {
                match c.step(net, now) {
                    Some(outcome) => {
                        if let Some(c) = self.conn.take() {
                            c.close(net, now);
                        }
                        self.on_outcome(cx, now, outcome);
                        wake = wake.progressed();
                    }
                    None => {
                        wake.also_at(c.deadline());
                        return wake;
                    }
                }
            }
            match self.imds.next(now) {
                Action::Request(bytes) => {
                    let t = self.imds.target().clone();
                    self.conn = Some(HttpConn::open(net, &t, bytes, now));
                    wake = wake.progressed();
                }
                Action::Wait(t) => {
                    wake.also_at(Some(t));
                    return wake;
                }
                Action::Done(s) => {
                    self.finished = true;
                    let elapsed_ms = now.saturating_sub(self.boot_ns) / 1_000_000;
                    let [summary, key, line, done] = report::success_lines(&s, elapsed_ms);
                    cx.say(&summary);
                    cx.say(&key);
                    cx.say(&line);
                    for (path, value) in report::xenstore_success(&s) {
                        cx.report(path, &value);
                    }
                    cx.say(&done);
                    self.summary = Some(s);
                    return wake.progressed();
                }
                Action::Failed(why) => {
                    self.finished = true;
                    cx.say(&report::error(&why));
                    for (path, value) in report::xenstore_error(&why) {
                        cx.report(path, &value);
                    }
                    return wake.progressed();
                }
            }
        }
        wake.also_at(Some(now)); // more to do right away
        wake
    }

    fn on_outcome<P: Platform>(&mut self, cx: &mut Cx<'_, P>, now: u64, outcome: Outcome) {
        let retries = self.imds.retries();
        self.imds.on_outcome(now, outcome);
        if self.imds.retries() > retries {
            cx.say(&report::retry(
                self.imds.retries(),
                self.imds.last_error.as_deref().unwrap_or("-"),
            ));
        }
    }
}
