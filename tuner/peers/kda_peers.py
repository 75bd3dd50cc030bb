#!/usr/bin/env python3
"""lk_kda_fwd (longkern, CUDA backend through ctypes) side by side with fla's chunk_kda (Triton) in
one process on one GPU: the same inputs, CUDA-event timing (the median of each side's runs, the
two timed in interleaved rounds: peer_timing.py), both on PyTorch's default stream (longkern runs
on the legacy default stream of the primary context).

Problem (issue 7): B=1, H=HV=16, K=V=128, T from --seq; fp16 q/k/v, fp32 log-decay g in [-0.5, 0)
and beta in (0, 1) (fla gets beta in fp16, as its tests), fp32 initial state, final state out,
L2 norm of q and k inside both kernels, scale K^-0.5. Writes results/<device-slug>/kda_peers.md
and .csv: ms, tokens/s and the ratio fla_ms / longkern_ms (> 1: longkern faster), plus the
relative RMS difference of o between the two as a sanity check.

Usage (from the repository root, after building with CUDA):
  PYTHONPATH=.dev/fla_site python3 tuner/peers/kda_peers.py --lib build/liblongkern.so --seq 1024:65536
fla comes from .dev/fla_site (the fla-core wheel unpacked; no install needed), or any installed fla.
"""
import argparse
import ctypes
import datetime
import os
import re
import subprocess
import sys

import torch

from peer_timing import median_ms

LK_F32, LK_F16 = 0, 1
MAX_DIMS = 6


class LkTensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("ndim", ctypes.c_int), ("shape", ctypes.c_int64 * MAX_DIMS),
                ("strides", ctypes.c_int64 * MAX_DIMS), ("buffer", ctypes.c_void_p), ("offset", ctypes.c_int64)]


class LkKdaParams(ctypes.Structure):
    _fields_ = [("scale", ctypes.c_double), ("l2norm_qk", ctypes.c_int), ("a_log", ctypes.POINTER(LkTensor)),
                ("dt_bias", ctypes.POINTER(LkTensor)), ("cu_seqlens", ctypes.POINTER(LkTensor))]


class LkDeviceRequest(ctypes.Structure):
    _fields_ = [("backend", ctypes.c_int), ("platform", ctypes.c_int), ("device", ctypes.c_int),
                ("name_contains", ctypes.c_char_p)]


class Longkern:
    """The few calls of the C API this comparison needs."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        L = self.lib
        L.lk_status_str.restype = ctypes.c_char_p
        L.lk_last_error.restype = ctypes.c_char_p
        L.lk_last_error.argtypes = [ctypes.c_void_p]
        L.lk_last_launch.restype = ctypes.c_char_p
        L.lk_last_launch.argtypes = [ctypes.c_void_p]
        L.lk_device_request_parse.argtypes = [ctypes.c_char_p, ctypes.POINTER(LkDeviceRequest)]
        L.lk_context_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(LkDeviceRequest)]
        L.lk_context_destroy.argtypes = [ctypes.c_void_p]
        L.lk_buffer_wrap_cuda.argtypes = [ctypes.c_void_p, ctypes.c_ulonglong, ctypes.c_size_t,
                                          ctypes.POINTER(ctypes.c_void_p)]
        L.lk_buffer_free.argtypes = [ctypes.c_void_p]
        P = ctypes.POINTER(LkTensor)
        L.lk_kda_fwd.argtypes = [ctypes.c_void_p, P, P, P, P, P, P, P, P, ctypes.POINTER(LkKdaParams)]
        self.spec = b"cuda"
        req = LkDeviceRequest()
        self.check(L.lk_device_request_parse(self.spec, ctypes.byref(req)), None)
        self.ctx = ctypes.c_void_p()
        self.check(L.lk_context_create(ctypes.byref(self.ctx), ctypes.byref(req)), None)
        self.buffers = []

    def check(self, status, ctx):
        if status != 0:
            msg = self.lib.lk_last_error(ctx.value if ctx is not None else None)
            raise RuntimeError(f"longkern: {self.lib.lk_status_str(status).decode()}: {msg.decode()}")

    def tensor(self, t):
        """An lk_tensor over torch tensor t (its memory, shape and strides)."""
        buf = ctypes.c_void_p()
        nbytes = (t.storage_offset() + sum((n - 1) * s for n, s in zip(t.shape, t.stride())) + 1) * t.element_size()
        self.check(self.lib.lk_buffer_wrap_cuda(self.ctx, t.data_ptr() - t.storage_offset() * t.element_size(),
                                                nbytes, ctypes.byref(buf)), self.ctx)
        self.buffers.append(buf)
        d = LkTensor()
        d.dtype = {torch.float32: LK_F32, torch.float16: LK_F16}[t.dtype]
        d.ndim = t.dim()
        for i in range(t.dim()):
            d.shape[i], d.strides[i] = t.shape[i], t.stride(i)
        d.buffer, d.offset = buf.value, t.storage_offset()
        return d

    def release(self):
        for b in self.buffers:
            self.lib.lk_buffer_free(b)
        self.buffers = []


def rel_rms(a, b):
    a, b = a.double(), b.double()
    return ((a - b).pow(2).mean().sqrt() / b.pow(2).mean().sqrt()).item()


def slug(name):
    return "cuda-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", default="build/liblongkern.so")
    ap.add_argument("--seq", default="1024:65536", help="LO:HI, powers of two")
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--out", default="results")
    a = ap.parse_args()
    from fla.ops.kda import chunk_kda
    import fla
    import triton

    lo, hi = (int(x) for x in a.seq.split(":")) if ":" in a.seq else (int(a.seq), int(a.seq))
    lengths = []
    t = 1
    while t <= hi:
        if t >= lo:
            lengths.append(t)
        t *= 2
    lk = Longkern(os.path.abspath(a.lib))
    dev = torch.device("cuda")
    B, H, D = a.batch, a.heads, a.dim
    rows = []
    for T in lengths:
        g = torch.Generator(device=dev).manual_seed(T)
        q = torch.rand(B, T, H, D, device=dev, generator=g).half()
        k = torch.rand(B, T, H, D, device=dev, generator=g).half()
        v = torch.rand(B, T, H, D, device=dev, generator=g).half()
        gate = -0.5 * torch.rand(B, T, H, D, device=dev, generator=g) - 1e-3
        beta = torch.rand(B, T, H, device=dev, generator=g)
        h0 = torch.randn(B, H, D, D, device=dev, generator=g)
        o = torch.empty_like(v)
        ht = torch.empty_like(h0)
        beta_h = beta.half()

        def run_fla():
            return chunk_kda(q, k, v, gate, beta_h, initial_state=h0, output_final_state=True,
                             use_qk_l2norm_in_kernel=True)

        tensors = [lk.tensor(x) for x in (q, k, v, gate, beta, h0, o, ht)]
        params = LkKdaParams(0.0, 1, None, None, None)
        refs = [ctypes.byref(x) for x in tensors]

        def run_lk():
            lk.check(lk.lib.lk_kda_fwd(lk.ctx, *refs, ctypes.byref(params)), lk.ctx)

        run_lk()
        torch.cuda.synchronize()
        o_fla, ht_fla = run_fla()
        torch.cuda.synchronize()
        diff_o, diff_ht = rel_rms(o, o_fla), rel_rms(ht, ht_fla)
        ms = median_ms({"lk": run_lk, "fla": run_fla}, a.reps, f"T {T}")
        ms_lk, ms_fla = ms["lk"], ms["fla"]
        launch = lk.lib.lk_last_launch(lk.ctx).decode()
        rows.append((T, ms_lk, ms_fla, diff_o, diff_ht, launch))
        print(f"T {T}: longkern {ms_lk:.3f} ms, fla {ms_fla:.3f} ms, fla/longkern {ms_fla / ms_lk:.2f}x, "
              f"o diff {diff_o:.2e}, ht diff {diff_ht:.2e} [{launch}]", flush=True)
        lk.release()
        del q, k, v, gate, beta, h0, o, ht, o_fla, ht_fla
        torch.cuda.empty_cache()

    name = torch.cuda.get_device_name()
    out = os.path.join(a.out, slug(name))
    os.makedirs(out, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    header = [f"device: {name} (cuda)", f"torch {torch.__version__}, triton {triton.__version__}, "
              f"fla {getattr(fla, '__version__', '?')}, longkern {commit}",
              f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M:%S} UTC",
              "command: " + " ".join(sys.argv),
              f"problem: B={B} H=HV={H} K=V={D}, fp16 q/k/v/o, fp32 g/h0 (beta fp32 for longkern, fp16 for fla),"
              " L2 norm in kernel, initial and final state; median of CUDA-event timed runs"]
    with open(os.path.join(out, "kda_peers.md"), "w") as f:
        f.write("# kda: longkern lk_kda_fwd vs fla chunk_kda (one process, same inputs)\n\n")
        f.write("".join(f"    {h}\n" for h in header))
        f.write("\nfla/longkern > 1 means longkern is faster. o diff, ht diff: relative RMS difference of the"
                " two outputs.\n\n| T | longkern ms | fla ms | longkern tok/s | fla tok/s | fla/longkern |"
                " o diff | ht diff | longkern launch |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
        for T, ms_lk, ms_fla, d_o, d_h, launch in rows:
            f.write(f"| {T} | {ms_lk:.3f} | {ms_fla:.3f} | {B * T / ms_lk * 1e3:.0f} | {B * T / ms_fla * 1e3:.0f} |"
                    f" {ms_fla / ms_lk:.2f}x | {d_o:.1e} | {d_h:.1e} | {launch} |\n")
    with open(os.path.join(out, "kda_peers.csv"), "w") as f:
        f.write("".join(f"# {h}\n" for h in header))
        f.write("T,longkern_ms,fla_ms,longkern_tokens_per_s,fla_tokens_per_s,fla_over_longkern,o_rel_diff,"
                "ht_rel_diff\n")
        for T, ms_lk, ms_fla, d_o, d_h, _ in rows:
            f.write(f"{T},{ms_lk:.6f},{ms_fla:.6f},{B * T / ms_lk * 1e3:.1f},{B * T / ms_fla * 1e3:.1f},"
                    f"{ms_fla / ms_lk:.4f},{d_o:.3e},{d_h:.3e}\n")
    print(f"wrote {out}/kda_peers.{{md,csv}}")
    lk.lib.lk_context_destroy(lk.ctx)


if __name__ == "__main__":
    main()
