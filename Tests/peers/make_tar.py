#!/usr/bin/env python3
"""Builds tar archives for the bundle tests with Python's tarfile, including
hostile ones that smimegate must refuse.

usage: make_tar.py OUT.tar KIND [ARG ...]
  KIND file NAME SOURCE      one regular entry NAME with SOURCE's bytes
  KIND symlink NAME TARGET   one symbolic link
  KIND hardlink NAME TARGET  one regular entry TARGET, then a hard link NAME to it
  KIND device NAME           one character device entry
  KIND big NAME BYTES        one regular entry of BYTES zero bytes
  KIND many COUNT            COUNT small regular entries
Several KIND groups may follow one another, separated by '+'.
"""
import io
import sys
import tarfile


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def main():
    out = sys.argv[1]
    groups, current = [], []
    for arg in sys.argv[2:]:
        if arg == "+":
            groups.append(current)
            current = []
        else:
            current.append(arg)
    groups.append(current)
    mode = "w:gz" if out.endswith(".gz") else "w"
    with tarfile.open(out, mode, format=tarfile.PAX_FORMAT) as tar:
        for kind, *args in groups:
            if kind == "file":
                add_bytes(tar, args[0], open(args[1], "rb").read())
            elif kind in ("symlink", "hardlink"):
                if kind == "hardlink":
                    add_bytes(tar, args[1], b"target\n")
                info = tarfile.TarInfo(args[0])
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = args[1]
                tar.addfile(info)
            elif kind == "device":
                info = tarfile.TarInfo(args[0])
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = 1, 3
                tar.addfile(info)
            elif kind == "big":
                add_bytes(tar, args[0], bytes(int(args[1])))
            elif kind == "many":
                for i in range(int(args[0])):
                    add_bytes(tar, "keys/k%d.pem" % i, b"x")
            else:
                sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()
