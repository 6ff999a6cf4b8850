/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_device_counters — the CUDA backend's own allocation counters that
 * /metrics exports (octo_device_allocated_bytes) and `octo plan` is checked
 * against: every cudaMalloc of src/cuda adds its bytes, every free takes
 * them back, a device pool and a backend (its cuBLASLt workspace) count too.
 *
 * Without a CUDA device (or a CUDA build) it prints "SKIP: no CUDA device".
 */
#include "kernels/kutil.h"
#include "tensor/tensor.h"

#ifdef OCTO_HAVE_CUDA

static void test_malloc_free(void)
{
    size_t live0 = octo_alloc_device_live_bytes();
    void *a = NULL, *b = NULL;
    CHECK_OK(octo_cuda_malloc(3u << 20, &a));
    CHECK_EQ_INT(octo_alloc_device_live_bytes() - live0, 3u << 20);
    CHECK_OK(octo_cuda_malloc(1000, &b));
    CHECK_EQ_INT(octo_alloc_device_live_bytes() - live0, (3u << 20) + 1000);
    CHECK(octo_alloc_device_peak_bytes() >= live0 + (3u << 20) + 1000);
    octo_cuda_free(a);
    CHECK_EQ_INT(octo_alloc_device_live_bytes() - live0, 1000);
    octo_cuda_free(b);
    octo_cuda_free(NULL);
    CHECK_EQ_INT(octo_alloc_device_live_bytes(), live0);
}

static void test_pool_and_backend(void)
{
    size_t live0 = octo_alloc_device_live_bytes();
    octo_cuda_pool *p = NULL;
    CHECK_OK(octo_cuda_pool_new(5u << 20, &p));
    CHECK_EQ_INT(octo_alloc_device_live_bytes() - live0, 5u << 20);
    octo_cuda_pool_free(p);
    CHECK_EQ_INT(octo_alloc_device_live_bytes(), live0);
    octo_tensor_backend be;
    CHECK_OK(octo_cuda_backend_new(0, &be));
    /* at least the 32 MiB cuBLASLt workspace */
    CHECK(octo_alloc_device_live_bytes() - live0 >= (32u << 20));
    void *x = be.alloc(&be, 12345);
    CHECK(x != NULL);
    size_t with = octo_alloc_device_live_bytes();
    be.free(&be, x);
    CHECK_EQ_INT(with - octo_alloc_device_live_bytes(), 12345);
    octo_cuda_backend_free(&be);
    CHECK_EQ_INT(octo_alloc_device_live_bytes(), live0);
}

KERNEL_TEST_MAIN(TEST(test_malloc_free), TEST(test_pool_and_backend))

#else
KERNEL_TEST_SKIP_MAIN
#endif
