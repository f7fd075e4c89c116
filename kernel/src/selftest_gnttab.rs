//! `selftest=gnttab`: prove the grant table against a real peer. We grant a
//! page read-only to dom0 and publish the reference; the harness maps it
//! through /dev/xen/gntdev, checks the contents and says so in XenStore.
//! Ending access while dom0 has it mapped must fail ("in use"); after dom0
//! unmaps, it must succeed. The guest sleeps on XenStore watches meanwhile.

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use xenabi::hal::{GrantError, GrantTable, SharedMem};
use xenstore::xenbus;

use crate::mem::Page;
use crate::store::Store;
use crate::xen::gnttab::XenGrantTable;
use crate::{println, xen};

const WAIT_NS: u64 = 120_000_000_000;

/// Wait until `key` reads `want` or the wait runs out: a XenStore watch
/// wakes us when it changes (polling once a second if the watch cannot be
/// set). Logs how many reads and upcalls that took: a sleeping wait is a few.
fn wait_key(xs: &mut Store, key: &str, want: &str) -> bool {
    const TOKEN: &str = "selftest-gnttab";
    let start = xen::time::now_ns();
    let deadline = start + WAIT_NS;
    let upcalls = xen::events::UPCALLS.load(Ordering::Relaxed);
    let watching = xs.watch(key, TOKEN).is_ok();
    let mut reads = 0u32;
    let mut found = false;
    while xen::time::now_ns() < deadline {
        reads += 1;
        if xs.read_string(key).is_ok_and(|v| v == want) {
            found = true;
            break;
        }
        let next = deadline.min(xen::time::now_ns() + 1_000_000_000);
        if !watching || xs.wait_event_for(TOKEN, deadline).is_err() {
            xen::wait_until(next);
        }
    }
    if watching {
        let _ = xs.unwatch(key, TOKEN);
        xs.discard_events(TOKEN);
    }
    println!(
        "gnttab: selftest waited key={} found={} watch={} ms={} reads={} upcalls={}",
        key,
        found as u8,
        watching as u8,
        (xen::time::now_ns() - start) / 1_000_000,
        reads,
        xen::events::UPCALLS.load(Ordering::Relaxed) - upcalls
    );
    found
}

pub fn run(xs: &mut Store, gt: &mut XenGrantTable) {
    let Some(page) = Page::alloc() else {
        println!("selftest: error reason=\"no memory\"");
        return;
    };
    let pattern = format!("gnttab-selftest tsc={:x}", crate::arch::rdtsc());
    page.write(0, pattern.as_bytes());
    let mut refs = Vec::new();
    if let Err(e) = gt.alloc_refs(1, &mut refs) {
        println!("selftest: error reason=\"{}\"", e);
        return;
    }
    let r = refs[0];
    if let Err(e) = gt.grant(r, 0, page.gfn(), true) {
        println!("selftest: error reason=\"{}\"", e);
        return;
    }
    let _ = xenbus::report(xs, "data/selftest/gnttab-pattern", &pattern);
    let _ = xenbus::report(xs, "data/selftest/gnttab-ref", &format!("{}", r));
    println!(
        "gnttab: selftest granted ref={} gfn={:#x} readonly=1 to=0",
        r,
        page.gfn()
    );

    if !wait_key(xs, "data/selftest/mapped", "1") {
        println!("selftest: error reason=\"dom0 never mapped the grant\"");
        return;
    }
    match gt.end_access(r) {
        Err(GrantError::InUse) => println!("gnttab: selftest end_access=in-use while dom0 maps it"),
        other => println!(
            "gnttab: error reason=\"end_access while mapped returned {:?}\"",
            other
        ),
    }
    let _ = xenbus::report(xs, "data/selftest/ended-while-mapped", "tried");
    if !wait_key(xs, "data/selftest/unmapped", "1") {
        println!("selftest: error reason=\"dom0 never unmapped the grant\"");
        return;
    }
    match gt.end_access(r) {
        Ok(()) => {
            gt.free_ref(r);
            println!(
                "gnttab: selftest end_access=ok after unmap free_refs={}",
                gt.free_count()
            );
        }
        Err(e) => println!("gnttab: error reason=\"end_access after unmap: {}\"", e),
    }
}
