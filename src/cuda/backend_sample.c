/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backend_sample — sampling on the device from the logits a forward left
 * there: greedy rows by one argmax kernel, others by the general sampler
 * (temperature, top-k, top-p, min-p, penalties), with only the chosen ids
 * copied back.
 *
 * Not the sampling policy: octo_sampling_params are the engine's.
 */
#include <string.h>

#include "cuda/backend_table.h"

octo_err octo_cuda_backend_sample_greedy(const octo_tensor_backend *be, float *d_logits, int B,
                                         int V, int32_t *h_ids)
{
    return octo_cuda_backend_sample(be, d_logits, B, V, NULL, h_ids);
}

octo_err octo_cuda_backend_sample(const octo_tensor_backend *be, float *d_logits, int B, int V,
                                  const octo_cuda_sample_params *h_params, int32_t *h_ids)
{
    cuda_be *c = C(be);
    octo_err rc = OCTO_OK;
    if (B <= 0) return OCTO_OK;
    if (B > c->cap_sample) {
        int cap = (int)octo_cuda_tb_pow2_at_least(B, 64);
        octo_cuda_free(c->d_params);
        octo_cuda_free(c->d_ids);
        octo_cuda_be_host_free(c->h_ids);
        c->d_params = NULL;
        c->d_ids = NULL;
        c->h_ids = NULL;
        c->cap_sample = 0;
        void *d = NULL, *ids = NULL, *h = NULL;
        size_t pb = (size_t)cap * sizeof(octo_cuda_sample_params);
        size_t wb = octo_cuda_be_argmax_workspace(cap);
        rc = octo_cuda_malloc(pb > wb ? pb : wb, &d);
        if (!rc) rc = octo_cuda_malloc((size_t)cap * sizeof(int32_t), &ids);
        if (!rc) rc = octo_cuda_be_host_alloc((size_t)cap * sizeof(int32_t), &h);
        c->d_params = d;
        c->d_ids = ids;
        c->h_ids = h;
        if (rc) return rc;
        c->cap_sample = cap;
    }
    bool greedy = true;
    for (int i = 0; h_params && i < B; i++) greedy = greedy && h_params[i].temperature <= 1e-5f;
    const octo_cuda_sample_params *pp = greedy ? NULL : h_params;
    if (pp) {
        rc = octo_cuda_h2d(c->d_params, pp, (size_t)B * sizeof *pp, c->st);
        if (!rc)
            rc = octo_cuda_sample(c->d_ids, NULL, d_logits, V, NULL, c->d_params, B, V, c->st);
    } else {
        rc = octo_cuda_be_argmax(c->d_ids, d_logits, B, V, c->d_params, c->st);
    }
    if (!rc) rc = octo_cuda_d2h(c->h_ids, c->d_ids, (size_t)B * sizeof(int32_t), c->st);
    if (!rc) memcpy(h_ids, c->h_ids, (size_t)B * sizeof(int32_t));
    return rc;
}

