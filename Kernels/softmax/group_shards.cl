// softmax/group_shards.cl — softmax_group_shard_stats +
// softmax_group_shard_output: the GPU preset's forward with each row cut
// into column shards of a work-group each, for rows too few to fill the
// device (one row of a 256k vocabulary); any OUTPUT_MODE 0-3 (OpenCL C 1.2).
//
// LAUNCH RULE (1-D, local = WG_SIZE): group g = row * shards + shard, global
// = rows * shards * WG_SIZE (softmax_group_shard_output with OUTPUT_MODE 2/3:
// one group per row, global = rows * WG_SIZE). Shard s holds columns
// [s * shard_cols, min(cols, (s + 1) * shard_cols)), never empty.
//   softmax_group_shard_stats   the shard's (m, d) — (m, R) for OUTPUT_MODE
//                               1/2 — at stats[2g], stats[2g + 1] (a fresh
//                               contiguous float[2 * rows * shards])
//   softmax_group_shard_output  every item merges its row's pairs in shard
//                               order (all agree bit for bit), then writes
//                               its columns of the shard (0/1), or item 0 the
//                               row's log-sum-exp or (m, d) (2/3)
// The merge is the one of shards.cl; work split and reductions:
// softmax/group.h; options and semantics: softmax/row.h.
#include "softmax/group.h"

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_group_shard_stats(SM_X_PARAMS, int shard_cols, int shards, __global float *stats)
{
    __local float lm[WG_SIZE], ld[WG_SIZE];
    const size_t g = get_group_id(0), lid = get_local_id(0);
    size_t a, b;
    const int row = (int)fk_shard(g, shards, shard_cols, (size_t)cols, &a, &b);
    (void)rows;
    float M, D;
    seg_item_stats(SM_ROW(row), a, b, lid, WG_SIZE, scale, &M, &D);
    seg_reduce(&M, &D, lid, lid, WG_SIZE, lm, ld);
    if (lid == 0) {
        stats[2 * g] = M;
        stats[2 * g + 1] = D;
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_group_shard_output(SM_X_PARAMS, SM_Y_PARAMS, int shard_cols, int shards, __global const float *stats,
    __global const float *row_factor)
{
    const size_t g = get_group_id(0), lid = get_local_id(0);
    (void)rows;
#if OUTPUT_MODE <= FK_OUTPUT_LOG_SOFTMAX
    const int row = (int)(g / (size_t)shards);
#else
    const int row = (int)g;
#endif
    __global const float *pairs = stats + 2 * (size_t)row * (size_t)shards;
    float M = -INFINITY, D = SEG_EMPTY_D;
    for (int s = 0; s < shards; ++s) seg_merge(&M, &D, pairs[2 * s], pairs[2 * s + 1]);
#if OUTPUT_MODE >= FK_OUTPUT_LSE
    (void)x; (void)add_mask; (void)bool_mask; (void)cols; (void)x_offset; (void)x_row_stride;
    (void)add_mask_offset; (void)add_mask_row_stride; (void)bool_mask_offset;
    (void)bool_mask_row_stride; (void)scale; (void)shard_cols; (void)row_factor;
    if (lid == 0) seg_write_statistics(SM_YROW(row), M, D);
#else
    size_t a, b;
    fk_shard(g, shards, shard_cols, (size_t)cols, &a, &b);
    seg_write(SM_ROW(row), SM_YROW(row), a, b, lid, WG_SIZE, scale, sm_out_of(M, D, SM_FACTOR(row)));
#endif
}
