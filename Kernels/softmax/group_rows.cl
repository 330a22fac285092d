// softmax/group_rows.cl — softmax_group: the GPU preset's forward over whole
// rows, a segment of a work-group per row; softmax, log-softmax, log-sum-exp
// or the row's (m, d) statistics, any row length (OpenCL C 1.2).
//
// LAUNCH RULE (1-D): row_items a power of two dividing WG_SIZE (the host
// takes about a row's length / 8, at least 32, at most WG_SIZE); a group
// holds WG_SIZE / row_items rows: groups = ceil(rows / (WG_SIZE /
// row_items)), global = groups * WG_SIZE, local = WG_SIZE. Segment j of
// group g owns row g * (WG_SIZE / row_items) + j (none past the last row).
// Build options: DTYPE, OUTPUT_MODE (0-3, the outputs as in online.cl),
// HAS_ADD_MASK, HAS_BOOL_MASK, WG_SIZE (softmax/row.h); work split,
// reductions and semantics: softmax/group.h. row_factor as in row.h.
#include "softmax/group.h"

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_group(SM_X_PARAMS, SM_Y_PARAMS, __global const float *row_factor, int row_items)
{
    __local float lm[WG_SIZE], ld[WG_SIZE];
    const size_t lid = get_local_id(0), items = (size_t)row_items, t = lid % items;
    const int row = (int)(get_group_id(0) * (WG_SIZE / items) + lid / items);
    const int live = row < rows;
    const int r = live ? row : 0;   // a row to address; items past the end read nothing
    const size_t n = live ? (size_t)cols : 0;
    float M, D;
    seg_item_stats(SM_ROW(r), 0, n, t, items, scale, &M, &D);
    seg_reduce(&M, &D, lid, t, items, lm, ld);
    if (!live) return;   // after the last barrier
#if OUTPUT_MODE >= FK_OUTPUT_LSE
    (void)row_factor;
    if (t == 0) seg_write_statistics(SM_YROW(row), M, D);
#else
    seg_write(SM_ROW(row), SM_YROW(row), 0, n, t, items, scale, sm_out_of(M, D, SM_FACTOR(row)));
#endif
}
