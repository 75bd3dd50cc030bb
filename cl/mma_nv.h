/* mma_nv.h: NVIDIA tensor-core building blocks as inline PTX (sm_80 and newer). Inline PTX is
 * legal in both of our NVIDIA compilers, CUDA (NVRTC) and NVIDIA OpenCL, so one kernel source
 * serves both. Include only in programs the host builds for NVIDIA GPUs of compute capability 8+.
 *
 * Fragments of mma.m16n8k16 (f16 inputs, f32 accumulators), lane = 4 g + t (g = lane / 4, t = lane % 4):
 *
 *   A 16x16 row-major, 4 regs of f16x2        B 16x8 (k x n), 2 regs      C 16x8 f32, 4 floats
 *     a0 (g,   2t..2t+1)   a2 (g,   2t+8..)     b0 (k 2t..2t+1,   n g)       c0 c1 (g,   2t..2t+1)
 *     a1 (g+8, 2t..2t+1)   a3 (g+8, 2t+8..)     b1 (k 2t+8..2t+9, n g)       c2 c3 (g+8, 2t..2t+1)
 *
 * ldmatrix x4: lanes 8i..8i+7 give the row addresses (16 bytes each) of 8x8 matrix i; every lane
 * receives, in register i, matrix i's (row g, cols 2t..2t+1), or with .trans its (rows 2t..2t+1, col g).
 */
#ifndef LK_MMA_NV_H
#define LK_MMA_NV_H

#ifdef __CUDACC__
#define LK_SMEM_ADDR(p) ((uint)__cvta_generic_to_shared(p))
#define LK_GLOBAL_ADDR(p) ((ulong)(p))
#else
#define LK_SMEM_ADDR(p) ((uint)(ulong)(p))
#define LK_GLOBAL_ADDR(p) ((ulong)(p))
#endif

#ifndef LK_WARP_EMU /* tests/emu/warp_emu.h supplies the primitives on the host */

/* d += a b on one m16n8k16 tile. */
LK_INLINE void lk_mma16816(float *d, const uint *a, uint b0, uint b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

LK_INLINE void lk_ldmatrix_x4(uint *r, uint smem_addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr));
}

LK_INLINE void lk_ldmatrix_x4_trans(uint *r, uint smem_addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr));
}

/* Two 8x8 matrices, transposed: lanes 0-15 give the row addresses (the others' are ignored). */
LK_INLINE void lk_ldmatrix_x2_trans(uint *r, uint smem_addr)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(smem_addr));
}

/* Copy 16 bytes global -> shared without registers; src_bytes 0 writes zeros (reads nothing). */
LK_INLINE void lk_cp_async16(uint smem_addr, ulong global_addr, int src_bytes)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(smem_addr), "l"(global_addr), "r"(src_bytes));
}

/* Copy 8 bytes global -> shared without registers (through L1); src_bytes 0 writes zeros. */
LK_INLINE void lk_cp_async8(uint smem_addr, ulong global_addr, int src_bytes)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;" ::"r"(smem_addr), "l"(global_addr), "r"(src_bytes));
}

/* Copy 4 bytes global -> shared without registers (through L1); src_bytes 0 writes zeros. */
LK_INLINE void lk_cp_async4(uint smem_addr, ulong global_addr, int src_bytes)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(smem_addr), "l"(global_addr), "r"(src_bytes));
}

LK_INLINE void lk_cp_async_commit(void)
{
    asm volatile("cp.async.commit_group;");
}

/* Wait until at most n committed groups are still in flight (n a literal 0..3). */
#define LK_CP_ASYNC_WAIT_LIT(n) asm volatile("cp.async.wait_group " #n ";")
#define lk_cp_async_wait(n) LK_CP_ASYNC_WAIT_LIT(n)

LK_INLINE float lk_shfl_xor(float v, int lane_mask)
{
    float r;
    asm volatile("shfl.sync.bfly.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=f"(r) : "f"(v), "r"(lane_mask));
    return r;
}

/* v of lane `from` of the warp (shfl.sync.idx). */
LK_INLINE uint lk_shfl_idx(uint v, int from)
{
    uint r;
    asm volatile("shfl.sync.idx.b32 %0, %1, %2, 0x1f, 0xffffffff;" : "=r"(r) : "r"(v), "r"(from));
    return r;
}

/* 2^x by the special-function unit (ex2.approx: relative error ~2^-22, -inf gives +0), as
 * FlashAttention uses it for the softmax. */
LK_INLINE float lk_exp2_approx(float x)
{
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}

/* Sine and cosine of a by the special-function unit (sin.approx, cos.approx: absolute error
 * below 2^-20.9 for |a| <= pi, as rope_math.h's lk_rope_angle gives them), a few instructions
 * where sinf and cosf take tens and keep a slow path for large arguments. */
LK_INLINE void lk_sincos_approx(float a, float *s, float *c)
{
    float rs, rc;
    asm("sin.approx.ftz.f32 %0, %1;" : "=f"(rs) : "f"(a));
    asm("cos.approx.ftz.f32 %0, %1;" : "=f"(rc) : "f"(a));
    *s = rs;
    *c = rc;
}

/* Two floats rounded to an f16x2 register: lo in bits 0..15, hi in bits 16..31. */
LK_INLINE uint lk_pack_half2(float lo, float hi)
{
    uint r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}


/* Bytes of b:a picked by sel (prmt.b32: nibble i of sel names the source byte 0..7 of result
 * byte i); 0x5410 joins the low halves of a and b, 0x7632 the high halves. */
LK_INLINE uint lk_prmt(uint a, uint b, uint sel)
{
    uint r;
    asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
    return r;
}

/* Quantization codes to f16x2 values: x holds 1024 + code in each half (the f16 bits 0x6400 |
 * code, exact for codes < 1024), s2 and m2 the scale and the minimum in both halves
 * (lk_dequant_params); result = (x - 1024) * scale + min per half, one f16 rounding
 * (fma.rn.f16x2). */
LK_INLINE uint lk_dequant_h2_bc(uint x, uint s2, uint m2)
{
    uint r;
    asm("{\n\t.reg .b32 c;\n\t"
        "sub.rn.f16x2 c, %1, %2;\n\t"
        "fma.rn.f16x2 %0, c, %3, %4;\n\t}"
        : "=r"(r)
        : "r"(x), "r"(0x64006400u), "r"(s2), "r"(m2));
    return r;
}

/* ---- attention backward (attention_bwd_mma.cl) ---- */

/* *p += v in global memory without a return value (red.global.add.f32; relaxed, gpu scope). */
LK_INLINE void lk_red_add_f32(LK_GLOBAL float *p, float v)
{
    asm volatile("red.global.add.f32 [%0], %1;" ::"l"(LK_GLOBAL_ADDR(p)), "f"(v));
}

/* p[0] += a, p[1] += b (p 8-byte aligned): one vector red on sm_90+ in the CUDA build (PTX 8.1),
 * two scalar ones elsewhere (NVIDIA OpenCL's PTX version is not ours to choose). */
LK_INLINE void lk_red_add_f32x2(LK_GLOBAL float *p, float a, float b)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("red.global.add.v2.f32 [%0], {%1, %2};" ::"l"(LK_GLOBAL_ADDR(p)), "f"(a), "f"(b));
#else
    lk_red_add_f32(p, a);
    lk_red_add_f32(p + 1, b);
#endif
}


/* The two halves of an f16x2 register (lo: bits 0..15) as floats. */
LK_INLINE void lk_unpack_half2(uint r, float *lo, float *hi)
{
    float a, b;
    asm("{\n\t.reg .f16 l, h;\n\tmov.b32 {l, h}, %2;\n\tcvt.f32.f16 %0, l;\n\tcvt.f32.f16 %1, h;\n\t}"
        : "=f"(a), "=f"(b)
        : "r"(r));
    *lo = a;
    *hi = b;
}

#endif /* LK_WARP_EMU */

/* The stored (scale, min) pair sm (scale in bits 0..15) as lk_dequant_h2_bc's s2 = (scale,
 * scale) and m2 = (min, min): once per group of codes. */
LK_INLINE void lk_dequant_params(uint sm, uint *s2, uint *m2)
{
    *s2 = lk_prmt(sm, sm, 0x1010);
    *m2 = lk_prmt(sm, sm, 0x3232);
}

/* lk_dequant_h2_bc with the pair sm of one code pair's group. */
LK_INLINE uint lk_dequant_h2(uint x, uint sm)
{
    uint s2, m2;
    lk_dequant_params(sm, &s2, &m2);
    return lk_dequant_h2_bc(x, s2, m2);
}

/* Wait until at most `ahead` committed groups are still in flight (a constant expression 0..3;
 * the branches fold): the oldest tile of a cp.async ring, one group a tile, has landed while the
 * `ahead` tiles issued after it may still load. */
#define lk_cp_async_wait_ahead(ahead)                                                                               \
    do {                                                                                                           \
        if ((ahead) <= 0)                                                                                          \
            lk_cp_async_wait(0);                                                                                   \
        else if ((ahead) == 1)                                                                                     \
            lk_cp_async_wait(1);                                                                                   \
        else if ((ahead) == 2)                                                                                     \
            lk_cp_async_wait(2);                                                                                   \
        else                                                                                                       \
            lk_cp_async_wait(3);                                                                                   \
    } while (0)

#endif
