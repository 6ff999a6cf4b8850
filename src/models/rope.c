/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rope — rotary inverse frequencies (default, linear, YaRN) as
 * transformers computes them, shared by every architecture that rotates.
 *
 * Not the rotation itself: that is the backend's rope operation.
 */
#include "models_int.h"

#include <math.h>
#include <stdio.h>

/* ==== rotary frequencies ==== */

/* YaRN: "find_correction_dim" of transformers' _compute_yarn_parameters. */
static double yarn_corr_dim(double rot, double dim, double base, double max_pos)
{
    return dim * log(max_pos / (rot * 2.0 * M_PI)) / (2.0 * log(base));
}

octo_err octo_models_rope_init(octo_model *m, const octo_formats_text_config *tc, char *err,
                               size_t err_size)
{
    const octo_formats_rope *r = &tc->rope;
    int64_t dim = m->info.head_dim, half = dim / 2;
    if (r->partial_rotary_factor != 1.0 && r->partial_rotary_factor != 0.0) {
        snprintf(err, err_size, "partial_rotary_factor %g is not supported",
                 r->partial_rotary_factor);
        return OCTO_E_UNSUPPORTED;
    }
    m->inv_freq = octo_calloc((size_t)half, sizeof(float));
    if (!m->inv_freq) return OCTO_E_NOMEM;
    m->rope.inv_freq = m->inv_freq;
    m->rope.attn_factor = 1.0f;
    float base = (float)r->theta;
    m->info.rope_attn_factor = 1.0f;
    for (int64_t i = 0; i < half; i++) {
        float pos_freq = powf(base, (float)(2 * i) / (float)dim);
        m->inv_freq[i] = 1.0f / pos_freq;
    }
    switch (r->type) {
    case OCTO_ROPE_DEFAULT: return OCTO_OK;
    case OCTO_ROPE_LINEAR:
        for (int64_t i = 0; i < half; i++) m->inv_freq[i] /= (float)r->factor;
        return OCTO_OK;
    case OCTO_ROPE_YARN: break;
    default:
        snprintf(err, err_size, "rope type %d is not supported", (int)r->type);
        return OCTO_E_UNSUPPORTED;
    }
    double factor = r->factor;
    double orig = r->original_max_position_embeddings > 0
                      ? (double)r->original_max_position_embeddings
                      : (double)tc->max_position_embeddings;
    if (factor <= 0.0) factor = (double)tc->max_position_embeddings / orig;
    double att = factor <= 1.0 ? 1.0 : 0.1 * log(factor) + 1.0;
    if (r->has_attention_factor) att = r->attention_factor;
    double beta_fast = r->beta_fast > 0 ? r->beta_fast : 32.0;
    double beta_slow = r->beta_slow > 0 ? r->beta_slow : 1.0;
    double lo = floor(yarn_corr_dim(beta_fast, (double)dim, r->theta, orig));
    double hi = ceil(yarn_corr_dim(beta_slow, (double)dim, r->theta, orig));
    if (lo < 0) lo = 0;
    if (hi > (double)(dim - 1)) hi = (double)(dim - 1);
    if (lo == hi) hi += 0.001;
    for (int64_t i = 0; i < half; i++) {
        float pos_freq = powf(base, (float)(2 * i) / (float)dim);
        float extra = 1.0f / pos_freq;
        float inter = 1.0f / ((float)factor * pos_freq);
        float ramp = ((float)i - (float)lo) / (float)(hi - lo);
        ramp = ramp < 0.0f ? 0.0f : ramp > 1.0f ? 1.0f : ramp;
        float ext_factor = 1.0f - ramp;
        m->inv_freq[i] = inter * (1.0f - ext_factor) + extra * ext_factor;
    }
    m->info.rope_attn_factor = (float)att;
    m->rope.attn_factor = (float)att;
    m->info.yarn = true;
    return OCTO_OK;
}

