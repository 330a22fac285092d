#ifndef FUSED_KERNELS_COPENBLAS_SHIM_H
#define FUSED_KERNELS_COPENBLAS_SHIM_H
// The CBLAS interface of OpenBLAS (Debian: libopenblas-dev; found through pkg-config).
#include <cblas.h>
#endif
