/* SPDX-License-Identifier: Apache-2.0 */
/* cli_serve — `octo serve` (placeholder until the server lands). */
#include "cli_int.h"
#include "cli.h"

#include <stdio.h>

int octo_cli_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "octo serve: not built yet\n");
    return OCTO_EXIT_UNAVAILABLE;
}
