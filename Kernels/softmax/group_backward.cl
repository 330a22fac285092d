// softmax/group_backward.cl — softmax_group_backward: the GPU preset's
// gradient of softmax or log-softmax over the last axis (OpenCL C 1.2).
//   softmax:     dx = scale * y * (dy - sum(dy * y))
//   log-softmax: dx = scale * (dy - e^y * sum(dy)), and dx = 0 where
//                y = -inf (masked positions get no gradient)
// The same as backward.cl's, with a row shared by a segment of a work-group:
// each item sums its columns, the segment's sums are added in __local memory
// (softmax/group.h), then each item writes its columns.
//
// LAUNCH RULE: that of softmax_group (group_rows.cl), row_items a run-time
// argument. Build options: DTYPE, WG_SIZE (softmax/row.h), LOG_SOFTMAX 0/1
// (backward.cl). Each of y, dy, dx has its own offset and row stride.
#include "softmax/group.h"

#ifndef LOG_SOFTMAX
#define LOG_SOFTMAX 0
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_group_backward(__global const fk_store_t *y, __global const fk_store_t *dy,
    __global fk_store_t *dx, int rows, int cols,
    long y_offset, long y_row_stride, long dy_offset, long dy_row_stride,
    long dx_offset, long dx_row_stride, float scale, int row_items)
{
    __local float ls[WG_SIZE];
    const size_t lid = get_local_id(0), items = (size_t)row_items, t = lid % items;
    const int row = (int)(get_group_id(0) * (WG_SIZE / items) + lid / items);
    const int live = row < rows;
    const size_t n = live ? (size_t)cols : 0;
    const long r = live ? row : 0;
    __global const fk_store_t *yr = y + y_offset + r * y_row_stride;
    __global const fk_store_t *gr = dy + dy_offset + r * dy_row_stride;
    float s = 0.0f;
    for (size_t c = t; c < n; c += items) {
#if LOG_SOFTMAX
        s += FK_SLOAD1(gr + c);
#else
        s = fma(FK_SLOAD1(gr + c), FK_SLOAD1(yr + c), s);
#endif
    }
    s = seg_sum(s, lid, t, items, ls);
    __global fk_store_t *xr = dx + dx_offset + r * dx_row_stride;
    for (size_t c = t; c < n; c += items) {
        const float yv = FK_SLOAD1(yr + c), gv = FK_SLOAD1(gr + c);
#if LOG_SOFTMAX
        const float g = (yv == -INFINITY) ? 0.0f : scale * (gv - fk_expneg(yv, s));
#else
        const float g = scale * yv * (gv - s);
#endif
        FK_SSTORE1(g, xr + c);
    }
}
