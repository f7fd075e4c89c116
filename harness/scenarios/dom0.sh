# Scenario: the harness itself, no guest needed. dom0 runs on Xen 4.17 with
# HVM (SVM + HAP) available, so PVH guests can run; the toolstack and bridge
# are up.
info=$(xl info 2>&1)
echo "$info" | grep -E '^(xen_version|xen_caps|virt_caps|total_memory|free_memory|nr_cpus)'
field() { echo "$info" | awk -v k="$1" '$1 == k { sub(/^[^:]*: /, ""); print; exit }'; }
check "xl info: xen_version 4.17 ($(field xen_version))" sh -c "echo '$(field xen_version)' | grep -q '^4\.17\.'"
check "xl info: xen_caps has hvm-3.0-x86_64" sh -c "echo '$(field xen_caps)' | grep -qw 'hvm-3.0-x86_64'"
check "xl info: virt_caps has hvm and hap ($(field virt_caps))" sh -c "echo '$(field virt_caps)' | grep -qw hvm && echo '$(field virt_caps)' | grep -qw hap"
check "xl list shows Domain-0 only" sh -c "[ \$(xl list | awk 'NR > 1' | wc -l) -eq 1 ] && xl list | grep -q '^Domain-0 '"
check "xenconsoled logs guests to $CONSOLE_DIR" sh -c "pgrep -af xenconsoled | grep -q -- '--log=guest'"
check "xenbr0 has 10.0.0.1/24" sh -c "ip -4 addr show xenbr0 | grep -q 'inet 10.0.0.1/24'"
for m in xen_netback bridge xen_gntdev xen_gntalloc; do
    check "module $m loaded (or built in)" sh -c "grep -q '^$m ' /proc/modules || [ -d /sys/module/$m ]"
done
