#!/usr/bin/env python3
"""Registers, spills and shared memory of a cl/ kernel program as the CUDA backend builds it: with
NVRTC (the CUDA toolkit's libnvrtc, no GPU needed), for sm_90a, with the given defines. nvcc's
figures differ (e.g. kda_chunk_mma.cl: nvcc 96 registers, NVRTC 128, which is what ran on the
H100 by ncu), so quote these for the CUDA build.

  tools/nvrtc-ptxas.py cl/kda_chunk_mma.cl -DLK_F16=1 -DCHUNK=64 -DL2NORM=1 ...
"""
import ctypes
import ctypes.util
import os
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    name = os.path.splitext(os.path.basename(path))[0]
    here = os.path.dirname(os.path.abspath(path))
    opts = ["-I" + here, "-DLK_PROGRAM_%s=1" % name, "--gpu-architecture=sm_90a", "--ptxas-options=-v"] + sys.argv[2:]
    found = ctypes.util.find_library("nvrtc") or "/usr/local/cuda/lib64/libnvrtc.so"
    try:
        lib = ctypes.CDLL(found)
    except OSError:
        print("skipped: no libnvrtc (CUDA toolkit) on this machine")
        sys.exit(77)
    prog = ctypes.c_void_p()
    with open(path, "rb") as f:
        src = f.read()
    if lib.nvrtcCreateProgram(ctypes.byref(prog), src, b"longkern.cu", 0, None, None):
        sys.exit("nvrtcCreateProgram failed")
    argv = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
    rc = lib.nvrtcCompileProgram(prog, len(opts), argv)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    lines = log.value.decode(errors="replace").splitlines()
    keep = [l for l in lines if rc or "registers" in l or "spill" in l or "Compiling entry" in l or "C75" in l]
    print("\n".join(keep))
    sys.exit(1 if rc else 0)


if __name__ == "__main__":
    main()
