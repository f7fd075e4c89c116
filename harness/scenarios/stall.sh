# Scenario: hunt the intermittent guest stall. Runs the grant-table selftest
# (the step where a guest once stopped answering for good) STALL_RUNS times;
# when a run stalls, dumps what Xen knows about the guest (domain_diag).
G=/payload/guest.elf
RUNS=${STALL_RUNS:-12}
i=0
while [ "$i" -lt "$RUNS" ]; do
    i=$((i + 1))
    n=gnt$i
    guest_cfg "$n" "$G" "selftest=gnttab" 32
    xl_create "$n" || continue
    if ! check "[$i] guest granted a page" wait_console "$n" '^gnttab: selftest granted ref=[0-9]+ ' 30; then
        domain_diag "$n"; dump_console "$n"; xl destroy "$n"; continue
    fi
    check_waits_idle "$n" "[$i] guest waiting on a XenStore watch"
    python3 /payload/gntmap.py "$(xl domid "$n")" >/tmp/gntmap.log 2>&1 &
    gntmap=$!
    ok=1
    check "[$i] end of access refused while dom0 maps it" wait_console "$n" '^gnttab: selftest end_access=in-use' 40 || ok=0
    [ "$ok" = 1 ] && { check "[$i] end of access succeeds after unmap" wait_console "$n" '^gnttab: selftest end_access=ok after unmap' 40 || ok=0; }
    if [ "$ok" = 0 ]; then
        cat /tmp/gntmap.log
        domain_diag "$n"
        dump_console "$n"
    fi
    wait "$gntmap"
    xl destroy "$n"
done
