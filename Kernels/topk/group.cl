// topk/group.cl — the GPU preset of top-k and fused softmax + top-k: a
// work-group per row (or per column shard of a row), its items' candidate
// lists merged in __local memory (OpenCL C 1.2). Entries: topk_group,
// softmax_topk_group (whole rows), topk_group_shards, softmax_topk_group_shards
// (shards, merged afterwards by topk.cl's topk_merge or softmax_topk.cl's
// softmax_topk_merge with WG_SIZE 1).
//
// LAUNCH RULE (1-D, local = WG_SIZE, a power of two): whole rows: group r =
// row r, global = rows * WG_SIZE; shards: group g = row * shards + shard,
// global = rows * shards * WG_SIZE, with the candidates and stats of
// topk/list.h's shard rule (written by item 0). The host keeps WG_SIZE *
// TOPK * 8 bytes (the lists) within the device's local memory.
// Build options: TOPK, DTYPE, WG_SIZE (topk/list.h).
//
// Work split: item t reads columns a + t, a + t + WG_SIZE, ... (coalesced)
// into a private list (topk/list.h's order: descending z, ties to the lower
// column) with no admission bound, and, for the softmax, an online (m, d)
// (lib/online.h's lazy step). Then a fixed tree of log2(WG_SIZE) rounds: in
// round s, item t < s offers item t + s's list (from __local memory) to its
// own and merges the (m, d) and NaN flags. The order is total, so the result
// does not depend on the merge order; reruns are bit-identical.
// Semantics: those of topk.cl and softmax_topk.cl (NaN rows, +inf, -inf rows).
#include "topk/list.h"
#include "lib/online.h"

// One item's pass over its columns of [a, b) of the row at xr; z = scale * x.
// Returns whether it saw a NaN; with_stats: the (m, d) of its columns.
FK_INLINE int tg_scan(__global const fk_store_t *xr, size_t a, size_t b, size_t t, float scale,
                      int with_stats, tk_list *l, float *m, float *d)
{
    tk_list_init(l, -INFINITY);
    float mm = -INFINITY, dd = 0.0f, dc = 0.0f;
    int bad = 0;
    for (size_t c = a + t; c < b; c += WG_SIZE) {
        const float z = FK_SLOAD1(xr + c) * scale;
        bad |= isnan(z);
        if (with_stats) fk_online_step_lazy(&mm, &dd, &dc, z);
        tk_offer(l, z, (int)c);
    }
    *m = mm;
    *d = dd - dc;
    return bad;
}

// This item's list to its slots of the __local candidate arrays.
FK_INLINE void tg_publish(const tk_list *l, size_t lid, __local float *lz, __local int *li)
{
    for (int j = 0; j < TOPK; ++j) {
        lz[lid * TOPK + j] = tk_value(l, j);
        li[lid * TOPK + j] = tk_index(l, j);
    }
}

// The tree merge of the group's lists, (m, d) pairs and NaN flags: item 0
// ends with the group's.
FK_INLINE void tg_reduce(tk_list *l, float *m, float *d, int *bad, size_t lid,
                         __local float *lz, __local int *li, __local float *lm, __local float *ld,
                         __local int *lb)
{
    tg_publish(l, lid, lz, li);
    lm[lid] = *m;
    ld[lid] = *d;
    lb[lid] = *bad;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = WG_SIZE / 2; s > 0; s /= 2) {
        if (lid < s) {
            const size_t o = (lid + s) * TOPK;
            for (int j = 0; j < TOPK; ++j) {
                if (li[o + j] != INT_MAX) tk_offer(l, lz[o + j], li[o + j]);
            }
            fk_online_merge(m, d, lm[lid + s], ld[lid + s]);
            *bad |= lb[lid + s];
            tg_publish(l, lid, lz, li);
            lm[lid] = *m;
            ld[lid] = *d;
            lb[lid] = *bad;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

// The group's __local arrays (kernel scope, as OpenCL C 1.2 requires).
#define TG_LOCALS                                                              \
    __local float lz[WG_SIZE * TOPK], lm[WG_SIZE], ld[WG_SIZE];                \
    __local int li[WG_SIZE * TOPK], lb[WG_SIZE];                               \
    tk_list l;                                                                 \
    float m, d;                                                                \
    int bad

// The group's row (or shard) [a, b) of the row at xr: item 0 returns 1 with
// the merged list, (m, d) and NaN flag; every other item 0.
#define TG_GROUP(xr, a, b, scale, with_stats)                                  \
    ((bad = tg_scan((xr), (a), (b), get_local_id(0), (scale), (with_stats), &l, &m, &d)), \
     tg_reduce(&l, &m, &d, &bad, get_local_id(0), lz, li, lm, ld, lb), get_local_id(0) == 0)

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void topk_group(__global const fk_store_t *p, __global fk_store_t *values,
    __global int *indices, int rows, int cols, long p_offset, long p_row_stride)
{
    const size_t row = get_group_id(0);
    (void)rows;
    TG_LOCALS;
    if (TG_GROUP(p + p_offset + (long)row * p_row_stride, 0, (size_t)cols, 1.0f, 0))
        tk_write_plain(values + row * TOPK, indices + row * TOPK, &l, bad);
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_topk_group(__global const fk_store_t *x, __global fk_store_t *values,
    __global int *indices, int rows, int cols, long x_offset, long x_row_stride, float scale)
{
    const size_t row = get_group_id(0);
    (void)rows;
    TG_LOCALS;
    if (TG_GROUP(x + x_offset + (long)row * x_row_stride, 0, (size_t)cols, scale, 1))
        tk_write_softmax(values + row * TOPK, indices + row * TOPK, &l, m, d);
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void topk_group_shards(__global const fk_store_t *p, __global float *cand_z,
    __global int *cand_i, __global float *stats, int rows, int cols,
    long p_offset, long p_row_stride, int shard_cols, int shards)
{
    const size_t g = get_group_id(0);
    (void)rows;
    size_t a, b;
    const size_t row = fk_shard(g, shards, shard_cols, (size_t)cols, &a, &b);
    TG_LOCALS;
    if (TG_GROUP(p + p_offset + (long)row * p_row_stride, a, b, 1.0f, 0)) {
        tk_store_candidates(cand_z, cand_i, g, &l);
        stats[2 * g] = bad ? 1.0f : 0.0f;
        stats[2 * g + 1] = 0.0f;
    }
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_topk_group_shards(__global const fk_store_t *x, __global float *cand_z,
    __global int *cand_i, __global float *stats, int rows, int cols,
    long x_offset, long x_row_stride, int shard_cols, int shards, float scale)
{
    const size_t g = get_group_id(0);
    (void)rows;
    size_t a, b;
    const size_t row = fk_shard(g, shards, shard_cols, (size_t)cols, &a, &b);
    TG_LOCALS;
    if (TG_GROUP(x + x_offset + (long)row * x_row_stride, a, b, scale, 1)) {
        tk_store_candidates(cand_z, cand_i, g, &l);
        stats[2 * g] = m;
        stats[2 * g + 1] = d;
    }
}
