// mask.h — the score semantics of attention (OpenCL C 1.2): the masks of one
// (batch, head), a score from a product, and whether a row's keys need no
// mask at all. Shared by the CPU preset (tiles.h) and the GPU preset
// (flash.h); see tiles.h for the formula.
#ifndef FK_ATTENTION_MASK_H
#define FK_ATTENTION_MASK_H
#include "lib/common.h"

// ---------------------------------------------------------------------------
// Masks of one (batch, head): pointers already at the head's first element.
// ---------------------------------------------------------------------------
typedef struct {
    __global const float *add;
    __global const uchar *keep;
    long add_si, add_sj, keep_si, keep_sj;
    float scale, slope;
    int has_add, has_keep, has_alibi;
    int shift, left, right;
} attn_mask_t;

FK_INLINE float attn_score(float qk, int i, int j, const attn_mask_t *mk)
{
    const int ip = i + mk->shift;
    if (j < ip - mk->left || j > ip + mk->right) return -INFINITY;
    float s = qk * mk->scale;
    if (mk->has_alibi) s -= mk->slope * (float)abs(ip - j);
    if (mk->has_add) s += mk->add[i * mk->add_si + j * mk->add_sj];
    if (mk->has_keep && !mk->keep[i * mk->keep_si + j * mk->keep_sj]) s = -INFINITY;
    return s;
}

// Whether no mask, no ALiBi and the band keep every pair of a row's nv
// columns: then the scores are scale·products (the fast paths). Rows are
// queries i (columns keys j0 ..) or keys j (columns queries i0 ..).
FK_INLINE int attn_plain_q(int i, int j0, int nv, const attn_mask_t *mk)
{
    const int ip = i + mk->shift;
    return !mk->has_add && !mk->has_keep && !mk->has_alibi && j0 >= ip - mk->left && j0 + nv - 1 <= ip + mk->right;
}

FK_INLINE int attn_plain_k(int j, int i0, int nv, const attn_mask_t *mk)
{
    const int jp = j - mk->shift;   // kept queries: jp - right <= i <= jp + left
    return !mk->has_add && !mk->has_keep && !mk->has_alibi && i0 >= jp - mk->right && i0 + nv - 1 <= jp + mk->left;
}

#endif // FK_ATTENTION_MASK_H
