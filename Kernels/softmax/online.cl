// softmax/online.cl — softmax_online: the online-normalizer forward
// (Milakov & Gimelshein): softmax, log-softmax, log-sum-exp or the row's
// (m, d) statistics, any row length (OpenCL C 1.2).
//
// Launch rule, options, views and semantics: softmax/row.h. Here:
//   OUTPUT_MODE  0 softmax, 1 log-softmax: y row r at y + y_offset +
//                r*y_row_stride, cols elements;
//                2 log-sum-exp: y[y_offset + r*y_row_stride];
//                3 statistics (y is float): y[y_offset + r*y_row_stride] =
//                m, y[y_offset + r*y_row_stride + 1] = d          default 0
//
// Algorithm: pass 1 reads a row once computing per-lane (m, d) in float16
// accumulators (row.h; (m, R = d - 1) for OUTPUT_MODE 1/2), merged at the
// end of the row; pass 2 reads it again
// and writes the output: 1 exp per element (softmax) or none (log-softmax).
// Software pipelining over the rows of a work-item: pass 2 of row r runs in
// the same loop as pass 1 of row r+1, so the memory streams (read of the
// next row, write of this one) and the exp work overlap; one row alone per
// pass left each core waiting on memory half the time.
#include "softmax/row.h"

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_online(SM_X_PARAMS, SM_Y_PARAMS, __global const float *row_factor)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    const size_t n = (size_t)cols;
    if (r0 >= r1) return;

#if OUTPUT_MODE >= FK_OUTPUT_LSE
    (void)row_factor;
    for (int row = r0; row < r1; ++row) {
        float M, D;
        sm_stats(SM_ROW(row), 0, n, scale, &M, &D);
        __global sm_out_t *yr = SM_YROW(row);
#if OUTPUT_MODE == FK_OUTPUT_LSE
        FK_SSTORE1(M + sm_log_d(D), yr);   // D is R; M = -inf -> -inf + log1p(-1) = -inf
#else
        yr[0] = M;
        yr[1] = D;
#endif
    }
#else
    // prologue: pass 1 of the first row
    sm_row cur = SM_ROW(r0);
    float M, D;
    sm_stats(cur, 0, n, scale, &M, &D);
    for (int row = r0; row < r1; ++row) {
        const sm_out o = sm_out_of(M, D, SM_FACTOR(row));
        __global sm_out_t *yr = SM_YROW(row);
        if (row + 1 < r1) {
            // pass 2 of this row fused with pass 1 of the next (same
            // columns). Output columns [c0, c1) are float16 vectors with
            // 64-byte aligned y; [0, c0) and [c1, n) are scalar.
            const size_t c0 = min(n, FK_HEAD(yr));
            const size_t c1 = c0 + ((n - c0) & ~(size_t)15);
            const size_t cc = c0 + (c1 - c0) / (16 * CHUNK) * (16 * CHUNK);
            for (size_t c = 0; c < c0; ++c) FK_SSTORE1(sm_p2_1(sm_z1(cur, c, scale), o), yr + c);
            const sm_row nxt = SM_ROW(row + 1);
            sm_acc s;
            sm_acc_init(&s);
            size_t c = c0;
            for (; c < cc; c += 16 * CHUNK) {
                sm_p1_chunk(&s, nxt, c, scale);
                #pragma unroll
                for (int k = 0; k < CHUNK; ++k)
                    SM_STORE16(sm_p2_16(sm_z16(cur, c + 16 * k, scale), o), yr + c + 16 * k);
            }
            for (; c < c1; c += 16) {
                sm_p1_vec(&s, nxt, c, scale);
                SM_STORE16(sm_p2_16(sm_z16(cur, c, scale), o), yr + c);
            }
            for (; c < n; ++c) FK_SSTORE1(sm_p2_1(sm_z1(cur, c, scale), o), yr + c);
            sm_p1_finish(&s, nxt, 0, c0, c1, n, scale, &M, &D);
            cur = nxt;
        } else {
            sm_p2_range(cur, yr, 0, n, scale, o);
        }
    }
    FK_NT_FENCE();
#endif
}
