#!/usr/bin/env python3
"""dom0 side of the appliance's selftest=gnttab: map the page the guest granted
(via /dev/xen/gntdev), check its contents, hold the mapping while the guest
tries to end access, then unmap. Prints 'gntmap: key=value' lines."""
import fcntl, mmap, struct, subprocess, sys, time

def xs_read(path):
    r = subprocess.run(["xenstore-read", path], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None

def xs_write(path, value):
    subprocess.run(["xenstore-write", path, value], check=True)

def wait_for(path, want=None, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        v = xs_read(path)
        if v is not None and (want is None or v == want):
            return v
        time.sleep(0.2)
    sys.exit(f"gntmap: error reason=timeout waiting for {path}")

# linux/include/uapi/xen/gntdev.h: _IOC(_IOC_NONE, 'G', nr, size)
IOCTL_MAP = (24 << 16) | (ord("G") << 8) | 0
IOCTL_UNMAP = (16 << 16) | (ord("G") << 8) | 1

domid = int(sys.argv[1])
base = f"/local/domain/{domid}/data/selftest"
ref = int(wait_for(f"{base}/gnttab-ref"))
pattern = wait_for(f"{base}/gnttab-pattern")
fd = open("/dev/xen/gntdev", "r+b", buffering=0)
arg = bytearray(struct.pack("<IIQII", 1, 0, 0, domid, ref))
fcntl.ioctl(fd, IOCTL_MAP, arg)
index = struct.unpack_from("<Q", arg, 8)[0]
m = mmap.mmap(fd.fileno(), 4096, mmap.MAP_SHARED, mmap.PROT_READ, offset=index)
data = m[: len(pattern)].decode(errors="replace")
print(f"gntmap: mapped ref={ref} domid={domid} match={int(data == pattern)} data=\"{data}\"", flush=True)
xs_write(f"{base}/mapped", "1")
wait_for(f"{base}/ended-while-mapped", "tried")
m.close()
fcntl.ioctl(fd, IOCTL_UNMAP, bytearray(struct.pack("<QII", index, 1, 0)))
print(f"gntmap: unmapped ref={ref}", flush=True)
xs_write(f"{base}/unmapped", "1")
