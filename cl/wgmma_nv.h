/* wgmma_nv.h: Hopper warpgroup matrix multiply-accumulate as inline PTX (wgmma.mma_async, sm_90a:
 * the CUDA build only; NVIDIA OpenCL does not target sm_90a). Include after mma_nv.h, only in
 * programs the host builds for compute capability 9.0.
 *
 * A warpgroup is 4 consecutive warps (128 threads, the first warp a multiple of 4). One
 * m64nNk16 product D [64 x N] (f32) += A [64 x 16] B [16 x N] (f16) takes all 128:
 *
 *   D (accumulators, d[0 .. N/2 - 1] per thread): warp w of the group holds rows 16 w .. 16 w + 15
 *     as mma.m16n8k16 C fragments, one per n8 column tile: d[4 i + e] is (row 16 w + g + 8 (e / 2),
 *     column 8 i + 2 t + e % 2), lane = 4 g + t. So d viewed as [N / 8][4] is the C-fragment array
 *     of the warp's 16 rows that mma_nv.h's kernels use.
 *   A from registers: per warp the mma.m16n8k16 A fragment (4 f16x2) of its 16 rows.
 *   A or B in shared memory: a descriptor (lk_wgmma_desc) of the canonical layout without swizzle,
 *     built from 8 x 8 "core matrices" of 128 contiguous bytes (8 rows of 16 bytes):
 *       K-major (the 16 k of a row contiguous by 8):  element (r, k) at
 *           start + (r / 8) SBO + (k / 8) LBO + (r % 8) 16 + (k % 8) 2 bytes
 *       MN-major (the rows / columns contiguous by 8): element (k, n) at
 *           start + (n / 8) SBO + (k / 8) LBO + (k % 8) 16 + (n % 8) 2 bytes
 *     (CUTLASS's INTERLEAVE layouts, cute/atom/mma_traits_sm90_gmma.hpp).
 *
 * Ordering: the products run asynchronously between the wgmma instruction and
 * lk_wgmma_wait0. Before the first product on registers other instructions wrote (zeroed or
 * rescaled accumulators, a fresh A fragment), lk_wgmma_fence; shared memory that generic stores
 * or cp.async wrote is published to the products' (async) proxy by lk_fence_proxy_async in the
 * writing threads before the barrier that hands it over. lk_wgmma_hold pins the accumulators'
 * registers: the compiler moves no access of them across it (place one after each wait). */
#ifndef LK_WGMMA_NV_H
#define LK_WGMMA_NV_H

/* The 64-bit shared-memory matrix descriptor: start address, leading-dimension byte offset
 * (LBO, between core matrices adjacent in K), stride-dimension byte offset (SBO, adjacent in M or
 * N), each >> 4 in 14 bits; base offset 0; swizzle mode 0 (none). */
LK_INLINE ulong lk_wgmma_desc_bits(uint addr, uint lbo, uint sbo)
{
    return (ulong)((addr & 0x3FFFFu) >> 4) | (ulong)((lbo & 0x3FFFFu) >> 4) << 16 |
           (ulong)((sbo & 0x3FFFFu) >> 4) << 32;
}

#ifndef LK_WARP_EMU /* tests/emu/warp_emu.h supplies the primitives on the host */

LK_INLINE ulong lk_wgmma_desc(uint smem_addr, uint lbo, uint sbo)
{
    return lk_wgmma_desc_bits(smem_addr, lbo, sbo);
}

LK_INLINE void lk_wgmma_fence(void)
{
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
}

LK_INLINE void lk_wgmma_commit(void)
{
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}

/* Wait until every committed product of this warpgroup has finished. */
LK_INLINE void lk_wgmma_wait0(void)
{
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
}

/* Wait until all but the newest committed group of products have finished. */
LK_INLINE void lk_wgmma_wait1(void)
{
    asm volatile("wgmma.wait_group.sync.aligned 1;" ::: "memory");
}

LK_INLINE void lk_fence_proxy_async(void)
{
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

/* Named barrier `id` (1-15; 0 is the work-group's) of n threads (a multiple of 32, whole warps):
 * lk_bar_sync waits until n threads have arrived (itself included), lk_bar_arrive counts itself
 * and goes on. Memory accesses before either are visible to the threads that waited for that
 * barrier's completion (producer/consumer hand-over without a work-group barrier). */
LK_INLINE void lk_bar_sync(int id, int n)
{
    asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(n) : "memory");
}

LK_INLINE void lk_bar_arrive(int id, int n)
{
    asm volatile("bar.arrive %0, %1;" ::"r"(id), "r"(n) : "memory");
}

/* n (a constant after inlining) accumulators pinned in place. */
LK_INLINE void lk_wgmma_hold(float *d, int n)
{
    #pragma unroll
    for (int i = 0; i < n; i++)
        asm volatile("" : "+f"(d[i])::"memory");
}

/* The accumulators of an m64n64k16 and an m64n128k16 product: the register lists and the operands. */
#define LK_WGMMA_D64 \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
    "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define LK_WGMMA_D128 \
    "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
    "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, " \
    "%42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, " \
    "%62, %63}"
#define LK_WGMMA_D64_OPERANDS(d) \
    "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
    "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
    "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
    "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
#define LK_WGMMA_D128_OPERANDS(d) LK_WGMMA_D64_OPERANDS(d), LK_WGMMA_D64_OPERANDS(((d) + 32))

/* d[0 .. 31] (+)= A B on m64n64k16: A [64 x 16] and B [16 x 64] in shared memory (descriptors), B
 * K-major. scale_d 0: d = A B. */
LK_INLINE void lk_wgmma_ss_n64(float *d, ulong adesc, ulong bdesc, int scale_d)
{
    asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.b32 p, %34, 0;\n\t"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " LK_WGMMA_D64 ", %32, %33, p, 1, 1, 0, 0;\n\t}"
                 : LK_WGMMA_D64_OPERANDS(d)
                 : "l"(adesc), "l"(bdesc), "r"(scale_d));
}

/* d[0 .. 31] (+)= A B on m64n64k16: A [64 x 16] from registers (a[4]: the mma.m16n8k16 A fragment of
 * this warp's 16 rows), B [16 x 64] in shared memory (descriptor), MN-major. scale_d 0: d = A B. */
LK_INLINE void lk_wgmma_rs_n64(float *d, const uint *a, ulong bdesc, int scale_d)
{
    asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.b32 p, %37, 0;\n\t"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " LK_WGMMA_D64
                 ", {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n\t}"
                 : LK_WGMMA_D64_OPERANDS(d)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(bdesc), "r"(scale_d));
}

/* d[0 .. 63] (+)= A B on m64n128k16: A [64 x 16] and B [16 x 128] in shared memory (descriptors), B
 * K-major. scale_d 0: d = A B. */
LK_INLINE void lk_wgmma_ss_n128(float *d, ulong adesc, ulong bdesc, int scale_d)
{
    asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.b32 p, %66, 0;\n\t"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 " LK_WGMMA_D128
                 ", %64, %65, p, 1, 1, 0, 0;\n\t}"
                 : LK_WGMMA_D128_OPERANDS(d)
                 : "l"(adesc), "l"(bdesc), "r"(scale_d));
}

/* d[0 .. 63] (+)= A B on m64n128k16: A [64 x 16] from registers (a[4]: the mma.m16n8k16 A fragment of
 * this warp's 16 rows), B [16 x 128] in shared memory (descriptor), MN-major. scale_d 0: d = A B. */
LK_INLINE void lk_wgmma_rs_n128(float *d, const uint *a, ulong bdesc, int scale_d)
{
    asm volatile("{\n\t.reg .pred p;\n\tsetp.ne.b32 p, %69, 0;\n\t"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 " LK_WGMMA_D128
                 ", {%64, %65, %66, %67}, %68, p, 1, 1, 1;\n\t}"
                 : LK_WGMMA_D128_OPERANDS(d)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(bdesc), "r"(scale_d));
}

#endif /* LK_WARP_EMU */
#endif
