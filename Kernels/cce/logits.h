// logits.h — the logit tiles of cut cross-entropy (OpenCL C 1.2), shared by
// forward.cl and backward.cl: a group computes the MWG x NWG tile
// z = E[i0 : i0+MWG] · C[j0 : j0+NWG]ᵀ with lib/gemm.h, then each row of the
// tile becomes logits in place (bias, soft-cap) for the kernel's epilogue.
//
// Operands (element strides >= 0, offsets in elements):
//   E(i, p) = e[e_offset + i*e_row_stride + p*e_col_stride]        [n, d]
//   C(j, p) = c[c_offset + j*c_row_stride + p*c_col_stride]        [vocab, d]
//   bias(j) = bias[bias_offset + j*bias_stride] when has_bias
// z(i, j) = softcap(E(i)·C(j) + bias(j)), softcap(x) = cap*tanh(x/cap) when
// cap > 0. CPU preset (GEMM_WG == 1): the item takes the rows one by one
// (CCE_ROWS = MWG). GPU preset: the bias and soft-cap go element by element,
// element lid + GEMM_WG*p of the tile to item lid (every item busy, adjacent
// items on adjacent __local words: no bank conflicts); the kernels'
// epilogues share rows between CCE_Q items each (below).
#ifndef FK_CCE_LOGITS_H
#define FK_CCE_LOGITS_H
#include "lib/common.h"
#include "lib/dtype.h"
#include "lib/gemm.h"

#define CCE_ROWS ((MWG + GEMM_WG - 1) / GEMM_WG)

FK_INLINE int cce_lid(void) { return (int)(get_local_id(1) * get_local_size(0) + get_local_id(0)); }

// the bias of columns j0 .. j0+NWG into bias_t (0 past nv or without bias);
// the caller brackets it with barriers (the previous tile's readers)
FK_INLINE void cce_load_bias(GEMM_TS float *bias_t, __global const fk_store_t *bias, long bias_stride,
                             int has_bias, int nv)
{
    for (int j = cce_lid(); j < NWG; j += GEMM_WG)
        bias_t[j] = (has_bias && j < nv) ? FK_SLOAD1(bias + j * bias_stride) : 0.0f;
}

// row r of the tile (its nv valid columns) as logits, in place
FK_INLINE void cce_logit_row(GEMM_TS float *zr, GEMM_TS const float *bias_t, int nv, float cap)
{
    const int nv16 = nv & ~15;
    if (cap > 0.0f) {
        const float inv = 1.0f / cap;   // cce_statistics rounds the same way
        for (int j = 0; j < nv16; j += 16) {
            GEMM_TS float16 *v = (GEMM_TS float16 *)(zr + j);
            *v = cap * tanh((*v + *(GEMM_TS const float16 *)(bias_t + j)) * inv);
        }
        for (int j = nv16; j < nv; ++j) zr[j] = cap * tanh((zr[j] + bias_t[j]) * inv);
    } else {
        for (int j = 0; j < nv16; j += 16)
            *(GEMM_TS float16 *)(zr + j) += *(GEMM_TS const float16 *)(bias_t + j);
        for (int j = nv16; j < nv; ++j) zr[j] += bias_t[j];
    }
}

#if GEMM_WG > 1
// the tile's valid elements as logits, in place, element by element
FK_INLINE void cce_logit_elements(GEMM_TS float *z, GEMM_TS const float *bias_t, int mv, int nv, float cap)
{
    const float inv = cap > 0.0f ? 1.0f / cap : 0.0f;   // cce_statistics rounds the same way
    for (int idx = cce_lid(); idx < MWG * NWG; idx += GEMM_WG) {
        const int r = idx / NWG, j = idx % NWG;
        if (r < mv && j < nv) {
            const float v = z[idx] + bias_t[j];
            z[idx] = cap > 0.0f ? cap * tanh(v * inv) : v;
        }
    }
}

// Epilogues with several items per row: CCE_Q items (a power of two) share
// each row, rows lid / CCE_Q + CCE_RP*p; item q = lid % CCE_Q of row r takes
// the columns j = (q + CCE_Q*(s + r)) % NWG, s < NWG / CCE_Q: the residues
// q mod CCE_Q, started at a per-row rotation so that the rows of a warp,
// NWG words apart in __local memory (one bank when NWG % 32 == 0), fall on
// different banks: item (r, q) at step s is on bank (q + CCE_Q*(s + r)) % 32.
#define CCE_Q (GEMM_WG >= MWG ? GEMM_WG / MWG : 1)
#define CCE_RP (GEMM_WG / CCE_Q)
#define CCE_PASSES ((MWG + CCE_RP - 1) / CCE_RP)
#if (CCE_Q & (CCE_Q - 1)) != 0 || NWG % CCE_Q != 0
#error "cce: GEMM_WG / MWG must be a power of two dividing NWG"
#endif
#define CCE_COL(q, s, r) (((q) + CCE_Q * ((s) + (r))) % NWG)
#endif

// The logit tile of rows [i0, i0+mv) and columns [j0, j0+nv), in z (then
// every row is final; a barrier separates it from the caller's epilogue).
FK_INLINE void cce_logit_tile(GEMM_TS float *z, GEMM_TS float *at, GEMM_TS float *bt, GEMM_TS float *bias_t,
                              __global const fk_store_t *e, long e_row_stride, long e_col_stride,
                              __global const fk_store_t *c, long c_row_stride, long c_col_stride,
                              __global const fk_store_t *bias, long bias_stride, int has_bias,
                              int mv, int nv, int d, float cap)
{
    GEMM_BARRIER();   // the previous tile's epilogue is done with z and bias_t
    cce_load_bias(bias_t, bias, bias_stride, has_bias, nv);
    // B(p, j) = C(j, p): C's rows are the columns of the product
    gemm_tile(z, at, bt, e, e_row_stride, e_col_stride, c, c_col_stride, c_row_stride, mv, nv, d);
#if GEMM_WG > 1
    if (has_bias || cap > 0.0f) cce_logit_elements(z, bias_t, mv, nv, cap);
#else
    if (has_bias || cap > 0.0f)
        for (int r = cce_lid(); r < mv; r += GEMM_WG) cce_logit_row(z + r * NWG, bias_t, nv, cap);
#endif
    GEMM_BARRIER();
}

#endif // FK_CCE_LOGITS_H
