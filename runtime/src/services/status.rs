//! The text of the `status`, `ifconfig` and `log` answers.

extern crate alloc;

use alloc::format;
use alloc::string::String;

use sshd::Request;

use crate::net::{mac_string, Net, Nic};
use crate::report::quoted;
use crate::services::ssh::Facts;
use crate::{Cx, Platform, VERSION};

pub fn answer<N: Nic, P: Platform>(
    req: &Request,
    net: &Net<N>,
    cx: &mut Cx<'_, P>,
    facts: &Facts,
    logins: u64,
    now: u64,
) -> String {
    let addr = net
        .address()
        .map(|a| format!("{}", a))
        .unwrap_or_else(|| "-".into());
    let gw = net
        .gateway()
        .map(|g| format!("{}", g))
        .unwrap_or_else(|| "-".into());
    let how = net.config_kind();
    let counters = crate::net::counters_line(&net.nic.counters());
    match req {
        Request::Status => {
            let md = facts.metadata;
            let m = cx.host.memory();
            let mut text = format!(
                "appliance version={} uptime_s={} mem_total_kib={} heap_kib={} heap_free_kib={}\naddress={} gateway={} config={} mtu={}\ndatasource={} {} instance-id={} hostname={}\n",
                VERSION,
                now.saturating_sub(facts.boot_ns) / 1_000_000_000,
                m.total_kib,
                m.heap_kib,
                m.heap_free_kib,
                addr,
                gw,
                how,
                net.mtu(),
                md.source,
                md.detail,
                quoted(md.instance_id.as_deref().unwrap_or("-")),
                quoted(md.hostname.as_deref().unwrap_or("-")),
            );
            for k in &md.keys {
                text.push_str(&format!(
                    "key={} type={} comment={} origin={}\n",
                    k.key.fingerprint(),
                    k.key.kind,
                    quoted(&k.key.comment),
                    quoted(&k.origin)
                ));
            }
            text.push_str(&format!("ssh logins={}\n{}", logins, counters));
            text
        }
        Request::Ifconfig => format!(
            "vif0 device={} mac={} mtu={}\n    inet {} gateway {} ({})\n    {}",
            net.nic.name(),
            mac_string(net.nic.mac()),
            net.nic.mtu(),
            addr,
            gw,
            how,
            counters
        ),
        Request::Log => String::from_utf8_lossy(&cx.host.recent_console(8192)).into_owned(),
        Request::Metadata(_) | Request::Poweroff | Request::Reboot => String::new(),
    }
}
