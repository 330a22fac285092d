// softmax/group_backward.cl — softmax_group_backward: the GPU preset's
// gradient of softmax or log-softmax over the last axis (OpenCL C 1.2).
//   softmax:     dx = scale * y * (dy - sum(dy * y))
//   log-softmax: dx = scale * (dy - e^y * sum(dy)), and dx = 0 where
//                y = -inf (masked positions get no gradient)
// The same as backward.cl's, with a row shared by a segment of a work-group:
// each item sums its columns (4-column vectors cut at y's alignment, scalar
// head and tail: softmax/group.h), the segment's sums are added in __local
// memory, then each item writes its columns.
//
// LAUNCH RULE: that of softmax_group (group_rows.cl), row_items a run-time
// argument. Build options: DTYPE, WG_SIZE (softmax/row.h), LOG_SOFTMAX 0/1
// (backward.cl). Each of y, dy, dx has its own offset and row stride.
#include "softmax/group.h"

#ifndef LOG_SOFTMAX
#define LOG_SOFTMAX 0
#endif

// one column's gradient (head and tail)
FK_INLINE void sgb_write1(__global const fk_store_t *yr, __global const fk_store_t *gr, __global fk_store_t *xr,
                          size_t c, float s, float scale)
{
    const float yv = FK_SLOAD1(yr + c), gv = FK_SLOAD1(gr + c);
#if LOG_SOFTMAX
    const float g = (yv == -INFINITY) ? 0.0f : scale * (gv - seg_exp(yv) * s);
#else
    const float g = scale * yv * (gv - s);
#endif
    FK_SSTORE1(g, xr + c);
}

// this item's body vectors: the sum of dy * y (softmax) or of dy (log-softmax)
FK_INLINE float4 sgb_sum4(__global const fk_store_t *yr, __global const fk_store_t *gr, seg_cut k,
                          size_t t, size_t items, int gal)
{
    float4 s4 = (float4)0.0f;
    for (size_t c = k.v0 + 4 * t; c < k.v1; c += 4 * items) {
#if LOG_SOFTMAX
        s4 += seg_ld4(gr + c, gal);
#else
        s4 = fma(seg_ld4(gr + c, gal), seg_ld4(yr + c, 1), s4);
#endif
    }
    return s4;
}

// this item's body vectors of dx
FK_INLINE void sgb_write4(__global const fk_store_t *yr, __global const fk_store_t *gr, __global fk_store_t *xr,
                          seg_cut k, size_t t, size_t items, float s, float scale, int gal, int xal)
{
    for (size_t c = k.v0 + 4 * t; c < k.v1; c += 4 * items) {
        const float4 yv = seg_ld4(yr + c, 1), gv = seg_ld4(gr + c, gal);
#if LOG_SOFTMAX
        const float4 g = (yv == (float4)(-INFINITY)) ? (float4)0.0f : scale * (gv - seg_exp4(yv) * s);
#else
        const float4 g = scale * yv * (gv - s);
#endif
        seg_st4(g, xr + c, xal);
    }
}

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
    // columns cut at y's alignment (softmax/group.h); dy and dx take the
    // aligned path when they share it (contiguous tensors)
    const seg_cut k = seg_cut_of(yr, 0, n);
    __global fk_store_t *xr = dx + dx_offset + r * dx_row_stride;
    const int gal = SEG_ALIGNED(gr + k.v0), xal = SEG_ALIGNED(xr + k.v0);
    // one loop per alignment of dy: a runtime flag inside the loop lets a
    // compiler merge the two loads into the narrower one
    const float4 s4 = gal ? sgb_sum4(yr, gr, k, t, items, 1) : sgb_sum4(yr, gr, k, t, items, 0);
    float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
    for (size_t c = t; c < k.v0; c += items) {   // head and tail
#if LOG_SOFTMAX
        s += FK_SLOAD1(gr + c);
#else
        s = fma(FK_SLOAD1(gr + c), FK_SLOAD1(yr + c), s);
#endif
    }
    for (size_t c = k.v1 + t; c < n; c += items) {
#if LOG_SOFTMAX
        s += FK_SLOAD1(gr + c);
#else
        s = fma(FK_SLOAD1(gr + c), FK_SLOAD1(yr + c), s);
#endif
    }
    s = seg_sum(s, lid, t, items, ls);
    if (gal) sgb_write4(yr, gr, xr, k, t, items, s, scale, 1, xal);
    else sgb_write4(yr, gr, xr, k, t, items, s, scale, 0, xal);
    for (size_t c = t; c < k.v0; c += items) sgb_write1(yr, gr, xr, c, s, scale);
    for (size_t c = k.v1 + t; c < n; c += items) sgb_write1(yr, gr, xr, c, s, scale);
}
