# Scenario: hunt the intermittent guest stall. Runs the boot scenario's
# grant-table selftest (the step where a guest once stopped answering for
# good) STALL_RUNS times; a run that stalls gets domain_diag.
G=/payload/guest.elf
RUNS=${STALL_RUNS:-12}
i=0
while [ "$i" -lt "$RUNS" ]; do
    i=$((i + 1))
    guest_cfg "gnt$i" "$G" "selftest=gnttab" 32
    xl_create "gnt$i" || continue
    check_gnttab_selftest "gnt$i" "[$i] "
    xl destroy "gnt$i"
done
