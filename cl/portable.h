/* portable.h: one kernel source for OpenCL C and CUDA (NVRTC).
 *
 * Every kernel file (cl/NAME.cl) includes this header first (the library expands the include). Kernels are
 * written in OpenCL C using only the names below where the two languages differ:
 *
 *   LK_KERNEL              kernel entry            (__kernel | extern "C" __global__)
 *   LK_GLOBAL              global pointer qualifier(__global | nothing)
 *   LK_LOCAL_PTR           local pointer qualifier (__local  | nothing)
 *   LK_SHARED              local array declaration in kernel scope (__local | __shared__)
 *   LK_DYN_SHARED(type, name, n)  a 16-byte aligned array of n elements in local memory, at most one
 *                          per kernel: a static __local array in OpenCL (so within the device's local
 *                          memory, 48 KB on NVIDIA); in CUDA the block's dynamic shared memory
 *                          (extern __shared__), whose size the host passes at launch (lk_args.dyn_local),
 *                          which may exceed the 48 KB of static shared memory up to the device's opt-in limit
 *   LK_WG_SIZE(n)          fixed work-group size hint (reqd_work_group_size | __launch_bounds__)
 *   lk_barrier()           work-group barrier on local memory
 *   lk_barrier_global()    work-group barrier on local and global memory (a work-group reads back
 *                          what its own work-items stored to global memory)
 *   get_group_id/get_local_id/get_local_size/get_num_groups(d)  as in OpenCL (CUDA: functions)
 *   lk_t, lk_ld(p,i), lk_st(p,i,v)  storage type of the op's tensors and fp32 load/store;
 *                          half when the program is built with -DLK_F16=1 (vload_half /
 *                          vstore_half_rte; CUDA: cvt instructions), float otherwise
 *   lk_exp2 lk_log2 lk_sqrt lk_fma lk_sin lk_cos lk_rint lk_fmax lk_fmin lk_fabs  fp32 math
 *   lk_popcount64(x)       set bits of a ulong;  lk_ctz64(x) its lowest set bit (x != 0)
 *   lk_bits_as_float(u)    the float whose bits are the uint u
 *   lk_atomic_or_local(p, v)  atomic or on a local uint
 *   lk_ld16(p)             the 16 bytes at global p (16-byte aligned) as a uint4
 *   lk_ld16_or_zero(p, ok) the same, or zeros without reading where !ok
 *   lk_rows_vectors_of(vec, sd, off, sb, sh, ss)  a tensor's rows contiguous and 16-byte aligned
 *                          for loads of vec elements (element stride 1, the rest multiples of vec)
 *   lk_lds4(p)             the float4 at local p (16-byte aligned); .x .y .z .w only
 *   lk_unpack16(u, out)    the LK_VEC lk_t elements of 16 raw bytes u as floats (out[LK_VEC])
 *   lk_half8_bits_to_float / lk_half4_bits_to_float  8 / 4 fp16 values (uint4 / uint2 bits) as floats,
 *                          whatever lk_t is
 *   uint ushort ulong uchar  as in OpenCL
 */
#ifndef LK_PORTABLE_H
#define LK_PORTABLE_H

#ifndef __CUDACC__ /* ------------------------------------------------------------- OpenCL */

#define LK_KERNEL __kernel
#define LK_GLOBAL __global
#define LK_LOCAL_PTR __local
#define LK_SHARED __local
#define LK_DYN_SHARED(type, name, n) __local type name[n] __attribute__((aligned(16)))
#define LK_WG_SIZE(n) __attribute__((reqd_work_group_size(n, 1, 1)))
#define lk_barrier() barrier(CLK_LOCAL_MEM_FENCE)
#define lk_barrier_global() barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)
#define LK_INLINE inline

#define lk_exp2(x) exp2(x)
#define lk_log2(x) log2(x)
#define lk_sqrt(x) sqrt(x)
#define lk_fma(a, b, c) fma(a, b, c)
#define lk_sin(x) sin(x)
#define lk_cos(x) cos(x)
#define lk_rint(x) rint(x)
#define lk_fmax(a, b) fmax(a, b)
#define lk_fmin(a, b) fmin(a, b)
#define lk_fabs(x) fabs(x)
#define lk_half_to_float(p, i) vload_half((i), (p))
#define lk_popcount64(x) ((int)popcount((ulong)(x)))
#define lk_bits_as_float(u) as_float((uint)(u))
#define lk_ctz64(x) (63 - (int)clz((ulong)(x) & (0 - (ulong)(x)))) /* ctz is OpenCL 2.0 */
#define lk_atomic_or_local(p, v) atomic_or((volatile __local uint *)(p), (v))
#define lk_float_to_half(p, i, v) vstore_half_rte((v), (i), (p))
#define lk_ld16(p) (*(const __global uint4 *)(p))
#define lk_lds4(p) (*(const __local float4 *)(p))

#else /* ------------------------------------------------------------ CUDA (NVRTC defines __CUDACC__) */

#define LK_KERNEL extern "C" __global__
#define LK_GLOBAL
#define LK_LOCAL_PTR
#define LK_SHARED __shared__
#ifndef LK_DYN_SHARED /* tests/emu/warp_emu.h makes it a static array */
#define LK_DYN_SHARED(type, name, n) extern __shared__ __align__(16) type name[]
#endif
#define LK_WG_SIZE(n) __launch_bounds__(n)
#define lk_barrier() __syncthreads()
#define lk_barrier_global() __syncthreads()
#define LK_INLINE __device__ __forceinline__
#define restrict __restrict__

typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned long ulong;
typedef unsigned short half; /* storage only: converted with cvt below */

__device__ __forceinline__ unsigned get_group_id(int d) { return d == 0 ? blockIdx.x : d == 1 ? blockIdx.y : blockIdx.z; }
__device__ __forceinline__ unsigned get_local_id(int d) { return d == 0 ? threadIdx.x : d == 1 ? threadIdx.y : threadIdx.z; }
__device__ __forceinline__ unsigned get_local_size(int d) { return d == 0 ? blockDim.x : d == 1 ? blockDim.y : blockDim.z; }
__device__ __forceinline__ unsigned get_num_groups(int d) { return d == 0 ? gridDim.x : d == 1 ? gridDim.y : gridDim.z; }
__device__ __forceinline__ unsigned get_global_id(int d) { return get_group_id(d) * get_local_size(d) + get_local_id(d); }

#define lk_exp2(x) exp2f(x)
#define lk_log2(x) log2f(x)
#define lk_sqrt(x) sqrtf(x)
#define lk_fma(a, b, c) fmaf(a, b, c)
#define lk_sin(x) sinf(x)
#define lk_cos(x) cosf(x)
#define lk_rint(x) rintf(x)
#define lk_fmax(a, b) fmaxf(a, b)
#define lk_fmin(a, b) fminf(a, b)
#define lk_fabs(x) fabsf(x)
#ifndef INFINITY /* NVRTC has no math.h; nvcc and the host emulator (tests/emu) do */
#define INFINITY __int_as_float(0x7f800000)
#endif
#define lk_popcount64(x) __popcll((unsigned long long)(x))
#define lk_bits_as_float(u) __uint_as_float((unsigned)(u))
#define lk_ctz64(x) (__ffsll((long long)(x)) - 1)
#define lk_atomic_or_local(p, v) atomicOr((unsigned int *)(p), (v))

#ifndef lk_ld16 /* tests/emu/warp_emu.h checks the alignment */
#define lk_ld16(p) (*(const uint4 *)(p))
#endif
#define lk_lds4(p) (*(const float4 *)(p))
#ifndef LK_WARP_EMU /* tests/emu/warp_emu.h supplies these on the host */
__device__ __forceinline__ float lk_half_to_float(const half *p, long i) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(p[i]));
    return f;
}
__device__ __forceinline__ float lk_bits_to_float16(unsigned x) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((unsigned short)x));
    return f;
}
__device__ __forceinline__ void lk_float_to_half(half *p, long i, float v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    p[i] = h;
}
#endif

#endif /* ------------------------------------------------------------------------------------ */

#ifndef LK_F16
#define LK_F16 0
#endif
#if LK_F16
typedef half lk_t;
#define lk_ld(p, i) lk_half_to_float((p), (i))
#define lk_st(p, i, v) lk_float_to_half((p), (i), (v))
#define LK_VEC 8
#else
typedef float lk_t;
#define lk_ld(p, i) ((p)[i])
#define lk_st(p, i, v) ((p)[i] = (v))
#define LK_VEC 4
#endif

/* Eight and four fp16 values (as raw bits, whatever the op's storage type lk_t) -> floats. */
LK_INLINE void lk_half8_bits_to_float(uint4 u, float *out)
{
#ifdef __CUDACC__
    const unsigned w[4] = {u.x, u.y, u.z, u.w};
    for (int i = 0; i < 4; i++) {
        out[2 * i] = lk_bits_to_float16(w[i] & 0xffffu);
        out[2 * i + 1] = lk_bits_to_float16(w[i] >> 16);
    }
#else
    float8 f = vload_half8(0, (const half *)&u);
    out[0] = f.s0; out[1] = f.s1; out[2] = f.s2; out[3] = f.s3;
    out[4] = f.s4; out[5] = f.s5; out[6] = f.s6; out[7] = f.s7;
#endif
}

LK_INLINE void lk_half4_bits_to_float(uint2 u, float *out)
{
#ifdef __CUDACC__
    out[0] = lk_bits_to_float16(u.x & 0xffffu);
    out[1] = lk_bits_to_float16(u.x >> 16);
    out[2] = lk_bits_to_float16(u.y & 0xffffu);
    out[3] = lk_bits_to_float16(u.y >> 16);
#else
    float4 f = vload_half4(0, (const half *)&u);
    out[0] = f.x; out[1] = f.y; out[2] = f.z; out[3] = f.w;
#endif
}

/* Whether rows of a tensor (element stride sd; offset and other strides off, sb, sh, ss, in
 * elements) are contiguous and 16-byte aligned for loads of vec elements at a time. */
LK_INLINE int lk_rows_vectors_of(int vec, long sd, long off, long sb, long sh, long ss)
{
    return sd == 1 && (off | sb | sh | ss) % vec == 0;
}

/* The 16 bytes at global p (16-byte aligned), or zeros (reading nothing) where !ok. */
LK_INLINE uint4 lk_ld16_or_zero(const LK_GLOBAL void *p, int ok)
{
    uint4 u;
    u.x = u.y = u.z = u.w = 0u;
    if (ok)
        u = lk_ld16(p);
    return u;
}

/* One 16-byte chunk of lk_t elements (8 halves or 4 floats) -> floats. */
LK_INLINE void lk_unpack16(uint4 u, float *out)
{
#if LK_F16
    lk_half8_bits_to_float(u, out);
#else
#ifdef __CUDACC__
    out[0] = __uint_as_float(u.x); out[1] = __uint_as_float(u.y);
    out[2] = __uint_as_float(u.z); out[3] = __uint_as_float(u.w);
#else
    float4 f = as_float4(u);
    out[0] = f.x; out[1] = f.y; out[2] = f.z; out[3] = f.w;
#endif
#endif
}

#endif
