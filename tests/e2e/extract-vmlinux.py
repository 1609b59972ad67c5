#!/usr/bin/env python3
"""extract-vmlinux.py BZIMAGE OUT: write the ELF vmlinux inside an LZ4- or
gzip-compressed bzImage (Debian's cloud kernel is LZ4), so the ELF boot path
can be tested with a stock kernel."""
import gzip
import struct
import subprocess
import sys

k = open(sys.argv[1], "rb").read()
setup_sects = k[0x1F1] or 4
off, length = struct.unpack_from("<II", k, 0x248)  # payload_offset, payload_length
start = (setup_sects + 1) * 512 + off
payload = k[start : start + length]
if payload[:4] == b"\x02\x21\x4c\x18":  # LZ4 legacy frame
    elf = subprocess.run(["lz4", "-dc"], input=payload, capture_output=True).stdout
elif payload[:2] == b"\x1f\x8b":
    elf = gzip.decompress(payload)
else:
    sys.exit("extract-vmlinux: unsupported compression %s" % payload[:4].hex())
if elf[:4] != b"\x7fELF":
    sys.exit("extract-vmlinux: payload is not an ELF image")
open(sys.argv[2], "wb").write(elf)
