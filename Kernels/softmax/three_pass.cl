// softmax/three_pass.cl — softmax_three_pass: the three-pass ("safe")
// softmax forward, OUTPUT_MODE 0 (softmax) and 1 (log-softmax): the
// reference the online normalizer is measured against (OpenCL C 1.2).
//
// Launch rule, options, views and semantics: softmax/row.h.
//
// Any row length, no scratch, one row at a time (no pipelining). Per row:
//   pass 1  M = max z (read 1)
//   pass 2  D = sum e^(z - M) (read 2; fk_expneg16, per-lane Kahan over
//           pairwise chunk sums)
//   pass 3  y = e^(z - M) / D or (z - M) - log D (read 3; streaming stores)
// 3 reads + 1 write per element instead of the online normalizer's 2 + 1.
#include "softmax/row.h"

#if OUTPUT_MODE > FK_OUTPUT_LOG_SOFTMAX
#error "softmax_three_pass: OUTPUT_MODE 0 or 1 (log-sum-exp and statistics: online.cl)"
#endif

FK_INLINE void tp_row3(sm_row r, __global sm_out_t *yr, size_t n, float scale, float f)
{
    const size_t nv = n & ~(size_t)15;
    const size_t cc = nv / (16 * CHUNK) * (16 * CHUNK);
    size_t c;
    // pass 1: M = max z
    float16 mx = (float16)(-INFINITY);
    for (c = 0; c < cc; c += 16 * CHUNK) sm_max_chunk(&mx, r, c, scale);
    for (; c < nv; c += 16) mx = fk_max16(mx, sm_z16(r, c, scale));
    float M = fk_hmax16(mx);
    for (; c < n; ++c) M = fk_max(M, sm_z1(r, c, scale));
    const float ms = fk_safe_max(M);     // all -inf: e^(z - 0) = 0, D = 0
    // pass 2: D = sum e^(z - ms), Kahan per lane over pairwise chunk sums
    float16 d = (float16)0.0f, dc = (float16)0.0f;
    for (c = 0; c < cc; c += 16 * CHUNK) {
        SM_PREFETCH_CHUNK(r, c);
        float16 e[CHUNK];
        #pragma unroll
        for (int k = 0; k < CHUNK; ++k)
            e[k] = fk_expneg16(sm_z16(r, c + 16 * k, scale) - ms, 1.0f);
        SM_PAIRWISE(e);
        fk_kahan16(&d, &dc, e[0]);
    }
    for (; c < nv; c += 16) fk_kahan16(&d, &dc, fk_expneg16(sm_z16(r, c, scale) - ms, 1.0f));
    float D = fk_hsum16(d - dc);
    for (; c < n; ++c) D += fk_expneg(sm_z1(r, c, scale) - ms, 1.0f);
#if OUTPUT_MODE == FK_OUTPUT_LOG_SOFTMAX
    // R = D - 1; a peaked row (D ~ 1) sums R again without the max's unit
    // (row.h, sm_rest: one more read, for such rows only)
    const float R = (D < SM_PEAKED_D && M > -INFINITY) ? sm_rest(r, 0, n, scale, M) : D - 1.0f;
    sm_p2_range(r, yr, 0, n, scale, sm_out_of(M, R, f));
#else
    // pass 3: output (the output pass of row.h)
    sm_p2_range(r, yr, 0, n, scale, sm_out_of(M, D, f));
#endif
}

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void softmax_three_pass(SM_X_PARAMS, SM_Y_PARAMS, __global const float *row_factor)
{
    const int r0 = (int)get_global_id(0) * ROWS_PER_ITEM;
    const int r1 = min(rows, r0 + ROWS_PER_ITEM);
    for (int row = r0; row < r1; ++row)
        tp_row3(SM_ROW(row), SM_YROW(row), (size_t)cols, scale, SM_FACTOR(row));
    FK_NT_FENCE();
}
