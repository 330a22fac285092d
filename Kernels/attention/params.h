// params.h — the attention kernels' parameter lists, under the names the host
// binds (read from the built kernel), shared by both presets' kernels
// (forward.cl / forward_gpu.cl, backward.cl / backward_gpu.cl), and the mask
// state a kernel builds from them (attention/mask.h's attn_mask_t). Uses
// fk_store_t: include lib/dtype.h first.
#ifndef FK_ATTENTION_PARAMS_H
#define FK_ATTENTION_PARAMS_H

// attn_forward: Q, K, V, O, the log-sum-exp, the masks and ALiBi slopes, the
// shapes and scalars.
#define ATT_FORWARD_PARAMS \
    __global const fk_store_t *q, long q_offset, long q_sb, long q_sh, long q_sl, long q_sd, \
    __global const fk_store_t *k, long k_offset, long k_sb, long k_sh, long k_sl, long k_sd, \
    __global const fk_store_t *v, long v_offset, long v_sb, long v_sh, long v_sl, long v_sd, \
    __global fk_store_t *o, long o_offset, long o_sb, long o_sh, long o_sl, long o_sd, \
    __global float *lse, long lse_offset, long lse_sb, long lse_sh, long lse_sl, \
    __global const float *add, long add_offset, long add_sb, long add_sh, long add_si, long add_sj, \
    int has_add, \
    __global const uchar *keep, long keep_offset, long keep_sb, long keep_sh, long keep_si, \
    long keep_sj, int has_keep, \
    __global const float *slopes, int has_alibi, \
    int lq, int lk, int d, int heads_per_kv, float scale, float sig_bias, int left, int right

// The parameters both gradient kernels take, under the names the host binds
// (read from the built kernel): forward.cl's tensors and masks, dO, the
// log-sum-exp and Δ, the shapes and scalars.
#define ATT_BACKWARD_PARAMS                                                                                   \
    __global const fk_store_t *q, long q_offset, long q_sb, long q_sh, long q_sl, long q_sd,                 \
    __global const fk_store_t *k, long k_offset, long k_sb, long k_sh, long k_sl, long k_sd,                 \
    __global const fk_store_t *v, long v_offset, long v_sb, long v_sh, long v_sl, long v_sd,                 \
    __global const fk_store_t *dout, long dout_offset, long dout_sb, long dout_sh, long dout_sl, long dout_sd, \
    __global const float *lse, long lse_offset, long lse_sb, long lse_sh, long lse_sl, __global const float *delta, \
    __global const float *add, long add_offset, long add_sb, long add_sh, long add_si, long add_sj, int has_add, \
    __global const uchar *keep, long keep_offset, long keep_sb, long keep_sh, long keep_si, long keep_sj,    \
    int has_keep, __global const float *slopes, int has_alibi,                                              \
    int heads, int lq, int lk, int d, int heads_per_kv, float scale, float sig_bias, int left, int right
#define ATT_MASK_OF(b, h) {                                                                            \
        add + add_offset + (b) * add_sb + (h) * add_sh, keep + keep_offset + (b) * keep_sb + (h) * keep_sh, \
        add_si, add_sj, keep_si, keep_sj, scale, has_alibi ? slopes[h] : 0.0f,                         \
        has_add, has_keep, has_alibi, lk - lq, left, right }

#endif // FK_ATTENTION_PARAMS_H
