/* SPDX-License-Identifier: Apache-2.0 */
/*
 * swiglu.cuh — the SwiGLU kernel on a fused gate_up buffer, for code that
 * launches it itself; octo_cuda_swiglu in cuda.h is the checked wrapper.
 * Not a public header.
 */
#ifndef OCTO_CUDA_SWIGLU_CUH
#define OCTO_CUDA_SWIGLU_CUH
#include "cuda/cuda_int.cuh"

/* gu [T, 2F], out [T, F]; fv = F / 8 vectors per half row. */
__global__ void swiglu_kernel(uint4 *out, const uint4 *gu, int T, int fv);
#endif
