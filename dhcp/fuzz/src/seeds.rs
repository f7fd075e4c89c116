//! Writes the seed corpus: dnsmasq-shaped sessions (OFFER/ACK/NAK built by
//! the tests' server) as fuzz scripts, and plays each back to show where
//! it leads. `cargo run --bin seeds -- DIR`.

#[path = "../../tests/support/server.rs"]
#[allow(dead_code)]
mod server;

use std::net::Ipv4Addr;

use dhcp_fuzz::{encode, run, Step, MAC};
use server::{Server, ACK, NAK, OFFER};

const S: u64 = 1_000_000_000;

fn server() -> Server {
    Server::dnsmasq(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 50))
}

fn after(s: u64) -> Step<'static> {
    Step::Clock { back: false, ns: s * S }
}

/// A reply to the client's last xid (patched in by the script player).
fn answer(p: &[u8]) -> Step<'_> {
    Step::Packet { patch: true, bytes: p }
}

fn write(dir: &str, name: &str, steps: &[Step<'_>]) {
    let script = encode(steps);
    std::fs::write(format!("{dir}/{name}"), &script).expect("write seed");
    let (c, configured) = run(&script);
    let n = c.counters();
    println!(
        "{name}: phase={:?} configured={configured} sent={}+{} ignored={}",
        c.phase(),
        n.sent_discover,
        n.sent_request,
        n.ignored.total()
    );
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: seeds DIR");
    std::fs::create_dir_all(&dir).expect("seed dir");
    let tx = Step::Transmit;

    let s = server();
    let (offer, ack, nak) = (s.reply(OFFER, 0, MAC), s.reply(ACK, 0, MAC), s.reply(NAK, 0, MAC));
    let (o, a, k) = (answer(&offer), answer(&ack), answer(&nak));
    // bind, renew at T1, a NAK while renewing, rediscover and bind again
    let dnsmasq = [
        tx.clone(), o.clone(), tx.clone(), a.clone(), after(1800), tx.clone(), a.clone(),
        after(1800), tx.clone(), k.clone(), after(1), tx.clone(), o.clone(), tx.clone(), a.clone(),
    ];
    write(&dir, "dnsmasq", &dnsmasq);
    let mut always_nak = vec![];
    for wait in [1, 2, 4, 8] {
        always_nak.extend([tx.clone(), o.clone(), tx.clone(), k.clone(), after(wait)]);
    }
    write(&dir, "always-nak", &always_nak);
    // bound, then the server is gone: renew, rebind, expire, rediscover
    let mut vanished = vec![tx.clone(), o.clone(), tx.clone(), a.clone()];
    for _ in 0..40 {
        vanished.extend([after(120), tx.clone()]);
    }
    write(&dir, "vanished", &vanished);

    let rogue: [(&str, &[(u8, Option<Vec<u8>>)]); 5] = [
        ("lease-zero", &[(51, Some(0u32.to_be_bytes().to_vec()))]),
        ("issue13", &[(51, Some(60u32.to_be_bytes().to_vec())), (58, Some(3600u32.to_be_bytes().to_vec())), (59, None)]),
        ("bad-mask", &[(1, Some(vec![255, 0, 255, 0]))]),
        ("mtu-9001", &[(26, Some(9001u16.to_be_bytes().to_vec()))]),
        ("no-router", &[(3, None)]),
    ];
    for (name, changes) in rogue {
        let mut r = server();
        for (code, value) in changes {
            r.set_option(*code, value.clone());
        }
        let (offer, ack) = (r.reply(OFFER, 0, MAC), r.reply(ACK, 0, MAC));
        let (o, a) = (answer(&offer), answer(&ack));
        let steps = [
            tx.clone(), o, tx.clone(), a.clone(), after(30), tx.clone(), a.clone(), after(30), tx.clone(), a,
        ];
        write(&dir, name, &steps);
    }

    // structured replies: OFFER, ACK with a 60 s lease, a NAK, a clock step back
    let lease60 = [51, 4, 0, 0, 0, 60, 1, 4, 255, 255, 255, 0, 3, 4, 10, 0, 0, 1];
    let steps = [
        tx.clone(),
        Step::Reply { kind: OFFER, server: 1, yiaddr: 50, options: &lease60 },
        tx.clone(),
        Step::Reply { kind: ACK, server: 1, yiaddr: 50, options: &lease60 },
        after(30),
        tx.clone(),
        Step::Reply { kind: NAK, server: 1, yiaddr: 0, options: &[] },
        Step::Clock { back: true, ns: 10 * S },
        tx,
    ];
    write(&dir, "structured", &steps);
}
