// softmax/backward.cl — softmax_backward: the gradient of softmax or
// log-softmax over the last axis (OpenCL C 1.2).
//   softmax:     dx = scale * y * (dy - sum(dy * y))
//   log-softmax: dx = scale * (dy - e^y * sum(dy)), and dx = 0 where
//                y = -inf (masked positions get no gradient).
// Two reads of (y, dy) per row, one write of dx.
//
// Launch rule, DTYPE, ROWS_PER_ITEM, WG_SIZE, views: softmax/row.h (each of
// y, dy, dx has its own offset and row stride). Here also:
//   LOG_SOFTMAX    0/1: y came from log-softmax                  default 0
#include "softmax/row.h"

#ifndef LOG_SOFTMAX
#define LOG_SOFTMAX 0
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_backward(__global const fk_store_t *y, __global const fk_store_t *dy,
    __global fk_store_t *dx, int rows, int cols,
    long y_offset, long y_row_stride, long dy_offset, long dy_row_stride,
    long dx_offset, long dx_row_stride, float scale)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    const size_t nv = n & ~(size_t)15;
    const size_t n4 = n & ~(size_t)63;

    for (int row = r0; row < r1; ++row) {
        __global const fk_store_t *yr = y + y_offset + (long)row * y_row_stride;
        __global const fk_store_t *gr = dy + dy_offset + (long)row * dy_row_stride;
        __global fk_store_t *xr = dx + dx_offset + (long)row * dx_row_stride;

        // four independent float16 accumulators: hides add latency
        float16 s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        size_t c = 0;
        for (; c < n4; c += 64) {
#if LOG_SOFTMAX
            s0 += FK_SLOAD16(gr + c);
            s1 += FK_SLOAD16(gr + c + 16);
            s2 += FK_SLOAD16(gr + c + 32);
            s3 += FK_SLOAD16(gr + c + 48);
#else
            s0 = fma(FK_SLOAD16(gr + c), FK_SLOAD16(yr + c), s0);
            s1 = fma(FK_SLOAD16(gr + c + 16), FK_SLOAD16(yr + c + 16), s1);
            s2 = fma(FK_SLOAD16(gr + c + 32), FK_SLOAD16(yr + c + 32), s2);
            s3 = fma(FK_SLOAD16(gr + c + 48), FK_SLOAD16(yr + c + 48), s3);
#endif
        }
        for (; c < nv; c += 16) {
#if LOG_SOFTMAX
            s0 += FK_SLOAD16(gr + c);
#else
            s0 = fma(FK_SLOAD16(gr + c), FK_SLOAD16(yr + c), s0);
#endif
        }
        float16 s16 = (s0 + s1) + (s2 + s3);
        float8 s8 = FK_LO8(s16) + FK_HI8(s16);
        float4 s4 = FK_LO4(s8) + FK_HI4(s8);
        float s = (s4.s0 + s4.s1) + (s4.s2 + s4.s3);
        for (; c < n; ++c) {
#if LOG_SOFTMAX
            s += FK_SLOAD1(gr + c);
#else
            s += FK_SLOAD1(gr + c) * FK_SLOAD1(yr + c);
#endif
        }

        for (c = 0; c < nv; c += 16) {
            float16 yv = FK_SLOAD16(yr + c);
            float16 gv = FK_SLOAD16(gr + c);
#if LOG_SOFTMAX
            // y <= 0 for a log-softmax; -inf gives e^y = 0, then dx = 0
            float16 g = scale * (gv - fk_expneg16(yv, s));
            g = (yv == (float16)(-INFINITY)) ? (float16)0.0f : g;
#else
            float16 g = scale * yv * (gv - s);
#endif
            FK_SSTORE16(g, xr + c);
        }
        for (; c < n; ++c) {
            float yv = FK_SLOAD1(yr + c), gv = FK_SLOAD1(gr + c);
#if LOG_SOFTMAX
            float g = scale * (gv - fk_expneg(yv, s));
            g = (yv == -INFINITY) ? 0.0f : g;
#else
            float g = scale * yv * (gv - s);
#endif
            FK_SSTORE1(g, xr + c);
        }
    }
}
