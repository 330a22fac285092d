#ifndef FUSED_KERNELS_COPENCL_SHIM_H
#define FUSED_KERNELS_COPENCL_SHIM_H
// Target the OpenCL 3.0 headers; kernels themselves are written in OpenCL C 1.2.
#define CL_TARGET_OPENCL_VERSION 300
// clCreateCommandQueue is the 1.2 call every ICD (Oclgrind included) implements.
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#endif
