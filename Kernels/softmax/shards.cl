// softmax/shards.cl — softmax_shard_stats + softmax_shard_output: the
// forward with rows split into column shards, for rows fewer than the
// device's compute units can share (1 x 1M on 2 cores would leave one
// idle); any OUTPUT_MODE 0-3 (OpenCL C 1.2).
//
// LAUNCH RULE (both kernels, 1-D): one work-item per (row, shard),
// g = row * shards + shard; global = round_up(rows * shards, WG_SIZE)
// (softmax_shard_output with OUTPUT_MODE 2/3: one item per row, global =
// round_up(rows, WG_SIZE)), local = WG_SIZE; items past the end return.
// Shard s holds columns [s * shard_cols, min(cols, (s + 1) * shard_cols)),
// never empty (the host makes shards = ceil(cols / shard_cols)).
//   softmax_shard_stats   the online pass over its shard: stats[2g] = m,
//                         stats[2g + 1] = d (OUTPUT_MODE 0/3) or R = d - 1
//                         (1/2: the sum without the max's unit, row.h,
//                         merged by fk_online_merge_r); stats is a
//                         fresh contiguous float[2 * rows * shards]
//   softmax_shard_output  merges its row's shard pairs, in shard order in
//                         every item (so all of a row's items agree bit for
//                         bit), then writes its shard of the output
//                         (OUTPUT_MODE 0/1), or, one item per row, the
//                         log-sum-exp (2: y[y_offset + r*y_row_stride]) or
//                         the merged (m, d) (3: at y[y_offset +
//                         r*y_row_stride] and the element after)
// Options, views and semantics: softmax/row.h (ROWS_PER_ITEM does not
// apply). Each shard's pass is the online one (online.cl).
#include "softmax/row.h"

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_shard_stats(SM_X_PARAMS, int shard_cols, int shards, __global float *stats)
{
    const size_t g = get_global_id(0);
    if (g >= (size_t)rows * (size_t)shards) return;
    size_t a, b;
    const int row = (int)fk_shard(g, shards, shard_cols, (size_t)cols, &a, &b);
    float M, D;   // SM_LOG_R (OUTPUT_MODE 1/2): D is R = d - 1 (row.h)
    sm_stats(SM_ROW(row), a, b, scale, &M, &D);
    stats[2 * g] = M;
    stats[2 * g + 1] = D;
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_shard_output(SM_X_PARAMS, SM_Y_PARAMS, int shard_cols, int shards, __global const float *stats,
    __global const float *row_factor)
{
    const size_t g = get_global_id(0);
#if OUTPUT_MODE <= FK_OUTPUT_LOG_SOFTMAX
    if (g >= (size_t)rows * (size_t)shards) return;
    const int row = (int)(g / (size_t)shards);
#else
    if (g >= (size_t)rows) return;
    const int row = (int)g;
#endif
    __global const float *pairs = stats + 2 * (size_t)row * (size_t)shards;
#if SM_LOG_R
    // (m, R) pairs: a shard's R survives the merge (lib/online.h)
    float M = -INFINITY, D = -1.0f;
    for (int s = 0; s < shards; ++s) fk_online_merge_r(&M, &D, pairs[2 * s], pairs[2 * s + 1]);
#else
    float M = -INFINITY, D = 0.0f;
    for (int s = 0; s < shards; ++s) fk_online_merge(&M, &D, pairs[2 * s], pairs[2 * s + 1]);
#endif
    __global sm_out_t *yr = SM_YROW(row);
#if OUTPUT_MODE >= FK_OUTPUT_LSE
    (void)x; (void)add_mask; (void)bool_mask; (void)cols; (void)x_offset; (void)x_row_stride;
    (void)add_mask_offset; (void)add_mask_row_stride; (void)bool_mask_offset;
    (void)bool_mask_row_stride; (void)scale; (void)shard_cols; (void)row_factor;
#if OUTPUT_MODE == FK_OUTPUT_LSE
    FK_SSTORE1(M + sm_log_d(D), yr);
#else
    yr[0] = M;
    yr[1] = D;
#endif
#else
    size_t a, b;
    fk_shard(g, shards, shard_cols, (size_t)cols, &a, &b);
    sm_p2_range(SM_ROW(row), yr, a, b, scale, sm_out_of(M, D, SM_FACTOR(row)));
    FK_NT_FENCE();
#endif
}
