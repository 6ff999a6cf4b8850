/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"
#include "cli_int.h"
int octo_cli_pull(int argc, char **argv) { (void)argc; (void)argv; return OCTO_EXIT_UNAVAILABLE; }
