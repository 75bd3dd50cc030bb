/* warp_emu.h: runs the CUDA build of a cl/ kernel on host threads, one thread per work-item, so
 * that the tensor-core kernels (inline PTX, mma_nv.h) can be tested on a machine without an
 * NVIDIA GPU. C++20. Include this first, then portable.h, then the kernel program(s); kernels
 * become static functions (LK_KERNEL redefined), so several configurations of one program can live
 * in one executable, each translation unit in its own namespace.
 *
 * What is emulated (semantics as in the PTX ISA, fragment layouts as drawn in mma_nv.h):
 *   __syncthreads             a std::barrier of the block's threads
 *   bar.sync, bar.arrive      named barriers 1-15 (wgmma_nv.h's lk_bar_sync, lk_bar_arrive): a
 *                             count of arrivals per id; the n-th arrival completes the barrier
 *                             and wakes the threads waiting at it
 *   shfl.sync.bfly/.idx, mma.sync.m16n8k16 (f16 in, f32 accumulate), ldmatrix.x4 (.trans), .x2.trans
 *                             warp collectives: each lane posts its operands, the warp meets at a
 *                             barrier, each lane computes its own result, the warp meets again
 *   cp.async                  deferred: a copy lands when a cp.async.wait_group covers its
 *                             commit group (or its thread ends), so reading a buffer before the
 *                             wait for it sees stale data, as it may on the GPU; or, with
 *                             lk_emu_cp_async_early, at once, so overwriting a tile that is still
 *                             being read shows too
 *   wgmma.mma_async m64nNk16  (wgmma_nv.h) warpgroup collectives, deferred like cp.async: a
 *                             product reads shared memory and writes its accumulators only at
 *                             the wgmma.wait_group that covers it, so accumulators read or shared
 *                             memory overwritten before the wait give wrong results here too; a
 *                             product without a wgmma.fence since the last wait aborts.
 *                             Descriptors are the emulation's own (lk_wgmma_desc), their
 *                             addressing the layouts drawn in wgmma_nv.h
 *   red.global.add.f32        an atomic add
 *   cvt to and from f16       _Float16 (round to nearest even)
 *   sin.approx, cos.approx    std::sin, std::cos
 *   prmt, sub/fma.rn.f16x2    lane-local byte selects and f16 arithmetic (lk_prmt, lk_dequant_h2_bc)
 *   shared memory             __shared__ arrays become static (one block runs at a time), and so
 *                             does the dynamic array of LK_DYN_SHARED, at its compile-time size
 *   alignment                 a cp.async of n bytes (either side) and lk_ld16 not n- or 16-byte
 *                             aligned abort, as the GPU faults there (x86 would not)
 * Not emulated: timing, bank conflicts, register limits; warps whose lanes diverge around a
 * collective (the kernels never do that; the emulation would deadlock). */
#ifndef LK_WARP_EMU_H
#define LK_WARP_EMU_H

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

struct lk_emu_dim3 {
    unsigned x, y, z;
};
struct uint2 {
    unsigned x, y;
};
struct float2 {
    float x, y;
};
struct uint4 {
    unsigned x, y, z, w;
};
struct float4 {
    float x, y, z, w;
};

/* What the GPU refuses with a misaligned-address fault: x86 would not, so the emulation stops. */
inline void lk_emu_check_aligned(const void *p, unsigned n, const char *what)
{
    if ((uintptr_t)p % n) {
        fprintf(stderr, "warp_emu: %s at %p, not %u-byte aligned\n", what, p, n);
        abort();
    }
}
/* portable.h's lk_ld16, checked */
inline uint4 lk_emu_ld16(const void *p)
{
    lk_emu_check_aligned(p, 16, "16-byte load");
    return *(const uint4 *)p;
}
#define lk_ld16(p) lk_emu_ld16(p)

/* One warp's meeting point and the operands its lanes post there. */
struct lk_emu_warp {
    std::barrier<> meet{32};
    uint64_t post[32][8];
};

/* One warpgroup's (4 warps', wgmma) meeting point and the A fragments its threads post there. */
struct lk_emu_wgroup {
    std::barrier<> meet{128};
    uint64_t post[128][4];
};

/* A named barrier of a block: arrivals so far and completions. */
struct lk_emu_named {
    std::mutex mu;
    std::condition_variable done;
    int arrived = 0;
    unsigned long completions = 0;
};

/* The emulated thread's coordinates and its block's barriers. */
struct lk_emu_thread {
    lk_emu_dim3 block, thread, grid, dim;
    std::barrier<> *block_meet;
    lk_emu_named *named; /* [16] */
    lk_emu_warp *warp;
    int lane;
    lk_emu_wgroup *wgroup; /* nullptr unless the block is whole warpgroups */
};
inline thread_local lk_emu_thread lk_emu;

#define blockIdx lk_emu.block
#define threadIdx lk_emu.thread
#define gridDim lk_emu.grid
#define blockDim lk_emu.dim
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(n)
#define __syncthreads() lk_emu.block_meet->arrive_and_wait()
#define LK_DYN_SHARED(type, name, n) static type name[n] __attribute__((aligned(16)))

inline float __int_as_float(int x)
{
    float f;
    memcpy(&f, &x, 4);
    return f;
}
inline float __uint_as_float(unsigned x)
{
    float f;
    memcpy(&f, &x, 4);
    return f;
}
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned atomicOr(unsigned *p, unsigned v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }

/* Shared-memory "addresses" (LK_SMEM_ADDR): 32-bit offsets from an anchor in the same image,
 * computed on integers (the static arrays are other objects than the anchor). */
inline char lk_emu_anchor;
inline uint64_t __cvta_generic_to_shared(const void *p) { return (uint64_t)((uintptr_t)p - (uintptr_t)&lk_emu_anchor); }
inline const char *lk_emu_smem(unsigned a) { return (const char *)((uintptr_t)&lk_emu_anchor + (intptr_t)(int32_t)a); }

inline float lk_emu_h2f(unsigned short h)
{
    _Float16 x;
    memcpy(&x, &h, 2);
    return (float)x;
}
inline unsigned short lk_emu_f2h(float f)
{
    _Float16 x = (_Float16)f;
    unsigned short h;
    memcpy(&h, &x, 2);
    return h;
}

/* ---- portable.h's CUDA conversions ---- */
inline float lk_half_to_float(const unsigned short *p, long i) { return lk_emu_h2f(p[i]); }
inline float lk_bits_to_float16(unsigned x) { return lk_emu_h2f((unsigned short)x); }
inline void lk_float_to_half(unsigned short *p, long i, float v) { p[i] = lk_emu_f2h(v); }

/* ---- mma_nv.h's primitives ---- */

/* Every lane posts n words; after the meeting, lane l's words are at post[l]. */
inline void lk_emu_post(const uint64_t *w, int n)
{
    for (int i = 0; i < n; i++)
        lk_emu.warp->post[lk_emu.lane][i] = w[i];
    lk_emu.warp->meet.arrive_and_wait();
}
inline void lk_emu_done() { lk_emu.warp->meet.arrive_and_wait(); }

inline float lk_emu_half_of(uint64_t reg, int hi) { return lk_emu_h2f((unsigned short)(reg >> (16 * hi))); }

inline void lk_mma16816(float *d, const unsigned *a, unsigned b0, unsigned b1)
{
    uint64_t w[6] = {a[0], a[1], a[2], a[3], b0, b1};
    lk_emu_post(w, 6);
    uint64_t(*P)[8] = lk_emu.warp->post;
    const int g = lk_emu.lane / 4, t = lk_emu.lane % 4;
    float out[4];
    for (int e = 0; e < 4; e++) { /* c0 c1 (g, 2t..2t+1), c2 c3 (g+8, 2t..2t+1) */
        int row = g + (e >> 1) * 8, col = 2 * t + (e & 1);
        float acc = d[e];
        for (int k = 0; k < 16; k++) {
            /* A (row, k): lane 4 (row % 8) + (k % 8) / 2, register (row >= 8) + 2 (k >= 8) */
            float av = lk_emu_half_of(P[4 * (row % 8) + (k % 8) / 2][(row >= 8) + 2 * (k >= 8)], k % 2);
            /* B (k, col): lane 4 col + (k % 8) / 2, register b0 (k < 8) or b1 */
            float bv = lk_emu_half_of(P[4 * col + (k % 8) / 2][4 + (k >= 8)], k % 2);
            acc += av * bv;
        }
        out[e] = acc;
    }
    lk_emu_done();
    for (int e = 0; e < 4; e++)
        d[e] = out[e];
}

inline void lk_emu_ldmatrix(unsigned *r, unsigned smem_addr, int trans, int count)
{
    uint64_t w[1] = {smem_addr};
    lk_emu_post(w, 1);
    uint64_t(*P)[8] = lk_emu.warp->post;
    const int g = lk_emu.lane / 4, t = lk_emu.lane % 4;
    for (int i = 0; i < count; i++) { /* matrix i: rows at the addresses of lanes 8 i .. 8 i + 7 */
        unsigned short lo, hi;
        if (!trans) { /* (row g, cols 2t, 2t + 1) */
            memcpy(&lo, lk_emu_smem((unsigned)P[8 * i + g][0]) + 4 * t, 2);
            memcpy(&hi, lk_emu_smem((unsigned)P[8 * i + g][0]) + 4 * t + 2, 2);
        } else { /* (rows 2t, 2t + 1, col g) */
            memcpy(&lo, lk_emu_smem((unsigned)P[8 * i + 2 * t][0]) + 2 * g, 2);
            memcpy(&hi, lk_emu_smem((unsigned)P[8 * i + 2 * t + 1][0]) + 2 * g, 2);
        }
        r[i] = lo | (unsigned)hi << 16;
    }
    lk_emu_done();
}
inline void lk_ldmatrix_x4(unsigned *r, unsigned a) { lk_emu_ldmatrix(r, a, 0, 4); }
inline void lk_ldmatrix_x4_trans(unsigned *r, unsigned a) { lk_emu_ldmatrix(r, a, 1, 4); }
inline void lk_ldmatrix_x2_trans(unsigned *r, unsigned a) { lk_emu_ldmatrix(r, a, 1, 2); }

/* cp.async: a copy lands only when a wait_group covers its group (or the thread ends), so a
 * kernel that reads a buffer before waiting for it reads stale data here too. */
struct lk_emu_copy {
    char *dst;
    const char *src; /* nullptr: zero fill */
    int n;           /* bytes written */
    int src_n;       /* of them read from src; the rest zero (cp.async's src-size) */
    int group;       /* its commit group (0, 1, ...); -1 until committed */
};
inline void lk_emu_land(const lk_emu_copy &c)
{
    if (c.src)
        memcpy(c.dst, c.src, (size_t)c.src_n);
    memset(c.dst + (c.src ? c.src_n : 0), 0, (size_t)(c.n - (c.src ? c.src_n : 0)));
}
inline thread_local std::vector<lk_emu_copy> lk_emu_copies;
inline thread_local int lk_emu_groups; /* committed so far */
/* Set before a launch: every copy lands at once, as early as the GPU may land it, so that a tile
 * overwritten while another warp still reads its old contents reads wrong data here too. */
inline bool lk_emu_cp_async_early = false;

inline void lk_emu_cp_async(unsigned smem_addr, unsigned long global_addr, int n, int src_bytes)
{
    if (src_bytes < 0 || src_bytes > n) {
        fprintf(stderr, "cp.async: src-size %d outside [0, %d]\n", src_bytes, n);
        abort();
    }
    lk_emu_copy c = {(char *)lk_emu_smem(smem_addr), src_bytes ? (const char *)global_addr : nullptr, n, src_bytes, -1};
    lk_emu_check_aligned(c.dst, (unsigned)n, "cp.async into local memory");
    if (c.src)
        lk_emu_check_aligned(c.src, (unsigned)n, "cp.async from global memory");
    if (!lk_emu_cp_async_early)
        lk_emu_copies.push_back(c);
    else
        lk_emu_land(c);
}
inline void lk_cp_async16(unsigned s, unsigned long g, int src_bytes) { lk_emu_cp_async(s, g, 16, src_bytes); }
inline void lk_cp_async8(unsigned s, unsigned long g, int src_bytes) { lk_emu_cp_async(s, g, 8, src_bytes); }
inline void lk_cp_async4(unsigned s, unsigned long g, int src_bytes) { lk_emu_cp_async(s, g, 4, src_bytes); }
inline void lk_cp_async_commit(void)
{
    for (auto &c : lk_emu_copies)
        if (c.group < 0)
            c.group = lk_emu_groups;
    lk_emu_groups++;
}
/* Lands every committed copy but those of the newest `pending` groups (all copies: -1). */
inline void lk_cp_async_wait(int pending)
{
    std::vector<lk_emu_copy> keep;
    for (const auto &c : lk_emu_copies) {
        if (pending >= 0 && (c.group < 0 || c.group >= lk_emu_groups - pending)) {
            keep.push_back(c);
            continue;
        }
        lk_emu_land(c);
    }
    lk_emu_copies.swap(keep);
}

inline float lk_shfl_xor(float v, int lane_mask)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    uint64_t w[1] = {bits};
    lk_emu_post(w, 1);
    uint32_t r = (uint32_t)lk_emu.warp->post[lk_emu.lane ^ lane_mask][0];
    lk_emu_done();
    float f;
    memcpy(&f, &r, 4);
    return f;
}

inline unsigned lk_shfl_idx(unsigned v, int from)
{
    uint64_t w[1] = {v};
    lk_emu_post(w, 1);
    unsigned r = (unsigned)lk_emu.warp->post[from & 31][0];
    lk_emu_done();
    return r;
}

inline unsigned lk_prmt(unsigned a, unsigned b, unsigned sel)
{
    uint64_t v = a | (uint64_t)b << 32;
    unsigned r = 0;
    for (int i = 0; i < 4; i++)
        r |= (unsigned)((v >> (8 * ((sel >> (4 * i)) & 7))) & 0xff) << (8 * i);
    return r;
}
/* fma.rn.f16x2 rounds once: the double holds (code * scale + min) exactly (x - 1024 is exact). */
inline unsigned lk_dequant_h2_bc(unsigned x, unsigned s2, unsigned m2)
{
    unsigned r = 0;
    for (int h = 0; h < 2; h++) {
        double scale = lk_emu_h2f((unsigned short)(s2 >> (16 * h)));
        double min = lk_emu_h2f((unsigned short)(m2 >> (16 * h)));
        double code = lk_emu_h2f((unsigned short)(x >> (16 * h))) - 1024.0;
        _Float16 v = (_Float16)(code * scale + min);
        unsigned short bits;
        memcpy(&bits, &v, 2);
        r |= (unsigned)bits << (16 * h);
    }
    return r;
}

inline float lk_exp2_approx(float x) { return exp2f(x); }
inline void lk_sincos_approx(float a, float *s, float *c)
{
    *s = std::sin(a);
    *c = std::cos(a);
}
inline unsigned lk_pack_half2(float lo, float hi) { return lk_emu_f2h(lo) | (unsigned)lk_emu_f2h(hi) << 16; }
inline void lk_unpack_half2(unsigned r, float *lo, float *hi)
{
    *lo = lk_emu_h2f((unsigned short)r);
    *hi = lk_emu_h2f((unsigned short)(r >> 16));
}
inline void lk_red_add_f32(float *p, float v)
{
    std::atomic_ref<float>(*p).fetch_add(v, std::memory_order_relaxed);
}
inline void lk_red_add_f32x2(float *p, float a, float b)
{
    lk_red_add_f32(p, a);
    lk_red_add_f32(p + 1, b);
}

/* ---- wgmma_nv.h's primitives ---- */

/* A descriptor: the shared-memory address in bits 0..31, LBO in 32..47, SBO in 48..63. */
inline uint64_t lk_wgmma_desc(unsigned smem_addr, unsigned lbo, unsigned sbo)
{
    return smem_addr | (uint64_t)lbo << 32 | (uint64_t)sbo << 48;
}

/* Element (mn, k) of a descriptor's operand: row mn of A (K-major), or column mn of B, K-major
 * or (mn_major) MN-major, in wgmma_nv.h's layouts without swizzle. */
inline float lk_emu_desc_elem(uint64_t desc, int mn, int k, int mn_major)
{
    const unsigned start = (unsigned)desc, lbo = (unsigned)(desc >> 32) & 0xffffu, sbo = (unsigned)(desc >> 48);
    const unsigned in_core = mn_major ? (unsigned)(k % 8 * 16 + mn % 8 * 2) : (unsigned)(mn % 8 * 16 + k % 8 * 2);
    unsigned short h;
    memcpy(&h, lk_emu_smem(start + (unsigned)(mn / 8) * sbo + (unsigned)(k / 8) * lbo + in_core), 2);
    return lk_emu_h2f(h);
}

struct lk_emu_wgmma_op {
    float *d;
    int n, scale_d, trans_b, a_regs;
    unsigned a[4];
    uint64_t adesc, bdesc;
    int group; /* -1 until committed */
};
inline thread_local std::vector<lk_emu_wgmma_op> lk_emu_wgmma_ops;
inline thread_local int lk_emu_wgmma_groups;
inline thread_local bool lk_emu_wgmma_fenced;

inline void lk_emu_wgmma_issue(const lk_emu_wgmma_op &op)
{
    if (!lk_emu.wgroup || !lk_emu_wgmma_fenced) {
        fprintf(stderr, "warp_emu: wgmma %s\n", lk_emu.wgroup ? "without a wgmma.fence since the last wait" : "in a block of partial warpgroups");
        abort();
    }
    lk_emu_wgmma_ops.push_back(op);
}
inline void lk_wgmma_ss_n64(float *d, uint64_t adesc, uint64_t bdesc, int scale_d) { lk_emu_wgmma_issue({d, 64, scale_d, 0, 0, {}, adesc, bdesc, -1}); }
inline void lk_wgmma_ss_n128(float *d, uint64_t adesc, uint64_t bdesc, int scale_d) { lk_emu_wgmma_issue({d, 128, scale_d, 0, 0, {}, adesc, bdesc, -1}); }
inline void lk_wgmma_rs_n64(float *d, const unsigned *a, uint64_t bdesc, int scale_d)
{
    lk_emu_wgmma_issue({d, 64, scale_d, 1, 1, {a[0], a[1], a[2], a[3]}, 0, bdesc, -1});
}
inline void lk_wgmma_rs_n128(float *d, const unsigned *a, uint64_t bdesc, int scale_d)
{
    lk_emu_wgmma_issue({d, 128, scale_d, 1, 1, {a[0], a[1], a[2], a[3]}, 0, bdesc, -1});
}

/* One product, by the whole warpgroup: each thread its accumulators (wgmma_nv.h's D layout). */
inline void lk_emu_wgmma_run(const lk_emu_wgmma_op &op)
{
    lk_emu_wgroup *wg = lk_emu.wgroup;
    const int rank = (int)(lk_emu.thread.x % 128), w = rank / 32, g = rank % 32 / 4, t = rank % 4;
    for (int i = 0; i < 4; i++)
        wg->post[rank][i] = op.a[i];
    wg->meet.arrive_and_wait();
    std::vector<float> out((size_t)op.n / 2);
    for (int i = 0; i < op.n / 8; i++)
        for (int e = 0; e < 4; e++) {
            const int row = 16 * w + g + 8 * (e >> 1), col = 8 * i + 2 * t + (e & 1);
            float acc = op.scale_d ? op.d[4 * i + e] : 0.0f;
            for (int k = 0; k < 16; k++) {
                /* A from registers: the m16n8k16 A fragment of warp row / 16 (as lk_mma16816 reads it) */
                const int r = row % 16;
                float av = op.a_regs ? lk_emu_half_of(wg->post[32 * (row / 16) + 4 * (r % 8) + (k % 8) / 2][(r >= 8) + 2 * (k >= 8)], k % 2)
                                     : lk_emu_desc_elem(op.adesc, row, k, 0);
                acc += av * lk_emu_desc_elem(op.bdesc, col, k, op.trans_b);
            }
            out[(size_t)(4 * i + e)] = acc;
        }
    wg->meet.arrive_and_wait();
    for (size_t i = 0; i < out.size(); i++)
        op.d[i] = out[i];
}

inline void lk_wgmma_fence(void) { lk_emu_wgmma_fenced = true; }
inline void lk_wgmma_commit(void)
{
    for (auto &op : lk_emu_wgmma_ops)
        if (op.group < 0)
            op.group = lk_emu_wgmma_groups;
    lk_emu_wgmma_groups++;
}
/* Runs the committed products in order but those of the newest `pending` groups (an uncommitted
 * product at the wait aborts); the registers they wrote need a fence before the next product. */
inline void lk_emu_wgmma_wait(int pending)
{
    std::vector<lk_emu_wgmma_op> keep;
    for (const auto &op : lk_emu_wgmma_ops) {
        if (op.group < 0) {
            fprintf(stderr, "warp_emu: wgmma.wait_group with an uncommitted product\n");
            abort();
        }
        if (op.group >= lk_emu_wgmma_groups - pending)
            keep.push_back(op);
        else
            lk_emu_wgmma_run(op);
    }
    lk_emu_wgmma_ops.swap(keep);
    lk_emu_wgmma_fenced = false;
}
inline void lk_wgmma_wait0(void) { lk_emu_wgmma_wait(0); }
inline void lk_wgmma_wait1(void) { lk_emu_wgmma_wait(1); }
inline void lk_wgmma_hold(float *, int) {}
inline void lk_fence_proxy_async(void) {}

/* Arrive at named barrier `id` of n threads and, with wait, stay until it completes. */
inline void lk_emu_bar(int id, int n, bool wait)
{
    if (id < 1 || id > 15 || n < 32 || n % 32 || n > (int)lk_emu.dim.x) {
        fprintf(stderr, "warp_emu: named barrier %d of %d threads in a block of %u\n", id, n, lk_emu.dim.x);
        abort();
    }
    lk_emu_named &b = lk_emu.named[id];
    std::unique_lock<std::mutex> lock(b.mu);
    const unsigned long completions = b.completions;
    if (++b.arrived == n) {
        b.arrived = 0;
        b.completions++;
        b.done.notify_all();
        return;
    }
    if (wait)
        b.done.wait(lock, [&] { return b.completions != completions; });
}
inline void lk_bar_sync(int id, int n) { lk_emu_bar(id, n, true); }
inline void lk_bar_arrive(int id, int n) { lk_emu_bar(id, n, false); }

/* Runs body() as the kernel's work-items: blocks one after another, each block's `threads`
 * work-items (a multiple of 32) as host threads. */
inline void lk_emu_launch(lk_emu_dim3 grid, unsigned threads, const std::function<void()> &body)
{
    for (unsigned by = 0; by < grid.y; by++)
        for (unsigned bx = 0; bx < grid.x; bx++) {
            std::barrier<> block_meet((std::ptrdiff_t)threads);
            lk_emu_named named[16];
            std::vector<lk_emu_warp> warps(threads / 32);
            std::vector<lk_emu_wgroup> wgroups(threads / 128);
            std::vector<std::thread> pool;
            for (unsigned t = 0; t < threads; t++)
                pool.emplace_back([&, t] {
                    lk_emu = {{bx, by, 0}, {t, 0, 0}, grid, {threads, 1, 1}, &block_meet, named, &warps[t / 32], (int)(t % 32),
                              threads % 128 ? nullptr : &wgroups[t / 128]};
                    lk_emu_copies.clear();
                    lk_emu_groups = 0;
                    lk_emu_wgmma_ops.clear();
                    lk_emu_wgmma_groups = 0;
                    lk_emu_wgmma_fenced = false;
                    body();
                    lk_cp_async_wait(-1);
                });
            for (auto &th : pool)
                th.join();
        }
}

#define __CUDACC__ 1
#define LK_WARP_EMU 1

#endif
