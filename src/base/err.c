/* SPDX-License-Identifier: Apache-2.0 */
/* err — names of the octo_err codes and the always-on assertion. */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>

const char *octo_err_str(octo_err e)
{
    switch (e) {
    case OCTO_OK: return "ok";
    case OCTO_E_NOMEM: return "out of memory";
    case OCTO_E_TOO_LARGE: return "too large";
    case OCTO_E_PARSE: return "parse error";
    case OCTO_E_IO: return "i/o error";
    case OCTO_E_UNSUPPORTED: return "unsupported";
    case OCTO_E_CUDA: return "cuda error";
    case OCTO_E_TIMEOUT: return "timed out";
    case OCTO_E_CANCELLED: return "cancelled";
    case OCTO_E_NOT_FOUND: return "not found";
    case OCTO_E_INVALID: return "invalid value";
    case OCTO_E_AUTH: return "unauthorized";
    case OCTO_E_BUSY: return "busy";
    case OCTO_E_CLOSED: return "closed";
    case OCTO_E_INTERNAL: return "internal error";
    }
    return "unknown error";
}

void octo_assert_fail(const char *what, const char *file, int line, const char *func)
{
    fprintf(stderr, "octo: assertion failed: %s at %s:%d in %s()\n", what, file, line, func);
    fflush(stderr);
    abort();
}
