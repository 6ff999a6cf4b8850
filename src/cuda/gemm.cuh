/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gemm.cuh — internals of the cuBLASLt GEMM wrapper (the per-shape plan
 * cache size). Not a public header; the API is octo_cuda_gemm_* in cuda.h.
 */
#ifndef OCTO_CUDA_GEMM_CUH
#define OCTO_CUDA_GEMM_CUH
#include "cuda/cuda_int.cuh"

#define GEMM_PLANS 64 /* shapes remembered per handle; older ones are replaced */
#endif
