//! Which source to run, as cloud-init chooses: the `ds=` value when the
//! command line gives one (`ds=ec2`, `ds=openstack`,
//! `ds=nocloud;s=http://a.b.c.d[:port]/path/`, cloud-init's
//! `ds=nocloud-net;s=...` spelling, with `h=`/`local-hostname=` and
//! `i=`/`instance-id=`); otherwise EC2 at the metadata address, and
//! OpenStack's format at the same address when `/openstack/` answers and
//! `/latest/` does not. `Select` is itself a `Source`.

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use crate::ec2::Ec2;
use crate::fetch::Fetch;
use crate::files::Files;
use crate::imds::{Outcome, Target};
use crate::nocloud::{self, Overrides, SeedUrl};
use crate::openstack;
use crate::source::{fact, Action, Source};

/// A `ds=` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ds {
    Ec2,
    OpenStack,
    /// `seed: None`: the seed is on a disk (`cidata`), not on the network.
    NoCloud {
        seed: Option<SeedUrl>,
        overrides: Overrides,
    },
}

impl Ds {
    /// Can `Select` run it (or is it the seed-disk datasource's)?
    pub fn is_network(&self) -> bool {
        !matches!(self, Ds::NoCloud { seed: None, .. })
    }
}

/// Parse the value of `ds=` (after the `=`): `NAME[;key=value...]`.
pub fn parse_ds(value: &str) -> Result<Ds, String> {
    let mut parts = value.split(';');
    let name = parts.next().unwrap_or("").to_ascii_lowercase();
    let mut seed = None;
    let mut overrides = Overrides::default();
    let nocloud = matches!(name.as_str(), "nocloud" | "nocloud-net");
    for p in parts.filter(|p| !p.is_empty()) {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("{:?} is not key=value", p))?;
        if !nocloud {
            return Err(format!("ds={} takes no options ({:?})", name, k));
        }
        let once = |have: bool| {
            if have {
                Err(format!("{} given twice", k))
            } else {
                Ok(())
            }
        };
        match k {
            "s" | "seedfrom" => {
                once(seed.is_some())?;
                seed = Some(SeedUrl::parse(v)?);
            }
            "h" | "local-hostname" => {
                once(overrides.hostname.is_some())?;
                overrides.hostname = Some(fact(v).ok_or("h= is not a host name")?);
            }
            "i" | "instance-id" => {
                once(overrides.instance_id.is_some())?;
                overrides.instance_id = Some(fact(v).ok_or("i= is not an instance id")?);
            }
            _ => return Err(format!("unknown ds option {:?} (s=, h=, i=)", k)),
        }
    }
    match name.as_str() {
        "ec2" => Ok(Ds::Ec2),
        "openstack" => Ok(Ds::OpenStack),
        _ if nocloud => Ok(Ds::NoCloud { seed, overrides }),
        _ => Err(format!(
            "unknown datasource {:?} (ec2, openstack, nocloud, nocloud-net)",
            name
        )),
    }
}

enum Phase {
    /// EC2 first; OpenStack if no EC2 tree is there
    Probe(Box<Ec2>),
    Fallback(Box<Files>),
    Given(Box<dyn Source>),
}

pub struct Select {
    phase: Phase,
    target: Target,
    seed: u32,
    /// requests and retries of a finished probe
    carried: (u32, u32),
    finished: Option<Action>,
}

impl Select {
    /// `imds` is the metadata address (`imds=`, else 169.254.169.254).
    /// A `ds=nocloud` without a seed URL is refused: that seed is on a disk.
    pub fn new(ds: Option<Ds>, imds: Target, seed: u32) -> Result<Select, String> {
        let phase = match ds {
            None => Phase::Probe(Box::new(Ec2::new(imds.clone(), seed))),
            Some(Ds::Ec2) => Phase::Given(Box::new(Ec2::new(imds.clone(), seed))),
            Some(Ds::OpenStack) => Phase::Given(Box::new(openstack::source(imds.clone(), seed))),
            Some(Ds::NoCloud {
                seed: Some(url),
                overrides,
            }) => Phase::Given(Box::new(nocloud::source(url, overrides, seed))),
            Some(Ds::NoCloud { seed: None, .. }) => {
                return Err("ds=nocloud without s=: the seed is on a disk, not the network".into())
            }
        };
        Ok(Select {
            phase,
            target: imds,
            seed,
            carried: (0, 0),
            finished: None,
        })
    }

    fn current(&self) -> &dyn Source {
        match &self.phase {
            Phase::Probe(s) => s.as_ref(),
            Phase::Fallback(s) => s.as_ref(),
            Phase::Given(s) => s.as_ref(),
        }
    }

    fn current_mut(&mut self) -> &mut dyn Source {
        match &mut self.phase {
            Phase::Probe(s) => s.as_mut(),
            Phase::Fallback(s) => s.as_mut(),
            Phase::Given(s) => s.as_mut(),
        }
    }

    fn finish(&mut self, a: Action) -> Action {
        self.finished = Some(a.clone());
        a
    }
}

impl Source for Select {
    fn name(&self) -> &'static str {
        self.current().name()
    }

    fn next(&mut self, now: u64) -> Action {
        if let Some(f) = &self.finished {
            return f.clone();
        }
        let a = self.current_mut().next(now);
        match (&self.phase, a) {
            (Phase::Probe(ec2), Action::Done(md)) if ec2.absent() => {
                self.carried = (md.requests, md.retries);
                let next = openstack::source(self.target.clone(), self.seed.wrapping_add(1));
                self.phase = Phase::Fallback(Box::new(next));
                self.next(now)
            }
            (Phase::Fallback(files), Action::Failed(_)) if files.absent() => {
                let why = format!(
                    "no metadata at http://{}: neither /latest/meta-data/ nor {}meta_data.json is there",
                    self.target.host(),
                    openstack::PREFIX
                );
                self.finish(Action::Failed(why))
            }
            (Phase::Fallback(_), Action::Done(mut md)) => {
                md.requests = md.requests.saturating_add(self.carried.0);
                md.retries = md.retries.saturating_add(self.carried.1);
                self.finish(Action::Done(md))
            }
            (_, a @ (Action::Done(_) | Action::Failed(_))) => self.finish(a),
            (_, a) => a,
        }
    }

    fn on_outcome(&mut self, now: u64, outcome: Outcome) {
        self.current_mut().on_outcome(now, outcome)
    }

    fn retries(&self) -> u32 {
        self.carried.1.saturating_add(self.current().retries())
    }

    fn last_error(&self) -> Option<&str> {
        self.current().last_error()
    }

    fn fetch(&self, path: &str) -> Option<Fetch> {
        self.current().fetch(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ds_values() {
        assert_eq!(parse_ds("ec2"), Ok(Ds::Ec2));
        assert_eq!(parse_ds("OpenStack"), Ok(Ds::OpenStack));
        let d = parse_ds("nocloud;s=http://10.0.0.1:8000/s/;h=vm1;i=iid-7").unwrap();
        let Ds::NoCloud {
            seed: Some(url),
            overrides,
        } = &d
        else {
            panic!("{:?}", d)
        };
        assert_eq!(url.path, "/s/");
        assert_eq!(overrides.hostname.as_deref(), Some("vm1"));
        assert_eq!(overrides.instance_id.as_deref(), Some("iid-7"));
        assert!(d.is_network());
        assert_eq!(
            parse_ds("nocloud-net;seedfrom=http://10.0.0.1/"),
            parse_ds("nocloud;s=http://10.0.0.1/")
        );
        let disk = parse_ds("nocloud").unwrap();
        assert!(!disk.is_network());
        assert!(Select::new(Some(disk), Target::default(), 0).is_err());
        for (bad, why) in [
            (
                "azure",
                "unknown datasource \"azure\" (ec2, openstack, nocloud, nocloud-net)",
            ),
            ("ec2;s=http://1.2.3.4/", "ds=ec2 takes no options (\"s\")"),
            ("nocloud;x=1", "unknown ds option \"x\" (s=, h=, i=)"),
            ("nocloud;s", "\"s\" is not key=value"),
            (
                "nocloud;s=http://1.2.3.4/;s=http://1.2.3.5/",
                "s given twice",
            ),
            (
                "nocloud;s=http://seed/",
                "the seed URL's host must be an IPv4 address, with an optional port",
            ),
            ("nocloud;h=two words", "h= is not a host name"),
        ] {
            assert_eq!(parse_ds(bad).err().as_deref(), Some(why), "{}", bad);
        }
    }
}
