// roofline/fma_scalar.cl — the FMA-peak kernel shaped for a GPU (OpenCL C
// 1.2): each work-item runs FMA_CHAINS independent scalar chains
// x = fma(x, a, b) for `iterations` steps. Few registers per item let a GPU
// keep many work-groups resident, which is how it hides FMA latency; the
// chains add some instruction-level parallelism. fma.cl is the CPU shape.
//
// LAUNCH RULE (1-D NDRange): global a multiple of WG_SIZE (many groups: the
//   host uses 2048 items per compute unit), local WG_SIZE; FLOPs =
//   global * iterations * FMA_CHAINS * 2.
// Build options (-D):
//   FMA_CHAINS  independent float chains per item                 default 8
//   WG_SIZE     local size (reqd_work_group_size)                 default 256
// a is close to 1 (0.999…) so that the chains converge to b / (1 − a) and never
// overflow or turn denormal; each item's sum is stored so nothing is optimised away.
#ifndef FMA_CHAINS
#define FMA_CHAINS 8
#endif
#ifndef WG_SIZE
#define WG_SIZE 256
#endif

__kernel __attribute__((reqd_work_group_size(WG_SIZE, 1, 1)))
void fma_peak_scalar(__global float *out, int iterations, float a, float b)
{
    float x[FMA_CHAINS];
    #pragma unroll
    for (int c = 0; c < FMA_CHAINS; ++c) x[c] = (float)(get_global_id(0) + c);
    for (int i = 0; i < iterations; ++i) {
        #pragma unroll
        for (int c = 0; c < FMA_CHAINS; ++c) x[c] = fma(x[c], a, b);
    }
    float s = 0.0f;
    #pragma unroll
    for (int c = 0; c < FMA_CHAINS; ++c) s += x[c];
    out[get_global_id(0)] = s;
}
