// wgmma_rate.cu: how fast Hopper's wgmma.mma_async m64n128k16 (f16 in, f32 accumulate) runs with
// the shared-memory layouts a kernel may choose, products only (no loads, no softmax): operands in
// shared memory (SS) or A from registers (RS), K-major or MN-major B, without swizzle (the layout of
// cl/attention_fwd_wgmma.cl) or with the 128-byte swizzle TMA writes; 1-3 warpgroups a block, one
// block an SM (4 x 132 blocks), 8 products a commit group, each group waited for (wait0) or the
// previous one (wait1), as the attention loop does. Contents are constant: only the rate counts.
//
//   nvcc -O3 -gencode arch=compute_90a,code=sm_90a -o wgmma_rate tools/wgmma_rate.cu && ./wgmma_rate
//
// H100 80GB HBM3, 2026-12-06 (results/cuda-nvidia-h100-80gb-hbm3/session23-2026-12-06.log, call 2):
// 887-981 TFLOP/s in every layout, one warpgroup included, so neither the layout without swizzle nor
// the wait per group of 8 products limits the attention kernel (perf-notes 28).
#include <cstdio>
#include <cstdint>
#include <cuda_runtime.h>
#define D128 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
    "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, " \
    "%42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define O32(d) "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
    "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
    "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
    "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
#define O64(d) O32(d), O32((d + 32))
__device__ __forceinline__ void ss(float *d, uint64_t a, uint64_t b) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 " D128 ", %64, %65, 1, 1, 1, 0, 0;" : O64(d) : "l"(a), "l"(b));
}
template <int TB> __device__ __forceinline__ void rs(float *d, const uint32_t *a, uint64_t b) {
  asm volatile("wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 " D128 ", {%64, %65, %66, %67}, %68, 1, 1, 1, %69;"
               : O64(d) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "n"(TB));
}
__device__ __forceinline__ uint64_t desc(uint32_t addr, uint32_t lbo, uint32_t sbo, uint32_t swz) {
  return (uint64_t)((addr & 0x3FFFF) >> 4) | (uint64_t)((lbo & 0x3FFFF) >> 4) << 16 | (uint64_t)((sbo & 0x3FFFF) >> 4) << 32 |
         (uint64_t)swz << 62;
}
// mode: 0 SS no swizzle, 1 SS sw128, 2 RS MN-major no swizzle, 3 RS K-major sw128, 4 RS MN-major sw128, 5 RS K-major no swizzle
template <int MODE, int WAITEVERY>
__global__ void __launch_bounds__(384, 1) k(int iters, float *out) {
  extern __shared__ __align__(1024) unsigned char sm[];
  uint32_t base = (uint32_t)__cvta_generic_to_shared(sm);
  base = (base + 1023) & ~1023u;
  int wg = threadIdx.x / 128;
  float d[64];
  for (int i = 0; i < 64; i++) d[i] = 0.f;
  uint32_t a[4] = {0x3c003c00u, 0, 0, 0};
  uint32_t qa = base + 65536 + wg * 16384; // Q rows of this warpgroup
  for (int it = 0; it < iters; it++) {
    uint32_t kt = base + (it & 1) * 32768;
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
    for (int kc = 0; kc < 8; kc++) {
      if (MODE == 0) ss(d, desc(qa + kc * 256, 128, 2048, 0), desc(kt + kc * 256, 128, 2048, 0));
      if (MODE == 1) ss(d, desc(qa + (kc / 4) * 8192 + (kc % 4) * 32, 16, 1024, 1), desc(kt + (kc / 4) * 16384 + (kc % 4) * 32, 16, 1024, 1));
      if (MODE == 2) rs<1>(d, a, desc(kt + kc * 32 * 128, 2048, 128, 0));
      if (MODE == 3) rs<0>(d, a, desc(kt + (kc / 4) * 16384 + (kc % 4) * 32, 16, 1024, 1));
      if (MODE == 4) rs<1>(d, a, desc(kt + kc * 2048, 8192, 1024, 1));
      if (MODE == 5) rs<0>(d, a, desc(kt + kc * 256, 128, 2048, 0));
    }
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    if (WAITEVERY) asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
    else asm volatile("wgmma.wait_group.sync.aligned 1;" ::: "memory");
  }
  asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
  float s = 0; for (int i = 0; i < 64; i++) s += d[i];
  if (s == 12345.f) out[threadIdx.x] = s;
}
template <int MODE, int W> void run(const char *name, int threads, float *out) {
  auto f = k<MODE, W>;
  int smem = 65536 + 3 * 16384 + 1024;
  cudaFuncSetAttribute(f, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  int iters = 4096, blocks = 132 * 4;
  f<<<blocks, threads, smem>>>(16, out);
  cudaEvent_t e0, e1; cudaEventCreate(&e0); cudaEventCreate(&e1);
  cudaEventRecord(e0);
  f<<<blocks, threads, smem>>>(iters, out);
  cudaEventRecord(e1); cudaEventSynchronize(e1);
  float ms; cudaEventElapsedTime(&ms, e0, e1);
  double flop = 2.0 * 64 * 128 * 16 * 8 * (double)iters * (threads / 128) * blocks;
  printf("%-34s warpgroups %d wait%s: %8.3f ms %7.1f TFLOP/s %s\n", name, threads / 128, W ? "0" : "1", ms, flop / ms / 1e9,
         cudaGetErrorString(cudaGetLastError()));
}
int main() {
  float *out; cudaMalloc(&out, 4096);
  for (int t = 128; t <= 384; t += 128) {
    run<0, 1>("SS K-major no swizzle", t, out);
    run<1, 1>("SS K-major 128B swizzle", t, out);
    run<5, 1>("RS K-major no swizzle", t, out);
    run<2, 1>("RS MN-major no swizzle", t, out);
    run<3, 1>("RS K-major 128B swizzle", t, out);
    run<4, 1>("RS MN-major 128B swizzle", t, out);
  }
  run<0, 0>("SS K-major no swizzle", 384, out);
  run<1, 0>("SS K-major 128B swizzle", 384, out);
  run<2, 0>("RS MN-major no swizzle", 384, out);
  run<4, 0>("RS MN-major 128B swizzle", 384, out);
  return 0;
}
