// softmax/group.h — the GPU preset's building blocks: a row (or a column
// shard of one) shared by the work-items of a segment of a work-group
// (OpenCL C 1.2). Used by group_rows.cl, group_shards.cl, group_backward.cl.
//
// Work split: a work-group of WG_SIZE items (a power of two) is cut into
// segments of row_items items (a power of two dividing WG_SIZE, a run-time
// argument: one program serves every row length). Item t of a segment reads
// columns a + t, a + t + row_items, ...: adjacent items read adjacent
// addresses (coalesced loads), whatever the row's length or alignment.
// Each item keeps its own online (m, d) (lib/online.h's lazy step: one exp
// per element, Kahan-compensated) and the segment's items merge their
// pairs in __local memory by a fixed tree (bit-identical reruns). Rows are
// read twice (statistics, then output), as by the CPU preset's online pass.
// No prefetch, no non-temporal stores, no 16-wide vectors: nothing here
// assumes an x86 core.
//
// Names: seg_ for a row segment (not an OpenCL subgroup: there are none in
// OpenCL C 1.2).
// Every item of a group reaches every barrier: items past the last row take
// part in the reductions with the empty pair and write nothing.
// Semantics (masks, NaN, +-inf, fully masked rows): softmax/row.h, whose z
// loads and output formulas these functions use.
#ifndef SM_GROUP_H
#define SM_GROUP_H
#include "softmax/row.h"

#if WG_SIZE < 2 || (WG_SIZE & (WG_SIZE - 1)) != 0
#error "the group kernels need WG_SIZE a power of two >= 2"
#endif

// The empty pair: (-inf, 0), or (-inf, -1) for (m, R = d - 1) (row.h).
#define SEG_EMPTY_D (SM_LOG_R ? -1.0f : 0.0f)

// This item's (m, d) over its columns of [a, b) of row r.
FK_INLINE void seg_item_stats(sm_row r, size_t a, size_t b, size_t t, size_t row_items, float scale,
                             float *m, float *d)
{
    float mm = -INFINITY, dd = SEG_EMPTY_D, dc = 0.0f;
    for (size_t c = a + t; c < b; c += row_items) {
#if SM_LOG_R
        fk_online_step_lazy_r(&mm, &dd, &dc, sm_z1(r, c, scale));
#else
        fk_online_step_lazy(&mm, &dd, &dc, sm_z1(r, c, scale));
#endif
    }
    *m = mm;
    *d = dd - dc;
}

FK_INLINE void seg_merge(float *m, float *d, float m2, float d2)
{
#if SM_LOG_R
    fk_online_merge_r(m, d, m2, d2);
#else
    fk_online_merge(m, d, m2, d2);
#endif
}

// Merges the (m, d) of each segment's items: on return every item holds its
// segment's pair. lid: the item's local id; t = lid % row_items.
FK_INLINE void seg_reduce(float *m, float *d, size_t lid, size_t t, size_t row_items,
                         __local float *lm, __local float *ld)
{
    lm[lid] = *m;
    ld[lid] = *d;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = row_items / 2; s > 0; s /= 2) {
        if (t < s) {
            float mm = lm[lid], dd = ld[lid];
            seg_merge(&mm, &dd, lm[lid + s], ld[lid + s]);
            lm[lid] = mm;
            ld[lid] = dd;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    *m = lm[lid - t];
    *d = ld[lid - t];
    barrier(CLK_LOCAL_MEM_FENCE);   // the arrays may be reused at once
}

// Sums one float per item over each segment (the backward's row sums); every
// item gets its segment's sum.
FK_INLINE float seg_sum(float v, size_t lid, size_t t, size_t row_items, __local float *ls)
{
    ls[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = row_items / 2; s > 0; s /= 2) {
        if (t < s) ls[lid] += ls[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = ls[lid - t];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}

#if OUTPUT_MODE <= FK_OUTPUT_LOG_SOFTMAX
// This item's columns of [a, b) of the output row yr.
FK_INLINE void seg_write(sm_row r, __global sm_out_t *yr, size_t a, size_t b, size_t t, size_t row_items,
                        float scale, sm_out o)
{
    for (size_t c = a + t; c < b; c += row_items) FK_SSTORE1(sm_p2_1(sm_z1(r, c, scale), o), yr + c);
}
#endif

// The (m, d) of a finished row as its OUTPUT_MODE 2/3 output.
FK_INLINE void seg_write_statistics(__global sm_out_t *yr, float M, float D)
{
#if OUTPUT_MODE == FK_OUTPUT_LSE
    FK_SSTORE1(M + sm_log_d(D), yr);
#elif OUTPUT_MODE == FK_OUTPUT_STATISTICS
    yr[0] = M;
    yr[1] = D;
#else
    (void)yr; (void)M; (void)D;
#endif
}

#endif // SM_GROUP_H
