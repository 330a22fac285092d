// copy/copy.cl — the roofline copy kernel: dst[i] = src[i] for i in [0, n).
// Bandwidth reference for memory-bound kernels (bytes moved = 2 * n * 4).
//
// LAUNCH RULE (1-D NDRange):
//   block  = 16 * COPY_VECS floats per work-item
//   items  = ceil(n / block)
//   global = round_up(items, WG_SIZE)      local = WG_SIZE
//   Work-item i copies the contiguous block [i*block, min(n, (i+1)*block));
//   items past n return.
//
// Build options (-D; defaults are the best measured on PoCL 3.1 pthread):
//   COPY_VECS    float16 vectors per work-item                  default 2048
//   WG_SIZE      local size (reqd_work_group_size)               default 1
//   FK_NT_STORE  1: non-temporal (streaming) stores, clang only  default 1
//   FK_VLOAD     1: vload16/vstore16 instead of the unaligned typedef (0;
//                lib/common.h)
//
// Each block: a scalar head until dst is 64-byte aligned, then float16
// unaligned loads / aligned (non-temporal) stores, then a scalar tail. With
// FK_NT_STORE the stores bypass the cache and skip the read-for-ownership of
// dst: ~2x the bandwidth of plain stores here. The softmax kernels write
// their outputs the same way, so the comparison stays like for like.
#include "lib/common.h"

#ifndef COPY_VECS
#define COPY_VECS 2048
#endif
#ifndef WG_SIZE
#define WG_SIZE 1
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void copy_float(__global const float *src, __global float *dst, int n)
{
    const size_t block = (size_t)16 * COPY_VECS;
    const size_t b0 = (size_t)get_global_id(0) * block;
    const size_t nn = (size_t)n;
    if (b0 >= nn) return;
    const size_t b1 = min(nn, b0 + block);
    size_t i = b0;
    const size_t h1 = min(b1, b0 + FK_HEAD(dst + b0));
    for (; i < h1; ++i) dst[i] = src[i];
    const size_t bv = i + ((b1 - i) & ~(size_t)15);
    for (; i < bv; i += 16) FK_STORE16_ALIGNED(FK_LOAD16(src + i), dst + i);
    for (; i < b1; ++i) dst[i] = src[i];
    FK_NT_FENCE();
}
