// loss.cl — cut cross-entropy, the loss from the per-token statistics of
// forward.cl (OpenCL C 1.2).
//
// cce_loss: one item per token i < n (global = round_up(n, WG_SIZE), local
//   WG_SIZE). From stats[4*i ..] = (m, d, Σ z, z_target):
//     lse[i]    = m + log d
//     losses[i] = lse − (1 − smoothing)·z_target − smooth_per_column·Σ z
//                 + zloss·lse²,  or 0 when targets[i] == ignore_index
//   (smooth_per_column = smoothing / V).
// cce_reduce: ONE work-group of WG_SIZE items: out[0] = scale·Σ_i losses[i]
//   in a fixed order (item l sums i = l, l + WG_SIZE, …; then a tree in
//   __local memory), so results are the same run to run.
// Build options (-D): WG_SIZE (local size, a power of two)    default 1
#include "lib/common.h"

#ifndef WG_SIZE
#define WG_SIZE 1
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void cce_loss(__global const float *stats, __global const int *targets, long targets_offset, long targets_stride,
              int n, int ignore_index, float smoothing, float smooth_per_column, float zloss,
              __global float *losses, __global float *lse)
{
    const int i = (int)get_global_id(0);
    if (i >= n) return;
#if WG_SIZE > 1
    // GPU preset: a token's four statistics in one 16-byte load (stats: a
    // buffer, 16-byte aligned): a warp reads 512 contiguous bytes
    const float4 s4 = ((__global const float4 *)stats)[i];
    const float l = s4.s0 + log(s4.s1);
    lse[i] = l;
    losses[i] = targets[targets_offset + i * targets_stride] == ignore_index
        ? 0.0f : l - (1.0f - smoothing) * s4.s3 - smooth_per_column * s4.s2 + zloss * l * l;
#else
    __global const float *s = stats + 4 * (long)i;
    const float l = s[0] + log(s[1]);
    lse[i] = l;
    losses[i] = targets[targets_offset + i * targets_stride] == ignore_index
        ? 0.0f : l - (1.0f - smoothing) * s[3] - smooth_per_column * s[2] + zloss * l * l;
#endif
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void cce_reduce(__global const float *losses, int n, float scale, __global float *out)
{
    __local float part[WG_SIZE];
    const int l = (int)get_local_id(0);
    float s = 0.0f;
    for (int i = l; i < n; i += WG_SIZE) s += losses[i];
    part[l] = s;
    for (int w = WG_SIZE / 2; w > 0; w /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (l < w) part[l] += part[l + w];
    }
    if (l == 0) out[0] = scale * part[0];
}
