// copy.cl — the roofline copy kernel: dst[i] = src[i] for i in [0, n).
// Bandwidth reference for memory-bound kernels (bytes moved = 2 * n * 4).
//
// LAUNCH RULE (1-D NDRange):
//   block  = 16 * COPY_VECS floats per work-item
//   items  = ceil(n / block)
//   global = round_up(items, WG_SIZE)      local = WG_SIZE
//   Work-item i copies the contiguous block [i*block, min(n, (i+1)*block))
//   with float16 vload/vstore and a scalar tail; items past n return.
//
// Build options (-D; defaults are the best measured on PoCL pthread):
//   COPY_VECS  float16 vectors per work-item                    default 1024
//   WG_SIZE    local size (reqd_work_group_size)                 default 1
#ifndef COPY_VECS
#define COPY_VECS 1024
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
    const size_t bv = b0 + ((b1 - b0) & ~(size_t)15);
    size_t i = b0;
    for (; i < bv; i += 16) vstore16(vload16(0, src + i), 0, dst + i);
    for (; i < b1; ++i) dst[i] = src[i];
}
