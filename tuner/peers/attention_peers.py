#!/usr/bin/env python3
"""Attention forward side by side, in one process on one GPU: longkern's CUDA build (through
ctypes, on the primary context PyTorch uses, reading the same torch tensors) against torch SDPA
with the FlashAttention backend and with the cuDNN backend, each with a separate torch RoPE and
without RoPE. Timing: CUDA events around each call, the median of each method's repetitions
after warm-up, all methods of a shape in interleaved rounds (peer_timing.py).
With --opencl, longkern's NVIDIA OpenCL build joins with RoPE (lk_ocl_rope): lk-bench --device
opencl times the tuned dispatch on the same shape in a child process (OpenCL events, median of
interleaved rounds), and ocl_vs_cuda_rope = lk_ocl_rope / lk_rope.

Shapes follow the reference figures: fp16, B*S = 16K tokens (B = max(1, 16384 // S)), hidden
2048 (H = 2048 / head_dim), Hkv = H, lengths 512 .. 131072. TFLOP/s = 4*B*H*S*S*D / t, halved
when causal. longkern's RoPE is fused (its tuned variant); torch's is the eager rotate_half.

    LK_LIB=build/liblongkern.so LK_TUNING_DB=... python3 tuner/peers/attention_peers.py \\
        --out results/nvidia-h200 [--seq 512:131072] [--head-dim 64,128] [--causal 0,1] \\
        [--opencl build/tuner/lk-bench --opencl-db opencl.db]

Writes attention_fwd_peers.md and .csv into --out (the header names device, driver, date, command).
"""
import argparse
import csv
import ctypes as C
import datetime
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from peer_timing import median_ms

LK_F16 = 1


class Tensor(C.Structure):
    _fields_ = [("dtype", C.c_int), ("ndim", C.c_int), ("shape", C.c_int64 * 6), ("strides", C.c_int64 * 6),
                ("buffer", C.c_void_p), ("offset", C.c_int64)]


class Request(C.Structure):
    _fields_ = [("backend", C.c_int), ("platform", C.c_int), ("device", C.c_int), ("name_contains", C.c_char_p)]


class Rope(C.Structure):
    _fields_ = [("layout", C.c_int), ("theta", C.c_double), ("scaling", C.c_int), ("factor", C.c_double),
                ("low_freq_factor", C.c_double), ("high_freq_factor", C.c_double),
                ("original_max_position", C.c_int64), ("position_offset", C.c_int64), ("position_ids", C.c_void_p)]


class AttnParams(C.Structure):
    _fields_ = [("causal", C.c_int), ("scale", C.c_double), ("rope", C.c_void_p), ("q_position_ids", C.c_void_p),
                ("k_position_ids", C.c_void_p), ("rope_variant", C.c_int)]


class Longkern:
    """The few calls of the C API the benchmark needs."""

    def __init__(self, path):
        lib = C.CDLL(path)
        lib.lk_device_request_parse.argtypes = [C.c_char_p, C.POINTER(Request)]
        lib.lk_context_create.argtypes = [C.POINTER(C.c_void_p), C.POINTER(Request)]
        lib.lk_last_error.restype = C.c_char_p
        lib.lk_last_error.argtypes = [C.c_void_p]
        lib.lk_last_launch.restype = C.c_char_p
        lib.lk_last_launch.argtypes = [C.c_void_p]
        lib.lk_buffer_wrap_cuda.argtypes = [C.c_void_p, C.c_ulonglong, C.c_size_t, C.POINTER(C.c_void_p)]
        lib.lk_buffer_free.argtypes = [C.c_void_p]
        lib.lk_rope_params_default.restype = Rope
        lib.lk_attention_params_default.restype = AttnParams
        lib.lk_attention_fwd.argtypes = [C.c_void_p] + [C.POINTER(Tensor)] * 5 + [C.POINTER(AttnParams)]
        self.lib = lib
        req = Request()
        self.check(lib.lk_device_request_parse(b"cuda", C.byref(req)), None)
        self.ctx = C.c_void_p()
        self.check(lib.lk_context_create(C.byref(self.ctx), C.byref(req)), None)
        self.buffers = []

    def check(self, status, ctx):
        if status != 0:
            msg = self.lib.lk_last_error(ctx).decode() if ctx else "context creation failed"
            raise RuntimeError(f"longkern status {status}: {msg}")

    def tensor(self, t):
        """A [B, H, S, D] lk_tensor over torch tensor t's memory (kept wrapped until release())."""
        buf = C.c_void_p()
        self.check(self.lib.lk_buffer_wrap_cuda(self.ctx, t.data_ptr(), t.numel() * t.element_size(), C.byref(buf)),
                   self.ctx)
        self.buffers.append(buf)
        lt = Tensor(dtype=LK_F16, ndim=4, buffer=buf, offset=0)
        for i in range(4):
            lt.shape[i] = t.shape[i]
            lt.strides[i] = t.stride(i)
        return lt

    def release(self):
        for b in self.buffers:
            self.lib.lk_buffer_free(b)
        self.buffers = []

    def attention(self, q, k, v, o, causal, rope):
        p = self.lib.lk_attention_params_default()
        p.causal = causal
        r = self.lib.lk_rope_params_default()
        p.rope = C.cast(C.pointer(r), C.c_void_p) if rope else None
        self.check(self.lib.lk_attention_fwd(self.ctx, C.byref(q), C.byref(k), C.byref(v), C.byref(o), None,
                                             C.byref(p)), self.ctx)


def torch_rope(x, cos, sin):
    """rotate_half RoPE (HF Llama), the separate pass torch users run before SDPA."""
    h = x.shape[-1] // 2
    rotated = torch.cat((-x[..., h:], x[..., :h]), dim=-1)
    return x * cos + rotated * sin


def rope_tables(S, D, device):
    inv = 1.0 / (10000.0 ** (torch.arange(0, D, 2, device=device, dtype=torch.float32) / D))
    ang = torch.outer(torch.arange(S, device=device, dtype=torch.float32), inv)
    emb = torch.cat((ang, ang), dim=-1)
    return emb.cos().half(), emb.sin().half()


def opencl_rope_ms(bench, db, S, D, B, H):
    """lk-bench --device opencl's tuned dispatch (fused RoPE) for one shape: {causal: ms}."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [bench, "--device", "opencl", "--op", "attention_fwd", "--dtype", "f16", "--seq", f"{S}:{S}",
               "--head-dim", str(D), "--causal", "both", "--batch", str(B), "--heads", str(H), "--out", out]
        if db:
            cmd += ["--db", db]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {run.stderr.strip()[-400:]}")
        table = next(os.path.join(d, n) for d, _, names in os.walk(out) for n in names  # out/<device>/
                     if n.startswith("attention_fwd") and n.endswith(".csv"))
        with open(table) as f:
            rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    return {int(r["causal"]): float(r["dispatch_ms"]) for r in rows}


def lengths(spec):
    lo, hi = (int(x) for x in spec.split(":"))
    out, s = [], lo
    while s <= hi:
        out.append(s)
        s *= 2
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", default="512:131072")
    ap.add_argument("--head-dim", default="64,128")
    ap.add_argument("--causal", default="0,1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--lib", default=os.environ.get("LK_LIB", "build/liblongkern.so"))
    ap.add_argument("--opencl", metavar="LK_BENCH", help="lk-bench to time the NVIDIA OpenCL build with")
    ap.add_argument("--opencl-db", help="tuning database for --opencl (default: lk-bench's)")
    args = ap.parse_args()

    dev = torch.device("cuda")
    lk = Longkern(args.lib)
    methods = ["lk_rope", "lk", "flash_rope", "flash", "cudnn_rope", "cudnn"]
    ratios = ["lk_rope_vs_flash_rope", "lk_vs_flash"]
    if args.opencl:
        methods.insert(2, "lk_ocl_rope")
        ratios.append("ocl_vs_cuda_rope")
    rows = []
    for D in (int(x) for x in args.head_dim.split(",")):
        H = 2048 // D
        for S in lengths(args.seq):
            B = max(1, 16384 // S)
            torch.manual_seed(S + D)
            q, k, v = (torch.randn(B, H, S, D, device=dev, dtype=torch.float16) for _ in range(3))
            o = torch.empty_like(q)
            cos, sin = rope_tables(S, D, dev)
            tq, tk, tv, to = (lk.tensor(t) for t in (q, k, v, o))
            ocl = {}
            if args.opencl:
                try:
                    ocl = opencl_rope_ms(args.opencl, args.opencl_db, S, D, B, H)
                except Exception as e:
                    print(f"S={S} D={D} lk_ocl_rope: {e}", file=sys.stderr)
            for causal in (int(x) for x in args.causal.split(",")):
                flops = 4.0 * B * H * S * S * D * (0.5 if causal else 1.0)
                reps = 20 if flops < 5e13 else 5

                def sdpa(backend, rope):
                    def run():
                        with sdpa_kernel(backend):
                            qq, kk = (torch_rope(q, cos, sin), torch_rope(k, cos, sin)) if rope else (q, k)
                            F.scaled_dot_product_attention(qq, kk, v, is_causal=bool(causal))
                    return run

                calls = {
                    "lk_rope": lambda: lk.attention(tq, tk, tv, to, causal, True),
                    "lk": lambda: lk.attention(tq, tk, tv, to, causal, False),
                    "flash_rope": sdpa(SDPBackend.FLASH_ATTENTION, True),
                    "flash": sdpa(SDPBackend.FLASH_ATTENTION, False),
                    "cudnn_rope": sdpa(SDPBackend.CUDNN_ATTENTION, True),
                    "cudnn": sdpa(SDPBackend.CUDNN_ATTENTION, False),
                }
                row = {"seq_len": S, "head_dim": D, "causal": causal, "batch": B, "heads": H}
                if args.opencl:
                    row["lk_ocl_rope"] = flops / (ocl[causal] * 1e9) if causal in ocl else float("nan")
                ms = median_ms({m: calls[m] for m in methods if m not in row}, reps,
                               f"S={S} D={D} causal={causal}")
                for m in (m for m in methods if m not in row):
                    row[m] = flops / (ms[m] * 1e9) if m in ms else float("nan")
                # longkern against SDPA-flash: with RoPE (fused vs separate) and without
                row["lk_rope_vs_flash_rope"] = row["lk_rope"] / row["flash_rope"]
                row["lk_vs_flash"] = row["lk"] / row["flash"]
                if args.opencl:
                    row["ocl_vs_cuda_rope"] = row["lk_ocl_rope"] / row["lk_rope"]
                print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                      flush=True)
                rows.append(row)
            lk.release()
            del q, k, v, o
            torch.cuda.empty_cache()

    os.makedirs(args.out, exist_ok=True)
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    header = [f"device: {smi}", f"torch: {torch.__version__}",
              f"date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
              "command: " + " ".join(sys.argv),
              "TFLOP/s (4*B*H*S^2*D per call, halved when causal), fp16, B*S = 16K tokens, hidden 2048;"
              " CUDA events, median, the methods in interleaved rounds; *_rope = RoPE on q and k included (longkern fused, torch eager rotate_half)"
              + ("; lk_ocl_rope = NVIDIA OpenCL build through lk-bench (OpenCL events, median)" if args.opencl else "")]
    cols = ["seq_len", "head_dim", "causal", "batch", "heads"] + methods + ratios
    with open(os.path.join(args.out, "attention_fwd_peers.csv"), "w") as f:
        f.write("".join(f"# {h}\n" for h in header))
        f.write(",".join(cols) + "\n")
        for r in rows:
            f.write(",".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + "\n")
    with open(os.path.join(args.out, "attention_fwd_peers.md"), "w") as f:
        f.write("# Attention forward: longkern (CUDA build%s) vs torch SDPA\n\n" % (", NVIDIA OpenCL" if args.opencl else ""))
        f.write("".join(f"- {h}\n" for h in header) + "\n")
        f.write("| " + " | ".join(cols) + " |\n|" + "---:|" * len(cols) + "\n")
        for r in rows:
            f.write("| " + " | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |\n")


if __name__ == "__main__":
    main()
